"""`ResidualRNN`: a stack of tanh RNN layers, optionally with residual connections
(chapter 5's question of whether ten layers still train).

    x^1 = encoder(X);   out^l = layer_l(x^l);   x^{l+1} = out^l + x^l (residual, l > 1)
                                                           or out^l   (plain)
    logits = x^{L+1} W + b

Without residual connections it computes what `nn.RNN(num_layers=L)` computes; with them,
each layer from the second on adds what it computes to what it was given, so the gradient
reaches the lower layers through the sums as well as through every layer's tanh.
"""

from __future__ import annotations

import torch
from torch import nn

from .models import input_size, make_encoder
from .validate import require_sizes


class ResidualRNN(nn.Module):
    """A language model on `num_layers` single-layer tanh `nn.RNN`s: the `RNNModel`
    interface, `model(X, state) -> (logits (B, T, V), state (L, B, H))` and
    `model.begin_state(batch_size, device)`."""

    def __init__(self, vocab_size: int, hidden_size: int, num_layers: int,
                 embed_size: int | None = None, residual: bool = True):
        super().__init__()
        require_sizes(vocab_size=vocab_size, hidden_size=hidden_size, num_layers=num_layers)
        self.vocab_size, self.hidden_size, self.num_layers = vocab_size, hidden_size, num_layers
        self.residual = residual
        self.encoder = make_encoder(vocab_size, embed_size)
        d = input_size(self.encoder)
        self.layers = nn.ModuleList([nn.RNN(d if l == 0 else hidden_size, hidden_size,
                                            batch_first=True) for l in range(num_layers)])
        self.output = nn.Linear(hidden_size, vocab_size)

    def begin_state(self, batch_size: int, device: torch.device | str = "cpu") -> torch.Tensor:
        return torch.zeros(self.num_layers, batch_size, self.hidden_size, device=device,
                           dtype=self.output.weight.dtype)

    def forward(self, X: torch.Tensor, state: torch.Tensor | None = None):
        if state is None:
            state = self.begin_state(X.shape[0], X.device)
        x, last = self.encoder(X), []
        for l, layer in enumerate(self.layers):
            out, h = layer(x, state[l : l + 1].contiguous())
            x = out + x if self.residual and l > 0 else out
            last.append(h[0])
        return self.output(x), torch.stack(last)
