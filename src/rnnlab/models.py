"""The concise language model (`RNNModel`: `nn.RNN`, `nn.GRU` or `nn.LSTM`, then
`nn.Linear`) and what every model shares: the input layer, the state helpers, counting.

Its interface is the hand-made `rnnlab.scratch.ScratchLM`'s, so a chapter can swap one for
the other:

    logits, state = model(X, state)     X: (B, T) int64 indices
                                        logits: (B, T, V),  state: (L, B, H)
    state = model.begin_state(batch_size, device)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .validate import (
    require_choice,
    require_indices,
    require_model_state,
    require_positive_int,
    require_sizes,
)

CELLS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


class OneHot(nn.Module):
    """Indices `(B, T)` -> one-hot float vectors `(B, T, V)`: a frozen identity table.

    The vectors are float because they are multiplied with float weights; an integer
    one-hot cannot enter `x_t @ W_xh`. They take the floating dtype the module was moved to
    (`model.double()` makes them float64), read from an empty buffer, since the module has
    no parameters of its own.
    """

    def __init__(self, vocab_size: int):
        super().__init__()
        self.vocab_size = vocab_size
        self.out_features = vocab_size
        self.register_buffer("_dtype", torch.empty(0), persistent=False)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return F.one_hot(X, self.vocab_size).to(self._dtype.dtype)   # (B, T) -> (B, T, V)


def make_encoder(vocab_size: int, embed_size: int | None) -> nn.Module:
    """The input layer: one-hot when `embed_size` is None, else a learned `nn.Embedding`."""
    if embed_size is None:
        return OneHot(vocab_size)
    require_positive_int("embed_size", embed_size)
    return nn.Embedding(vocab_size, embed_size)


def input_size(encoder: nn.Module) -> int:
    """The size d of the vectors an encoder (`OneHot` or `nn.Embedding`) produces."""
    return encoder.out_features if isinstance(encoder, OneHot) else encoder.embedding_dim


@torch.no_grad()
def load_row_weights(module: nn.RNN | nn.RNNCell, W_xh: torch.Tensor, W_hh: torch.Tensor,
                     b_h: torch.Tensor, layer: int = 0):
    """Put row-vector weights (`x W_xh + h W_hh + b_h`) into an `nn.RNN` or `nn.RNNCell`.

    PyTorch computes `x W_ih^T + b_ih + h W_hh^T + b_hh`, so it stores each weight
    transposed, `(H, d)` and `(H, H)`, and has two biases that only ever appear as a sum:
    our `b_h` goes into `b_ih` and `b_hh` becomes zero. Returns `module`.
    """
    suffix = "" if isinstance(module, nn.RNNCell) else f"_l{layer}"
    module_ih = getattr(module, f"weight_ih{suffix}")
    if tuple(W_xh.shape) != tuple(module_ih.T.shape):
        raise ValueError(f"W_xh has shape {tuple(W_xh.shape)}; this module needs "
                         f"{tuple(module_ih.T.shape)} (d, H)")
    module_ih.copy_(W_xh.T)                                     # (d, H) -> (H, d)
    getattr(module, f"weight_hh{suffix}").copy_(W_hh.T)         # (H, H), transposed
    getattr(module, f"bias_ih{suffix}").copy_(b_h)
    getattr(module, f"bias_hh{suffix}").zero_()
    return module


class RNNModel(nn.Module):
    r"""The concise RNN language model: `nn.RNN`, `nn.GRU` or `nn.LSTM`, then `nn.Linear`.

    With `cell="rnn"` it computes the same function as `RNNScratch`:

        h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)      (PyTorch's notation)
            = tanh(x_t W_xh   + h_{t-1} W_hh + b_h)                (ours: W_xh = W_ih^T,
        o_t = h_t W_hq + b_q                                        b_h = b_ih + b_hh)

    Shapes (`D` = 2 if bidirectional else 1):
        X       (B, T)         int64 token indices
        state   (D*L, B, H)    or a tuple `(h, c)` of two such tensors for an LSTM
        logits  (B, T, V)      from `h_t` (both directions concatenated: `D*H` features)

    Dropout, in training only: `dropout` between stacked layers (PyTorch's own argument);
    `io_dropout` on the layer's input vectors and on the last layer's outputs before the
    linear layer. Both together drop every non-recurrent connection and none of the
    recurrent ones, the scheme of Zaremba, Sutskever & Vinyals (2014).
    """

    def __init__(self, vocab_size: int, hidden_size: int, num_layers: int = 1,
                 cell: str = "rnn", embed_size: int | None = None,
                 bidirectional: bool = False, dropout: float = 0.0, io_dropout: float = 0.0):
        super().__init__()
        require_sizes(vocab_size=vocab_size, hidden_size=hidden_size, num_layers=num_layers)
        require_choice("cell", cell, CELLS)
        for name, p in (("dropout", dropout), ("io_dropout", io_dropout)):
            if not 0 <= p < 1:
                raise ValueError(f"{name} must be in [0, 1), got {p}")
        self.vocab_size, self.hidden_size, self.num_layers = vocab_size, hidden_size, num_layers
        self.cell = cell
        self.num_directions = 2 if bidirectional else 1
        self.encoder = make_encoder(vocab_size, embed_size)
        self.rnn = CELLS[cell](input_size(self.encoder), hidden_size, num_layers,
                               batch_first=True, bidirectional=bidirectional, dropout=dropout)
        self.output = nn.Linear(self.num_directions * hidden_size, vocab_size)
        # Identity at 0, so that a model without it draws no random numbers for it.
        self.io_dropout = nn.Dropout(io_dropout) if io_dropout else nn.Identity()

    def begin_state(self, batch_size: int, device: torch.device | str = "cpu"):
        """Zeros of shape `(D*L, B, H)` in the parameters' dtype; for an LSTM a tuple
        `(h, c)` of two of them."""
        require_positive_int("batch_size", batch_size)
        shape = (self.num_directions * self.num_layers, batch_size, self.hidden_size)
        dtype = self.output.weight.dtype
        if self.cell == "lstm":
            return (torch.zeros(shape, device=device, dtype=dtype),
                    torch.zeros(shape, device=device, dtype=dtype))
        return torch.zeros(shape, device=device, dtype=dtype)

    def forward(self, X: torch.Tensor, state=None):
        require_indices(X, self.vocab_size, check_range=X.device.type == "cpu")
        if state is None:
            state = self.begin_state(X.shape[0], X.device)
        expected = (self.num_directions * self.num_layers, X.shape[0], self.hidden_size)
        require_model_state(state, expected, lstm=self.cell == "lstm")
        Y, state = self.rnn(self.io_dropout(self.encoder(X)), state)  # (B, T, D*H)
        return self.output(self.io_dropout(Y)), state                  # (B, T, V)


def detach_state(state):
    """Cut the autograd graph behind a state (a tensor or an LSTM's `(h, c)` tuple)."""
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()


def num_params(model: nn.Module) -> int:
    """Number of trainable scalars in `model`."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
