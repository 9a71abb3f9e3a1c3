"""The hand-written backpropagation through time (rnnlab.bptt, chapter 6): equal to
autograd in float64, selectable on RNNScratch. (The chapter's exercise checks are tested
in tests/test_mistakes.py and tests/test_routes.py.)"""

import pytest
import torch

import rnnlab
from rnnlab import bptt

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
        cfg = rnnlab.RunConfig(optimizer="sgd", lr=1.0, epochs=2)
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


def test_the_in_place_forward_is_not_for_autograd_and_its_differentiable_forms_agree():
    """What rnn_layer_forward's docstring says: autograd cannot go through it, while
    RNNLayerFunction (hand backward) and cells.layer (autograd) compute the same function
    with the same gradients."""
    from rnnlab import cells
    from rnnlab.bptt import RNNLayerFunction, rnn_layer_forward

    g = torch.Generator().manual_seed(0)
    xs = torch.randn(5, 2, 3, generator=g, dtype=torch.float64)
    h0 = torch.randn(2, 4, generator=g, dtype=torch.float64)

    def weights():
        g.manual_seed(1)
        return [torch.randn(*s, generator=g, dtype=torch.float64).requires_grad_()
                for s in ((3, 4), (4, 4), (4,))]

    with pytest.raises(RuntimeError, match="inplace operation"):
        rnn_layer_forward(xs, h0, *weights()).sum().backward()
    hand, plain = weights(), weights()
    out_hand = RNNLayerFunction.apply(xs, h0, *hand)
    out_plain, _ = cells.layer("rnn", xs, h0, plain)
    torch.testing.assert_close(out_hand, out_plain)
    (out_hand ** 2).sum().backward()
    (out_plain ** 2).sum().backward()
    for a, b in zip(hand, plain):
        torch.testing.assert_close(a.grad, b.grad)
