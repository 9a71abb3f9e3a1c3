"""The hand-made language models (rnnlab.scratch): RNN, GRU and LSTM equal nn.RNN, nn.GRU
and nn.LSTM in outputs, states and gradients after `load`; one interface for all three."""

import pytest
import torch
from torch import nn

import rnnlab
from rnnlab import RNNModel, RNNScratch, ScratchLM, num_params

V, H, B, T = 11, 8, 3, 6
F64 = torch.float64


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
    scratch.load(concise)
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


@pytest.mark.parametrize("cell", ["gru", "lstm"])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("embed", [None, 6])
def test_hand_made_cells_equal_pytorch(cell, layers, embed):
    torch.manual_seed(layers)
    concise = rnnlab.RNNModel(13, 9, layers, cell=cell, embed_size=embed).double()
    scratch = ScratchLM(13, 9, layers, cell, embed_size=embed).double()
    scratch.load(concise)
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


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_one_interface_step_by_step_equals_the_forward(cell):
    torch.manual_seed(0)
    model = ScratchLM(V, H, 2, cell, embed_size=5).double()
    X = _inputs()
    logits, last = model(X)
    state = model.begin_state(B)
    layer_states = [(state[0][l], state[1][l]) if cell == "lstm" else state[l]
                    for l in range(2)]
    outs = []
    for x_t in model.encoder(X).transpose(0, 1):
        for l in range(2):
            layer_states[l] = model.step(x_t, layer_states[l], l)
            x_t = rnnlab.cells.hidden(layer_states[l])
        outs.append(x_t @ model.W_hq + model.b_q)
    torch.testing.assert_close(torch.stack(outs, 1), logits)
    h_last = last[0] if cell == "lstm" else last
    torch.testing.assert_close(h_last[-1], rnnlab.cells.hidden(layer_states[-1]))


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="cell must be"):
        ScratchLM(5, 4, cell="transformer")
    with pytest.raises(ValueError, match="RNN only"):
        ScratchLM(5, 4, cell="gru", hoist_input=True)
    with pytest.raises(ValueError, match="hoist_input is an option of the RNN only"):
        ScratchLM(5, 4, cell="lstm", hoist_input=True)
    with pytest.raises(ValueError, match="reset_before=True.*trains with autograd"):
        ScratchLM(5, 4, cell="gru", backward="manual", reset_before=True)
    assert ScratchLM(5, 4, cell="gru", reset_before=True).backward_mode == "autograd"
    with pytest.raises(ValueError, match="reset_before"):
        ScratchLM(5, 4, cell="lstm", reset_before=True)
    with pytest.raises(TypeError, match="tuple"):
        ScratchLM(5, 4, cell="lstm")(torch.zeros(2, 3, dtype=torch.long),
                                     torch.zeros(1, 2, 4))
    with pytest.raises(TypeError, match="nn.GRU"):
        ScratchLM(5, 4, cell="gru").load(torch.nn.LSTM(5, 4))


def test_gated_models_train():
    data = rnnlab.load_time_machine(batch_size=4, num_steps=8, max_tokens=3_000)
    for cell in ("gru", "lstm"):
        torch.manual_seed(0)
        model = ScratchLM(len(data.vocab), 8, cell=cell, embed_size=4)
        hist = rnnlab.train(model, data, rnnlab.RunConfig(epochs=2, lr=0.01,
                                                             optimizer="adam"),
                            torch.device("cpu"))
        assert hist.valid_ppl[-1] < len(data.vocab)


def test_load_refuses_mismatches():
    scratch = RNNScratch(V, H)
    with pytest.raises(ValueError, match="H=9"):
        scratch.load(nn.RNN(V, 9))
    with pytest.raises(ValueError, match="tanh"):
        scratch.load(nn.RNN(V, H, nonlinearity="relu"))
    with pytest.raises(TypeError):
        scratch.load(nn.GRU(V, H))
    with pytest.raises(ValueError, match="same input"):
        scratch.load(RNNModel(V, H, embed_size=3))
