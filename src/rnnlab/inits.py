"""Changes to a built model that the pages compare with PyTorch's defaults (chapters 1 and
7): a forget-gate bias, biases drawn from U(0, 1), a ReLU in place of tanh.

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


@torch.no_grad()
def uniform_biases(model: nn.Module, low: float = 0.0, high: float = 1.0) -> nn.Module:
    """Draw every bias of `model` (every parameter whose name ends in `bias` or starts with
    `bias_`, e.g. `rnn.bias_ih_l0`, `output.bias`) from U(low, high), as
    `torch.nn.init.uniform_` does by default, and return `model`."""
    found = [p for name, p in model.named_parameters()
             if name.split(".")[-1] == "bias" or name.split(".")[-1].startswith("bias_")]
    if not found:
        raise ValueError(f"{type(model).__name__} has no biases")
    for p in found:
        p.uniform_(low, high)
    return model


def relu_rnn(model: nn.Module) -> nn.Module:
    """`model` (an `RNNModel` whose `.rnn` is a tanh `nn.RNN`) with a ReLU RNN in its place:
    the same sizes, options and weights, `nonlinearity="relu"`. Returns `model`."""
    rnn = getattr(model, "rnn", None)
    if type(rnn) is not nn.RNN:
        raise TypeError(f"relu_rnn needs a model whose .rnn is an nn.RNN, got "
                        f"{type(rnn).__name__}")
    relu = nn.RNN(rnn.input_size, rnn.hidden_size, rnn.num_layers, nonlinearity="relu",
                  bias=rnn.bias, batch_first=rnn.batch_first, dropout=rnn.dropout,
                  bidirectional=rnn.bidirectional)
    relu.load_state_dict(rnn.state_dict())
    model.rnn = relu.to(next(rnn.parameters()).device)
    return model
