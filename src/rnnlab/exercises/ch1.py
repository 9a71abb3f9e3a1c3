"""Checks for chapter 1, "The recurrence formula".

Each check compares the student's function with PyTorch's own implementation on fixed
inputs (never with a copy of the solution), and returns a `Verdict`. While the student's
function runs, the PyTorch function it replaces is unavailable (`checks.unavailable`).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..checks import (
    CheckFailed,
    Verdict,
    as_scalar,
    call,
    expect_tensor,
    fail,
    run_check,
    safe_repr,
    sentence,
    unavailable,
)
from ..models import load_row_weights

_RNN_PATHS = ("torch.nn.RNN", "torch.nn.RNNCell", "torch.nn.RNNBase", "torch.nn.RNNCellBase",
              "torch.rnn_tanh_cell", "torch._VF.rnn_tanh_cell", "torch.rnn_tanh",
              "torch._VF.rnn_tanh", "rnnlab.RNNScratch", "rnnlab.RNNModel")
NO_RNN_STEP = unavailable("Exercise 1.1 asks you to compute the step yourself", *_RNN_PATHS)
NO_RNN_LOOP = unavailable("Exercise 1.2 asks you to write the loop over time yourself",
                          *_RNN_PATHS)
NO_AUTOGRAD = unavailable(
    "Exercise 1.4 asks you to derive the Jacobian by hand, without autograd",
    "torch.Tensor.backward", "torch.autograd.grad", "torch.autograd.backward",
    "torch.autograd.functional.jacobian", "torch.autograd.functional.hessian",
    "torch.autograd.functional.vjp", "torch.autograd.functional.jvp",
    "torch.autograd.functional.vhp", "torch.autograd.functional.hvp",
    "torch.autograd.forward_ad.make_dual", "torch.func.jacrev", "torch.func.jacfwd",
    "torch.func.vjp", "torch.func.jvp", "torch.func.grad", "torch.func.grad_and_value",
    "torch.func.hessian", "torch.func.linearize")
NO_CLIPPING = unavailable(
    "Exercise 1.5 asks you to compute the global norm and rescale yourself",
    "torch.nn.utils.clip_grad_norm_", "torch.nn.utils.clip_grad_norm",
    "torch.nn.utils.clip_grads_with_norm_", "torch.nn.utils.get_total_norm")
NO_LOSS = unavailable(
    "Exercise 1.3 asks you to compute the loss yourself (torch.log_softmax is allowed)",
    "torch.nn.functional.cross_entropy", "torch.nn.functional.nll_loss",
    "torch.nn.CrossEntropyLoss", "torch.nn.NLLLoss", "rnnlab.sequence_loss",
    "rnnlab.perplexity")


def _rnn_weights(d: int, H: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    W_xh = torch.randn(d, H, generator=g) * 0.5
    W_hh = torch.randn(H, H, generator=g) * 0.5
    b_h = torch.randn(H, generator=g) * 0.5
    return W_xh, W_hh, b_h


def _torch_rnn(W_xh, W_hh, b_h, batch_first=True) -> nn.RNN:
    """An nn.RNN holding our row-vector weights (it stores them transposed, two biases)."""
    d, H = W_xh.shape
    return load_row_weights(nn.RNN(d, H, batch_first=batch_first), W_xh, W_hh, b_h)


def check_rnn_step(rnn_step) -> Verdict:
    """Exercise 1.1: `rnn_step(x, h, W_xh, W_hh, b_h)` -> `h_new`: (B, d), (B, H) -> (B, H)."""
    def body():
        cases = [(1, 3, 2, 0), (2, 3, 4, 1), (5, 7, 6, 2)]   # (B, d, H, seed)
        for B, d, H, seed in cases:
            W_xh, W_hh, b_h = _rnn_weights(d, H, seed)
            g = torch.Generator().manual_seed(100 + seed)
            x, h = torch.randn(B, d, generator=g), torch.randn(B, H, generator=g)
            expected = load_row_weights(nn.RNNCell(d, H), W_xh, W_hh, b_h)
            with torch.no_grad():
                want = expected(x, h)
            got = call(rnn_step, x.clone(), h.clone(), W_xh.clone(), W_hh.clone(), b_h.clone(),
                       name="rnn_step", blocked=NO_RNN_STEP)
            what = f"rnn_step(x {tuple(x.shape)}, h {tuple(h.shape)}, ...)"
            if isinstance(got, torch.Tensor) and got.shape == want.shape \
                    and torch.allclose(got, x @ W_xh + h @ W_hh + b_h, atol=1e-5):
                fail(f"{what} returned the pre-activation: apply torch.tanh to it.")
            expect_tensor(got, want, what)
        return f"matches nn.RNNCell on {len(cases)} cases."
    return run_check("Exercise 1.1 (rnn_step)", body)


def check_rnn_forward(rnn_forward) -> Verdict:
    """Exercise 1.2: `rnn_forward(X, h0, W_xh, W_hh, b_h)` -> `(outputs, h_T)`.

    X: (B, T, d), h0: (B, H) -> outputs: (B, T, H) (every h_t), h_T: (B, H).
    """
    def body():
        cases = [(1, 1, 3, 2, 0), (2, 5, 3, 4, 1), (3, 9, 4, 5, 2)]   # (B, T, d, H, seed)
        for B, T, d, H, seed in cases:
            W_xh, W_hh, b_h = _rnn_weights(d, H, seed)
            g = torch.Generator().manual_seed(200 + seed)
            X, h0 = torch.randn(B, T, d, generator=g), torch.randn(B, H, generator=g)
            with torch.no_grad():
                want_out, want_h = _torch_rnn(W_xh, W_hh, b_h)(X, h0.unsqueeze(0))
            got = call(rnn_forward, X.clone(), h0.clone(), W_xh.clone(), W_hh.clone(),
                       b_h.clone(), name="rnn_forward", blocked=NO_RNN_LOOP)
            what = f"rnn_forward(X {tuple(X.shape)}, h0 {tuple(h0.shape)}, ...)"
            if not isinstance(got, tuple) or len(got) != 2:
                kind = f"a tuple of {len(got)}" if isinstance(got, tuple) else type(got).__name__
                fail(f"{what} should return a pair (outputs, h_T), got {kind}.")
            outputs, h_T = got
            if isinstance(outputs, torch.Tensor) and T > 1 and \
                    tuple(outputs.shape) == (T, B, H) and (T, B, H) != (B, T, H):
                fail(f"outputs of {what} has shape (T, B, H) = {(T, B, H)}: stack the steps "
                     f"along dim=1 to get (B, T, H) = {(B, T, H)}.")
            expect_tensor(outputs, want_out, f"outputs of {what}")
            expect_tensor(h_T, want_h[0], f"h_T of {what}")
        return f"matches nn.RNN on {len(cases)} sequences (outputs and final state)."
    return run_check("Exercise 1.2 (rnn_forward)", body)


def check_clip_gradients(clip_gradients) -> Verdict:
    """Exercise 1.5: `clip_gradients(grads, max_norm)` -> a list of rescaled gradients.

    If the global norm sqrt(sum of all squared entries) exceeds `max_norm`, every gradient
    is multiplied by `max_norm / norm`; otherwise they are returned unchanged (all-zero
    gradients too: their norm is 0, and nothing may be divided by it).
    """
    def body():
        g = torch.Generator().manual_seed(3)
        cases = [([torch.randn(3, 4, generator=g) * 5, torch.randn(4, generator=g)], 1.0),
                 ([torch.randn(2, 2, generator=g) * 0.01], 1.0),           # already small
                 ([torch.randn(5, generator=g) * 3, torch.randn(2, 3, generator=g) * 3,
                   torch.randn(1, generator=g)], 2.5),
                 ([torch.zeros(3, 2), torch.zeros(4)], 1.0)]               # norm 0
        for grads, max_norm in cases:
            params = [nn.Parameter(torch.zeros_like(t)) for t in grads]
            for p, t in zip(params, grads):
                p.grad = t.clone()
            norm = float(nn.utils.clip_grad_norm_(params, max_norm))
            want = [p.grad for p in params]
            what = f"clip_gradients(<{len(grads)} tensors, norm {norm:.3g}>, max_norm={max_norm})"
            try:
                got = call(clip_gradients, [t.clone() for t in grads], max_norm,
                           name="clip_gradients", blocked=NO_CLIPPING)
                if not isinstance(got, (list, tuple)) or len(got) != len(want):
                    fail(f"{what} should return a list of {len(want)} tensors, one per "
                         f"gradient, got {type(got).__name__}.")
                for i, (gt, wt) in enumerate(zip(got, want)):
                    expect_tensor(gt, wt, f"gradient {i} of {what}", atol=1e-5)
            except CheckFailed as exc:
                if norm == 0 and "unavailable" not in str(exc):
                    fail(f"all gradients are zero here (global norm 0), and they must come "
                         f"back unchanged: {sentence(exc)} Divide by the norm only when it "
                         "exceeds max_norm (then it is not 0).")
                raise
        return ("rescales by the global norm, leaves small gradients alone, and returns "
                "all-zero gradients unchanged.")
    return run_check("Exercise 1.5 (clip_gradients)", body)


def check_step_jacobian(step_jacobian) -> Verdict:
    """Exercise 1.4: `step_jacobian(h_prev, x, W_xh, W_hh, b_h)` -> d h_t / d h_{t-1}.

    One example (vectors `h_prev: (H,)`, `x: (d,)`); the Jacobian is (H, H) with entry
    `[i, j] = d h_t[i] / d h_{t-1}[j]` (output index first, as torch.autograd computes).
    """
    def body():
        cases = [(3, 2, 0), (4, 5, 1), (2, 6, 2)]   # (d, H, seed)
        for d, H, seed in cases:
            W_xh, W_hh, b_h = _rnn_weights(d, H, seed)
            g = torch.Generator().manual_seed(300 + seed)
            x, h_prev = torch.randn(d, generator=g), torch.randn(H, generator=g)
            def step(h, x=x, W_xh=W_xh, W_hh=W_hh, b_h=b_h):
                return torch.tanh(x @ W_xh + h @ W_hh + b_h)

            want = torch.autograd.functional.jacobian(step, h_prev)
            got = call(step_jacobian, h_prev.clone(), x.clone(), W_xh.clone(), W_hh.clone(),
                       b_h.clone(), name="step_jacobian", blocked=NO_AUTOGRAD)
            expect_tensor(got, want, f"step_jacobian(h_prev ({H},), x ({d},), ...)")
        return "matches torch.autograd.functional.jacobian on 3 cases."
    return run_check("Exercise 1.4 (step_jacobian)", body)


def _perplexity_cases():
    """(label, logits (B, T, V) float32, targets (B, T) int64); B != T, so axes can be told."""
    g = torch.Generator().manual_seed(15)
    random = torch.randn(2, 5, 7, generator=g)
    uniform = torch.zeros(3, 4, 11)
    # A confident model (logits of scale 100), right everywhere but at one position whose
    # target gets probability ~exp(-100s): softmax underflows to 0 there in float32.
    large = torch.randn(2, 6, 5, generator=g) * 100
    Y_large = large.argmax(-1)
    Y_large[0, 0] = large[0, 0].argmin()
    return [("random", random, torch.randint(0, 7, (2, 5), generator=g)),
            ("uniform", uniform, torch.randint(0, 11, (3, 4), generator=g)),
            ("large", large, Y_large)]


def _perplexity_answers(logits: torch.Tensor, Y: torch.Tensor):
    """The perplexity, and what typical wrong answers return (all in float64)."""
    logp = torch.log_softmax(logits.double(), dim=-1)                   # (B, T, V)
    nll = -logp.gather(-1, Y.unsqueeze(-1)).squeeze(-1)                 # (B, T)
    loss = float(nll.mean())
    wrong_axis = -torch.log_softmax(logits.double(), dim=1).gather(-1, Y.unsqueeze(-1))
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
    ]
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


def check_perplexity(perplexity_from_logits) -> Verdict:
    """Exercise 1.3: `perplexity_from_logits(logits, Y)` -> a float.

    logits `(B, T, V)` float32, targets `Y (B, T)` int64: exp of the mean over all B*T
    positions of `-log softmax(logits)[target]`. A 0-dim tensor is accepted as the number.
    """
    def body():
        cases = _perplexity_cases()
        for label, logits, Y in cases:
            want, wrongs = _perplexity_answers(logits, Y)
            B, T, V = logits.shape
            what = f"perplexity_from_logits(<logits {(B, T, V)}>, <Y {(B, T)}>)"
            got = call(perplexity_from_logits, logits.clone(), Y.clone(),
                       name="perplexity_from_logits", blocked=NO_LOSS)
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
    return run_check("Exercise 1.3 (perplexity_from_logits)", body)
