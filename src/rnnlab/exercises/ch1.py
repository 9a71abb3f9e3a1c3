"""Checks for chapter 1, "The recurrence formula".

Each check compares the student's function with PyTorch's own implementation on fixed
inputs (never with a copy of the solution), and returns a `Verdict`.
"""

from __future__ import annotations

import torch
from torch import nn

from ..checks import Verdict, call, expect_tensor, fail, run_check


def _rnn_weights(d: int, H: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    W_xh = torch.randn(d, H, generator=g) * 0.5
    W_hh = torch.randn(H, H, generator=g) * 0.5
    b_h = torch.randn(H, generator=g) * 0.5
    return W_xh, W_hh, b_h


def _torch_rnn(W_xh, W_hh, b_h, batch_first=True) -> nn.RNN:
    """An nn.RNN holding our row-vector weights (it stores them transposed, two biases)."""
    d, H = W_xh.shape
    rnn = nn.RNN(d, H, batch_first=batch_first)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(W_xh.T)
        rnn.weight_hh_l0.copy_(W_hh.T)
        rnn.bias_ih_l0.copy_(b_h)
        rnn.bias_hh_l0.zero_()
    return rnn


def check_rnn_step(rnn_step) -> Verdict:
    """Exercise 1.1: `rnn_step(x, h, W_xh, W_hh, b_h)` -> `h_new`: (B, d), (B, H) -> (B, H)."""
    def body():
        cases = [(1, 3, 2, 0), (2, 3, 4, 1), (5, 7, 6, 2)]   # (B, d, H, seed)
        for B, d, H, seed in cases:
            W_xh, W_hh, b_h = _rnn_weights(d, H, seed)
            g = torch.Generator().manual_seed(100 + seed)
            x, h = torch.randn(B, d, generator=g), torch.randn(B, H, generator=g)
            expected = nn.RNNCell(d, H)
            with torch.no_grad():
                expected.weight_ih.copy_(W_xh.T)
                expected.weight_hh.copy_(W_hh.T)
                expected.bias_ih.copy_(b_h)
                expected.bias_hh.zero_()
                want = expected(x, h)
            got = call(rnn_step, x.clone(), h.clone(), W_xh.clone(), W_hh.clone(), b_h.clone(),
                       name="rnn_step")
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
                       b_h.clone(), name="rnn_forward")
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
    """Exercise 1.4: `clip_gradients(grads, max_norm)` -> a list of rescaled gradients.

    If the global norm sqrt(sum of all squared entries) exceeds `max_norm`, every gradient
    is multiplied by `max_norm / norm`; otherwise they are returned unchanged.
    """
    def body():
        g = torch.Generator().manual_seed(3)
        cases = [([torch.randn(3, 4, generator=g) * 5, torch.randn(4, generator=g)], 1.0),
                 ([torch.randn(2, 2, generator=g) * 0.01], 1.0),           # already small
                 ([torch.randn(5, generator=g) * 3, torch.randn(2, 3, generator=g) * 3,
                   torch.randn(1, generator=g)], 2.5)]
        for grads, max_norm in cases:
            params = [nn.Parameter(torch.zeros_like(t)) for t in grads]
            for p, t in zip(params, grads):
                p.grad = t.clone()
            norm = float(nn.utils.clip_grad_norm_(params, max_norm))
            want = [p.grad for p in params]
            got = call(clip_gradients, [t.clone() for t in grads], max_norm, name="clip_gradients")
            what = f"clip_gradients(<{len(grads)} tensors, norm {norm:.3g}>, max_norm={max_norm})"
            if not isinstance(got, (list, tuple)) or len(got) != len(want):
                fail(f"{what} should return a list of {len(want)} tensors, one per gradient, "
                     f"got {type(got).__name__}.")
            for i, (gt, wt) in enumerate(zip(got, want)):
                expect_tensor(gt, wt, f"gradient {i} of {what}", atol=1e-5)
        return "rescales by the global norm, and leaves small gradients alone."
    return run_check("Exercise 1.4 (clip_gradients)", body)


def check_step_jacobian(step_jacobian) -> Verdict:
    """Exercise 1.3: `step_jacobian(h_prev, x, W_xh, W_hh, b_h)` -> d h_t / d h_{t-1}.

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
                       b_h.clone(), name="step_jacobian")
            expect_tensor(got, want, f"step_jacobian(h_prev ({H},), x ({d},), ...)")
        return "matches torch.autograd.functional.jacobian on 3 cases."
    return run_check("Exercise 1.3 (step_jacobian)", body)
