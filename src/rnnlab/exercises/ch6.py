"""Checks for chapter 6, "Backpropagation through time, by hand".

The references are computed by autograd, outside the student's call; while the student's
code runs, autograd (any route: `backward`, `torch.autograd`, `torch.func`, the engine
itself, forward-mode AD) and the package's own backward and numerical gradient are
refused, so a gradient can only come from the student's own derivation.
"""

from __future__ import annotations

import torch

from ..audit import forbid
from ..checks.expect import (
    as_pair,
    close,
    expect_gradients,
    expect_tensor,
    refuse_other_order,
    slipped,
)
from ..checks.explain import error_hint
from ..checks.sandbox import call
from ..checks.verdict import Verdict, fail, run_check
from ..guard import freeze_loaded as _freeze_loaded
from ..guard import generator as _generator
from . import Exercise, declare, edit, title

NO_AUTOGRAD_STEP = forbid("this exercise asks you to derive the step's gradients by hand",
                          autograd=True)
NO_AUTOGRAD_LOOP = forbid("this exercise asks you to write the backward loop yourself",
                          autograd=True)
NO_NUMERICAL = forbid("this exercise asks you to compute the differences yourself",
                      autograd=True)
NO_AUTOGRAD_LOSS = forbid("this exercise asks you to derive the loss's gradient by hand",
                          autograd=True, ops=("*_backward*",))

_DT = torch.float64
_STEP_NAMES = ("dx", "dh_prev", "dW_xh", "dW_hh", "db_h")


def _weights(d: int, H: int, g: torch.Generator):
    return (torch.randn(d, H, generator=g, dtype=_DT) * 0.5,
            torch.randn(H, H, generator=g, dtype=_DT) * 0.5,
            torch.randn(H, generator=g, dtype=_DT) * 0.5)


def _step_reference(x, h_prev, W_xh, W_hh, b_h, dh):
    """(h, gradients in _STEP_NAMES order) by autograd, for L = sum(dh * h)."""
    leaves = [t.clone().requires_grad_() for t in (x, h_prev, W_xh, W_hh, b_h)]
    h = torch.tanh(leaves[0] @ leaves[2] + leaves[1] @ leaves[3] + leaves[4])
    grads = torch.autograd.grad((h * dh).sum(), leaves)
    return h.detach(), grads


def _step_grads(dA, x, h_prev, W_xh, W_hh) -> dict:
    """The five gradients of one step from a given dA (right or slipped)."""
    return {"dx": dA @ W_xh.T, "dh_prev": dA @ W_hh.T, "dW_xh": x.T @ dA,
            "dW_hh": h_prev.T @ dA, "db_h": dA.sum(0)}


_SHAPE_HINT = error_hint("cannot be multiplied", "must match", says=(
    "Each gradient has its tensor's shape, and the shapes leave one way to multiply: "
    "dx = dA @ W_xh.T is (B, H) @ (H, d), dW_xh = x.T @ dA is (d, B) @ (B, H)."))


def check_rnn_step_backward(rnn_step_backward) -> Verdict:
    """Checks `rnn_step_backward(dh, h, h_prev, x, W_xh, W_hh)` ->
    `(dx, dh_prev, dW_xh, dW_hh, db_h)` for `h = tanh(x W_xh + h_prev W_hh + b_h)`,
    given `dh = dL/dh`: (B, H), h (B, H), h_prev (B, H), x (B, d)."""
    def body():
        cases = [(1, 3, 2, 0), (4, 3, 5, 1), (3, 6, 4, 2)]    # (B, d, H, seed)
        for B, d, H, seed in cases:
            g = _generator(600 + seed)
            W_xh, W_hh, b_h = _weights(d, H, g)
            x = torch.randn(B, d, generator=g, dtype=_DT)
            h_prev = torch.randn(B, H, generator=g, dtype=_DT)
            dh = torch.randn(B, H, generator=g, dtype=_DT)
            h = torch.tanh(x @ W_xh + h_prev @ W_hh + b_h)
            got = call(rnn_step_backward, dh.clone(), h.clone(), h_prev.clone(), x.clone(),
                       W_xh.clone(), W_hh.clone(), name="rnn_step_backward",
                       forbidden=NO_AUTOGRAD_STEP, on_error=_SHAPE_HINT)
            _, want = _step_reference(x, h_prev, W_xh, W_hh, b_h, dh)    # after the call
            dA = dh * (1 - h ** 2)
            # What typical slips return, computed here (None where the shapes do not fit).
            slips = {
                "dh_prev": [(dh @ W_hh.T, "it skips tanh: multiply dh by tanh' = 1 - h**2 "
                                          "first."),
                            (dA @ W_hh, "W_hh needs its transpose here: dh_prev = "
                                        "dA @ W_hh.T.")],
                "dW_hh": [(h_prev.T @ dh, "it skips tanh: use dA = dh * (1 - h**2), then "
                                          "h_prev.T @ dA."),
                          (h.T @ dA, "it uses h, the new state; the weight multiplies "
                                     "h_prev.")],
                "dW_xh": [(x.T @ dh, "it skips tanh: use dA = dh * (1 - h**2), then "
                                     "x.T @ dA.")],
                "db_h": [(dh.sum(0), "it skips tanh: sum dA = dh * (1 - h**2) over the "
                                     "batch.")],
                "dx": [(dh @ W_xh.T, "it skips tanh: multiply dh by tanh' = 1 - h**2 first."),
                       (dA @ W_xh if d == H else None,
                        "W_xh needs its transpose here: dx = dA @ W_xh.T.")],
            }
            for dA_slip, hint in [
                    (dh * (1 - h) ** 2, "tanh' is 1 - h**2, one minus h squared, not "
                                        "(1 - h)**2."),
                    (dh * (1 - torch.tanh(h) ** 2), "h is already tanh(a): tanh' = 1 - h**2, "
                                                    "with no second tanh.")]:
                for name, value in _step_grads(dA_slip, x, h_prev, W_xh, W_hh).items():
                    slips[name].insert(0, (value, f"it uses the wrong tanh': {hint}"))
            slips["db_h"].append((dA.mean(0), "it averages dA over the batch; every example "
                                              "adds its own term, so the gradient sums them, "
                                              "dA.sum(0)."))
            what = f"rnn_step_backward(dh ({B}, {H}), ..., x ({B}, {d}), ...)"
            refuse_other_order(got, want, _STEP_NAMES, what)
            if isinstance(got, (tuple, list)) and len(got) == 5 and \
                    isinstance(got[4], torch.Tensor) and tuple(got[4].shape) == (B, H):
                fail(f"db_h has shape (B, H) = {(B, H)}: the bias is shared by every example "
                     "of the batch, so its gradient sums dA over the batch, shape (H,).")
            expect_gradients(got, want, _STEP_NAMES, what, slips)
        return f"all five gradients match autograd on {len(cases)} cases (float64)."
    return run_check(title("rnn_step_backward"), body)


def _sequence_reference(X, h0, W_xh, W_hh, b_h, dhs):
    """(hs (B, T, H), gradients (dX, dh0, dW_xh, dW_hh, db_h)) by autograd, L = sum(dhs*hs)."""
    leaves = [t.clone().requires_grad_() for t in (X, h0, W_xh, W_hh, b_h)]
    h, outs = leaves[1], []
    for t in range(X.shape[1]):
        h = torch.tanh(leaves[0][:, t] @ leaves[2] + h @ leaves[3] + leaves[4])
        outs.append(h)
    hs = torch.stack(outs, 1)
    grads = torch.autograd.grad((hs * dhs).sum(), leaves)
    return hs.detach(), grads


def _backward_variants(X, h0, hs, W_xh, W_hh, dhs):
    """What the classic loop bugs give for the weight gradients: {name: (without the term
    carried back from step t+1, overwritten at each step instead of accumulated, h_t used
    where h_{t-1} belongs, or None)}."""
    B, T, H = hs.shape
    h_prev = torch.cat([h0.unsqueeze(1), hs[:, :-1]], 1)
    local = dhs * (1 - hs ** 2)              # no gradient carried from step t+1
    dh_next = torch.zeros_like(h0)
    for t in range(T - 1, -1, -1):
        dA = (dhs[:, t] + dh_next) * (1 - hs[:, t] ** 2)
        dh_next = dA @ W_hh.T
    # after the loop, dA is step 1's: an overwritten gradient holds only its term
    return {"dX": (local @ W_xh.T, None, None),
            "dW_hh": (torch.einsum("bti,btj->ij", h_prev, local), h_prev[:, 0].T @ dA,
                      _off_by_one(h0, hs, W_hh, dhs)),
            "dW_xh": (torch.einsum("bti,btj->ij", X, local), X[:, 0].T @ dA, None),
            "db_h": (local.sum((0, 1)), dA.sum(0), None)}


def _off_by_one(h0, hs, W_hh, dhs):
    """dW_hh computed with h_t where h_{t-1} belongs (the state *after* the step)."""
    dW_hh, dh_next = torch.zeros_like(W_hh), torch.zeros_like(h0)
    for t in range(hs.shape[1] - 1, -1, -1):
        dA = (dhs[:, t] + dh_next) * (1 - hs[:, t] ** 2)
        dW_hh += hs[:, t].T @ dA
        dh_next = dA @ W_hh.T
    return dW_hh


_LOOP_SLIPS = {
    "wrap": "at t = 0, hs[:, t - 1] is hs[:, -1], the *last* state (a negative index counts "
            "from the end): the state before step 1 is h0.",
    "carry without tanh'": "what comes back from step t+1 must also pass through tanh': "
                           "dA_t = (dhs[:, t] + dh_next) * (1 - h_t**2), both terms.",
    "forward": "the loop ran forward in time: the gradient flows backward, so step t needs "
               "step t+1's dA first; loop for t in range(T - 1, -1, -1).",
    "dh0 = dA": "dh0 is what reaches h0 through W_hh: dA_1 @ W_hh.T, not dA_1 itself.",
}


def _bptt(X, h0, hs, W_xh, W_hh, dhs, slip: str):
    """(dX, dh0, dW_xh, dW_hh, db_h) of a backward loop with one of `_LOOP_SLIPS`."""
    B, T, _ = X.shape
    dX = torch.zeros_like(X)
    dW_xh, dW_hh = torch.zeros_like(W_xh), torch.zeros_like(W_hh)
    db_h, dh_next = torch.zeros(W_hh.shape[0], dtype=X.dtype), torch.zeros_like(h0)
    steps = range(T) if slip == "forward" else range(T - 1, -1, -1)
    dA = torch.zeros_like(h0)
    for t in steps:
        tanh_grad = 1 - hs[:, t] ** 2
        if slip == "carry without tanh'":
            dA = dhs[:, t] * tanh_grad + dh_next
        else:
            dA = (dhs[:, t] + dh_next) * tanh_grad
        h_prev = hs[:, t - 1] if slip == "wrap" or t > 0 else h0
        dX[:, t] = dA @ W_xh.T
        dW_xh += X[:, t].T @ dA
        dW_hh += h_prev.T @ dA
        db_h += dA.sum(0)
        dh_next = dA @ W_hh.T
    dh0 = dA if slip == "dh0 = dA" else dh_next
    return dX, dh0, dW_xh, dW_hh, db_h


def check_rnn_backward(rnn_backward) -> Verdict:
    """Checks `rnn_backward(dhs, hs, h0, X, W_xh, W_hh)` ->
    `(dX, dh0, dW_xh, dW_hh, db_h)`: dhs = dL/dh_t from above, (B, T, H); hs every h_t,
    (B, T, H); h0 (B, H); X (B, T, d)."""
    names = ("dX", "dh0", "dW_xh", "dW_hh", "db_h")

    def body():
        cases = [(1, 1, 3, 2, 0), (2, 5, 3, 4, 1), (3, 8, 4, 5, 2)]   # (B, T, d, H, seed)
        for B, T, d, H, seed in cases:
            g = _generator(620 + seed)
            W_xh, W_hh, b_h = _weights(d, H, g)
            X = torch.randn(B, T, d, generator=g, dtype=_DT)
            h0 = torch.randn(B, H, generator=g, dtype=_DT)
            dhs = torch.randn(B, T, H, generator=g, dtype=_DT)
            hs = _sequence_reference(X, h0, W_xh, W_hh, b_h, dhs)[0].detach()
            got = call(rnn_backward, dhs.clone(), hs.clone(), h0.clone(), X.clone(),
                       W_xh.clone(), W_hh.clone(), name="rnn_backward",
                       forbidden=NO_AUTOGRAD_LOOP, on_error=_SHAPE_HINT)
            _, want = _sequence_reference(X, h0, W_xh, W_hh, b_h, dhs)    # after the call
            variants = _backward_variants(X, h0, hs, W_xh, W_hh, dhs)
            slips = {
                name: [(over, "it holds step 1's term only: each step adds to the weight "
                              f"gradients ({name} += ...), it must not replace them."),
                       (no_carry, "the gradient reaching h_t must include what comes back "
                                  "from step t+1: dh = dhs[:, t] + dA_{t+1} @ W_hh.T."),
                       (shifted, "it pairs dA_t with h_t, the state the step produced: W_hh "
                                 "multiplies the state *before* the step, so the term is "
                                 "h_{t-1}.T @ dA_t (h0 at the first step).")]
                for name, (no_carry, over, shifted) in variants.items()}
            slips["dh0"] = []
            for kind, hint in _LOOP_SLIPS.items():
                if kind == "wrap" and T == 1:     # the same numbers as pairing h_t: say both
                    for name in ("dW_hh",):
                        slips[name] = [(v, h + " (Or did hs[:, t - 1] wrap around to the "
                                           "last state at t = 0? The state before step 1 "
                                           "is h0.)") for v, h in slips[name]]
                    continue
                slipped = _bptt(X, h0, hs, W_xh, W_hh, dhs, kind)
                for name, value in zip(names, slipped):
                    if kind == "wrap":          # more precise than "pairs dA_t with h_t"
                        slips[name].insert(0, (value, hint))
                    else:
                        slips[name].append((value, hint))
            expect_gradients(got, want, names,
                          f"rnn_backward(dhs ({B}, {T}, {H}), ..., X ({B}, {T}, {d}), ...)",
                          slips)
        return f"all five gradients match autograd on {len(cases)} sequences (float64)."
    return run_check(title("rnn_backward"), body)


def _functions():
    """(label, f, x, eps, its exact gradient) in float64. At these eps the central
    difference differs measurably from the exact gradient (by about eps**2 times the third
    derivative / 6)."""
    g = _generator(640)
    x1 = torch.randn(5, generator=g, dtype=_DT)
    W = torch.randn(3, 4, generator=g, dtype=_DT)
    x2 = torch.randn(2, 3, generator=g, dtype=_DT)
    x3 = torch.full((3,), 1.0, dtype=_DT)
    return [("sum(x**3)", lambda x: (x ** 3).sum(), x1, 1e-3, 3 * x1 ** 2),
            ("sum(tanh(x @ W))", lambda x: torch.tanh(x @ W).sum(), x2, 1e-3,
             (1 - torch.tanh(x2 @ W) ** 2) @ W.T),
            ("sum(exp(3 x))", lambda x: torch.exp(3 * x).sum(), x3, 1e-2,
             3 * torch.exp(3 * x3))]


def _differences(f, x: torch.Tensor, eps: float, kind: str) -> torch.Tensor:
    """Entry by entry: "central" (f(x+eps) - f(x-eps)) / (2 eps), "forward"
    (f(x+eps) - f(x)) / eps, or "one eps" (the central difference divided by eps only)."""
    out = torch.empty_like(x)
    for i, e in enumerate(torch.eye(x.numel(), dtype=x.dtype)):
        step = eps * e.view_as(x)
        if kind == "forward":
            out.view(-1)[i] = (f(x + step) - f(x)) / eps
        elif kind == "no minus step":
            out.view(-1)[i] = (f(x + step) - f(x)) / (2 * eps)
        elif kind == "precedence":
            out.view(-1)[i] = (f(x + step) - f(x - step)) / 2 * eps
        elif kind == "whole tensor":
            out.view(-1)[i] = (f(x + eps) - f(x - eps)) / (2 * eps)
        else:
            out.view(-1)[i] = (f(x + step) - f(x - step)) / (2 * eps if kind == "central"
                                                              else eps)
    return out


def check_numerical_grad(numerical_grad) -> Verdict:
    """Checks `numerical_grad(f, x, eps)` -> a tensor shaped like x, by central
    differences at the given eps; `f(x)` returns a scalar tensor.

    Judged against the central difference itself (to 1e-9), not the exact gradient: at
    these eps the two differ measurably, so an exact gradient is not this answer.
    """
    def body():
        for label, f, x, eps, exact in _functions():
            x_in = x.clone()
            got = call(numerical_grad, f, x_in, eps, name="numerical_grad",
                       forbidden=NO_NUMERICAL)
            what = f"numerical_grad(f = {label}, x {tuple(x.shape)}, eps={eps:g})"
            if not torch.equal(x_in, x):
                fail(f"{what} left x changed: after each f evaluation put the entry back "
                     "(x[i] = old), or the next entries are measured at the wrong point.")
            want = _differences(f, x, eps, "central")
            if isinstance(got, torch.Tensor) and got.dtype == torch.float32:
                fail(f"{what} is float32, but x is float64: a numerical gradient divides a "
                     "small difference by a small eps, so it needs every digit. Create the "
                     "result with torch.zeros_like(x) (or dtype=x.dtype), and do not convert "
                     "x or f(x) to float32.")
            if not close(got, want, atol=1e-10, rtol=1e-9):
                for kind, hint in [
                        ("precedence", "/ 2 * eps divides by 2 and then multiplies by eps: "
                                       "write / (2 * eps)."),
                        ("no minus step", "it subtracts f(x), not f(x - eps): central "
                                          "differences step both ways, (f(x + eps) - "
                                          "f(x - eps)) / (2 * eps)."),
                        ("whole tensor", "every entry came out the same: it shifts the whole "
                                         "of x by eps at once. Shift one entry at a time "
                                         "(the others stay), so that entry i measures "
                                         "df/dx_i.")]:
                    if close(got, _differences(f, x, eps, kind), atol=1e-10, rtol=1e-9):
                        fail(f"{what}: {hint}")
                if close(got, exact, atol=1e-10, rtol=1e-9):
                    fail(f"{what} is the exact gradient, not the central difference at eps = "
                         f"{eps:g} (which differs from it by about eps**2, here up to "
                         f"{float((want - exact).abs().max()):.1e}): evaluate f at x + eps "
                         "and x - eps, entry by entry.")
                if close(got, _differences(f, x, eps, "forward"), atol=1e-10, rtol=1e-9):
                    err = float((got - exact).abs().max() / exact.abs().max())
                    fail(f"{what} is off by {err:.1e} (relative), as much as the forward "
                         "difference (f(x + eps) - f(x)) / eps, whose error shrinks only like "
                         "eps. Use central differences, (f(x + eps) - f(x - eps)) / (2 eps), "
                         "whose error shrinks like eps**2.")
                if close(got, _differences(f, x, eps, "one eps"), atol=1e-10, rtol=1e-9):
                    fail(f"{what} is twice the gradient: the two points x + eps and x - eps "
                         "are 2 eps apart, so divide by 2 * eps.")
                if close(got, want / 2, atol=1e-10, rtol=1e-9):
                    fail(f"{what} is half the gradient: divide the difference by 2 * eps, "
                         "not by 4 eps.")
            expect_tensor(got, want, what, atol=1e-10, rtol=1e-9)
        return ("equals the central differences of 3 functions in float64 (eps = 1e-3 and "
                "1e-2), which differ measurably from their exact gradients, and leaves x "
                "as it was.")
    return run_check(title("numerical_grad"), body)


# ---------------------------------------------------------------------------
# unroll: find the bug in a loop that cuts the gradient
# ---------------------------------------------------------------------------


def _tanh_step(W_xh, W_hh, b_h):
    def step(x_t, h):
        return torch.tanh(x_t @ W_xh + h @ W_hh + b_h)
    return step


def _with_graph(result, X_in: torch.Tensor):
    """(the result, what its graph shows): whether outputs and h_T hold a graph, and the
    gradient of the last step's outputs with respect to X. Computed inside the call's
    window, where the graph exists (when grading, only plain values come back)."""
    graph = {"outputs": False, "h_T": False, "grad": None}
    if isinstance(result, (tuple, list)) and len(result) == 2:
        outputs, h_T = result
        graph["h_T"] = isinstance(h_T, torch.Tensor) and h_T.requires_grad
        if isinstance(outputs, torch.Tensor) and outputs.requires_grad and outputs.dim() == 3:
            graph["outputs"] = True
            (graph["grad"],) = torch.autograd.grad(outputs[:, -1].sum(), X_in,
                                                   allow_unused=True)
    return result, graph


def check_unroll(unroll) -> Verdict:
    """Checks a fixed `unroll(step, X, h)` -> `(outputs (B, T, H), h_T (B, H))` that
    runs `step(x_t, h)` over the T steps of X `(B, T, d)` *and keeps the graph*: the loss at
    the last step must reach every earlier step (backpropagation through time inside the
    chunk); where to cut the graph, between chunks, is the caller's business."""
    def body():
        for B, T, d, H, seed in [(2, 6, 3, 4, 0), (3, 4, 2, 5, 1)]:
            g = _generator(660 + seed)
            W_xh, W_hh, b_h = _weights(d, H, g)
            X = torch.randn(B, T, d, generator=g, dtype=_DT)
            h0 = torch.randn(B, H, generator=g, dtype=_DT)
            step = _tanh_step(W_xh, W_hh, b_h)
            X_ref, X_in = X.clone().requires_grad_(), X.clone().requires_grad_()
            what = f"unroll(step, X ({B}, {T}, {d}), h ({B}, {H}))"
            got, graph = call(unroll, step, X_in, h0.clone(), name="unroll",
                              after=lambda result, X_in=X_in: _with_graph(result, X_in))
            h, outs = h0, []                                   # the reference, after it
            for t in range(T):
                h = step(X_ref[:, t], h)
                outs.append(h)
            want = torch.stack(outs, 1)
            (want_grad,) = torch.autograd.grad(want[:, -1].sum(), X_ref)
            outputs, h_T = as_pair(got, what, "(outputs, h_T)")
            expect_tensor(outputs.detach() if isinstance(outputs, torch.Tensor) else outputs,
                          want.detach(), f"outputs of {what}", atol=1e-10, rtol=1e-8)
            if not graph["outputs"]:
                fail(f"outputs of {what} hold no graph (requires_grad is False): were they "
                     "computed under torch.no_grad(), or detached before returning? Training "
                     "needs the graph: the loss is computed from these outputs.")
            if not isinstance(h_T, torch.Tensor) or not graph["h_T"]:
                fail(f"h_T of {what} holds no graph: return the last state as it is. Cutting "
                     "it (detach) is the caller's job, between chunks, not unroll's.")
            grad = torch.zeros_like(X) if graph["grad"] is None else graph["grad"]
            reached = [t for t in range(T) if grad[:, t].abs().max() > 0]
            if reached != list(range(T)):
                shown = ", ".join(str(t + 1) for t in reached) or "none"
                fail(f"{what} computes the right values, but the loss at the last step "
                     f"reaches only step(s) {shown} of {T}: the graph is cut inside the loop "
                     "(a .detach() on h, at every step or at some), so backpropagation "
                     "through time stops early. Detach between chunks, not between steps.")
            expect_tensor(grad, want_grad, f"the gradient of the last output with respect to "
                                           f"X, through {what}", atol=1e-10, rtol=1e-8)
        return ("the last step's loss reaches every earlier step of the chunk, with "
                "autograd's own gradient: the graph is kept inside the loop.")
    return run_check(title("unroll"), body)


_LOSS_HINT = error_hint("index", "dimension", "must match", says=(
    "logits are (B, T, V) and Y (B, T) holds one index into the last axis per position: the "
    "gradient has the logits' shape, (B, T, V)."))


def check_softmax_ce_backward(softmax_ce_backward) -> Verdict:
    """Checks `softmax_ce_backward(logits, Y)` -> d(mean cross-entropy) / d logits.

    logits `(B, T, V)` float64, targets `Y (B, T)` int64; the loss is the mean over all B*T
    positions of `-log softmax(logits)[target]`. Judged against autograd to 1e-12 (a
    derivation is exact to rounding).
    """
    def body():
        g = _generator(65)
        cases = [(1, 1, 3), (2, 5, 7), (4, 3, 11)]          # (B, T, V): B != T
        for B, T, V in cases:
            logits = 2 * torch.randn(B, T, V, generator=g, dtype=_DT)
            Y = torch.randint(0, V, (B, T), generator=g)
            got = call(softmax_ce_backward, logits.clone(), Y.clone(),
                       name="softmax_ce_backward", forbidden=NO_AUTOGRAD_LOSS,
                       on_error=_LOSS_HINT)
            leaf = logits.clone().requires_grad_()                   # after the call
            torch.nn.functional.cross_entropy(leaf.reshape(-1, V), Y.reshape(-1)).backward()
            want, N = leaf.grad, B * T
            what = f"softmax_ce_backward(<logits {(B, T, V)}>, <Y {(B, T)}>)"
            p = torch.softmax(logits, -1)
            target = torch.nn.functional.one_hot(Y, V).to(_DT)
            slips = [
                (p - target, f"is N = B*T = {N} times too large: the loss is the mean over "
                             "all B*T positions, so its gradient is divided by B*T."),
                ((p - target) / B, "divides by B only: the mean runs over all B*T "
                                   "positions, the time steps too."),
                ((target - p) / N, "has the wrong sign: it is minus the gradient. Check "
                                   "the derivative of -log softmax(z)[y] at k = y again."),
                (p / N, "leaves out the target: the derivative at k = y has a term the "
                        "other entries lack."),
                ((torch.log_softmax(logits, -1) - target) / N,
                 "uses log-probabilities: the derivative of log sum_j exp(z_j) with respect "
                 "to z_k is a probability, softmax(z)[k], not its log."),
                ((logits - target) / N, "uses the logits themselves: the derivative of log "
                                        "sum_j exp(z_j) with respect to z_k is softmax(z)[k]."),
            ]
            for slip, hint in slips:
                if slipped(got, slip, want, atol=1e-9, rtol=1e-9):
                    fail(f"{what} {hint}")
            expect_tensor(got, want, what, atol=1e-12, rtol=1e-12)
        return f"matches autograd to float64 precision on {len(cases)} cases."
    return run_check(title("softmax_ce_backward"), body)


# ---------------------------------------------------------------------------
# The chapter's exercises (see rnnlab.exercises)
# ---------------------------------------------------------------------------

_GRADS = ("return (dA @ W_xh.T,             # dx:      (B, H) @ (H, d)\n"
          "            dA @ W_hh.T,             # dh_prev: (B, H) @ (H, H)\n"
          "            x.T @ dA,                # dW_xh:   (d, B) @ (B, H)\n"
          "            h_prev.T @ dA,           # dW_hh:   (H, B) @ (B, H)\n"
          "            dA.sum(0))")
_DA = "dA = (dhs[:, t] + dh_next) * (1 - hs[:, t] ** 2)"
_UP = "flat[i] = old + eps\n        up = f(x).item()"
_DOWN = "flat[i] = old - eps\n        down = f(x).item()"

EXERCISES = declare(
    Exercise("6.1", "rnn_step_backward", check_rnn_step_backward, forbids=NO_AUTOGRAD_STEP,
             answered_by=("rnnlab.bptt",), slips=(
        edit("dA = dh * (1 - h ** 2)", "dA = dh", says="skips tanh"),
        edit("dA @ W_hh.T", "dA @ W_hh", says="needs its transpose"),
        edit("dA.sum(0))", "dA)", says="sums dA over the batch"),
        edit(_GRADS, "return (x.T @ dA, h_prev.T @ dA, dA.sum(0), dA @ W_xh.T, dA @ W_hh.T)",
             says="in another order"),
        edit("h_prev.T @ dA", "h.T @ dA", says="it uses h, the new state"),
        edit("dA.sum(0))", ")", says="tuple of 5"),
        edit("(1 - h ** 2)", "(1 - h) ** 2", says="not (1 - h)**2"),
        edit("(1 - h ** 2)", "(1 - torch.tanh(h) ** 2)", says="with no second tanh"),
        edit("dA.sum(0)", "dA.mean(0)", says="it averages dA over the batch"),
        edit("dA @ W_xh.T", "dA @ W_xh", says="dx = dA @ W_xh.T is (B, H)"),
    ), routes=(
        edit("dA @ W_xh.T,  ", "torch.autograd.grad((v := x.detach().requires_grad_()) @ W_xh,"
                               " v, dA)[0],", says="autograd"),
    )),
    Exercise("6.2", "rnn_backward", check_rnn_backward, forbids=NO_AUTOGRAD_LOOP,
             answered_by=("rnnlab.bptt",), slips=(
        edit({"dW_xh += ": "dW_xh = ", "dW_hh += ": "dW_hh = ", "db_h += ": "db_h = "},
             says="+= ..."),
        edit("(dhs[:, t] + dh_next)", "dhs[:, t]", says="from step t+1"),
        edit("h_prev = hs[:, t - 1] if t > 0 else h0", "h_prev = hs[:, t]",
             says="pairs dA_t with h_t"),
        edit("return dX, dh_next, dW_xh, dW_hh, db_h", "return dX, dh_next, dW_xh",
             says="tuple of 5"),
        edit(_DA, "dA = dhs[:, t] * (1 - hs[:, t] ** 2) + dh_next",
             says="must also pass through tanh'"),
        edit("reversed(range(T))", "range(T)", says="the loop ran forward in time"),
        edit("return dX, dh_next,", "return dX, dA,", says="not dA_1 itself"),
        edit("hs[:, t - 1] if t > 0 else h0", "hs[:, t - 1]",
             says="wrap around to the last state"),
    ), routes=(
        edit("dX[:, t] = dA @ W_xh.T", "xt = X[:, t].detach().requires_grad_()\n"
                                       "        dX[:, t] = torch.autograd.grad(xt @ W_xh, xt,"
                                       " dA)[0]", says="autograd"),
    )),
    Exercise("6.3", "numerical_grad", check_numerical_grad, forbids=NO_NUMERICAL,
             answered_by=("rnnlab.bptt",), slips=(
        edit({"flat[i] = old - eps": "flat[i] = old", "(2 * eps)": "eps"},
             says="Use central differences"),
        edit("(2 * eps)", "eps", says="divide by 2 * eps"),
        edit("(2 * eps)", "(4 * eps)", says="half the gradient"),
        edit("    return grad", "    flat[0] += 1.0\n    return grad", says="left x changed"),
        edit("/ (2 * eps)", "/ 2 * eps", says="write / (2 * eps)"),
        edit("flat[i] = old - eps", "flat[i] = old", says="not f(x - eps)"),
        edit({_UP: "up = f(x + eps).item()", _DOWN: "down = f(x - eps).item()"},
             says="one entry at a time"),
        edit("    return grad", "    return grad.float()", says="needs every digit"),
    ), routes=(
        edit("    return grad", "    E = torch.eye(x.numel(), dtype=x.dtype).reshape(-1, "
                                 "*x.shape) * eps\n    return ((torch.func.vmap(f)(x + E) - "
                                 "torch.func.vmap(f)(x - E))\n            / (2 * eps)).reshape"
                                 "(x.shape)", says="torch._functorch"),
    )),
    Exercise("6.4", "unroll", check_unroll, slips=(
        edit("step(X[:, t], h)", "step(X[:, t], h.detach())",
             says="the graph is cut inside the loop"),
        edit("h = step(X[:, t], h)", "with torch.no_grad():\n            h = step(X[:, t], h)",
             says="hold no graph"),
        edit("dim=1), h", "dim=1), h.detach()", says="h_T of"),
        edit({"    outputs = []\n": "    outputs, h0 = [], h\n",
              "step(X[:, t], h)": "step(X[:, t], h0)"}, says="wrong values"),
        edit("dim=1), h", "dim=1)", says="should return a pair (outputs, h_T)"),
        edit("step(X[:, t], h)", "step(X[:, t], h.detach() if t % 2 else h)",
             says="at every step or at some"),
    )),
    Exercise("6.5", "softmax_ce_backward", check_softmax_ce_backward, forbids=NO_AUTOGRAD_LOSS,
             slips=(
        edit(" / (B * T)", "", says="times too large"),
        edit("(B * T)", "B", says="divides by B only"),
        edit("(torch.softmax(logits, dim=-1) - target)",
             "(target - torch.softmax(logits, dim=-1))", says="has the wrong sign"),
        edit(" - target)", ")", says="leaves out the target"),
        edit("torch.softmax(", "torch.log_softmax(", says="uses log-probabilities"),
        edit("torch.softmax(logits, dim=-1)", "logits", says="uses the logits themselves"),
    ), routes=(
        edit("    return (torch.softmax(logits, dim=-1) - target) / (B * T)",
             "    leaf = logits.detach().requires_grad_()\n    torch.nn.functional.cross_entropy("
             "leaf.reshape(-1, V), Y.reshape(-1)).backward()\n    return leaf.grad",
             says="autograd"),
    )),
)

_freeze_loaded(__name__)   # the checker's names cannot be changed from here on
