import pytest
import torch
from torch import nn

from rnnlab import RNNModel, RNNScratch, num_params
from rnnlab.models import OneHot

V, H, B, T = 11, 8, 3, 6


def _inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, V, (B, T), generator=g)


@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("embed_size", [None, 5])
@pytest.mark.parametrize("hoist", [False, True])
def test_scratch_equals_nn_rnn_outputs_and_gradients(num_layers, embed_size, hoist):
    torch.manual_seed(num_layers)
    concise = RNNModel(V, H, num_layers=num_layers, embed_size=embed_size)
    scratch = RNNScratch(V, H, num_layers=num_layers, embed_size=embed_size, hoist_input=hoist)
    scratch.load_concise(concise)
    X = _inputs()
    state = torch.randn(num_layers, B, H) * 0.5
    out_c, h_c = concise(X, state)
    out_s, h_s = scratch(X, state)
    assert out_s.shape == (B, T, V) and h_s.shape == (num_layers, B, H)
    torch.testing.assert_close(out_s, out_c, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(h_s, h_c, atol=1e-5, rtol=1e-5)

    target = torch.randn(B, T, V)
    ((out_c * target).sum() + h_c.sum()).backward()
    ((out_s * target).sum() + h_s.sum()).backward()
    rnn = concise.rnn
    for l in range(num_layers):
        torch.testing.assert_close(scratch.W_xh[l].grad, getattr(rnn, f"weight_ih_l{l}").grad.T,
                                   atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(scratch.W_hh[l].grad, getattr(rnn, f"weight_hh_l{l}").grad.T,
                                   atol=1e-5, rtol=1e-4)
        # one bias b_h = b_ih + b_hh: its gradient equals each of theirs
        torch.testing.assert_close(scratch.b_h[l].grad, getattr(rnn, f"bias_ih_l{l}").grad,
                                   atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(scratch.b_h[l].grad, getattr(rnn, f"bias_hh_l{l}").grad,
                                   atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(scratch.W_hq.grad, concise.output.weight.grad.T, atol=1e-5,
                               rtol=1e-4)
    if embed_size:
        torch.testing.assert_close(scratch.encoder.weight.grad, concise.encoder.weight.grad,
                                   atol=1e-5, rtol=1e-4)


def test_scratch_has_one_bias_per_layer():
    scratch, concise = RNNScratch(V, H, num_layers=2), RNNModel(V, H, num_layers=2)
    assert num_params(concise) - num_params(scratch) == 2 * H


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


def test_load_rnn_layer_refuses_mismatches():
    scratch = RNNScratch(V, H)
    with pytest.raises(ValueError, match="H=9"):
        scratch.load_rnn_layer(nn.RNN(V, 9))
    with pytest.raises(ValueError, match="tanh"):
        scratch.load_rnn_layer(nn.RNN(V, H, nonlinearity="relu"))
    with pytest.raises(TypeError):
        scratch.load_rnn_layer(nn.GRU(V, H))
    with pytest.raises(ValueError, match="same input"):
        scratch.load_concise(RNNModel(V, H, embed_size=3))
