"""Hand-made GRU and LSTM (rnnlab.gated) equal nn.GRU / nn.LSTM in outputs, states and
gradients after copying weights; d2l's GRU variant is a different function."""

import pytest
import torch

import rnnlab
from rnnlab.gated import GatedScratch, gru_step

F64 = torch.float64


@pytest.mark.parametrize("cell", ["gru", "lstm"])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("embed", [None, 6])
def test_hand_made_cells_equal_pytorch(cell, layers, embed):
    torch.manual_seed(layers)
    concise = rnnlab.RNNModel(13, 9, layers, cell=cell, embed_size=embed).double()
    scratch = GatedScratch(13, 9, layers, cell=cell, embed_size=embed).double()
    scratch.load_concise(concise)
    assert rnnlab.num_params(scratch) == rnnlab.num_params(concise)
    X, Y = torch.randint(0, 13, (3, 7)), torch.randint(0, 13, (3, 7))
    results = []
    for model in (concise, scratch):
        state = model.begin_state(3)
        logits, state = model(X, state)
        rnnlab.sequence_loss(logits, Y).backward()
        results.append((logits, state))
    torch.testing.assert_close(results[1], results[0], rtol=1e-10, atol=1e-12)
    grads = {name: p.grad for name, p in concise.named_parameters()}
    for l in range(layers):
        torch.testing.assert_close(scratch.W_xh[l].grad, grads[f"rnn.weight_ih_l{l}"].T)
        torch.testing.assert_close(scratch.W_hh[l].grad, grads[f"rnn.weight_hh_l{l}"].T)
        torch.testing.assert_close(scratch.b_xh[l].grad, grads[f"rnn.bias_ih_l{l}"])
        torch.testing.assert_close(scratch.b_hh[l].grad, grads[f"rnn.bias_hh_l{l}"])
    torch.testing.assert_close(scratch.W_hq.grad, grads["output.weight"].T)


def test_d2l_reset_before_is_a_different_function():
    g = torch.Generator().manual_seed(0)
    x, h = torch.randn(4, 3, generator=g), torch.randn(4, 5, generator=g)
    W_xh, W_hh = torch.randn(3, 15, generator=g), torch.randn(5, 15, generator=g)
    b_xh, b_hh = torch.randn(15, generator=g), torch.randn(15, generator=g)
    ours = gru_step(x, h, W_xh, W_hh, b_xh, b_hh)
    d2l = gru_step(x, h, W_xh, W_hh, b_xh, b_hh, reset_before=True)
    assert (ours - d2l).abs().max() > 0.01
    same_without_hn_bias = gru_step(x, h, W_xh, W_hh, b_xh, torch.cat([b_hh[:10],
                                                                          torch.zeros(5)]))
    d2l_no_bias = gru_step(x, h, W_xh, W_hh, b_xh, torch.cat([b_hh[:10], torch.zeros(5)]),
                           reset_before=True)
    assert (same_without_hn_bias - d2l_no_bias).abs().max() > 0.01   # not just the bias


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="cell must be"):
        GatedScratch(5, 4, cell="rnn")
    with pytest.raises(ValueError, match="reset_before"):
        GatedScratch(5, 4, cell="lstm", reset_before=True)
    with pytest.raises(TypeError, match="tuple"):
        GatedScratch(5, 4, cell="lstm")(torch.zeros(2, 3, dtype=torch.long),
                                        torch.zeros(1, 2, 4))
    with pytest.raises(TypeError, match="nn.GRU"):
        GatedScratch(5, 4, cell="gru").load_torch(torch.nn.LSTM(5, 4))


def test_gated_models_train():
    data = rnnlab.load_time_machine(batch_size=4, num_steps=8, max_tokens=3_000)
    for cell in ("gru", "lstm"):
        torch.manual_seed(0)
        model = GatedScratch(len(data.vocab), 8, cell=cell, embed_size=4)
        hist = rnnlab.train(model, data, rnnlab.TrainConfig(epochs=2, lr=0.01,
                                                             optimizer="adam",
                                                             show_progress=False),
                            torch.device("cpu"))
        assert hist.valid_ppl[-1] < len(data.vocab)
