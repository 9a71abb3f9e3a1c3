"""Checks for chapter 1, "The recurrence formula".

Each check compares the student's function with PyTorch's own implementation on fixed
inputs (never with a copy of the solution), and returns a `Verdict`. While the student's
function runs, what it replaces is refused at the operator level (`rnnlab.audit.forbid`).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..audit import RECURRENT_OPS, forbid
from ..checks.expect import as_pair, as_scalar, close, expect_tensor, slipped
from ..checks.explain import SHAPES, error_hint, safe_repr
from ..checks.sandbox import call
from ..checks.verdict import CheckFailed, Verdict, fail, run_check, sentence
from ..guard import freeze_loaded as _freeze_loaded
from ..guard import generator as _generator
from ..models import load_row_weights
from . import Exercise, declare, edit, title

NO_RNN_STEP = forbid("this exercise asks you to compute the step yourself",
                     ops=RECURRENT_OPS)
NO_RNN_LOOP = forbid("this exercise asks you to write the loop over time yourself",
                     ops=RECURRENT_OPS)
NO_AUTOGRAD = forbid("this exercise asks you to derive the Jacobian by hand, without autograd",
                     autograd=True)
NO_CLIPPING = forbid("this exercise asks you to compute the global norm and rescale yourself",
                     ops=("_foreach_*",), code=("torch.nn.utils.clip_grad",))
NO_LOSS = forbid("this exercise asks you to compute the loss yourself (torch.log_softmax is "
                 "allowed)",
                 ops=("cross_entropy*", "nll_loss*", "binary_cross_entropy*", "kl_div"),
                 code=("torch.distributions",))


def _rnn_weights(d: int, H: int, seed: int):
    g = _generator(seed)
    W_xh = torch.randn(d, H, generator=g) * 0.5
    W_hh = torch.randn(H, H, generator=g) * 0.5
    b_h = torch.randn(H, generator=g) * 0.5
    return W_xh, W_hh, b_h


def _torch_rnn(W_xh, W_hh, b_h, batch_first=True) -> nn.RNN:
    """An nn.RNN holding our row-vector weights (it stores them transposed, two biases)."""
    d, H = W_xh.shape
    return load_row_weights(nn.RNN(d, H, batch_first=batch_first), W_xh, W_hh, b_h)


def _step_slips(x, h, W_xh, W_hh, b_h):
    """(what a typical slip returns, what to say about it) for one RNN step."""
    a = x @ W_xh + h @ W_hh + b_h
    return [(a, "returned the pre-activation: apply torch.tanh to it."),
            (torch.tanh(x @ W_xh + h @ W_hh.T + b_h),
             "uses W_hh transposed: with row vectors the product is h @ W_hh (shape "
             "(B, H) @ (H, H)), and h @ W_hh.T gives other values."),
            (torch.tanh(x @ W_xh + h @ W_hh),
             "leaves out the bias: add b_h inside the tanh."),
            (torch.sigmoid(a), "applies a sigmoid: the RNN step uses tanh."),
            (torch.relu(a), "applies a ReLU: this RNN step uses tanh."),
            (torch.tanh(x @ W_xh + b_h),
             "ignores the previous state h: add h @ W_hh inside the tanh."),
            (torch.tanh(x @ W_xh + h @ W_hh) + b_h,
             "adds b_h after the tanh: the bias belongs to the pre-activation, "
             "tanh(x @ W_xh + h @ W_hh + b_h)."),
            (h, "returns h unchanged: compute the new state from x and h.")]


_PRODUCT_HINT = error_hint(*SHAPES, says=(
    "With row vectors the batch comes first and the weights on the right: x @ W_xh is "
    "(B, d) @ (d, H) and h @ W_hh is (B, H) @ (H, H); W_xh @ x does not fit."))


def check_rnn_step(rnn_step) -> Verdict:
    """Checks `rnn_step(x, h, W_xh, W_hh, b_h)` -> `h_new`: (B, d), (B, H) -> (B, H)."""
    def body():
        cases = [(1, 3, 2, 0), (2, 3, 4, 1), (5, 7, 6, 2)]   # (B, d, H, seed)
        for B, d, H, seed in cases:
            W_xh, W_hh, b_h = _rnn_weights(d, H, seed)
            g = _generator(100 + seed)
            x, h = torch.randn(B, d, generator=g), torch.randn(B, H, generator=g)
            got = call(rnn_step, x.clone(), h.clone(), W_xh.clone(), W_hh.clone(), b_h.clone(),
                       name="rnn_step", forbidden=NO_RNN_STEP, on_error=_PRODUCT_HINT)
            expected = load_row_weights(nn.RNNCell(d, H), W_xh, W_hh, b_h)   # after the call
            with torch.no_grad():
                want = expected(x, h)
            what = f"rnn_step(x {tuple(x.shape)}, h {tuple(h.shape)}, ...)"
            for slip, hint in _step_slips(x, h, W_xh, W_hh, b_h):
                if slipped(got, slip, want):
                    fail(f"{what} {hint}")
            expect_tensor(got, want, what)
        return f"matches nn.RNNCell on {len(cases)} cases."
    return run_check(title("rnn_step"), body)


def _loop_slips(X, h0, W_xh, W_hh, b_h):
    """(what a typical loop slip returns as outputs, what to say about it)."""
    T = X.shape[1]
    fixed = torch.tanh(X @ W_xh + (h0 @ W_hh).unsqueeze(1) + b_h)     # h0 at every step
    h, states = h0, []
    for t in range(T):
        states.append(h)                      # stored before the update: shifted by one
        h = torch.tanh(X[:, t] @ W_xh + h @ W_hh + b_h)
    shifted = torch.stack(states, 1)
    h, transposed = h0, []
    for t in range(T):
        h = torch.tanh(X[:, t] @ W_xh + h @ W_hh.T + b_h)
        transposed.append(h)
    h, from_zeros = torch.zeros_like(h0), []
    for t in range(T):
        h = torch.tanh(X[:, t] @ W_xh + h @ W_hh + b_h)
        from_zeros.append(h)
    return [(fixed, "uses h0 at every step: carry the state, h = rnn_step(x_t, h, ...), "
                    "so that step t reads the state step t-1 produced."),
            (torch.stack(from_zeros, 1), "starts from zeros and ignores h0: the first step "
                                         "reads the h0 it is given."),
            (shifted, "holds the state *before* each step (h0, h1, ..., h_{T-1}): append "
                      "h after updating it, so that outputs[:, t] is the state step t "
                      "produces."),
            (torch.stack(transposed, 1), "uses W_hh transposed: the product is h @ W_hh.")]


_LOOP_HINT = error_hint(*SHAPES, "out of bounds", says=(
    "X is (B, T, d): the steps run along dim 1, for t in range(X.shape[1]), and step t reads "
    "X[:, t], shape (B, d) (X[t] is sequence t, not step t)."))


def check_rnn_forward(rnn_forward) -> Verdict:
    """Checks `rnn_forward(X, h0, W_xh, W_hh, b_h)` -> `(outputs, h_T)`.

    X: (B, T, d), h0: (B, H) -> outputs: (B, T, H) (every h_t), h_T: (B, H).
    """
    def body():
        cases = [(1, 1, 3, 2, 0), (2, 5, 3, 4, 1), (3, 9, 4, 5, 2)]   # (B, T, d, H, seed)
        for B, T, d, H, seed in cases:
            W_xh, W_hh, b_h = _rnn_weights(d, H, seed)
            g = _generator(200 + seed)
            X, h0 = torch.randn(B, T, d, generator=g), torch.randn(B, H, generator=g)
            got = call(rnn_forward, X.clone(), h0.clone(), W_xh.clone(), W_hh.clone(),
                       b_h.clone(), name="rnn_forward", forbidden=NO_RNN_LOOP,
                       on_error=_LOOP_HINT)
            with torch.no_grad():                                # the reference, after it
                want_out, want_h = _torch_rnn(W_xh, W_hh, b_h)(X, h0.unsqueeze(0))
            what = f"rnn_forward(X {tuple(X.shape)}, h0 {tuple(h0.shape)}, ...)"
            outputs, h_T = as_pair(got, what, "(outputs, h_T)")
            if isinstance(outputs, torch.Tensor) and T > 1 and \
                    tuple(outputs.shape) == (T, B, H) and (T, B, H) != (B, T, H):
                fail(f"outputs of {what} has shape (T, B, H) = {(T, B, H)}: stack the steps "
                     f"along dim=1 to get (B, T, H) = {(B, T, H)}.")
            if isinstance(outputs, torch.Tensor) and B != T and \
                    tuple(outputs.shape) in ((B, B, H), (B, B, H)[::-1]):
                fail(f"outputs of {what} has {B} steps, the batch size: the loop ran over "
                     "dim 0. The time steps run along dim 1, for t in range(X.shape[1]), "
                     "and step t reads X[:, t].")
            if isinstance(outputs, torch.Tensor) and T > 1 and \
                    tuple(outputs.shape) == (B, T - 1, H):
                fail(f"outputs of {what} has {T - 1} steps, not T = {T}: the loop must run "
                     "over every step, range(T).")
            for slip, hint in _loop_slips(X, h0, W_xh, W_hh, b_h):
                if slipped(outputs, slip, want_out):
                    fail(f"outputs of {what} {hint}")
            expect_tensor(outputs, want_out, f"outputs of {what}")
            if slipped(h_T, h0, want_h[0]):
                fail(f"h_T of {what} is h0, the state you started from: return the state "
                     "after the last step.")
            if T > 1 and slipped(h_T, want_out[:, 0], want_h[0]):
                fail(f"h_T of {what} is the state after the first step: return the state "
                     "after the last one, outputs[:, -1].")
            expect_tensor(h_T, want_h[0], f"h_T of {what}")
        return f"matches nn.RNN on {len(cases)} sequences (outputs and final state)."
    return run_check(title("rnn_forward"), body)


def _clip_slips(grads, max_norm: float, norm: float):
    """(what a typical clipping slip returns, what to say about it)."""
    slips = []
    each = [t * min(1.0, max_norm / float(t.norm())) if float(t.norm()) > 0 else t
            for t in grads]
    if len(grads) > 1 and norm > max_norm:
        slips.append((each, "clips each gradient by its own norm: the rule rescales all of "
                            "them by one factor, max_norm / global norm, where the global "
                            "norm is sqrt of the sum of *all* squared entries."))
    if 0 < norm <= max_norm:
        slips.append(([t * (max_norm / norm) for t in grads],
                      f"rescaled gradients whose global norm ({norm:.3g}) is already below "
                      f"max_norm = {max_norm:g}: they must come back unchanged; rescale "
                      "only when the norm exceeds max_norm."))
    if norm > max_norm:
        slips.append(([t * (norm / max_norm) for t in grads],
                      "multiplies by norm / max_norm, which makes large gradients larger: "
                      "the factor is max_norm / norm."))
        squared = sum(float((t ** 2).sum()) for t in grads)
        if squared > max_norm:
            slips.append(([t * (max_norm / squared) for t in grads],
                          "divides by the sum of squares: the norm is its square root."))
    return slips


def check_clip_gradients(clip_gradients) -> Verdict:
    """Checks `clip_gradients(grads, max_norm)` -> a list of rescaled gradients.

    If the global norm sqrt(sum of all squared entries) exceeds `max_norm`, every gradient
    is multiplied by `max_norm / norm`; otherwise they are returned unchanged (all-zero
    gradients too: their norm is 0, and nothing may be divided by it).
    """
    def body():
        g = _generator(3)
        cases = [([torch.randn(3, 4, generator=g) * 5, torch.randn(4, generator=g)], 1.0),
                 ([torch.randn(2, 2, generator=g) * 0.01], 1.0),           # already small
                 ([torch.randn(5, generator=g) * 3, torch.randn(2, 3, generator=g) * 3,
                   torch.randn(1, generator=g)], 2.5),
                 ([torch.zeros(3, 2), torch.zeros(4)], 1.0)]               # norm 0
        for grads, max_norm in cases:
            norm = float(torch.sqrt(sum((t.double() ** 2).sum() for t in grads)))
            what = f"clip_gradients(<{len(grads)} tensors, norm {norm:.3g}>, max_norm={max_norm})"
            try:
                got = call(clip_gradients, [t.clone() for t in grads], max_norm,
                           name="clip_gradients", forbidden=NO_CLIPPING)
                if got is None:
                    fail(f"{what} returned None: did you forget `return`? Rescaling in "
                         "place is fine, but return the list of gradients too (rescaled or "
                         "not).")
                params = [nn.Parameter(torch.zeros_like(t)) for t in grads]   # the reference
                for p, t in zip(params, grads):
                    p.grad = t.clone()
                nn.utils.clip_grad_norm_(params, max_norm)
                want = [p.grad for p in params]
                if isinstance(got, (list, tuple)) and len(got) == 2 \
                        and isinstance(got[0], (list, tuple)):
                    fail(f"{what} returned a pair (gradients, something): return only the "
                         f"list of {len(want)} rescaled gradients.")
                if not isinstance(got, (list, tuple)) or len(got) != len(want):
                    kind = f"{len(got)} items" if isinstance(got, (list, tuple)) \
                        else type(got).__name__
                    fail(f"{what} should return a list of {len(want)} tensors, one per "
                         f"gradient, got {kind}.")
                for slip, hint in _clip_slips(grads, max_norm, norm):
                    if slipped(got, slip, want):
                        fail(f"{what} {hint}")
                for i, (gt, wt) in enumerate(zip(got, want)):
                    expect_tensor(gt, wt, f"gradient {i} of {what}", atol=1e-5)
            except CheckFailed as exc:
                if norm == 0 and " ran inside your " not in str(exc):
                    fail(f"all gradients are zero here (global norm 0), and they must come "
                         f"back unchanged: {sentence(exc)} Divide by the norm only when it "
                         "exceeds max_norm (then it is not 0).")
                raise
        return ("rescales by the global norm, leaves small gradients alone, and returns "
                "all-zero gradients unchanged.")
    return run_check(title("clip_gradients"), body)


_JACOBIAN_HINT = error_hint(*SHAPES, "dimension", says=(
    "Here h_prev (H,) and x (d,) are one example, not a batch: x @ W_xh and h_prev @ W_hh are "
    "(H,), and the Jacobian is (H, H), entry [i, j] = d h_t[i] / d h_prev[j]."))


def check_step_jacobian(step_jacobian) -> Verdict:
    """Checks `step_jacobian(h_prev, x, W_xh, W_hh, b_h)` -> d h_t / d h_{t-1}.

    One example (vectors `h_prev: (H,)`, `x: (d,)`); the Jacobian is (H, H) with entry
    `[i, j] = d h_t[i] / d h_{t-1}[j]` (output index first, as torch.autograd computes).
    Judged in float64 to 1e-14: a formula's rounding error is about 1e-16, while central
    differences stop near 1e-11 (rounding against truncation) and Richardson-extrapolated
    ones near 1e-13, so a difference quotient does not pass for a derivation.
    """
    def body():
        cases = [(3, 2, 0), (4, 5, 1), (2, 6, 2)]   # (d, H, seed)
        for d, H, seed in cases:
            W_xh, W_hh, b_h = (w.double() for w in _rnn_weights(d, H, seed))
            g = _generator(300 + seed)
            x = torch.randn(d, generator=g, dtype=torch.float64)
            h_prev = torch.randn(H, generator=g, dtype=torch.float64)

            def step(h, x=x, W_xh=W_xh, W_hh=W_hh, b_h=b_h):
                return torch.tanh(x @ W_xh + h @ W_hh + b_h)

            got = call(step_jacobian, h_prev.clone(), x.clone(), W_xh.clone(), W_hh.clone(),
                       b_h.clone(), name="step_jacobian", forbidden=NO_AUTOGRAD,
                       on_error=_JACOBIAN_HINT)
            want = torch.autograd.functional.jacobian(step, h_prev)    # after the call
            what = f"step_jacobian(h_prev ({H},), x ({d},), ...) in float64"
            h = step(h_prev)
            a = x @ W_xh + h_prev @ W_hh + b_h
            slips = [((1 - h ** 2)[:, None] * W_hh,
                      "is the transpose of the Jacobian: entry [i, j] is d h_t[i] / d "
                      "h_prev[j] = (1 - h_t[i]**2) * W_hh[j, i], so J = (1 - h_t**2)[:, None] "
                      "* W_hh.T."),
                     (W_hh.T * (1 - h ** 2)[None, :],
                      "multiplies tanh' into the columns: it belongs to the output index i "
                      "(the rows), (1 - h_t**2)[:, None] * W_hh.T."),
                     (W_hh.T, "leaves out tanh': multiply row i by 1 - h_t[i]**2."),
                     ((1 - a ** 2)[:, None] * W_hh.T,
                      "uses 1 - a**2 with a the pre-activation: tanh'(a) = 1 - tanh(a)**2 "
                      "= 1 - h_t**2."),
                     ((1 - h_prev ** 2)[:, None] * W_hh.T,
                      "uses 1 - h_prev**2: tanh' is taken at this step's output, "
                      "1 - h_t**2.")]
            for slip, hint in slips:
                if slipped(got, slip, want, atol=1e-9, rtol=1e-9):
                    fail(f"{what} {hint}")
            if close(got, want, atol=1e-4, rtol=1e-3) and \
                    not close(got, want, atol=1e-14, rtol=1e-14):
                err = float((got - want).abs().max())
                fail(f"{what} is off by up to {err:.1e}: close, but not to float64 precision "
                     "(a formula agrees to about 1e-16). That is what a difference quotient "
                     "gives. Derive the Jacobian instead: J = (1 - h_t**2)[:, None] * W_hh.T "
                     "has entry [i, j] = d h_t[i] / d h_prev[j].")
            expect_tensor(got, want, what, atol=1e-14, rtol=1e-14)
        return ("matches torch.autograd.functional.jacobian to float64 precision on "
                f"{len(cases)} cases.")
    return run_check(title("step_jacobian"), body)


def _perplexity_cases():
    """(label, logits (B, T, V) float32, targets (B, T) int64); B != T, so axes can be told."""
    g = _generator(15)
    random = torch.randn(2, 5, 7, generator=g)
    uniform = torch.zeros(3, 4, 11)
    # A confident model (logits of scale 100), right everywhere but at one position whose
    # target gets probability ~exp(-100s): softmax underflows to 0 there in float32.
    large = torch.randn(2, 6, 5, generator=g) * 100
    Y_large = large.argmax(-1)
    Y_large[0, 0] = (Y_large[0, 0] + 1) % large.shape[-1]
    large[0, 0, Y_large[0, 0]] = large[0, 0].max() - 150      # exp(-150) underflows float32
    return [("random", random, torch.randint(0, 7, (2, 5), generator=g)),
            ("uniform", uniform, torch.randint(0, 11, (3, 4), generator=g)),
            ("large", large, Y_large)]


def _perplexity_answers(logits: torch.Tensor, Y: torch.Tensor):
    """The perplexity, and what typical wrong answers return (all in float64)."""
    logp = torch.log_softmax(logits.double(), dim=-1)                   # (B, T, V)
    nll = -logp.gather(-1, Y.unsqueeze(-1)).squeeze(-1)                 # (B, T)
    loss = float(nll.mean())
    wrong_axis = -torch.log_softmax(logits.double(), dim=1).gather(-1, Y.unsqueeze(-1))
    B, T, V = logits.shape
    # gather along the time axis (a wrong dim): possible only where every target < T
    wrong_gather = -logp.gather(1, Y.unsqueeze(-1).clamp(max=T - 1)) \
        if int(Y.max()) < T else None
    wrongs = [
        (loss, "that is the loss (the mean cross-entropy). Perplexity is exp(loss)."),
        (math.exp(min(float(nll.sum()), 700.0)),
         "that is exp of the *sum* of the losses: take the mean over all B*T positions "
         "first, then exp."),
        (math.exp(-loss), "that is exp(mean log p) = 1 / perplexity: the loss is the "
                          "*negative* log probability."),
        (float(nll.neg().exp().mean()),
         "that is the mean probability of the target. Perplexity is exp of the mean "
         "negative *log* probability."),
        (math.exp(loss / math.log(2)), "that is exp of a loss in bits (log base 2): use "
                                       "the natural log with exp (or log2 with 2**)."),
        (math.exp(loss / math.log(10)), "that is exp of a loss in log base 10: use the "
                                        "natural log with exp."),
        (2 ** loss, "that is 2 ** (loss in nats): exp goes with the natural log."),
        (10 ** loss, "that is 10 ** (loss in nats): exp goes with the natural log."),
        (float(nll.mean(dim=1).exp().mean()),
         "that is the mean of per-sequence perplexities: average the loss over all B*T "
         "positions first, then take exp once."),
        (float(nll.mean(dim=0).exp().mean()),
         "that is the mean of per-step perplexities: average the loss over all B*T "
         "positions first, then take exp once."),
        (math.exp(float(wrong_axis.mean())),
         "the softmax went over the time axis (dim=1): normalise over the vocabulary, "
         "log_softmax(logits, dim=-1)."),
    ] + ([] if wrong_gather is None else [
        (math.exp(float(wrong_gather.mean())),
         "gather picked along dim 1, the time axis: the targets index the vocabulary, the "
         "last axis, log_p.gather(-1, Y.unsqueeze(-1)).")])
    return math.exp(loss), wrongs


def _as_perplexity(got, B: int, T: int, what: str) -> float:
    if got is None:
        fail(f"{what} returned None: did you forget `return`?")
    if isinstance(got, torch.Tensor) and got.numel() != 1:
        shape = tuple(got.shape)
        hint = {(B,): " one value per sequence: you averaged over the time axis only.",
                (T,): " one value per time step: you averaged over the batch axis only.",
                (B, T): " one value per position: average the losses over all B*T "
                        "positions."}.get(shape, "")
        fail(f"{what} should be a single number, got a tensor of shape {shape}:{hint}"
             f" Perplexity is exp of the mean over all B*T = {B * T} positions.")
    value = as_scalar(got, what)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        fail(f"{what} should be a number (a Python float), got {safe_repr(value)}.")
    return float(value)


_GATHER_HINT = error_hint("index", "dimension", "gather", says=(
    "To pick each target's log-probability, gather along the vocabulary, the last axis: "
    "log_p.gather(-1, Y.unsqueeze(-1)), shape (B, T, 1), or index with it; gather(dim, index) "
    "picks along `dim`, and the targets count tokens, not steps."))


def check_perplexity(perplexity_from_logits) -> Verdict:
    """Checks `perplexity_from_logits(logits, Y)` -> a float.

    logits `(B, T, V)` float32, targets `Y (B, T)` int64: exp of the mean over all B*T
    positions of `-log softmax(logits)[target]`. A 0-dim tensor is accepted as the number.
    """
    def body():
        cases = _perplexity_cases()
        for label, logits, Y in cases:
            B, T, V = logits.shape
            what = f"perplexity_from_logits(<logits {(B, T, V)}>, <Y {(B, T)}>)"
            got = call(perplexity_from_logits, logits.clone(), Y.clone(),
                       name="perplexity_from_logits", forbidden=NO_LOSS,
                       on_error=_GATHER_HINT)
            want, wrongs = _perplexity_answers(logits, Y)       # after the call
            value = _as_perplexity(got, B, T, what)
            if math.isclose(value, want, rel_tol=1e-4):
                continue
            said = f"{what} returned {value:.6g}, expected {want:.6g}"
            for candidate, message in wrongs:
                if math.isfinite(candidate) and math.isclose(value, candidate, rel_tol=1e-4):
                    fail(f"{said}: {message}")
            if label == "large":
                fail(f"{said}. These logits are large (scale 100), as a confident model's are: "
                     "softmax then underflows to 0 for unlikely targets, and log(0) = -inf. "
                     "torch.log(torch.softmax(...)) breaks here; torch.log_softmax(logits, "
                     "dim=-1) computes the same values without the underflow.")
            if label == "uniform":
                fail(f"{said}: with all logits equal every token has probability 1/V, so "
                     f"the perplexity must be V = {V}.")
            fail(f"{said}. Perplexity = exp(mean over all B*T positions of -log p(target)), "
                 "with log p from torch.log_softmax(logits, dim=-1).")
        V = cases[1][1].shape[-1]
        return (f"exp(mean cross-entropy) on {len(cases)} cases, large logits included; "
                f"uniform logits give exactly V = {V}, the perplexity of a uniform guess.")
    return run_check(title("perplexity_from_logits"), body)


# ---------------------------------------------------------------------------
# The chapter's exercises (see rnnlab.exercises): slips and routes are the notebook's
# solution cell with one thing changed
# ---------------------------------------------------------------------------

_STEP = "torch.tanh(x @ W_xh + h @ W_hh + b_h)"
_LOOP_STEP = "torch.tanh(X[:, t] @ W_xh + h @ W_hh + b_h)"
_PPL = "math.exp(nll.mean().item())"
_JACOBIAN = "torch.diag(1 - h**2) @ W_hh.T"
_SMALL = ("    if norm <= max_norm:                    # small enough (this includes norm 0)\n"
          "        return list(grads)\n")
_RESCALE = "return [g * (max_norm / norm) for g in grads]"

EXERCISES = declare(
    Exercise("1.1", "rnn_step", check_rnn_step, forbids=NO_RNN_STEP,
             answered_by=("rnnlab.scratch.ScratchLM", "rnnlab.cells", "rnnlab.bptt"), slips=(
        edit(_STEP, "(x @ W_xh + h @ W_hh + b_h)", says="apply torch.tanh"),
        edit("h @ W_hh", "h @ W_hh.T", says="uses W_hh transposed"),
        edit(" + b_h)", ")", says="leaves out the bias"),
        edit("torch.tanh", "torch.sigmoid", says="applies a sigmoid"),
        edit(" + h @ W_hh", "", says="ignores the previous state"),
        edit("+ b_h)", "+ b_h).double()", says="but the inputs are torch.float32"),
        edit("+ b_h)", "+ b_h).numpy()", says="NumPy"),
        edit("return ", "", says="forget `return`"),
        edit("x @ W_xh + h @ W_hh", "W_hh @ h", says="raised RuntimeError"),
        edit("h @ W_hh + b_h)", "h @ W_hh) + b_h", says="adds b_h after the tanh"),
        edit(_STEP, "h", says="returns h unchanged"),
        edit("x @ W_xh", "W_xh @ x", says="W_xh @ x does not fit"),
    ), routes=(
        edit(_STEP, "torch.rnn_tanh_cell(x, h, W_xh.T, W_hh.T, b_h, torch.zeros_like(b_h))",
             says="rnn_tanh_cell"),
    )),
    Exercise("1.2", "rnn_forward", check_rnn_forward, forbids=NO_RNN_LOOP,
             answered_by=("rnnlab.bptt.rnn_layer_forward", "rnnlab.bptt.RNNLayerFunction"),
             slips=(
        edit("torch.stack(states, dim=1), h ", "torch.stack(states, dim=1) ",
             says="pair (outputs, h_T)"),
        edit("+ h @ W_hh", "+ h0 @ W_hh", says="uses h0 at every step"),
        edit({f"        h = {_LOOP_STEP}   # (B, d) -> (B, H)\n        states.append(h)":
              f"        states.append(h)\n        h = {_LOOP_STEP}"},
             says="holds the state *before* each step"),
        edit("range(X.shape[1])", "range(X.shape[1] - 1)", says="range(T - 1) does when T = 1"),
        edit("dim=1", "dim=0", says="stack the steps along dim=1"),
        edit("dim=1), h ", "dim=1), h0 ", says="the state you started from"),
        edit("dim=1), h ", "dim=1), states[0] ", says="the state after the first step"),
        edit("h, states = h0, []", "h, states = torch.zeros_like(h0), []", says="ignores h0"),
        edit({"range(X.shape[1])": "range(X.shape[0])", "X[:, t]": "X[t]"},
             says="X[t] is sequence t"),
    ), routes=(
        edit(_LOOP_STEP, "torch.rnn_tanh_cell(X[:, t], h, W_xh.T, W_hh.T, b_h, "
                         "torch.zeros_like(b_h))", says="rnn_tanh_cell"),
    )),
    Exercise("1.3", "perplexity_from_logits", check_perplexity, forbids=NO_LOSS,
             answered_by=("rnnlab.train.sequence_loss", "rnnlab.train.perplexity"), slips=(
        edit(_PPL, "nll.mean().item()", says="that is the loss"),
        edit(_PPL, "torch.exp(nll.sum()).item()", says="exp of the *sum*"),
        edit(_PPL, "torch.exp(-nll).mean().item()", says="mean probability of the target"),
        edit(_PPL, "math.exp(-nll.mean().item())", says="1 / perplexity"),
        edit("nll.mean().item()", "nll.mean().item() / math.log(2)", says="log base 2"),
        edit("nll.mean().item()", "nll.mean().item() / math.log(10)", says="log base 10"),
        edit(_PPL, "2 ** nll.mean().item()", says="2 ** (loss in nats)"),
        edit("torch.log_softmax(logits, dim=-1)", "torch.log(torch.softmax(logits, dim=-1))",
             says="log_softmax(logits, dim=-1) computes"),
        edit("torch.log_softmax(logits, dim=-1)",
             "torch.log(torch.softmax(logits, dim=-1).clamp_min(1e-12))",
             says="large (scale 100)"),
        edit(_PPL, "torch.exp(nll.mean(dim=1))", says="averaged over the time axis only"),
        edit(_PPL, "torch.exp(nll.mean(dim=0))", says="averaged over the batch axis only"),
        edit(_PPL, "torch.exp(nll)", says="one value per position"),
        edit(_PPL, "torch.exp(nll.mean(dim=1)).mean().item()",
             says="mean of per-sequence perplexities"),
        edit("dim=-1)", "dim=1)", says="over the time axis (dim=1)"),
        edit("return ", "", says="forget `return`"),
        edit(_PPL, f"str({_PPL})", says="should be a number"),
        edit("log_p.gather(-1,", "log_p.gather(1,", says="the vocabulary, the last axis"),
    ), routes=(
        edit(_PPL, "math.exp(F.cross_entropy(logits.transpose(1, 2), Y).item())",
             says="cross_entropy"),
    )),
    Exercise("1.4", "step_jacobian", check_step_jacobian, forbids=NO_AUTOGRAD, slips=(
        edit(_JACOBIAN, "torch.diag(1 - h**2) @ W_hh", says="is the transpose of the Jacobian"),
        edit(_JACOBIAN, "W_hh.T @ torch.diag(1 - h**2)", says="into the columns"),
        edit(_JACOBIAN, "W_hh.T", says="leaves out tanh'"),
        edit("h = torch.tanh(x @ W_xh + h_prev @ W_hh + b_h)",
             "h = x @ W_xh + h_prev @ W_hh + b_h", says="the pre-activation"),
        edit("1 - h**2", "1 - h_prev**2", says="uses 1 - h_prev**2"),
        edit(_JACOBIAN, f"({_JACOBIAN}).float()", says="dtype=x.dtype"),
    ), routes=(
        edit(_JACOBIAN, "torch.autograd.functional.jacobian(\n        lambda p: torch.tanh("
                        "x @ W_xh + p @ W_hh + b_h), h_prev)",
             says="torch.autograd.functional.jacobian"),
    )),
    Exercise("1.5", "clip_gradients", check_clip_gradients, forbids=NO_CLIPPING, slips=(
        edit(_RESCALE, "return [g * min(1.0, max_norm / float(g.norm())) for g in grads]",
             says="clips each gradient by its own norm"),
        edit(_RESCALE, f"{_RESCALE}, norm", says="returned a pair (gradients, something)"),
        edit("if norm <= max_norm:", "if norm == 0:", says="already below max_norm"),
        edit("(max_norm / norm)", "(norm / max_norm)", says="the factor is max_norm / norm"),
        edit("(max_norm / norm)", "(max_norm / norm**2)", says="divides by the sum of squares"),
        edit({_SMALL: "    scale = min(1.0, max_norm / norm)\n", "(max_norm / norm)": "scale"},
             says="global norm 0"),
        edit(_RESCALE, "return grads[0] * (max_norm / norm)", says="list of"),
        edit("return ", "", says="return the list of gradients too"),
    ), routes=(
        edit("float(torch.sqrt(sum((g**2).sum() for g in grads)))",
             "float(torch.stack(torch._foreach_norm(grads)).norm())", says="_foreach_norm"),
    )),
)

_freeze_loaded(__name__)   # the checker's names cannot be changed from here on
