"""Checks audit what the student's function computes, not what it is called (issue 20).

Every row is a route around an exercise: the same computation through another door (an
ATen or private entry point, a module, the package's own answer, the autograd engine
without `torch.autograd`, a TorchScript function) or the wrong method that happens to
agree. Each must be refused with a message naming what the check saw. Most of them are
right answers: with the watch switched off (`test_without_the_watch_they_would_pass`) they
pass, which proves the refusal, not a wrong value, is what fails them.
"""

import sys

import pytest
import torch
import torch.autograd.gradcheck  # noqa: F401  (a route below reaches into it)
import torch.nn.functional as F
from notebooks import slip_answer
from torch import nn
from torch.nn import RNNCell as ImportedRNNCell  # a shortcut in the "student's" namespace

import rnnlab
from rnnlab import bptt, checks
from rnnlab.audit import forbid
from rnnlab.checks import Verdict, sandbox
from rnnlab.exercises import ch1, ch2, ch3, ch4, ch5, ch6, ch7, declared

# ---------------------------------------------------------------------------
# Routes, exercise by exercise
# ---------------------------------------------------------------------------


def load_row_weights(module, W_xh, W_hh, b_h):
    """Row-vector weights into an nn.RNN/nn.RNNCell (a student's own helper: rnnlab's
    would be refused as package code)."""
    suffix = "" if isinstance(module, nn.RNNCell) else "_l0"
    with torch.no_grad():
        getattr(module, f"weight_ih{suffix}").copy_(W_xh.T)
        getattr(module, f"weight_hh{suffix}").copy_(W_hh.T)
        getattr(module, f"bias_ih{suffix}").copy_(b_h)
        getattr(module, f"bias_hh{suffix}").zero_()
    return module


def _cell(x, h, W_xh, W_hh, b_h, cls=nn.RNNCell):
    d, H = W_xh.shape
    with torch.no_grad():
        return load_row_weights(cls(d, H), W_xh, W_hh, b_h)(x, h)


class _MyCell(ImportedRNNCell):
    pass


def _rnn_module(X, h0, W_xh, W_hh, b_h):
    d, H = W_xh.shape
    with torch.no_grad():
        out, h = load_row_weights(nn.RNN(d, H, batch_first=True), W_xh, W_hh, b_h)(
            X, h0.unsqueeze(0))
    return out, h[0]


def _aten_rnn_tanh(X, h0, W_xh, W_hh, b_h):
    out, h = torch.ops.aten.rnn_tanh(X, h0.unsqueeze(0), [W_xh.T, W_hh.T, b_h,
                                                          torch.zeros_like(b_h)],
                                     True, 1, 0.0, False, False, True)
    return out, h[0]


def _vf_rnn_tanh(X, h0, W_xh, W_hh, b_h):
    out, h = torch._VF.rnn_tanh(X, h0.unsqueeze(0), [W_xh.T, W_hh.T, b_h,
                                                     torch.zeros_like(b_h)],
                                True, 1, 0.0, False, False, True)
    return out, h[0]


def _cell_loop(X, h0, W_xh, W_hh, b_h):
    h, outs = h0, []
    for t in range(X.shape[1]):
        h = torch.ops.aten.rnn_tanh_cell(X[:, t], h, W_xh.T, W_hh.T, b_h,
                                         torch.zeros_like(b_h))
        outs.append(h)
    return torch.stack(outs, 1), h


def _layer_forward(X, h0, W_xh, W_hh, b_h):
    hs = bptt.rnn_layer_forward(X.transpose(0, 1).contiguous(), h0, W_xh, W_hh, b_h)
    return hs.transpose(0, 1), hs[-1]


def _layer_function(X, h0, W_xh, W_hh, b_h):
    hs = bptt.RNNLayerFunction.apply(X.transpose(0, 1).contiguous(), h0, W_xh, W_hh, b_h)
    return hs.transpose(0, 1), hs[-1]


def _d2l_clipping(grads, max_norm):
    from d2l import torch as d2l

    class Net:
        params = _params_with_grads(grads)
    d2l.grad_clipping(Net, max_norm)
    return [p.grad for p in Net.params]


def _flat(logits, Y):
    return logits.reshape(-1, logits.shape[-1]), Y.reshape(-1)


def _categorical(logits, Y):
    return float(torch.exp(-torch.distributions.Categorical(logits=logits).log_prob(Y).mean()))


def _step(h, x, W_xh, W_hh, b_h):
    return torch.tanh(x @ W_xh + h @ W_hh + b_h)


def _engine_jacobian(h_prev, x, W_xh, W_hh, b_h):
    engine = torch.autograd.variable.Variable._execution_engine
    rows = []
    for i in range(h_prev.shape[0]):
        h = h_prev.detach().clone()
        h.requires_grad = True
        out = _step(h, x, W_xh, W_hh, b_h)[i]
        (grad,) = engine.run_backward((out,), (torch.ones_like(out),), False, False, (h,),
                                      False, False)
        rows.append(grad)
    return torch.stack(rows)


def _backward_jacobian(h_prev, x, W_xh, W_hh, b_h):
    rows = []
    for i in range(h_prev.shape[0]):
        h = h_prev.clone().requires_grad_()
        _step(h, x, W_xh, W_hh, b_h)[i].backward()
        rows.append(h.grad)
    return torch.stack(rows)


def _grad_jacobian(h_prev, x, W_xh, W_hh, b_h):
    h = h_prev.clone().requires_grad_()
    out = _step(h, x, W_xh, W_hh, b_h)
    return torch.stack([torch.autograd.grad(out[i], h, retain_graph=True)[0]
                        for i in range(out.shape[0])])


def _dual_jacobian(h_prev, x, W_xh, W_hh, b_h):
    import torch.autograd.forward_ad as fwAD
    cols = []
    with fwAD.dual_level():
        for j in range(h_prev.shape[0]):
            h = fwAD.make_dual(h_prev, torch.eye(h_prev.shape[0], dtype=h_prev.dtype)[j])
            cols.append(fwAD.unpack_dual(_step(h, x, W_xh, W_hh, b_h)).tangent)
    return torch.stack(cols, 1)


def _fd_jacobian(h_prev, x, W_xh, W_hh, b_h, eps=1e-6):
    H = h_prev.shape[0]
    cols = [(_step(h_prev + eps * e, x, W_xh, W_hh, b_h)
             - _step(h_prev - eps * e, x, W_xh, W_hh, b_h)) / (2 * eps)
            for e in torch.eye(H, dtype=h_prev.dtype)]
    return torch.stack(cols, 1)


def _params_with_grads(grads):
    params = [nn.Parameter(torch.zeros_like(g)) for g in grads]
    for p, g in zip(params, grads):
        p.grad = g.clone()
    return params


def _clip_grad_norm(grads, max_norm):
    params = _params_with_grads(grads)
    nn.utils.clip_grad_norm_(params, max_norm)
    return [p.grad for p in params]


def _get_total_norm(grads, max_norm):
    params = _params_with_grads(grads)
    norm = nn.utils.get_total_norm([p.grad for p in params])
    nn.utils.clip_grads_with_norm_(params, max_norm, norm)
    return [p.grad for p in params]


def _foreach(norm_fn):
    def clip(grads, max_norm):
        norm = float(torch.stack(list(norm_fn(grads))).norm())
        return [g * (max_norm / norm) if norm > max_norm else g.clone() for g in grads]
    return clip


def _count_by_modules(V, E, H):
    def count(m):
        return sum(p.numel() for p in m.parameters())
    return (count(nn.Linear(V, H, bias=False)),
            count(nn.Embedding(V, E)) + count(nn.Linear(E, H, bias=False)))


def _bias(h, a):
    """The bias that makes tanh(a + b) = h: recovered, since the exercise does not pass it."""
    return (torch.atanh(h) - a).reshape(-1, h.shape[-1]).mean(0)


def _engine_step_backward(dh, h, h_prev, x, W_xh, W_hh):
    engine = torch.autograd.variable.Variable._execution_engine
    leaves = [t.detach().clone() for t in (x, h_prev, W_xh, W_hh)]
    b = _bias(h, x @ W_xh + h_prev @ W_hh)
    for t in leaves + [b]:
        t.requires_grad = True
    out = torch.tanh(leaves[0] @ leaves[2] + leaves[1] @ leaves[3] + b)
    return engine.run_backward((out,), (dh,), False, False, tuple(leaves + [b]), False, False)


def _layer_backward_step(dh, h, h_prev, x, W_xh, W_hh):
    dxs, dh0, dW_xh, dW_hh, db_h = bptt.rnn_layer_backward(dh[None], h[None], h_prev,
                                                           x[None], W_xh, W_hh)
    return dxs[0], dh0, dW_xh, dW_hh, db_h


def _layer_backward(dhs, hs, h0, X, W_xh, W_hh):
    dxs, *rest = bptt.rnn_layer_backward(dhs.transpose(0, 1), hs.transpose(0, 1), h0,
                                         X.transpose(0, 1), W_xh, W_hh)
    return (dxs.transpose(0, 1), *rest)


def _function_backward(dhs, hs, h0, X, W_xh, W_hh):
    h_prev = torch.cat([h0[:, None], hs[:, :-1]], 1)
    b = _bias(hs, X @ W_xh + h_prev @ W_hh)
    leaves = [t.clone().requires_grad_() for t in (X.transpose(0, 1).contiguous(), h0, W_xh,
                                                   W_hh, b)]
    out = bptt.RNNLayerFunction.apply(*leaves)
    out.backward(dhs.transpose(0, 1))
    g = [t.grad for t in leaves]
    return g[0].transpose(0, 1), g[1], g[2], g[3], g[4]


def _exact_by_engine(f, x, eps):
    x = x.clone().requires_grad_()
    f(x).backward()
    return x.grad


def _gradcheck_numerical(f, x, eps):
    gradcheck = sys.modules["torch.autograd.gradcheck"]
    return gradcheck._get_numerical_jacobian(lambda t: f(t).reshape(1), (x,), eps=eps)


def _lstm_begin_state(L, B, H, bi, device):
    return rnnlab.RNNModel(5, H, cell="lstm", num_layers=L, bidirectional=bi).begin_state(
        B, device)


class _WrappedModel(nn.Module):
    def __init__(self, vocab_size, hidden_size):
        super().__init__()
        inner = rnnlab.RNNModel(vocab_size, hidden_size, cell="gru")
        self.rnn, self.output = inner.rnn, inner.output

    def begin_state(self, batch_size, device):
        return torch.zeros(1, batch_size, self.rnn.hidden_size, device=device)

    def forward(self, X, state):
        Y, state = self.rnn(F.one_hot(X, self.rnn.input_size).float(), state)
        return self.output(Y), state


class _LayerWithRNN(nn.Module):
    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.rnn = nn.RNN(input_size, hidden_size, batch_first=True)
        self.W_ih, self.W_hh = self.rnn.weight_ih_l0, self.rnn.weight_hh_l0
        self.b_ih, self.b_hh = self.rnn.bias_ih_l0, self.rnn.bias_hh_l0

    def forward(self, x, h=None):
        return self.rnn(x, h)


def _generate(logits, temperature, generator):
    model = rnnlab.RNNModel(5, 4)
    return rnnlab.generate(model, rnnlab.Vocab(list("abcde")), "a", 1, temperature=temperature)


def _cells(name):
    return getattr(rnnlab.cells, name)


def _routes(check, rows: dict) -> dict:
    """{route: (check, answer, phrase, right)} for one check's rows {route: (answer, phrase)}
    or {route: (answer, phrase, right)}: `right` (default True) says the answer computes the
    right result, so only the watch can refuse it."""
    return {route: (check, row[0], row[1], row[2] if len(row) > 2 else True)
            for route, row in rows.items()}


# (check, answer, phrase the message must hold, right: passes without the watch)
ROUTES = {
    **_routes(ch1.check_rnn_step, {
        "1.1 nn.RNNCell": (_cell, "rnn_tanh_cell"),
        "1.1 subclass of an imported RNNCell": (lambda *a: _cell(*a, cls=_MyCell), "rnn_tanh_cell"),
        "1.1 torch.rnn_tanh_cell": (
            lambda x, h, Wx, Wh, b: torch.rnn_tanh_cell(
                x, h, Wx.T, Wh.T, b, torch.zeros_like(b)), "rnn_tanh_cell"),
        "1.1 torch._VF.rnn_tanh_cell": (
            lambda x, h, Wx, Wh, b: torch._VF.rnn_tanh_cell(
                x, h, Wx.T, Wh.T, b, torch.zeros_like(b)), "rnn_tanh_cell"),
        "1.1 torch.ops.aten.rnn_tanh_cell": (
            lambda x, h, Wx, Wh, b: torch.ops.aten.rnn_tanh_cell(
                x, h, Wx.T, Wh.T, b, torch.zeros_like(b)), "rnn_tanh_cell"),
        "1.1 torch._C._VariableFunctions.rnn_tanh_cell": (
            lambda x, h, Wx, Wh, b: torch._C._VariableFunctions.rnn_tanh_cell(
                x, h, Wx.T, Wh.T, b, torch.zeros_like(b)), "rnn_tanh_cell"),
        "1.1 nn.RNN over one step": (
            lambda x, h, *w: _rnn_module(x[:, None], h, *w)[1], "rnn_tanh"),
        "1.1 rnnlab.bptt.rnn_layer_forward": (
            lambda x, h, *w: bptt.rnn_layer_forward(x[None], h, *w)[0],
            "rnnlab.bptt.rnn_layer_forward"),
    }),
    **_routes(ch1.check_rnn_forward, {
        "1.2 torch.ops.aten.rnn_tanh": (_aten_rnn_tanh, "rnn_tanh"),
        "1.2 torch._VF.rnn_tanh": (_vf_rnn_tanh, "rnn_tanh"),
        "1.2 nn.RNN": (_rnn_module, "rnn_tanh"),
        "1.2 a loop over aten rnn_tanh_cell": (_cell_loop, "rnn_tanh_cell"),
        "1.2 rnnlab.bptt.rnn_layer_forward": (_layer_forward, "rnnlab.bptt.rnn_layer_forward"),
        "1.2 RNNLayerFunction.apply": (_layer_function, "rnnlab.bptt.RNNLayerFunction"),
    }),
    **_routes(ch1.check_perplexity, {
        "1.3 torch.ops.aten.cross_entropy_loss": (
            lambda lg, Y: float(torch.exp(torch.ops.aten.cross_entropy_loss(
                *_flat(lg, Y)))), "cross_entropy_loss"),
        "1.3 torch._C._nn.cross_entropy_loss": (
            lambda lg, Y: float(torch.exp(torch._C._nn.cross_entropy_loss(
                *_flat(lg, Y), None, 1))), "cross_entropy_loss"),
        "1.3 torch.distributions.Categorical": (_categorical, "torch.distributions"),
        "1.3 F.cross_entropy": (
            lambda lg, Y: float(torch.exp(
                F.cross_entropy(*_flat(lg, Y)))), "cross_entropy"),
        "1.3 nn.CrossEntropyLoss": (
            lambda lg, Y: float(torch.exp(
                nn.CrossEntropyLoss()(*_flat(lg, Y)))), "cross_entropy"),
        "1.3 F.nll_loss": (
            lambda lg, Y: float(torch.exp(F.nll_loss(
                torch.log_softmax(lg, -1).transpose(1, 2), Y))), "nll_loss"),
        "1.3 torch.ops.aten.nll_loss_nd": (
            lambda lg, Y: float(torch.exp(
                torch.ops.aten.nll_loss_nd(torch.log_softmax(lg, -1).reshape(-1, lg.shape[-1]),
                                           Y.reshape(-1)))), "nll_loss"),
        "1.3 rnnlab.sequence_loss": (
            lambda lg, Y: float(torch.exp(
                rnnlab.sequence_loss(lg, Y))), "rnnlab.train.sequence_loss"),
    }),
    **_routes(ch1.check_step_jacobian, {
        "1.4 the engine's run_backward": (_engine_jacobian, "autograd"),
        "1.4 Tensor.backward": (_backward_jacobian, "autograd"),
        "1.4 torch.autograd.grad": (_grad_jacobian, "autograd"),
        "1.4 torch.autograd.functional.jacobian": (
            lambda h, *w: torch.autograd.functional.jacobian(lambda h: _step(h, *w), h),
            "torch.autograd.functional.jacobian"),
        "1.4 torch.func.jacrev": (
            lambda h, *w: torch.func.jacrev(
                lambda h: _step(h, *w))(h), "jacrev"),
        "1.4 torch.func.jacfwd": (
            lambda h, *w: torch.func.jacfwd(
                lambda h: _step(h, *w))(h), "jacfwd"),
        "1.4 forward-mode make_dual": (_dual_jacobian, "forward_ad"),
        "1.4 finite differences": (_fd_jacobian, "a difference quotient", False),
        "1.4 Richardson-extrapolated differences": (
            lambda *a: (4 * _fd_jacobian(*a, eps=5e-4)
                - _fd_jacobian(*a, eps=1e-3)) / 3, "a difference quotient", False),
    }),
    **_routes(ch1.check_clip_gradients, {
        "1.5 torch._foreach_norm": (_foreach(torch._foreach_norm), "_foreach_norm"),
        "1.5 torch.ops.aten._foreach_norm": (
            _foreach(torch.ops.aten._foreach_norm), "_foreach_norm"),
        "1.5 nn.utils.clip_grad_norm_": (_clip_grad_norm, "clip_grad"),
        "1.5 nn.utils.get_total_norm": (_get_total_norm, "clip_grad"),
        "1.5 d2l.grad_clipping": (_d2l_clipping, "`d2l.torch.grad_clipping`"),
    }),
    **_routes(ch2.check_one_hot, {
        "2.1 torch.ops.aten.one_hot": (
            lambda X, V: torch.ops.aten.one_hot(X, V).float(), "one_hot"),
        "2.1 torch._C._nn.one_hot": (lambda X, V: torch._C._nn.one_hot(X, V).float(), "one_hot"),
        "2.1 F.one_hot": (lambda X, V: F.one_hot(X, V).float(), "one_hot"),
        "2.1 F.one_hot itself as the answer": (F.one_hot, "one_hot", False),
        "2.1 rnnlab.OneHot": (lambda X, V: rnnlab.OneHot(V)(X), "rnnlab.models.OneHot"),
    }),
    **_routes(ch2.check_embed_one_hot, {
        "2.2 a row lookup by argmax": (lambda X, W: W[X.argmax(-1)], "a lookup by argmax", False),
        "2.2 F.embedding": (lambda X, W: F.embedding(X.argmax(-1), W), "embedding", False),
    }),
    **_routes(ch2.check_input_params, {
        "2.3 counting by building modules": (_count_by_modules, "a torch operation"),
        "2.3 rnnlab.params": (
            lambda V, E, H: (
                rnnlab.params.layer_weight_count("rnn", V, H, 0) - H * H,
                rnnlab.params.layer_weight_count("rnn", E, H, 0) - H * H + V * E), "rnnlab.params"),
    }),
    **_routes(ch3.check_sequential_batches, {
        "3.1 rnnlab.seq_data_iter_sequential": (
            lambda c, B, T: list(rnnlab.seq_data_iter_sequential(c, B, T, offset=0)),
            "rnnlab.data.seq_data_iter_sequential"),
        "3.1 rnnlab's iterator itself as the answer": (
            rnnlab.data.seq_data_iter_sequential, "rnnlab.data.seq_data_iter_sequential", False),
    }),
    **_routes(ch3.check_sample_next, {
        "3.2 rnnlab.generate": (_generate, "rnnlab.", False),
    }),
    **_routes(ch3.check_rnn_layer, {
        "3.3 an nn.RNN inside the layer": (_LayerWithRNN, "rnn_tanh"),
    }),
    **_routes(ch3.check_lstm_begin_state, {
        "3.4 RNNModel(cell='lstm').begin_state": (_lstm_begin_state, "rnnlab.models.RNNModel"),
    }),
    **_routes(ch3.check_gru_model, {
        "3.5 an RNNModel's parts": (_WrappedModel, "rnnlab.models.RNNModel"),
    }),
    **_routes(ch4.check_count_rnn_lm, {
        "4.1 counting nn modules": (
            lambda V, H: sum(
                p.numel() for m in (nn.RNN(V, H), nn.Linear(H, V)) for p in m.parameters()),
            "a torch operation"),
    }),
    **_routes(ch4.check_count_lstm, {
        "4.2 counting an nn.LSTM": (
            lambda d, H, L: sum(
                p.numel() for p in nn.LSTM(d, H, L).parameters()), "a torch operation"),
    }),
    **_routes(ch4.check_count_gru, {
        "4.3 rnnlab.params.recurrent_params": (
            lambda d, H, L, bi: rnnlab.params.recurrent_params(
                "gru", d, H, L, bi), "rnnlab.params"),
    }),
    **_routes(ch5.check_pick_best, {
        "5.2 rnnlab.noise": (
            lambda table, by: rnnlab.noise.best_and_runner_up(
                table, by)[0], "rnnlab.noise", False),
    }),
    **_routes(ch6.check_rnn_step_backward, {
        "6.1 the engine's run_backward": (_engine_step_backward, "autograd"),
        "6.1 rnnlab.bptt.rnn_layer_backward": (
            _layer_backward_step, "rnnlab.bptt.rnn_layer_backward"),
    }),
    **_routes(ch6.check_rnn_backward, {
        "6.2 rnnlab.bptt.rnn_layer_backward": (_layer_backward, "rnnlab.bptt.rnn_layer_backward"),
        "6.2 RNNLayerFunction's backward": (_function_backward, "autograd"),
    }),
    **_routes(ch6.check_numerical_grad, {
        "6.3 the exact gradient by autograd": (_exact_by_engine, "autograd", False),
        "6.3 torch.func.grad": (lambda f, x, eps: torch.func.grad(f)(x), "torch._functorch", False),
        "6.3 gradcheck's numerical Jacobian": (
            _gradcheck_numerical, "torch.autograd.gradcheck", False),
        "6.3 rnnlab.bptt.numerical_gradient": (
            lambda f, x, eps: bptt.numerical_gradient(f, x, eps), "rnnlab.bptt.numerical_gradient"),
    }),
    **_routes(ch7.check_gru_step, {
        "7.1 torch.ops.aten.gru_cell": (
            lambda x, h, Wx, Wh, bx, bh:
                torch.ops.aten.gru_cell(x, h, Wx.T, Wh.T, bx, bh), "gru_cell"),
        "7.1 torch._VF.gru_cell": (
            lambda x, h, Wx, Wh, bx, bh:
                torch._VF.gru_cell(x, h, Wx.T, Wh.T, bx, bh), "gru_cell"),
        "7.1 nn.GRUCell": (lambda x, h, *w: ch7._cell(nn.GRUCell, *w)(x, h), "gru_cell"),
        "7.1 rnnlab.cells.gru_step": (lambda *a: _cells("gru_step")(*a), "rnnlab.cells.gru_step"),
    }),
    **_routes(ch7.check_lstm_step, {
        "7.2 torch.ops.aten.lstm_cell": (
            lambda x, h, c, Wx, Wh, bx, bh: tuple(torch.ops.aten.lstm_cell(
                x, [h, c], Wx.T, Wh.T, bx, bh)), "lstm_cell"),
        "7.2 nn.LSTMCell": (
            lambda x, h, c, *w: ch7._cell(nn.LSTMCell, *w)(
                x, (h, c)), "lstm_cell"),
        "7.2 rnnlab.cells.lstm_step": (
            lambda *a: _cells("lstm_step")(*a), "rnnlab.cells.lstm_step"),
    }),
    **_routes(ch7.check_coupled_lstm_step, {
        "7.4 nn.LSTMCell with the input gate tied": (
            lambda *a: ch7._coupled_reference(*a), "lstm_cell"),
    }),
}


def test_at_least_38_routes_in_the_corpus():
    assert len(ROUTES) >= 38


# Routes declared with their exercises (`Exercise(routes=...)`): the solution cell with its
# key line sent through a door the exercise closes. Right answers all: the refusal alone
# fails them (`test_without_the_watch_they_would_pass`).
DECLARED = declared()
DECLARED_ROUTES = {f"{ex.number} declared: {route.says}": (ex, route)
                   for ex in DECLARED.values() for route in ex.routes}


def _forbids_more_than_the_package(ex) -> bool:
    f = ex.forbids
    return f is not None and bool(f.ops or f.code or f.autograd or f.any_op)


def test_every_exercise_that_forbids_an_operation_declares_a_route_it_refuses():
    for ex in DECLARED.values():
        if _forbids_more_than_the_package(ex):
            assert ex.routes, f"exercise {ex.number} forbids {ex.forbids} and declares no route"
        assert ex.forbids is not None or not ex.routes, ex.number


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("key", list(DECLARED_ROUTES))
def test_every_declared_route_is_refused_and_named(key):
    ex, route = DECLARED_ROUTES[key]
    v = ex.check(slip_answer(ex, route))
    assert isinstance(v, Verdict) and not v.passed, f"{key}: {v}"
    assert route.says in v.message, f"{key}: {v.message}"
    assert "ran inside" in v.message or "reached" in v.message or "refused" in v.message \
        or "operation" in v.message, f"{key}: not a refusal: {v.message}"


@pytest.mark.filterwarnings("ignore")      # torch.func / TorchScript deprecation notes
@pytest.mark.parametrize("route", list(ROUTES))
def test_every_route_is_refused_and_named(route):
    check, answer, phrase, _ = ROUTES[route]
    v = check(answer)
    assert isinstance(v, Verdict) and not v.passed, f"{route}: {v}"
    assert phrase in v.message, f"{route}: {v.message}"
    assert "could not judge" not in v.message


_UNWATCHED = """
import json, sys, warnings
warnings.simplefilter("ignore")
sys.path.insert(0, {tests!r})
from rnnlab.checks import sandbox
import test_routes as T
sandbox.watching = lambda forbidden, routes, reached=None: T._nothing()
out = {{r: str(T.ROUTES[r][0](T.ROUTES[r][1])) for r in T.ROUTES if T.ROUTES[r][3]}}
out.update({{k: str(ex.check(T.slip_answer(ex, route)))
            for k, (ex, route) in T.DECLARED_ROUTES.items()}})
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def unwatched():
    """Every route's verdict with the watch switched off, in a separate Python whose guard
    is off too (RNNLAB_UNGUARDED_CHECKS=1: in a guarded one the checker cannot be patched)."""
    import json
    import os
    import subprocess
    from pathlib import Path
    env = dict(os.environ, RNNLAB_UNGUARDED_CHECKS="1")
    script = _UNWATCHED.format(tests=str(Path(__file__).parent))
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("route", [r for r in ROUTES if ROUTES[r][3]] + list(DECLARED_ROUTES))
def test_without_the_watch_they_would_pass(route, unwatched):
    """The refusal is what fails them: with nothing watched, these routes are right."""
    assert unwatched[route].startswith("✔ passed"), f"{route}: {unwatched[route]}"
    assert "The guard is off" in " ".join(unwatched[route].split())


def test_a_guarded_checker_cannot_be_patched():
    with pytest.raises(Exception, match="belongs to the checker"):
        sandbox.watching = lambda forbidden, routes, reached=None: _nothing()


class _nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


# ---------------------------------------------------------------------------
# The watch itself
# ---------------------------------------------------------------------------


def test_swallowing_the_refusal_does_not_help():
    def sneaky(X, V):
        try:
            return F.one_hot(X, V).float()
        except Exception:
            return (X.unsqueeze(-1) == torch.arange(V)).float()
    v = ch2.check_one_hot(sneaky)
    assert not v.passed and "`one_hot`" in v.message and "line" in v.message, v.message


def test_the_message_names_the_students_line():
    def rnn_step(x, h, W_xh, W_hh, b_h):
        cell = nn.RNNCell(*W_xh.shape)
        return load_row_weights(cell, W_xh, W_hh, b_h)(x, h)
    v = ch1.check_rnn_step(rnn_step)
    assert "torch.nn.modules.rnn.RNNCell.forward" in v.message, v.message
    assert "return load_row_weights(cell, W_xh, W_hh, b_h)(x, h)" in v.message


def _rnn_step_by_hand(x, h, W_xh, W_hh, b_h):
    return torch.tanh(x @ W_xh + h @ W_hh + b_h)


def test_honest_answers_pass_and_nothing_stays_watched():
    before = sys.getprofile()
    assert ch1.check_rnn_step(_rnn_step_by_hand).passed
    assert ch1.check_step_jacobian(lambda h, x, W_xh, W_hh, b_h: (
        1 - _step(h, x, W_xh, W_hh, b_h) ** 2)[:, None] * W_hh.T).passed
    assert sys.getprofile() is before
    assert not torch._C._is_torch_function_mode_enabled() or \
        torch._C._len_torch_function_stack() == 0
    # the library works again outside the window, autograd included
    x = torch.ones(2, requires_grad=True)
    (x * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]
    assert F.one_hot(torch.tensor([1]), 3).tolist() == [[0, 1, 0]]


@pytest.mark.parametrize("answer", ["exit", "forever", "raise"])
def test_the_watch_ends_however_the_call_ends(answer, monkeypatch):
    monkeypatch.setattr(sandbox, "TIME_LIMIT_S", 0.2)     # a setting a check may lower
    before = sys.getprofile()

    def student(x, h, W_xh, W_hh, b_h):
        if answer == "exit":
            raise SystemExit(1)
        if answer == "raise":
            raise ValueError("bad")
        while True:
            torch.zeros(1)
    v = ch1.check_rnn_step(student)
    assert not v.passed
    assert sys.getprofile() is before
    assert torch._C._len_torch_function_stack() == 0
    assert nn.RNN(2, 3)(torch.zeros(1, 4, 2))[0].shape == (1, 4, 3)


def test_a_float64_answer_is_judged_or_told_plainly():
    v = ch1.check_rnn_step(lambda *a: _rnn_step_by_hand(*a).double())
    assert not v.passed and "has dtype torch.float64, but the inputs are torch.float32" \
        in v.message, v.message
    v = ch7.check_gru_step(lambda x, h, *w: torch.zeros_like(h, dtype=torch.float64))
    assert "could not judge" not in v.message and "float64" in v.message, v.message


def test_counting_with_no_tensor_op_at_all_passes():
    v = ch4.check_count_rnn_lm(lambda V, H: V * H + H * H + 2 * H + H * V + V)
    assert v.passed, str(v)


def test_the_engine_is_seen_even_on_a_graph_built_outside():
    """A graph made before the call, only run inside it: no operation inside makes a tensor
    that requires grad, so only the dispatcher-level watch of the engine can see it."""
    p = torch.ones(3, dtype=torch.float64, requires_grad=True)
    y = (torch.tanh(p) * 2).sum()
    engine = torch.autograd.variable.Variable._execution_engine

    def student():
        return engine.run_backward((y,), (torch.ones((), dtype=torch.float64),), True, False,
                                   (p,), False, False)
    v = checks.run_check("demo", lambda: checks.call(
        student, name="f", forbidden=forbid("a test", autograd=True)))
    assert not v.passed and "the autograd engine (a backward pass)" in v.message, v.message
