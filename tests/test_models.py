import pytest
import torch

from rnnlab import RNNModel, RNNScratch
from rnnlab.models import OneHot

V, H, B, T = 11, 8, 3, 6


def _inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, V, (B, T), generator=g)


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_concise_shapes_and_begin_state(cell, bidirectional):
    model = RNNModel(V, H, num_layers=2, cell=cell, bidirectional=bidirectional, embed_size=4)
    state = model.begin_state(B)
    D = 2 if bidirectional else 1
    if cell == "lstm":
        assert isinstance(state, tuple) and all(s.shape == (D * 2, B, H) for s in state)
    else:
        assert state.shape == (D * 2, B, H)
    logits, new_state = model(_inputs(), state)
    assert logits.shape == (B, T, V)
    assert type(new_state) is type(state)


def test_one_hot_is_float_identity_rows():
    X = torch.tensor([[0, 2]])
    out = OneHot(3)(X)
    assert out.dtype == torch.float32
    assert torch.equal(out[0], torch.eye(3)[[0, 2]])


@pytest.mark.parametrize("Model", [RNNScratch, RNNModel])
def test_models_reject_bad_inputs(Model):
    model = Model(V, H)
    with pytest.raises(ValueError, match=r"shape \(B, T\).*unsqueeze"):
        model(torch.tensor([1, 2, 3]))
    with pytest.raises(TypeError, match="int64"):
        model(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="vocabulary has 11"):
        model(torch.tensor([[1, 11]]))
    with pytest.raises(ValueError, match="begin_state"):
        model(_inputs(), torch.zeros(1, B + 1, H))
    with pytest.raises(ValueError, match="hidden_size must be a positive integer"):
        Model(V, 0)


def test_lstm_state_must_be_a_tuple():
    model = RNNModel(V, H, cell="lstm")
    with pytest.raises(TypeError, match=r"tuple \(h, c\)"):
        model(_inputs(), torch.zeros(1, B, H))
    with pytest.raises(ValueError, match="cell must be one of"):
        RNNModel(V, H, cell="transformer")
