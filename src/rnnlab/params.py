"""Counting parameters, bytes and multiply-adds of recurrent language models by formula.

For one layer `l` and one direction, with `g` gate blocks (RNN 1, GRU 3, LSTM 4), input size
`d_l` and hidden size `H`:

    params = g * (d_l*H + H*H + b*H)      b = 1 bias (textbook) or 2 (PyTorch: b_ih + b_hh)

Layer 1 takes the input (`d_1` = V for one-hot, E for embeddings); layer l >= 2 takes the
layer below's output, `d_l = D*H` (D = 2 directions if bidirectional). Bidirectional layers
have two independent copies. A language model adds an embedding table `V*E` (none for
one-hot input) and an output layer `D*H*Q + Q`.

`tests/test_params.py` checks these formulas against `sum(p.numel())` of real PyTorch modules.

The parameters are only part of what training holds in memory: `training_memory` measures
one real training step (parameters, gradients, optimizer state, and the activations
autograd saves for backward).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .train import sequence_loss
from .validate import require_positive_int

GATES = {"rnn": 1, "gru": 3, "lstm": 4}
BYTES_PER_PARAM = {"fp32": 4, "bf16": 2, "fp16": 2}


def _require_cell_biases(cell: str, biases: int) -> None:
    if cell not in GATES:
        raise ValueError(f"cell must be one of {sorted(GATES)}, got {cell!r}")
    if biases not in (1, 2):
        raise ValueError(f"biases must be 1 (textbook) or 2 (PyTorch), got {biases!r}")


def layer_weights(cell: str, input_size: int, hidden_size: int, biases: int = 2,
                  directions: int = 1) -> int:
    """Numbers in one layer: `directions * g * (d*H + H*H + biases*H)`.

    With `biases=0` this is also the layer's multiply-adds per token: every weight is used
    once per token, in one multiply-add."""
    g, d, H = GATES[cell], input_size, hidden_size
    return directions * g * (d * H + H * H + biases * H)


def layer_input_sizes(input_size: int, hidden_size: int, num_layers: int,
                      bidirectional: bool = False) -> list[int]:
    """`d_l` for each layer: the input for layer 1, the layer below's `D*H` outputs after."""
    D = 2 if bidirectional else 1
    return [input_size] + [D * hidden_size] * (num_layers - 1)


def recurrent_params(cell: str, input_size: int, hidden_size: int, num_layers: int = 1,
                     bidirectional: bool = False, biases: int = 2) -> int:
    """Parameters of a stack of `nn.RNN`/`nn.GRU`/`nn.LSTM` layers (biases=2 is PyTorch's)."""
    _require_cell_biases(cell, biases)
    for name, value in [("input_size", input_size), ("hidden_size", hidden_size),
                        ("num_layers", num_layers)]:
        require_positive_int(name, value)
    D = 2 if bidirectional else 1
    return sum(layer_weights(cell, d, hidden_size, biases, D)
               for d in layer_input_sizes(input_size, hidden_size, num_layers, bidirectional))


@dataclass(frozen=True)
class LMSpec:
    """A language model's sizes: what `count_lm` needs (mirrors `RNNModel`'s arguments)."""

    vocab_size: int
    hidden_size: int
    num_layers: int = 1
    cell: str = "rnn"
    embed_size: int | None = None    # None = one-hot input
    bidirectional: bool = False
    output_size: int | None = None   # Q; None = vocab_size (predict the next token)


@dataclass(frozen=True)
class LMCount:
    """Parameters by part, and what they cost."""

    embedding: int
    recurrent: int
    output: int
    macs_per_token: int

    @property
    def total(self) -> int:
        return self.embedding + self.recurrent + self.output

    def bytes(self, dtype: str = "fp32") -> int:
        if dtype not in BYTES_PER_PARAM:
            raise ValueError(f"dtype must be one of {sorted(BYTES_PER_PARAM)}, got {dtype!r}")
        return self.total * BYTES_PER_PARAM[dtype]


def count_lm(spec: LMSpec, biases: int = 2) -> LMCount:
    """Count the parameters of a language model and its multiply-adds per token.

    Multiply-adds (MACs) per token, per layer and direction: `g * (d_l*H + H*H)`, plus
    `D*H*Q` for the output layer. One-hot input is counted as the dense product our models
    compute (`V*H` per token, nearly all of it multiplying zeros); an embedding lookup costs
    no multiply-adds, only the `E*H` product that follows it.
    """
    require_positive_int("vocab_size", spec.vocab_size)
    if spec.embed_size is not None:
        require_positive_int("embed_size", spec.embed_size)
    Q = spec.output_size if spec.output_size is not None else spec.vocab_size
    require_positive_int("output_size", Q)
    D, H = 2 if spec.bidirectional else 1, spec.hidden_size
    d_in = spec.embed_size or spec.vocab_size
    recurrent = recurrent_params(spec.cell, d_in, H, spec.num_layers, spec.bidirectional,
                                 biases)
    embedding = spec.vocab_size * spec.embed_size if spec.embed_size else 0
    output = D * H * Q + Q
    macs = sum(layer_weights(spec.cell, d, H, biases=0, directions=D)
               for d in layer_input_sizes(d_in, H, spec.num_layers, spec.bidirectional))
    macs += D * H * Q
    return LMCount(embedding, recurrent, output, macs)


def _storage(t: torch.Tensor) -> tuple[tuple, int]:
    """(key, bytes) of the memory block behind `t`: views of one block share the key."""
    storage = t.untyped_storage()
    return (t.device, storage.data_ptr()), storage.nbytes()


class SavedTensors:
    """Context manager: the memory autograd saves for backward inside the block.

        with SavedTensors(exclude=model.parameters()) as saved:
            loss = sequence_loss(model(X)[0], Y)
        saved.nbytes     # bytes, each storage counted once

    Every tensor autograd keeps for the backward pass goes through the pack hook of
    `torch.autograd.graph.saved_tensors_hooks`; we record its storage, so a tensor saved
    by several operations (or several views of one tensor) counts once. Storages of the
    tensors in `exclude` (typically the parameters, which exist anyway) are not counted.
    """

    def __init__(self, exclude=()):
        self._exclude = {_storage(t)[0] for t in exclude}
        self.storages: dict[tuple, int] = {}

    def _pack(self, t: torch.Tensor) -> torch.Tensor:
        key, nbytes = _storage(t)
        if key not in self._exclude:
            self.storages[key] = nbytes
        return t                                  # keep the tensor itself: no copy

    def __enter__(self) -> SavedTensors:
        self._hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, lambda t: t)
        self._hooks.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._hooks.__exit__(*exc)

    @property
    def nbytes(self) -> int:
        return sum(self.storages.values())


@dataclass(frozen=True)
class TrainingMemory:
    """Bytes one training step holds, by kind (measured, see `training_memory`)."""

    parameters: int
    gradients: int
    optimizer_state: int
    activations: int     # saved by autograd in the forward pass, kept until backward

    @property
    def total(self) -> int:
        return self.parameters + self.gradients + self.optimizer_state + self.activations

    def as_dict(self) -> dict[str, int]:
        return {"parameters": self.parameters, "gradients": self.gradients,
                "optimizer state": self.optimizer_state, "activations": self.activations}


def training_memory(model: nn.Module, X: torch.Tensor, Y: torch.Tensor,
                    optimizer: torch.optim.Optimizer) -> TrainingMemory:
    """Run one real training step of a language model and measure its memory by kind.

    `model(X)` must return `(logits, state)` like `RNNModel` and `RNNScratch`, with `X`
    and `Y` token indices of shape `(B, T)`. The step is: forward, mean cross-entropy,
    backward, `optimizer.step()` (so the model's weights change). Counted, in bytes:

    - parameters: every trainable parameter;
    - gradients: every `p.grad` after backward;
    - optimizer state: every tensor in `optimizer.state` after the step (Adam keeps two
      per parameter, plus a step counter; plain SGD none);
    - activations: the storages autograd saves during the forward pass for backward,
      each counted once, parameters excluded (`SavedTensors`).

    Not counted: temporaries freed during the forward pass, the extra memory of the
    backward pass itself, kernel workspaces and the allocator's overhead. So the total is
    what the step holds between forward and backward, a lower bound on its peak.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer.zero_grad(set_to_none=True)
    with SavedTensors(exclude=params) as saved:
        logits, _ = model(X)                            # (B, T, V)
        loss = sequence_loss(logits, Y)
    loss.backward()
    optimizer.step()
    state = [v for s in optimizer.state.values() for v in s.values()
             if isinstance(v, torch.Tensor)]
    return TrainingMemory(
        parameters=sum(p.nbytes for p in params),
        gradients=sum(p.grad.nbytes for p in params if p.grad is not None),
        optimizer_state=sum(v.nbytes for v in state),
        activations=saved.nbytes,
    )
