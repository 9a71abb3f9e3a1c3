"""Measuring what one training step holds in memory: parameters, gradients, optimizer
state, and the activations autograd saves for backward (chapter 4). The counts by formula
are `params.py`'s.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .train import train_step


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

    `model` has `RNNModel`'s and `ScratchLM`'s interface (`begin_state`, `model(X, state)`
    returning `(logits, state)`), with `X` and `Y` token indices of shape `(B, T)`. The
    step is the training loop's own (`train.train_step`, here without clipping): forward,
    mean cross-entropy, backward, `optimizer.step()` (so the model's weights change).
    Counted, in bytes:

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
    saved = SavedTensors(exclude=params)
    train_step(model, X, Y, optimizer, forward_context=saved)
    state = [v for s in optimizer.state.values() for v in s.values()
             if isinstance(v, torch.Tensor)]
    return TrainingMemory(
        parameters=sum(p.nbytes for p in params),
        gradients=sum(p.grad.nbytes for p in params if p.grad is not None),
        optimizer_state=sum(v.nbytes for v in state),
        activations=saved.nbytes,
    )
