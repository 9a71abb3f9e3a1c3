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
a product: row v collects dA at the positions where X = v.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch

from .bptt import rnn_layer_backward, rnn_layer_forward
from .models import OneHot


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
