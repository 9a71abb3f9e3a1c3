"""Backpropagation through time by hand, for one tanh RNN layer (chapter 6).

Forward, in the course's row-vector notation, for t = 1..T:

    a_t = x_t W_xh + h_{t-1} W_hh + b_h          (B, H)     the pre-activation
    h_t = tanh(a_t)                              (B, H)

Backward, given dL/dh_t from above (the output layer, or the layer above) for every t:

    dh_t    = dL/dh_t (from above) + dA_{t+1} W_hh^T     what reaches h_t, from both ways
    dA_t    = dh_t * (1 - h_t^2)                         tanh' = 1 - tanh^2
    dW_xh   = sum_t x_t^T dA_t      = X^T dA              (d, H): one (d, T*B) @ (T*B, H)
    dW_hh   = sum_t h_{t-1}^T dA_t  = H_prev^T dA         (H, H): one product
    db_h    = sum_t sum_b dA_t                            (H,)
    dx_t    = dA_t W_xh^T                                 (B, d): one product for all t
    dh_0    = dA_1 W_hh^T

Only the `dh_t` recursion has to run step by step; every weight gradient is a sum over
steps, so it is computed once, from all steps, as one matrix product. `RNNLayerFunction`
packs this as a `torch.autograd.Function`, so `RNNScratch(backward="manual")` trains with
it instead of autograd's per-step graph.

The gated layers' (chapter 7) are the same idea with more gate blocks: the LSTM's
`lstm_layer_forward`, `lstm_layer_backward` (the step backward of
`rnnlab.byhand.lstm_step_backward`) and `LSTMLayerFunction`; the GRU's (PyTorch's variant)
`gru_layer_forward`, `gru_layer_backward` (that of `rnnlab.byhand.gru_step_backward`) and
`GRULayerFunction`. `ScratchLM(cell="lstm")` and `ScratchLM(cell="gru")` train with them
(their default backward).
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def rnn_layer_forward(xs: torch.Tensor, h0: torch.Tensor, W_xh: torch.Tensor,
                      W_hh: torch.Tensor, b_h: torch.Tensor) -> torch.Tensor:
    """All hidden states `(T, B, H)` of one tanh layer: `xs (T, B, d)`, `h0 (B, H)`.

    The input product `x_t W_xh + b_h` does not depend on h, so it is one `(T*B, d) @ (d, H)`
    product before the loop, as in `RNNScratch(hoist_input=True)`.

    It writes each step in place, so autograd cannot differentiate it (a backward through
    it raises). To differentiate the same function, use `RNNLayerFunction.apply(xs, h0,
    W_xh, W_hh, b_h)` (this forward, with `rnn_layer_backward` as its backward) or
    `rnnlab.cells.layer("rnn", xs, h0, (W_xh, W_hh, b_h))` (plain operations, autograd's
    backward).
    """
    hs = torch.addmm(b_h, xs.reshape(-1, xs.shape[-1]), W_xh)   # every x_t W_xh + b_h
    hs = hs.view(xs.shape[0], xs.shape[1], -1)                   # (T, B, H)
    h = h0
    for t in range(xs.shape[0]):
        h = hs[t].addmm_(h, W_hh).tanh_()     # in place: a_t, then h_t, in the same memory
    return hs


def rnn_layer_backward(dhs: torch.Tensor, hs: torch.Tensor, h0: torch.Tensor,
                       xs: torch.Tensor, W_xh: torch.Tensor, W_hh: torch.Tensor,
                       need_dxs: bool = True):
    """Gradients of one layer from `dhs = dL/dh_t` for every step `(T, B, H)`.

    The arguments come in chapter 6's order (`rnn_backward(dhs, hs, h0, X, W_xh, W_hh)`),
    time first: `hs (T, B, H)` every state, `h0 (B, H)`, `xs (T, B, d)`.

    Returns `(dxs (T, B, d) or None, dh0 (B, H), dW_xh (d, H), dW_hh (H, H), db_h (H,))`.
    """
    T, B, H = hs.shape
    deriv = 1 - hs * hs                                   # tanh' at every step, at once
    W_hh_T = W_hh.T
    dA = dhs.clone(memory_format=torch.contiguous_format)  # becomes dL/da_t, step by step
    dA[T - 1].mul_(deriv[T - 1])                          # nothing comes back from T + 1
    for t in range(T - 2, -1, -1):
        # dh_t = dhs[t] + dA_{t+1} W_hh^T (from above and from step t+1), then tanh'
        dA[t].addmm_(dA[t + 1], W_hh_T).mul_(deriv[t])
    dh0 = dA[0] @ W_hh_T                                  # to the initial state
    flat_dA = dA.view(T * B, H)
    # dW_hh = sum_t h_{t-1}^T dA_t: h_1..h_{T-1} against dA_2..dA_T in one product
    dW_hh = torch.addmm(h0.T @ dA[0], hs[:-1].reshape(-1, H).T, dA[1:].reshape(-1, H))
    dW_xh = xs.reshape(T * B, -1).T @ flat_dA             # all steps in one product
    db_h = flat_dA.sum(0)
    dxs = (dA @ W_xh.T) if need_dxs else None
    return dxs, dh0, dW_xh, dW_hh, db_h


class RNNLayerFunction(torch.autograd.Function):
    """One tanh RNN layer whose backward is `rnn_layer_backward`, not autograd's graph.

        hs = RNNLayerFunction.apply(xs, h0, W_xh, W_hh, b_h)     # (T, B, H)
    """

    @staticmethod
    def forward(ctx, xs, h0, W_xh, W_hh, b_h):
        hs = rnn_layer_forward(xs, h0, W_xh, W_hh, b_h)
        ctx.save_for_backward(xs, h0, hs, W_xh, W_hh)
        return hs

    @staticmethod
    def backward(ctx, dhs):
        xs, h0, hs, W_xh, W_hh = ctx.saved_tensors
        dxs, dh0, dW_xh, dW_hh, db_h = rnn_layer_backward(
            dhs.contiguous(), hs, h0, xs, W_xh, W_hh, need_dxs=ctx.needs_input_grad[0])
        return dxs, dh0, dW_xh, dW_hh, db_h


def lstm_layer_forward(xs, h0, c0, W_xh, W_hh, b_xh, b_hh):
    """Every state of one LSTM layer, and what its backward needs: `xs (T, B, d)`, `h0`,
    `c0 (B, H)` -> `(hs, cs, gates)`, `hs`, `cs (T, B, H)` every h_t and c_t, `gates
    (T, B, 4H)` every step's i, f, g, o after their activations. The input product
    `x_t W_xh + b` is one `(T*B, d) @ (d, 4H)` product before the loop."""
    T, B = xs.shape[:2]
    H = h0.shape[1]
    gates = torch.addmm(b_xh + b_hh, xs.reshape(T * B, -1), W_xh).view(T, B, 4 * H)
    hs, cs = xs.new_empty(T, B, H), xs.new_empty(T, B, H)
    h, c = h0, c0
    for t in range(T):
        a = gates[t].addmm_(h, W_hh)                       # the pre-activation, in place
        a[:, :2 * H].sigmoid_()
        a[:, 2 * H:3 * H].tanh_()
        a[:, 3 * H:].sigmoid_()
        i, f, g, o = a.split(H, dim=1)
        c = torch.addcmul(f * c, i, g, out=cs[t])
        h = torch.mul(o, torch.tanh(c), out=hs[t])
    return hs, cs, gates


def lstm_layer_backward(dhs, dc_T, xs, h0, c0, hs, cs, gates, W_xh, W_hh):
    """Gradients of one LSTM layer from `dhs = dL/dh_t (T, B, H)` and `dc_T = dL/dc_T`:
    `(dxs, dh0, dc0, dW_xh, dW_hh, db)`, `db` the gradient of either bias. The recursion
    runs step by step; the weight gradients are one product each, over all steps."""
    T, B, H = hs.shape
    dA = torch.empty_like(gates)                             # dL/da_t for every step
    dh_next, dc_next = torch.zeros_like(h0), dc_T
    W_hh_T = W_hh.T
    for t in range(T - 1, -1, -1):
        i, f, g, o = gates[t].split(H, dim=1)
        c_prev = cs[t - 1] if t > 0 else c0
        tc = torch.tanh(cs[t])
        dh = dhs[t] + dh_next
        dc = dc_next + dh * o * (1 - tc * tc)
        torch.cat([dc * g * i * (1 - i), dc * c_prev * f * (1 - f), dc * i * (1 - g * g),
                   dh * tc * o * (1 - o)], dim=1, out=dA[t])
        dh_next = dA[t] @ W_hh_T
        dc_next = dc * f
    flat = dA.view(T * B, 4 * H)
    h_prev = torch.cat([h0[None], hs[:-1]]).view(T * B, H)
    return (dA @ W_xh.T, dh_next, dc_next, xs.reshape(T * B, -1).T @ flat, h_prev.T @ flat,
            flat.sum(0))


class LSTMLayerFunction(torch.autograd.Function):
    """One LSTM layer whose backward is `lstm_layer_backward`, not autograd's graph:

        hs, c_T = LSTMLayerFunction.apply(xs, h0, c0, W_xh, W_hh, b_xh, b_hh)
    """

    @staticmethod
    def forward(ctx, xs, h0, c0, W_xh, W_hh, b_xh, b_hh):
        hs, cs, gates = lstm_layer_forward(xs, h0, c0, W_xh, W_hh, b_xh, b_hh)
        ctx.save_for_backward(xs, h0, c0, hs, cs, gates, W_xh, W_hh)
        return hs, cs[-1].clone()

    @staticmethod
    def backward(ctx, dhs, dc_T):
        xs, h0, c0, hs, cs, gates, W_xh, W_hh = ctx.saved_tensors
        dc_T = torch.zeros_like(c0) if dc_T is None else dc_T
        dxs, dh0, dc0, dW_xh, dW_hh, db = lstm_layer_backward(
            dhs.contiguous(), dc_T, xs, h0, c0, hs, cs, gates, W_xh, W_hh)
        return dxs, dh0, dc0, dW_xh, dW_hh, db, db


def gru_layer_forward(xs, h0, W_xh, W_hh, b_xh, b_hh):
    """Every state of one GRU layer (PyTorch's, gates r, z, n), and what its backward needs:
    `xs (T, B, d)`, `h0 (B, H)` -> `(hs, gates, gh_n)`, `hs (T, B, H)` every h_t, `gates
    (T, B, 3H)` every step's r, z, n after their activations, `gh_n (T, B, H)` every
    `h_{t-1} W_hn + b_hn` (what r multiplies). The input product is one `(T*B, d) @ (d, 3H)`
    product before the loop."""
    T, B = xs.shape[:2]
    H = h0.shape[1]
    gates = torch.addmm(b_xh, xs.reshape(T * B, -1), W_xh).view(T, B, 3 * H)
    hs, gh_n = xs.new_empty(T, B, H), xs.new_empty(T, B, H)
    h = h0
    for t in range(T):
        gh = torch.addmm(b_hh, h, W_hh)                    # (B, 3H): r, z, n from h
        a = gates[t]
        a[:, :2 * H].add_(gh[:, :2 * H]).sigmoid_()        # r, z, in place
        gh_n[t] = gh[:, 2 * H:]
        r, z, n = a.split(H, dim=1)
        n.addcmul_(r, gh_n[t]).tanh_()                     # n = tanh(gx_n + r * gh_n)
        h = torch.addcmul(n, z, h - n, out=hs[t])          # (1 - z) n + z h
    return hs, gates, gh_n


def gru_layer_backward(dhs, xs, h0, hs, gates, gh_n, W_xh, W_hh):
    """Gradients of one GRU layer from `dhs = dL/dh_t (T, B, H)`: `(dxs, dh0, dW_xh, dW_hh,
    db_xh, db_hh)` (the two biases differ: r multiplies `b_hn`, not `b_in`). The step's
    backward is `rnnlab.byhand.gru_step_backward`'s; the weight gradients are one product
    each, over all steps."""
    T, B, H = hs.shape
    dGx, dGh = torch.empty_like(gates), torch.empty_like(gates)   # x side and h side
    dh_next = torch.zeros_like(h0)
    W_hh_T = W_hh.T
    for t in range(T - 1, -1, -1):
        r, z, n = gates[t].split(H, dim=1)
        h_prev = hs[t - 1] if t > 0 else h0
        dh = dhs[t] + dh_next
        da_n = dh * (1 - z) * (1 - n * n)
        da_r = da_n * gh_n[t] * r * (1 - r)
        da_z = dh * (h_prev - n) * z * (1 - z)
        torch.cat([da_r, da_z, da_n], dim=1, out=dGx[t])
        torch.cat([da_r, da_z, da_n * r], dim=1, out=dGh[t])
        dh_next = dh * z + dGh[t] @ W_hh_T
    flat_x, flat_h = dGx.view(T * B, 3 * H), dGh.view(T * B, 3 * H)
    h_prev = torch.cat([h0[None], hs[:-1]]).view(T * B, H)
    return (dGx @ W_xh.T, dh_next, xs.reshape(T * B, -1).T @ flat_x, h_prev.T @ flat_h,
            flat_x.sum(0), flat_h.sum(0))


class GRULayerFunction(torch.autograd.Function):
    """One GRU layer (PyTorch's) whose backward is `gru_layer_backward`, not autograd's graph:

        hs = GRULayerFunction.apply(xs, h0, W_xh, W_hh, b_xh, b_hh)
    """

    @staticmethod
    def forward(ctx, xs, h0, W_xh, W_hh, b_xh, b_hh):
        hs, gates, gh_n = gru_layer_forward(xs, h0, W_xh, W_hh, b_xh, b_hh)
        ctx.save_for_backward(xs, h0, hs, gates, gh_n, W_xh, W_hh)
        return hs

    @staticmethod
    def backward(ctx, dhs):
        xs, h0, hs, gates, gh_n, W_xh, W_hh = ctx.saved_tensors
        return gru_layer_backward(dhs.contiguous(), xs, h0, hs, gates, gh_n, W_xh, W_hh)


def numerical_gradient(f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
                       eps: float = 1e-6) -> torch.Tensor:
    """Central differences, `(f(x + eps e_i) - f(x - eps e_i)) / (2 eps)`, for every entry
    `i` of `x`; `f(x)` returns a scalar. `x` is changed in place, entry by entry, and
    restored.

    Its error has two parts: truncation, of order `eps**2` (the next Taylor term), and
    rounding, of order `u / eps` with `u` the unit roundoff of `x`'s dtype (about 1e-16 in
    float64, 6e-8 in float32) — so in float32 no `eps` gets close to float64's accuracy.
    """
    grad = torch.zeros_like(x)
    flat, gflat = x.view(-1), grad.view(-1)
    with torch.no_grad():
        for i in range(flat.numel()):
            old = flat[i].item()
            flat[i] = old + eps
            up = float(f(x))
            flat[i] = old - eps
            down = float(f(x))
            flat[i] = old
            gflat[i] = (up - down) / (2 * eps)
    return grad


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    """`max|a - b| / max(max|a|, max|b|)`: 0 when equal, about 1e-16 at float64's limit."""
    scale = max(a.abs().max().item(), b.abs().max().item())
    return 0.0 if scale == 0 else (a - b).abs().max().item() / scale
