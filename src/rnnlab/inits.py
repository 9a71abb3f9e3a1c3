"""Initialisations the pages compare with PyTorch's defaults (chapter 7).

PyTorch draws every weight and bias of `nn.RNN`, `nn.GRU` and `nn.LSTM` from
U(-1/sqrt(H), 1/sqrt(H)); the gates' pre-activations then start near 0 and the gates near
sigmoid(0) = 0.5.
"""

from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def set_forget_bias(model: nn.Module, value: float = 1.0) -> nn.Module:
    """Start every LSTM layer's forget gate at bias `value` and return `model`: PyTorch's
    two biases of the forget block (rows H..2H of `bias_ih_l{k}` and `bias_hh_l{k}`, gates
    in the order i, f, g, o) become `value` and 0, so their sum is `value`. `model` is an
    `nn.LSTM` or holds one as `model.rnn` (an `RNNModel`)."""
    lstm = model if isinstance(model, nn.LSTM) else getattr(model, "rnn", None)
    if not isinstance(lstm, nn.LSTM):
        raise TypeError(f"set_forget_bias needs an nn.LSTM or a model whose .rnn is one, "
                        f"got {type(model).__name__}")
    H = lstm.hidden_size
    suffixes = [""] + (["_reverse"] if lstm.bidirectional else [])
    for k in range(lstm.num_layers):
        for suffix in suffixes:
            getattr(lstm, f"bias_ih_l{k}{suffix}")[H:2 * H] = value
            getattr(lstm, f"bias_hh_l{k}{suffix}")[H:2 * H] = 0.0
    return model
