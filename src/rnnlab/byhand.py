"""The whole character model trained without autograd (chapter 6): the forward pass, the
loss and every gradient written out, for `RNNScratch` (tanh layers).

Forward, time first (`T, B`), for layers `l = 1..L`:

    x_t^1    = onehot(X_t) or E[X_t]                        (B, d)   the input layer
    h_t^l    = tanh(x_t^l W_xh^l + h_{t-1}^l W_hh^l + b_h^l),  x_t^{l+1} = h_t^l
    z_t      = h_t^L W_hq + b_q                             (B, V)   the logits
    loss     = mean over the N = B*T positions of -log softmax(z_t)[Y_t]

Backward, from the loss down:

    dz_t     = (softmax(z_t) - onehot(Y_t)) / N             where every backward starts
    dW_hq    = sum_t (h_t^L)^T dz_t,   db_q = sum_t sum_b dz_t
    dh_t^L   = dz_t W_hq^T                                  the top layer's G_t
    layer l  : `bptt.rnn_layer_backward` -> dW_xh^l, dW_hh^l, db_h^l, and dx_t^l,
               which is the G_t of layer l - 1
    dE[v]    = sum of dx_t^1 over the positions where X = v  (a scatter-add, `index_add_`)

With one-hot input, `dW_xh^1 = sum_t onehot(X_t)^T dA_t` is the same scatter-add written as
a product: row v collects dA at the positions where X = v. `loss_and_grads` computes all of
it; `sgd_step` and `train_by_hand` train with it.

Chapter 7's gated steps by hand: `lstm_step_backward` and `gru_step_backward` (one step).
A whole gated layer by hand, its weight gradients one product each over all steps, is
`rnnlab.bptt.LSTMLayerFunction` or `GRULayerFunction` (also importable from here), which
`ScratchLM(cell="lstm")` and `ScratchLM(cell="gru")` train with by default;
`ScratchLSTMByHand` is the LSTM's model.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch

from .bptt import (  # noqa: F401  (the gated layers by hand live in bptt; named here too)
    GRULayerFunction,
    LSTMLayerFunction,
    gru_layer_backward,
    gru_layer_forward,
    lstm_layer_backward,
    lstm_layer_forward,
    rnn_layer_backward,
    rnn_layer_forward,
)
from .models import OneHot
from .scratch import ScratchLM


def _require_rnn(model) -> None:
    if getattr(model, "cell", None) != "rnn" or not hasattr(model, "b_h"):
        raise ValueError("loss_and_grads takes an RNNScratch (tanh layers): the gated cells' "
                         "backward is chapter 7's")


@torch.no_grad()
def loss_and_grads(model, X: torch.Tensor, Y: torch.Tensor, state: torch.Tensor | None = None):
    """The mean cross-entropy of `model` (an `RNNScratch`) on `X`, `Y` `(B, T)`, and its
    gradient with respect to every parameter, computed by hand: autograd records nothing.

    Returns `(loss, grads, new_state)`: the loss as a float, `grads` a dict keyed like
    `model.named_parameters()`, and the state after the batch `(L, B, H)`.
    """
    _require_rnn(model)
    B, T = X.shape
    if Y.shape != X.shape:
        raise ValueError(f"Y must have X's shape {tuple(X.shape)}, got {tuple(Y.shape)}")
    V, L = model.vocab_size, model.num_layers
    if state is None:
        state = model.begin_state(B, X.device)
    one_hot = isinstance(model.encoder, OneHot)
    Xt = X.T                                                  # (T, B): time first
    dtype = model.W_hq.dtype
    xs = torch.nn.functional.one_hot(Xt, V).to(dtype) if one_hot else model.encoder.weight[Xt]

    inputs, layers = [], []                                   # each layer's xs and hs
    for l in range(L):
        W_xh, W_hh, b_h = model.weights(l)
        hs = rnn_layer_forward(xs, state[l], W_xh, W_hh, b_h)     # (T, B, H)
        inputs.append(xs)
        layers.append(hs)
        xs = hs
    logits = layers[-1] @ model.W_hq + model.b_q                  # (T, B, V)
    log_p = logits - torch.logsumexp(logits, -1, keepdim=True)
    N = B * T
    loss = -log_p.gather(-1, Y.T.unsqueeze(-1)).sum() / N

    dz = log_p.exp_()                                             # softmax, in place
    dz.view(N, V)[torch.arange(N), Y.T.reshape(N)] -= 1           # minus the one-hot target
    dz /= N
    H = model.hidden_size
    grads = {"W_hq": layers[-1].reshape(N, H).T @ dz.view(N, V), "b_q": dz.view(N, V).sum(0)}
    dhs = dz @ model.W_hq.T                                       # G_t of the top layer
    for l in reversed(range(L)):
        W_xh, W_hh, _ = model.weights(l)
        needs_dx = l > 0 or not one_hot
        dxs, _, dW_xh, dW_hh, db_h = rnn_layer_backward(
            dhs, layers[l], state[l], inputs[l], W_xh, W_hh, need_dxs=needs_dx)
        grads[f"W_xh.{l}"], grads[f"W_hh.{l}"], grads[f"b_h.{l}"] = dW_xh, dW_hh, db_h
        dhs = dxs
    if not one_hot:                                               # dE: a scatter-add
        E = model.encoder.weight
        grads["encoder.weight"] = torch.zeros_like(E).index_add_(
            0, Xt.reshape(N), dhs.reshape(N, E.shape[1]))
    new_state = torch.stack([hs[-1] for hs in layers])
    order = [name for name, _ in model.named_parameters()]
    return float(loss), {name: grads[name] for name in order}, new_state


@torch.no_grad()
def sgd_step(model, grads: dict[str, torch.Tensor], lr: float,
             clip: float | None = None) -> float:
    """`p -= lr * g` for every parameter, after scaling the gradients so that their global
    norm is at most `clip` (as `torch.nn.utils.clip_grad_norm_` does). Returns the norm
    before clipping."""
    norm = math.sqrt(sum(float(g.pow(2).sum()) for g in grads.values()))
    scale = 1.0 if clip is None else min(1.0, clip / (norm + 1e-6))
    for name, p in model.named_parameters():
        p.sub_(grads[name], alpha=lr * scale)
    return norm


def train_by_hand(model, batches: Iterable, lr: float, clip: float | None = None) -> list[float]:
    """Plain SGD over `batches` of `(X, Y)`, every gradient from `loss_and_grads` (each
    batch starts from a zero state). Returns each batch's loss, before its update."""
    losses = []
    for X, Y in batches:
        loss, grads, _ = loss_and_grads(model, X, Y)
        sgd_step(model, grads, lr, clip)
        losses.append(loss)
    return losses


# ---------------------------------------------------------------------------
# Gated steps (chapter 7): PyTorch's LSTM and GRU, one step backward
# ---------------------------------------------------------------------------


def lstm_step_backward(dh, dc, x, h, c, W_xh, W_hh, b_xh, b_hh):
    """One LSTM step's gradients, by hand (`rnnlab.cells.lstm_step`, gates i, f, g, o).

    `dh`, `dc`: dL/dh' and dL/dc' for the step's outputs `(B, H)`; `x (B, d)`, `h`, `c` the
    state the step started from. The forward is recomputed first. Returns `(dx, dh_prev,
    dc_prev, dW_xh, dW_hh, db)`; `db` is the gradient of either bias (both only add).

        dc_total = dc + dh * o * (1 - tanh(c')^2)      c' reaches L directly and through h'
        dc_prev  = dc_total * f                        the cell-state path: scaled by f
        di, df, dg, do = dc_total * g, dc_total * c, dc_total * i, dh * tanh(c')
        da       = [di * i(1-i), df * f(1-f), dg * (1-g^2), do * o(1-o)]   (B, 4H)
    """
    H = h.shape[1]
    a = x @ W_xh + h @ W_hh + b_xh + b_hh                       # (B, 4H)
    i, f = torch.sigmoid(a[:, :H]), torch.sigmoid(a[:, H:2 * H])
    g, o = torch.tanh(a[:, 2 * H:3 * H]), torch.sigmoid(a[:, 3 * H:])
    tc = torch.tanh(f * c + i * g)                              # tanh(c')
    dc_total = dc + dh * o * (1 - tc * tc)
    da = torch.cat([dc_total * g * i * (1 - i), dc_total * c * f * (1 - f),
                    dc_total * i * (1 - g * g), dh * tc * o * (1 - o)], dim=1)
    return (da @ W_xh.T, da @ W_hh.T, dc_total * f, x.T @ da, h.T @ da, da.sum(0))


def gru_step_backward(dh, x, h, W_xh, W_hh, b_xh, b_hh):
    """One GRU step's gradients, by hand (`rnnlab.cells.gru_step`, PyTorch's GRU, blocks
    r, z, n): `n = tanh(gx_n + r * gh_n)` with `gx = x W_xh + b_xh`, `gh = h W_hh + b_hh`,
    and `h' = (1 - z) * n + z * h`.

    `dh`: dL/dh' `(B, H)`. Returns `(dx, dh_prev, dW_xh, dW_hh, db_xh, db_hh)`: the two
    biases differ here, since r multiplies `b_hn` and not `b_in`.

        dn, dz   = dh * (1 - z), dh * (h - n);   dh_prev gets dh * z directly
        da_n     = dn * (1 - n^2);  dr = da_n * gh_n;  the h side of n gets da_n * r
    """
    H = h.shape[1]
    gx, gh = x @ W_xh + b_xh, h @ W_hh + b_hh                   # (B, 3H) each
    r = torch.sigmoid(gx[:, :H] + gh[:, :H])
    z = torch.sigmoid(gx[:, H:2 * H] + gh[:, H:2 * H])
    n = torch.tanh(gx[:, 2 * H:] + r * gh[:, 2 * H:])
    da_n = dh * (1 - z) * (1 - n * n)
    da_r = da_n * gh[:, 2 * H:] * r * (1 - r)
    da_z = dh * (h - n) * z * (1 - z)
    dgx = torch.cat([da_r, da_z, da_n], dim=1)                  # (B, 3H)
    dgh = torch.cat([da_r, da_z, da_n * r], dim=1)
    return (dgx @ W_xh.T, dh * z + dgh @ W_hh.T, x.T @ dgx, h.T @ dgh, dgx.sum(0),
            dgh.sum(0))


# ---------------------------------------------------------------------------
# A whole LSTM layer with the hand backward (measured against autograd: benchmarks)
# ---------------------------------------------------------------------------


class ScratchLSTMByHand(ScratchLM):
    """`ScratchLM(cell="lstm", backward="manual")` (its default backward): the LSTM whose
    layers run `LSTMLayerFunction` (`rnnlab.bptt`), the same model, parameters and
    gradients as with autograd's graph of every step (`benchmarks/gated_backward.py` times
    the two)."""

    def __init__(self, vocab_size: int, hidden_size: int, num_layers: int = 1,
                 embed_size: int | None = None):
        super().__init__(vocab_size, hidden_size, num_layers, "lstm", embed_size,
                         backward="manual")
