"""The three recurrent cells as plain tensor functions, in the course's row-vector notation
and PyTorch's conventions (`torch.nn.RNN`, `torch.nn.GRU`, `torch.nn.LSTM`), one layer:

    RNN   h' = tanh(x W_xh + h W_hh + b_h)                    (b_h = PyTorch's b_ih + b_hh)

    GRU   r = sigmoid(x W_ir + b_ir + h W_hr + b_hr)          reset gate      (B, H)
          z = sigmoid(x W_iz + b_iz + h W_hz + b_hz)          update gate
          n = tanh(x W_in + b_in + r * (h W_hn + b_hn))       candidate state
          h' = (1 - z) * n + z * h

    LSTM  i, f, o = sigmoid(x W_i* + b_i* + h W_h* + b_h*)    input, forget, output gates
          g = tanh(x W_ig + b_ig + h W_hg + b_hg)             candidate cell
          c' = f * c + i * g
          h' = o * tanh(c')

The GRU's reset gate multiplies `h W_hn + b_hn`, bias included, so its two biases `b_in` and
`b_hn` cannot be folded into one; the LSTM's can (and PyTorch still keeps both). d2l's
GRU applies the reset gate *before* the product, `(r * h) W_hn`: a different function
(`gru_step(..., reset_before=True)`).

The gate blocks of a layer are stored side by side, in PyTorch's order (GRU: r, z, n;
LSTM: i, f, g, o), as `W_xh (d, gH)`, `W_hh (H, gH)` and biases `b_xh`, `b_hh (gH,)`, so
one product computes every gate. Every function here is differentiable by autograd.

`step(cell, x, state, weights)` runs any of the three with one signature (the state is
`h`, or `(h, c)` for an LSTM), and `layer(cell, xs, state, weights)` runs it over time.
"""

from __future__ import annotations

import torch

from .validate import require_choice

GATE_BLOCKS = {"rnn": 1, "gru": 3, "lstm": 4}   # weight blocks per cell: g in (d, gH)


def rnn_step(x, h, W_xh, W_hh, b_h):
    """One tanh RNN step: x (B, d), h (B, H) -> h' (B, H)."""
    return torch.tanh(x @ W_xh + h @ W_hh + b_h)


def gru_step(x, h, W_xh, W_hh, b_xh, b_hh, reset_before: bool = False):
    """One GRU step: x (B, d), h (B, H) -> h' (B, H). `reset_before=True` is d2l's variant."""
    H = h.shape[-1]
    gx = x @ W_xh + b_xh                                   # (B, 3H): r, z, n from x
    if reset_before:
        r = torch.sigmoid(gx[:, :H] + h @ W_hh[:, :H] + b_hh[:H])
        z = torch.sigmoid(gx[:, H:2 * H] + h @ W_hh[:, H:2 * H] + b_hh[H:2 * H])
        n = torch.tanh(gx[:, 2 * H:] + (r * h) @ W_hh[:, 2 * H:] + b_hh[2 * H:])
    else:
        gh = h @ W_hh + b_hh                               # (B, 3H): r, z, n from h
        r = torch.sigmoid(gx[:, :H] + gh[:, :H])
        z = torch.sigmoid(gx[:, H:2 * H] + gh[:, H:2 * H])
        n = torch.tanh(gx[:, 2 * H:] + r * gh[:, 2 * H:])
    return (1 - z) * n + z * h


def lstm_step(x, h, c, W_xh, W_hh, b_xh, b_hh):
    """One LSTM step: x (B, d), h and c (B, H) -> (h', c')."""
    H = h.shape[-1]
    gates = x @ W_xh + h @ W_hh + b_xh + b_hh             # (B, 4H): i, f, g, o
    i = torch.sigmoid(gates[:, :H])
    f = torch.sigmoid(gates[:, H:2 * H])
    g = torch.tanh(gates[:, 2 * H:3 * H])
    o = torch.sigmoid(gates[:, 3 * H:])
    c = f * c + i * g
    return o * torch.tanh(c), c


def step(cell: str, x, state, weights, reset_before: bool = False):
    """One step of `cell` ("rnn", "gru" or "lstm"): `state` is h (B, H), or `(h, c)` for an
    LSTM; `weights` the layer's `(W_xh, W_hh, b_h)` for an RNN, else
    `(W_xh, W_hh, b_xh, b_hh)`. Returns the new state, of the same form."""
    require_choice("cell", cell, GATE_BLOCKS)
    if cell == "rnn":
        return rnn_step(x, state, *weights)
    if cell == "gru":
        return gru_step(x, state, *weights, reset_before=reset_before)
    return lstm_step(x, *state, *weights)


def hidden(state) -> torch.Tensor:
    """The hidden state h of a state (itself, or the first of an LSTM's `(h, c)`)."""
    return state[0] if isinstance(state, tuple) else state


def layer(cell: str, xs, state, weights, reset_before: bool = False):
    """`step` over time: xs (T, B, d) -> (every h_t (T, B, H), the last state)."""
    outs = []
    for x_t in xs:
        state = step(cell, x_t, state, weights, reset_before)
        outs.append(hidden(state))
    return torch.stack(outs), state
