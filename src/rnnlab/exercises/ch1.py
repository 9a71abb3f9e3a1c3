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
from ..checks.expect import as_pair, as_scalar, close, expect_tensor
from ..checks.explain import safe_repr
from ..checks.sandbox import call
from ..checks.verdict import CheckFailed, Verdict, fail, run_check, sentence
from ..guard import freeze_loaded as _freeze_loaded
from ..guard import generator as _generator
from ..models import load_row_weights
from . import exercise, title

NO_RNN_STEP = forbid(f"{exercise('rnn_step')} asks you to compute the step yourself",
                     ops=RECURRENT_OPS,
                     code=("rnnlab.scratch.ScratchLM", "rnnlab.cells", "rnnlab.bptt"))
NO_RNN_LOOP = forbid(f"{exercise('rnn_forward')} asks you to write the loop over time yourself",
                     ops=RECURRENT_OPS, code=("rnnlab.bptt.rnn_layer_forward",
                                              "rnnlab.bptt.RNNLayerFunction"))
NO_AUTOGRAD = forbid(f"{exercise('step_jacobian')} asks you to derive the Jacobian by hand, "
                     "without autograd",
                     autograd=True)
NO_CLIPPING = forbid(f"{exercise('clip_gradients')} asks you to compute the global norm and "
                     "rescale yourself",
                     ops=("_foreach_*",), code=("torch.nn.utils.clip_grad",))
NO_LOSS = forbid(f"{exercise('perplexity_from_logits')} asks you to compute the loss yourself "
                 "(torch.log_softmax is allowed)",
                 ops=("cross_entropy*", "nll_loss*", "binary_cross_entropy*", "kl_div"),
                 code=("torch.distributions", "rnnlab.train.sequence_loss",
                       "rnnlab.train.perplexity"))


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


def _product_hint(exc: BaseException) -> str | None:
    """What a matrix product whose shapes do not fit means for a step with row vectors."""
    text = str(exc)
    if "cannot be multiplied" in text or "size mismatch" in text or "must match" in text:
        return ("With row vectors the batch comes first and the weights on the right: "
                "x @ W_xh is (B, d) @ (d, H) and h @ W_hh is (B, H) @ (H, H); W_xh @ x does "
                "not fit.")
    return None


def check_rnn_step(rnn_step) -> Verdict:
    """Checks `rnn_step(x, h, W_xh, W_hh, b_h)` -> `h_new`: (B, d), (B, H) -> (B, H)."""
    def body():
        cases = [(1, 3, 2, 0), (2, 3, 4, 1), (5, 7, 6, 2)]   # (B, d, H, seed)
        for B, d, H, seed in cases:
            W_xh, W_hh, b_h = _rnn_weights(d, H, seed)
            g = _generator(100 + seed)
            x, h = torch.randn(B, d, generator=g), torch.randn(B, H, generator=g)
            got = call(rnn_step, x.clone(), h.clone(), W_xh.clone(), W_hh.clone(), b_h.clone(),
                       name="rnn_step", forbidden=NO_RNN_STEP, on_error=_product_hint)
            expected = load_row_weights(nn.RNNCell(d, H), W_xh, W_hh, b_h)   # after the call
            with torch.no_grad():
                want = expected(x, h)
            what = f"rnn_step(x {tuple(x.shape)}, h {tuple(h.shape)}, ...)"
            for slip, hint in _step_slips(x, h, W_xh, W_hh, b_h):
                if close(got, slip):
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


def _loop_hint(exc: BaseException) -> str | None:
    text = str(exc)
    if "must match" in text or "cannot be multiplied" in text or "out of bounds" in text:
        return ("X is (B, T, d): the steps run along dim 1, for t in range(X.shape[1]), "
                "and step t reads X[:, t], shape (B, d) (X[t] is sequence t, not step t).")
    return None


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
                       on_error=_loop_hint)
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
                if close(outputs, slip) and not close(slip, want_out):  # T = 1: some are right
                    fail(f"outputs of {what} {hint}")
            expect_tensor(outputs, want_out, f"outputs of {what}")
            if close(h_T, h0):
                fail(f"h_T of {what} is h0, the state you started from: return the state "
                     "after the last step.")
            if T > 1 and close(h_T, want_out[:, 0]):
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
                    if all(close(a, b) for a, b in zip(got, slip)):
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


def _jacobian_hint(exc: BaseException) -> str | None:
    if any(w in str(exc) for w in ("cannot be multiplied", "must match", "dimension",
                                   "size mismatch")):
        return ("Here h_prev (H,) and x (d,) are one example, not a batch: x @ W_xh and "
                "h_prev @ W_hh are (H,), and the Jacobian is (H, H), entry [i, j] = "
                "d h_t[i] / d h_prev[j].")
    return None


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
                       on_error=_jacobian_hint)
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
                if close(got, slip, atol=1e-9, rtol=1e-9):
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


def _gather_hint(exc: BaseException) -> str | None:
    text = str(exc).lower()
    if "index" in text or "dimension" in text or "gather" in text:
        return ("To pick each target's log-probability, gather along the vocabulary, the "
                "last axis: log_p.gather(-1, Y.unsqueeze(-1)), shape (B, T, 1), or index "
                "with it; gather(dim, index) picks along `dim`, and the targets count "
                "tokens, not steps.")
    return None


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
                       on_error=_gather_hint)
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


_freeze_loaded(__name__)   # the checker's names cannot be changed from here on
