"""Argument checks every module shares. They *raise* (a `ValueError` or `TypeError` naming
the argument and saying how to fix it); their names start with `require_`, unlike the
exercise checks (`chN.check_*`), which never raise and print a verdict instead."""

from __future__ import annotations

import torch


def require_int(name: str, value, minimum: int | None = 1) -> None:
    """Raise a ValueError naming `name` unless `value` is an int (bools refused) that is at
    least `minimum` (None: any int)."""
    if isinstance(value, bool) or not isinstance(value, int) or (
            minimum is not None and value < minimum):
        kind = {1: "a positive integer", 0: "a non-negative integer", None: "an int"}.get(
            minimum, f"an integer >= {minimum}")
        raise ValueError(f"{name} must be {kind}, got {value!r}")


def require_positive_int(name: str, value) -> None:
    """Raise a ValueError naming `name` unless `value` is an int >= 1 (bools refused)."""
    require_int(name, value, 1)


def require_choice(name: str, value, choices) -> None:
    """Raise a ValueError naming `name` unless `value` is one of `choices`."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {sorted(choices)}, got {value!r}")


def require_sizes(**sizes) -> None:
    """Every size (vocab_size=..., hidden_size=..., ...) a positive integer, or a ValueError."""
    for name, value in sizes.items():
        require_positive_int(name, value)


def require_indices(X, vocab_size: int, check_range: bool = True) -> None:
    """Raise a clear error unless `X` is a `(B, T)` int64 tensor of indices below `vocab_size`.

    The shape and dtype checks cost nothing. The range check reads `X.min()` and `X.max()`
    back to Python, which on a GPU waits for every queued kernel (a host-device sync), so
    the models run it only for CPU tensors; indices enter a run through the data pipeline,
    `generate`, `train`, `fit` and `predict`, which check the range once, on any device.
    """
    if not isinstance(X, torch.Tensor):
        raise TypeError(f"X must be a torch.Tensor of token indices, got {type(X).__name__}")
    if X.dim() != 2:
        raise ValueError(f"X must have shape (B, T) (batch, time steps), got {tuple(X.shape)}; "
                         "for one sequence use X.unsqueeze(0)")
    if X.dtype != torch.long:
        raise TypeError(f"X must hold int64 indices (torch.long), got {X.dtype}; "
                        "pass indices, not one-hot vectors or embeddings")
    if check_range:
        require_index_range(X, vocab_size)


def require_index_range(X: torch.Tensor, vocab_size: int) -> None:
    """Raise a ValueError unless every index in `X` is in `0..vocab_size - 1`."""
    if X.numel() and (X.min() < 0 or X.max() >= vocab_size):
        raise ValueError(f"X holds indices in [{int(X.min())}, {int(X.max())}] but the vocabulary "
                         f"has {vocab_size} tokens (valid: 0..{vocab_size - 1})")


def _require_state_tensor(state, expected: tuple[int, ...], name: str) -> None:
    if not isinstance(state, torch.Tensor):
        raise TypeError(f"{name} must be a tensor of shape {expected}, got {type(state).__name__}")
    if tuple(state.shape) != expected:
        raise ValueError(f"{name} must have shape (L, B, H) = {expected}, got "
                         f"{tuple(state.shape)}; make one with model.begin_state(batch_size, "
                         "device)")


def require_model_state(state, expected: tuple[int, ...], lstm: bool) -> None:
    """A model's state: one tensor of shape `expected`, or for an LSTM a tuple `(h, c)` of
    two; else a clear error that says how to make one."""
    if not lstm:
        _require_state_tensor(state, expected, "state")
        return
    if not (isinstance(state, tuple) and len(state) == 2):
        raise TypeError("an LSTM's state is a tuple (h, c); make one with "
                        "model.begin_state(batch_size, device)")
    for k, s in enumerate(state):
        _require_state_tensor(s, expected, f"state[{k}] ({'hc'[k]})")
