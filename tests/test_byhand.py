"""The whole model without autograd (rnnlab.byhand, chapter 6): every gradient equal to
autograd's in float64, and SGD by hand tracing autograd's training step for step."""

import random

import pytest
import torch

import rnnlab
from rnnlab.bptt import relative_error
from rnnlab.byhand import loss_and_grads, sgd_step, train_by_hand


@pytest.fixture(scope="module")
def batch():
    data = rnnlab.load_time_machine(batch_size=3, num_steps=7, max_tokens=5_000)
    X, Y = next(iter(data.train_batches(random.Random(0))))
    return len(data.vocab), X, Y, data


@pytest.mark.parametrize("embed", [None, 5])
@pytest.mark.parametrize("layers", [1, 2])
def test_every_gradient_equals_autograd(batch, embed, layers):
    V, X, Y, _ = batch
    rnnlab.seed_everything(0)
    model = rnnlab.RNNScratch(V, 6, layers, embed_size=embed).double()
    h0 = torch.randn(layers, X.shape[0], 6, dtype=torch.float64)
    logits, h_T = model(X, h0)
    loss = rnnlab.sequence_loss(logits, Y)
    loss.backward()
    hand_loss, grads, hand_h_T = loss_and_grads(model, X, Y, h0)
    assert list(grads) == [name for name, _ in model.named_parameters()]
    assert abs(hand_loss - loss.item()) < 1e-12
    assert relative_error(h_T, hand_h_T) < 1e-12
    for name, p in model.named_parameters():
        assert grads[name].shape == p.shape, name
        assert relative_error(p.grad, grads[name]) < 1e-12, name


def test_a_wrong_gradient_would_be_seen(batch):
    """The comparison above can fail: the output layer's gradient without the 1/N of the
    mean differs from autograd's by far more than rounding."""
    V, X, Y, _ = batch
    rnnlab.seed_everything(0)
    model = rnnlab.RNNScratch(V, 6).double()
    rnnlab.sequence_loss(model(X)[0], Y).backward()
    _, grads, _ = loss_and_grads(model, X, Y)
    assert relative_error(model.W_hq.grad, grads["W_hq"] * X.numel()) > 0.5


def test_the_embedding_gradient_is_a_scatter_add(batch):
    V, X, Y, _ = batch
    rnnlab.seed_everything(1)
    model = rnnlab.RNNScratch(V, 6, embed_size=4).double()
    _, grads, _ = loss_and_grads(model, X, Y)
    dE = grads["encoder.weight"]
    present = set(X.flatten().tolist())
    assert all((dE[v] == 0).all() for v in range(V) if v not in present)
    assert all((dE[v] != 0).any() for v in present)


def test_training_by_hand_follows_autograd(batch):
    V, _, _, data = batch
    batches = list(data.train_batches(random.Random(2)))[:15]
    rnnlab.seed_everything(0)
    auto = rnnlab.RNNScratch(V, 8, embed_size=4).double()
    hand = rnnlab.RNNScratch(V, 8, embed_size=4).double()
    hand.load_state_dict(auto.state_dict())
    sgd = torch.optim.SGD(auto.parameters(), lr=0.5)
    auto_losses = [rnnlab.train_step(auto, X, Y, sgd, clip=0.5)[0].item() for X, Y in batches]
    hand_losses = train_by_hand(hand, batches, lr=0.5, clip=0.5)
    assert max(abs(a - b) / a for a, b in zip(auto_losses, hand_losses)) < 1e-10
    assert all(relative_error(p, q) < 1e-10 for p, q in zip(auto.parameters(), hand.parameters()))
    assert all(p.grad is None for p in hand.parameters())


def test_clipping_matches_torch():
    model = torch.nn.Linear(3, 2).double()
    grads = {name: torch.full_like(p, 2.0) for name, p in model.named_parameters()}
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    norm = sgd_step(model, grads, lr=0.1, clip=1.0)
    assert norm == pytest.approx(2.0 * 8 ** 0.5)
    for name, p in model.named_parameters():
        step = (before[name] - p.detach()) / 0.1
        assert torch.allclose(step, grads[name] * 1.0 / (norm + 1e-6))


def test_refusals(batch):
    V, X, Y, _ = batch
    with pytest.raises(ValueError, match="RNNScratch"):
        loss_and_grads(rnnlab.ScratchLM(V, 4, cell="gru"), X, Y)
    with pytest.raises(ValueError, match="shape"):
        loss_and_grads(rnnlab.RNNScratch(V, 4), X, Y[:, :-1])


def _gated_inputs(blocks: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    B, d, H = 3, 4, 5
    x, h, c, dh, dc = (torch.randn(B, n, generator=g, dtype=torch.float64)
                       for n in (d, H, H, H, H))
    weights = [0.5 * torch.randn(*shape, blocks * H, generator=g, dtype=torch.float64)
               for shape in ((d,), (H,), (), ())]
    return x, h, c, dh, dc, weights


def test_the_lstm_step_backward_equals_autograd():
    from rnnlab.byhand import lstm_step_backward
    from rnnlab.cells import lstm_step
    x, h, c, dh, dc, weights = _gated_inputs(4)
    leaves = [t.clone().requires_grad_() for t in (x, h, c, *weights)]
    h_new, c_new = lstm_step(*leaves)
    want = torch.autograd.grad((h_new * dh).sum() + (c_new * dc).sum(), leaves[:6])
    got = lstm_step_backward(dh, dc, x, h, c, *weights)
    assert len(got) == 6
    assert all(relative_error(a, b) < 1e-12 for a, b in zip(got, want))
    # the cell-state path: with dh = 0, dc_prev is dc scaled by the forget gate
    H = h.shape[1]
    a = x @ weights[0] + h @ weights[1] + weights[2] + weights[3]
    f = torch.sigmoid(a[:, H:2 * H])
    assert torch.allclose(lstm_step_backward(torch.zeros_like(dh), dc, x, h, c, *weights)[2],
                          dc * f)


def test_the_gru_step_backward_equals_autograd_and_its_biases_differ():
    from rnnlab.byhand import gru_step_backward
    from rnnlab.cells import gru_step
    x, h, _, dh, _, weights = _gated_inputs(3, seed=1)
    leaves = [t.clone().requires_grad_() for t in (x, h, *weights)]
    want = torch.autograd.grad((gru_step(*leaves) * dh).sum(), leaves)
    got = gru_step_backward(dh, x, h, *weights)
    assert all(relative_error(a, b) < 1e-12 for a, b in zip(got, want))
    assert relative_error(got[4], got[5]) > 1e-3          # r multiplies b_hn, not b_in


def test_a_forget_bias_sets_the_sum_of_the_two_biases():
    from torch import nn

    from rnnlab.inits import set_forget_bias
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    before = {k: v.clone() for k, v in lstm.state_dict().items()}
    assert set_forget_bias(lstm, 1.0) is lstm
    for k, v in lstm.state_dict().items():
        if k.startswith("bias_ih"):
            other = lstm.state_dict()[k.replace("bias_ih", "bias_hh")]
            assert torch.equal(v[4:8] + other[4:8], torch.ones(4))
            assert torch.equal(v[:4], before[k][:4]) and torch.equal(v[8:], before[k][8:])
        elif k.startswith("weight"):
            assert torch.equal(v, before[k])
    model = rnnlab.RNNModel(10, 4, cell="lstm")
    assert set_forget_bias(model, 2.0).rnn.bias_ih_l0[4:8].eq(2.0).all()
    with pytest.raises(TypeError, match="nn.LSTM"):
        set_forget_bias(rnnlab.RNNModel(10, 4, cell="gru"))


def test_uniform_biases_and_a_relu_rnn():
    from rnnlab.inits import relu_rnn, uniform_biases
    rnnlab.seed_everything(0)
    model = rnnlab.RNNModel(10, 6, num_layers=2, embed_size=4)
    X = torch.randint(0, 10, (2, 5))
    weights = {n: p.clone() for n, p in model.named_parameters() if "bias" not in n}
    uniform_biases(model)
    biases = [p for n, p in model.named_parameters() if "bias" in n]
    assert len(biases) == 5 and all(0 <= float(p.detach().min()) and float(p.detach().max()) <= 1
                                    for p in biases)
    assert all(torch.equal(p, weights[n]) for n, p in model.named_parameters() if n in weights)
    tanh_logits, _ = model(X)
    relu_rnn(model)
    assert model.rnn.nonlinearity == "relu" and model.rnn.num_layers == 2
    assert all(torch.equal(p, weights[n]) for n, p in model.named_parameters() if n in weights)
    relu_logits, _ = model(X)
    by_hand = torch.nn.RNN(4, 6, 2, nonlinearity="relu", batch_first=True)
    by_hand.load_state_dict(model.rnn.state_dict())
    out, _ = by_hand(model.encoder(X))
    assert torch.allclose(model.output(out), relu_logits)
    assert not torch.allclose(tanh_logits, relu_logits)
    with pytest.raises(TypeError, match="nn.RNN"):
        relu_rnn(rnnlab.RNNModel(10, 4, cell="gru"))
    with pytest.raises(ValueError, match="no biases"):
        uniform_biases(torch.nn.Linear(3, 2, bias=False))


def test_a_plain_stack_is_nn_rnn_and_a_residual_one_adds_its_input():
    from rnnlab.stacks import ResidualRNN
    rnnlab.seed_everything(0)
    plain = ResidualRNN(12, 5, 3, embed_size=4, residual=False)
    fused = torch.nn.RNN(4, 5, 3, batch_first=True)
    for l, layer in enumerate(plain.layers):
        for name, p in layer.named_parameters():
            getattr(fused, name.replace("_l0", f"_l{l}")).data.copy_(p)
    X = torch.randint(0, 12, (2, 6))
    h0 = torch.randn(3, 2, 5)
    logits, h = plain(X, h0)
    out, h_fused = fused(plain.encoder(X), h0)
    assert torch.allclose(logits, plain.output(out), atol=1e-6)
    assert torch.allclose(h, h_fused, atol=1e-6)
    residual = ResidualRNN(12, 5, 3, embed_size=4, residual=True)
    residual.load_state_dict(plain.state_dict())
    x = residual.encoder(X)
    o1, _ = residual.layers[0](x, h0[0:1])
    o2, _ = residual.layers[1](o1, h0[1:2])
    o3, _ = residual.layers[2](o1 + o2, h0[2:3])
    assert torch.allclose(residual(X, h0)[0], residual.output(o1 + o2 + o3), atol=1e-6)
    assert residual.begin_state(2).shape == (3, 2, 5)


def test_the_lstm_layer_function_equals_autograd_through_the_layer():
    from rnnlab.byhand import LSTMLayerFunction
    from rnnlab.cells import layer
    g = torch.Generator().manual_seed(4)
    T, B, d, H = 6, 3, 4, 5
    f64 = torch.float64
    args = [torch.randn(T, B, d, generator=g, dtype=f64),
            torch.randn(B, H, generator=g, dtype=f64), torch.randn(B, H, generator=g, dtype=f64),
            *(0.5 * torch.randn(*s, generator=g, dtype=f64) for s in ((d, 4 * H), (H, 4 * H),
                                                                      (4 * H,), (4 * H,)))]
    auto = [a.clone().requires_grad_() for a in args]
    hand = [a.clone().requires_grad_() for a in args]
    G, G_c = torch.randn(T, B, H, dtype=f64), torch.randn(B, H, dtype=f64)
    hs, (_, c_T) = layer("lstm", auto[0], (auto[1], auto[2]), tuple(auto[3:]))
    ((hs * G).sum() + (c_T * G_c).sum()).backward()
    hs_hand, c_hand = LSTMLayerFunction.apply(*hand)
    ((hs_hand * G).sum() + (c_hand * G_c).sum()).backward()
    assert relative_error(hs, hs_hand) < 1e-12 and relative_error(c_T, c_hand) < 1e-12
    assert all(relative_error(a.grad, b.grad) < 1e-12 for a, b in zip(auto, hand))
    hs_only, _ = LSTMLayerFunction.apply(*[a.detach().requires_grad_() for a in args])
    hs_only.sum().backward()                    # no gradient reaches c_T: None is zeros


def test_the_gru_layer_function_equals_autograd_through_the_layer():
    from rnnlab.bptt import GRULayerFunction
    from rnnlab.cells import layer
    g = torch.Generator().manual_seed(5)
    T, B, d, H = 6, 3, 4, 5
    f64 = torch.float64
    args = [torch.randn(T, B, d, generator=g, dtype=f64), torch.randn(B, H, generator=g, dtype=f64),
            *(0.5 * torch.randn(*s, generator=g, dtype=f64) for s in ((d, 3 * H), (H, 3 * H),
                                                                      (3 * H,), (3 * H,)))]
    auto = [a.clone().requires_grad_() for a in args]
    hand = [a.clone().requires_grad_() for a in args]
    G = torch.randn(T, B, H, dtype=f64)
    hs, _ = layer("gru", auto[0], auto[1], tuple(auto[2:]))
    (hs * G).sum().backward()
    hs_hand = GRULayerFunction.apply(*hand)
    (hs_hand * G).sum().backward()
    assert relative_error(hs, hs_hand) < 1e-12
    assert all(relative_error(a.grad, b.grad) < 1e-12 for a, b in zip(auto, hand))
    # the two biases' gradients differ (r multiplies b_hn only), and the hand ones see it
    assert relative_error(hand[4].grad, hand[5].grad) > 1e-3


@pytest.mark.parametrize("cell, how", [("lstm", "ScratchLSTMByHand"), ("lstm", "default"),
                                       ("lstm", "RunConfig"), ("gru", "default"),
                                       ("gru", "RunConfig")])
def test_the_scratch_model_by_hand_is_the_scratch_model(batch, cell, how):
    from rnnlab.byhand import ScratchLSTMByHand
    V, X, Y, _ = batch
    rnnlab.seed_everything(0)
    auto = rnnlab.ScratchLM(V, 6, 2, cell, embed_size=4, backward="autograd").double()
    if how == "default":
        hand = rnnlab.ScratchLM(V, 6, 2, cell, embed_size=4).double()
    elif how == "RunConfig":        # what a run with impl="scratch" trains
        cfg = rnnlab.RunConfig(cell=cell, impl="scratch", hidden_size=6, num_layers=2,
                               embed_size=4)
        hand = cfg.model(V).double()
    else:
        hand = ScratchLSTMByHand(V, 6, 2, embed_size=4).double()
    assert hand.backward_mode == "manual"
    hand.load_state_dict(auto.state_dict())
    shape = (2, X.shape[0], 6)
    state = (tuple(torch.randn(*shape, dtype=torch.float64) for _ in range(2))
             if cell == "lstm" else torch.randn(*shape, dtype=torch.float64))
    outs = []
    for model in (auto, hand):
        logits, new_state = model(X, state)
        rnnlab.sequence_loss(logits, Y).backward()
        outs.append((logits, *(new_state if cell == "lstm" else (new_state,))))
    assert all(relative_error(a, b) < 1e-12 for a, b in zip(*outs))
    for (name, p), q in zip(auto.named_parameters(), hand.parameters()):
        assert relative_error(p.grad, q.grad) < 1e-12, name
