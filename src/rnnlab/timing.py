"""Timing helpers: one function's seconds per call, several candidates timed in alternating
rounds.

    time_call(fn)                     one function: median, min and max seconds per call
    interleaved_times({name: fn})     several candidates, timed in alternating rounds

A speed ratio and its verdict are the course's verdict rule's (`noise.speed_ratio`); the
course's own benchmark suite and its targets are `bench.py`'s.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from .validate import require_int, require_positive_int


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
    require_positive_int("repeats", repeats)
    require_positive_int("number", number)
    require_int("warmup", warmup, minimum=0)
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


def interleaved_times(fns: dict[str, Callable[[], object]], repeats: int = 20,
                      warmup: int = 3, device: torch.device | str | None = None
                      ) -> dict[str, list[float]]:
    """Seconds per call of each function, measured in *rounds*: each round times every
    function once, in an order that rotates from round to round.

    A second process that slows the machine for a while then slows every candidate of the
    rounds it overlaps, instead of whichever candidate happened to be timed then, so the
    ratios of one round compare like with like (see `noise.SpeedRatio`).
    """
    require_positive_int("repeats", repeats)
    require_int("warmup", warmup, minimum=0)
    names = list(fns)
    for name in names:
        for _ in range(warmup):
            fns[name]()
    _sync(device)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            start = time.perf_counter()
            fns[name]()
            _sync(device)
            times[name].append(time.perf_counter() - start)
    return times
