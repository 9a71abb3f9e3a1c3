"""The hand-written backpropagation through time (rnnlab.bptt, chapter 6): equal to
autograd in float64, selectable on RNNScratch, and the chapter's exercise checks."""

import pytest
import torch
from verdicts import assert_verdict

import rnnlab
from rnnlab import bptt
from rnnlab.exercises import ch6

F64 = torch.float64


def _layer_inputs(T=5, B=3, d=4, H=6, seed=0, dtype=F64):
    g = torch.Generator().manual_seed(seed)
    shapes = [(T, B, d), (B, H), (d, H), (H, H), (H,)]
    return tuple((0.5 * torch.randn(s, generator=g, dtype=dtype)).requires_grad_()
                 for s in shapes)


def test_the_layer_function_passes_gradcheck_in_float64():
    assert torch.autograd.gradcheck(bptt.RNNLayerFunction.apply, _layer_inputs())
    xs, *rest = _layer_inputs(T=1, B=1, d=1, H=1)
    assert torch.autograd.gradcheck(bptt.RNNLayerFunction.apply, (xs.detach(), *rest))


def test_the_layer_forward_is_the_recurrence():
    xs, h0, W_xh, W_hh, b_h = (t.detach() for t in _layer_inputs())
    h, steps = h0, []
    for x_t in xs:
        h = torch.tanh(x_t @ W_xh + h @ W_hh + b_h)
        steps.append(h)
    torch.testing.assert_close(bptt.rnn_layer_forward(xs, h0, W_xh, W_hh, b_h),
                               torch.stack(steps), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("embed", [None, 5])
@pytest.mark.parametrize("layers", [1, 2, 3])
def test_manual_backward_equals_autograd_on_the_model(embed, layers):
    torch.manual_seed(layers)
    auto = rnnlab.RNNScratch(11, 7, layers, embed_size=embed).double()
    manual = rnnlab.RNNScratch(11, 7, layers, embed_size=embed, backward="manual").double()
    manual.load_state_dict(auto.state_dict())
    X, Y = torch.randint(0, 11, (3, 9)), torch.randint(0, 11, (3, 9))
    state = auto.begin_state(3)
    assert state.dtype == F64
    outs = []
    for model in (auto, manual):
        logits, h = model(X, state)
        rnnlab.sequence_loss(logits, Y).backward()
        outs.append((logits, h))
    torch.testing.assert_close(outs[0], outs[1], rtol=1e-12, atol=1e-12)
    for (name, p), q in zip(auto.named_parameters(), manual.parameters()):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-10, atol=1e-12, msg=name)


def test_float64_models_with_one_hot_input_run():
    X = torch.randint(0, 6, (2, 4))
    for model in (rnnlab.RNNScratch(6, 3), rnnlab.RNNModel(6, 3),
                  rnnlab.RNNModel(6, 3, cell="lstm")):
        logits, _ = model.double()(X)
        assert logits.dtype == F64
    assert "_dtype" not in rnnlab.RNNModel(6, 3).state_dict().keys().__str__()


def test_manual_backward_trains_like_autograd():
    data = rnnlab.load_time_machine(batch_size=4, num_steps=8, max_tokens=3_000)
    runs = []
    for backward in ("autograd", "manual"):
        torch.manual_seed(0)
        model = rnnlab.RNNScratch(len(data.vocab), 8, hoist_input=True, backward=backward)
        cfg = rnnlab.TrainConfig(epochs=2, show_progress=False)
        runs.append(rnnlab.train(model, data, cfg, torch.device("cpu")).valid_ppl)
    assert runs[0] == pytest.approx(runs[1], rel=1e-4)


def test_backward_option_is_validated():
    with pytest.raises(ValueError, match="backward must be"):
        rnnlab.RNNScratch(5, 4, backward="hand")


def test_numerical_gradient_is_central_and_restores_x():
    x = torch.tensor([0.3, -1.2, 2.0], dtype=F64)
    before = x.clone()
    grad = bptt.numerical_gradient(lambda v: (v ** 3).sum(), x, eps=1e-5)
    assert torch.equal(x, before)
    torch.testing.assert_close(grad, 3 * before ** 2, rtol=1e-8, atol=1e-10)


def test_relative_error():
    a = torch.tensor([1.0, 2.0])
    assert bptt.relative_error(a, a) == 0 and bptt.relative_error(a, 2 * a) == 0.5
    assert bptt.relative_error(torch.zeros(2), torch.zeros(2)) == 0


# --- the exercise checks: typical wrong answers and refused shortcuts -------------------


def _step(dh, h, h_prev, x, W_xh, W_hh, tanh=True, transpose=True, bias_sum=True):
    dA = dh * (1 - h ** 2) if tanh else dh
    return (dA @ W_xh.T, dA @ (W_hh.T if transpose else W_hh), x.T @ dA, h_prev.T @ dA,
            dA.sum(0) if bias_sum else dA)


def _sequence(dhs, hs, h0, X, W_xh, W_hh, carry=True, accumulate=True):
    T = hs.shape[1]
    dX, dh_next = torch.zeros_like(X), torch.zeros_like(h0)
    sums = [torch.zeros_like(W_xh), torch.zeros_like(W_hh), torch.zeros_like(W_hh[0])]
    for t in reversed(range(T)):
        h_prev = hs[:, t - 1] if t > 0 else h0
        dh = dhs[:, t] + (dh_next if carry else 0)
        dX[:, t], dh_next, *terms = _step(dh, hs[:, t], h_prev, X[:, t], W_xh, W_hh)
        sums = [s + g for s, g in zip(sums, terms)] if accumulate else terms
    return (dX, dh_next, *sums)


def _central(f, x, eps):
    return bptt.numerical_gradient(lambda v: f(v), x, eps)


def _forward_difference(f, x, eps):
    grad, flat = torch.zeros_like(x), x.view(-1)
    base = f(x).item()
    for i in range(flat.numel()):
        old = flat[i].item()
        flat[i] = old + eps
        grad.view(-1)[i] = (f(x).item() - base) / eps
        flat[i] = old
    return grad


def _mine(f, x, eps):
    grad, flat = torch.zeros_like(x), x.view(-1)
    for i in range(flat.numel()):
        old = flat[i].item()
        flat[i] = old + eps
        up = f(x).item()
        flat[i] = old - eps
        down = f(x).item()
        flat[i] = old
        grad.view(-1)[i] = (up - down) / (2 * eps)
    return grad


def _not_restored(f, x, eps):
    grad = _mine(f, x, eps)
    x.view(-1)[0] += 1.0
    return grad


def _with_autograd(dh, h, h_prev, x, W_xh, W_hh):
    h_prev = h_prev.clone().requires_grad_()
    torch.tanh(x @ W_xh + h_prev @ W_hh).backward(dh)
    return h_prev.grad


@pytest.mark.parametrize("check, answer, fragment", [
    (ch6.check_rnn_step_backward, _step, "✔"),
    (ch6.check_rnn_step_backward, lambda *a: _step(*a, tanh=False), "skips tanh"),
    (ch6.check_rnn_step_backward, lambda *a: _step(*a, transpose=False), "transpose"),
    (ch6.check_rnn_step_backward, lambda *a: _step(*a, bias_sum=False), "sums dA over the batch"),
    (ch6.check_rnn_step_backward, lambda *a: _step(*a)[:4], "tuple of 5"),
    (ch6.check_rnn_step_backward, _with_autograd, "autograd"),
    (ch6.check_rnn_backward, _sequence, "✔"),
    (ch6.check_rnn_backward, lambda *a: _sequence(*a, accumulate=False), "+= ..."),
    (ch6.check_rnn_backward, lambda *a: _sequence(*a, carry=False), "from step t+1"),
    (ch6.check_rnn_backward, lambda dhs, hs, h0, X, W_xh, W_hh: bptt.rnn_layer_backward(
        dhs.transpose(0, 1), hs.transpose(0, 1), h0, X.transpose(0, 1), W_xh, W_hh),
     "`rnnlab.bptt.rnn_layer_backward` ran inside your `rnn_backward`"),
    (ch6.check_numerical_grad, _mine, "✔"),
    (ch6.check_numerical_grad, _forward_difference, "central differences"),
    (ch6.check_numerical_grad, _not_restored, "left x changed"),
    (ch6.check_numerical_grad, _central, "`rnnlab.bptt.numerical_gradient` ran inside"),
])
def test_chapter_6_checks(check, answer, fragment):
    assert_verdict(check(answer), fragment)
