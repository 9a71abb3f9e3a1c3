"""Timing helpers: measured figures with warm-up, repeats, median and spread."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Timing:
    """Seconds per call: the median of `repeats` runs, and their min and max."""

    median: float
    low: float
    high: float
    repeats: int

    def __str__(self) -> str:
        us = [1e6 * t for t in (self.median, self.low, self.high)]
        return f"{us[0]:,.1f} µs (min {us[1]:,.1f}, max {us[2]:,.1f})"


def _sync(device: torch.device | str | None) -> None:
    if device is not None and torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def time_call(fn: Callable[[], object], repeats: int = 20, warmup: int = 3,
              number: int = 1, device: torch.device | str | None = None) -> Timing:
    """Time `fn()`: `warmup` untimed calls, then `repeats` timings of `number` calls each.

    On CUDA, pass `device` so that the GPU is synchronised before the clock is read
    (kernels run asynchronously; without it you time the launch, not the work).
    """
    for name, value in [("repeats", repeats), ("number", number)]:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup must be a non-negative integer, got {warmup!r}")
    for _ in range(warmup):
        fn()
    _sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        _sync(device)
        times.append((time.perf_counter() - start) / number)
    return Timing(statistics.median(times), min(times), max(times), repeats)


def training_tokens_per_s(model: torch.nn.Module, X: torch.Tensor, Y: torch.Tensor,
                          lr: float = 1.0, repeats: int = 10, warmup: int = 3
                          ) -> tuple[float, Timing]:
    """Tokens per second of one training step (forward, backward, clipping, SGD update).

    `X`, `Y`: one `(B, T)` batch on the model's device. Returns `(median tokens/s, Timing)`.
    """
    from torch.nn import functional as F

    device = next(model.parameters()).device
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)

    def step():
        logits, _ = model(X, model.begin_state(X.shape[0], device))
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), Y.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()

    timing = time_call(step, repeats=repeats, warmup=warmup, device=device)
    return X.numel() / timing.median, timing
