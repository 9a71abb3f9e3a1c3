"""Gated cells by hand: a GRU and an LSTM language model with `RNNScratch`'s interface.

Row-vector notation, in PyTorch's convention (`torch.nn.GRU`, `torch.nn.LSTM`), one layer:

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

The gate blocks of each layer are stored side by side, in PyTorch's order (GRU: r, z, n;
LSTM: i, f, g, o), as `W_xh (d, gH)`, `W_hh (H, gH)` and biases `b_xh`, `b_hh (gH,)`, so
one product computes every gate and `load_torch` copies an `nn.GRU`/`nn.LSTM` exactly.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .models import (
    _input_size,
    load_concise_into,
    make_encoder,
    require_indices,
    require_model_state,
    require_sizes,
)
from .validate import require_positive_int

GATE_BLOCKS = {"gru": 3, "lstm": 4}


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


class GatedScratch(nn.Module):
    """A hand-made GRU (`cell="gru"`) or LSTM (`cell="lstm"`) language model.

    Interface as `RNNScratch`: `logits, state = model(X, state)` with X `(B, T)` indices and
    logits `(B, T, V)`; the state is `(L, B, H)` for a GRU and a tuple `(h, c)` of two
    such tensors for an LSTM; `begin_state(batch_size, device)` makes zeros.
    """

    def __init__(self, vocab_size: int, hidden_size: int, num_layers: int = 1,
                 cell: str = "gru", embed_size: int | None = None,
                 reset_before: bool = False):
        super().__init__()
        require_sizes(vocab_size=vocab_size, hidden_size=hidden_size, num_layers=num_layers)
        if cell not in GATE_BLOCKS:
            raise ValueError(f"cell must be one of {sorted(GATE_BLOCKS)}, got {cell!r}")
        if reset_before and cell != "gru":
            raise ValueError("reset_before is a GRU variant (d2l's); an LSTM has no reset gate")
        self.vocab_size, self.hidden_size, self.num_layers = vocab_size, hidden_size, num_layers
        self.cell, self.reset_before = cell, reset_before
        self.encoder = make_encoder(vocab_size, embed_size)
        d, H, g = _input_size(self.encoder), hidden_size, GATE_BLOCKS[cell]
        bound = 1 / math.sqrt(H)            # PyTorch's initialisation for GRU and LSTM

        def param(*shape):
            return nn.Parameter(torch.empty(*shape).uniform_(-bound, bound))

        self.W_xh = nn.ParameterList([param(d if l == 0 else H, g * H)
                                      for l in range(num_layers)])
        self.W_hh = nn.ParameterList([param(H, g * H) for _ in range(num_layers)])
        self.b_xh = nn.ParameterList([param(g * H) for _ in range(num_layers)])
        self.b_hh = nn.ParameterList([param(g * H) for _ in range(num_layers)])
        self.W_hq = param(H, vocab_size)
        self.b_q = param(vocab_size)

    def begin_state(self, batch_size: int, device: torch.device | str = "cpu"):
        """Zeros `(L, B, H)`; for an LSTM a tuple `(h, c)` of two of them."""
        require_positive_int("batch_size", batch_size)
        shape = (self.num_layers, batch_size, self.hidden_size)
        zeros = torch.zeros(shape, device=device, dtype=self.W_hq.dtype)
        return (zeros, zeros.clone()) if self.cell == "lstm" else zeros

    def forward(self, X: torch.Tensor, state=None):
        require_indices(X, self.vocab_size, check_range=X.device.type == "cpu")
        B = X.shape[0]
        if state is None:
            state = self.begin_state(B, X.device)
        expected = (self.num_layers, B, self.hidden_size)
        require_model_state(state, expected, lstm=self.cell == "lstm")
        xs = self.encoder(X).transpose(0, 1)              # (T, B, d)
        hs_last, cs_last = [], []
        for l in range(self.num_layers):
            args = (self.W_xh[l], self.W_hh[l], self.b_xh[l], self.b_hh[l])
            outs = []
            if self.cell == "lstm":
                h, c = state[0][l], state[1][l]
                for x_t in xs:
                    h, c = lstm_step(x_t, h, c, *args)
                    outs.append(h)
                cs_last.append(c)
            else:
                h = state[l]
                for x_t in xs:
                    h = gru_step(x_t, h, *args, reset_before=self.reset_before)
                    outs.append(h)
            hs_last.append(h)
            xs = torch.stack(outs)                        # (T, B, H): the next layer's input
        logits = (xs @ self.W_hq + self.b_q).transpose(0, 1)     # (B, T, V)
        h_n = torch.stack(hs_last)
        return logits, ((h_n, torch.stack(cs_last)) if self.cell == "lstm" else h_n)

    @torch.no_grad()
    def load_torch(self, rnn: nn.GRU | nn.LSTM) -> GatedScratch:
        """Copy the weights of an `nn.GRU`/`nn.LSTM` (unidirectional, with biases) into the
        recurrent layers: `weight_ih_l{k}` is `(gH, d)` and PyTorch computes `x W^T`, so we
        store `W_xh = weight_ih^T`; gate order and both biases are kept as they are."""
        kind = {nn.GRU: "gru", nn.LSTM: "lstm"}.get(type(rnn))
        if kind != self.cell:
            raise TypeError(f"expected an nn.{self.cell.upper()}, got {type(rnn).__name__}")
        if rnn.bidirectional or not rnn.bias or getattr(rnn, "proj_size", 0):
            raise ValueError("only a unidirectional module with biases (and no projection) "
                             "matches this model")
        if (rnn.hidden_size, rnn.num_layers, rnn.input_size) != (
                self.hidden_size, self.num_layers, self.W_xh[0].shape[0]):
            raise ValueError(f"sizes differ: the module has H={rnn.hidden_size}, "
                             f"L={rnn.num_layers}, d={rnn.input_size}")
        for l in range(self.num_layers):
            self.W_xh[l].copy_(getattr(rnn, f"weight_ih_l{l}").T)
            self.W_hh[l].copy_(getattr(rnn, f"weight_hh_l{l}").T)
            self.b_xh[l].copy_(getattr(rnn, f"bias_ih_l{l}"))
            self.b_hh[l].copy_(getattr(rnn, f"bias_hh_l{l}"))
        return self

    def load_concise(self, model) -> GatedScratch:
        """Copy every weight of a concise `RNNModel(cell="gru"/"lstm")`."""
        return load_concise_into(self, model, self.load_torch)
