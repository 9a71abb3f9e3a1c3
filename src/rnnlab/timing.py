"""Timing helpers: one function's seconds per call, several candidates timed in alternating
rounds, and a speed ratio with its range, spread and a verdict against a target.

    time_call(fn)                     one function: median, min and max seconds per call
    interleaved_times({name: fn})     several candidates, timed in alternating rounds
    speed_ratio(times_a, times_b)     a/b speed with its range, spread and a verdict

The course's own benchmark suite and its targets are `bench.py`'s.
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
    ratios of one round compare like with like (see `SpeedRatio`).
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


# A candidate whose slow runs (90th percentile) take more than this many times its fast
# runs (10th percentile) was measured on a machine whose load changed during the
# measurement: its ratios are not judged. An idle machine stays well inside it.
NOISE_LIMIT = 1.5


def _deciles(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return values[0], values[0]
    cuts = statistics.quantiles(values, n=10, method="inclusive")
    return cuts[0], cuts[-1]


@dataclass(frozen=True)
class SpeedRatio:
    """How many times as fast candidate `a` is as candidate `b`, from interleaved rounds.

    `median`: the ratio of the median times; `low`, `high`: the 10th and 90th percentiles
    of the per-round ratios (time of b / time of a, each round timed both within moments);
    `spread`: the larger of the two candidates' own 90th/10th percentile time ratios.
    """

    median: float
    low: float
    high: float
    spread: float
    rounds: int

    def verdict(self, target: float = 1.0, above: str = "met", below: str = "missed") -> str:
        """`above` when the whole range is at or above `target`, `below` when it is under
        it, else "too noisy to judge" with the reason (the range, or the spread, says so)."""
        if self.spread > NOISE_LIMIT:
            return (f"too noisy to judge: a candidate's step times varied {self.spread:.1f}× "
                    f"between runs (above {NOISE_LIMIT}×: the machine was busy)")
        if self.low >= target:
            return above
        if self.high < target:
            return below
        return (f"too noisy to judge: the range {self.low:.2f}× to {self.high:.2f}× "
                f"includes {target:g}×")

    def __str__(self) -> str:
        return f"{self.median:.2f}× (range {self.low:.2f}× to {self.high:.2f}×)"


def speed_ratio(times_a: list[float], times_b: list[float]) -> SpeedRatio:
    """Speed of a over speed of b, from two lists of seconds measured in the same rounds."""
    if len(times_a) != len(times_b) or not times_a:
        raise ValueError("speed_ratio needs two equally long, non-empty lists of times, "
                         "measured in the same rounds (see interleaved_times)")
    per_round = [tb / ta for ta, tb in zip(times_a, times_b)]
    low, high = _deciles(per_round)
    spread = max(hi / lo for lo, hi in (_deciles(times_a), _deciles(times_b)))
    return SpeedRatio(statistics.median(times_b) / statistics.median(times_a), low, high,
                      spread, len(per_round))
