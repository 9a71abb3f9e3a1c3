"""The course's one noise yardstick: when does a difference between two measured
configurations mean something?

Every comparison on the pages ("lower", "beats", "more", "overfits") is judged here. Each
side is a set of runs that differ only in their seed. Two means differ **beyond noise**
when their gap exceeds twice the larger of the two seed standard deviations; otherwise
they are **within noise** of each other. It is a rough rule, not a significance test, and
the pages say so. With fewer than two runs on a side no spread is known, so no verdict
is given: the comparison says it cannot judge.

    c = compare(ppl_one_hot, ppl_embedding)     # per-seed values of each
    c.verdict()        # "higher than" / "lower than" / "within noise of" / "(one run: ...)"
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

# The gap must exceed this many times the larger seed standard deviation.
_SPREADS = 2.0


@dataclass(frozen=True)
class Comparison:
    """Mean and standard deviation of two sets of runs, and the yardstick's verdict."""

    mean_a: float
    std_a: float | None       # None: a single run, no spread known
    mean_b: float
    std_b: float | None

    @property
    def gap(self) -> float:
        """mean_a - mean_b."""
        return self.mean_a - self.mean_b

    @property
    def noise(self) -> float | None:
        """What the gap must exceed: twice the larger standard deviation (None if unknown)."""
        if self.std_a is None or self.std_b is None:
            return None
        return _SPREADS * max(self.std_a, self.std_b)

    @property
    def judged(self) -> bool:
        """Whether a verdict is possible (both sides have a spread)."""
        return self.noise is not None

    @property
    def beyond_noise(self) -> bool:
        """The gap exceeds the noise (False when no spread is known)."""
        return self.judged and abs(self.gap) > self.noise

    def verdict(self, lower: str = "lower than", higher: str = "higher than",
                within: str = "within noise of",
                unjudged: str = "not comparable with one run of") -> str:
        """Words for a sentence "A is <verdict> B": `lower` or `higher` only when the gap
        is beyond noise."""
        if not self.judged:
            return unjudged
        if not self.beyond_noise:
            return within
        return lower if self.gap < 0 else higher


def _stats(values) -> tuple[float, float | None]:
    values = [float(v) for v in values]
    if not values:
        raise ValueError("a comparison needs at least one run on each side")
    if any(math.isnan(v) for v in values):
        raise ValueError("a run's value is NaN: it diverged or was not measured")
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else None)


def compare(a: Sequence[float], b: Sequence[float]) -> Comparison:
    """Compare the runs `a` with the runs `b` (one value per seed, e.g. validation
    perplexity); the standard deviations are the sample ones (n - 1), as pandas'."""
    (mean_a, std_a), (mean_b, std_b) = _stats(a), _stats(b)
    return Comparison(mean_a, std_a, mean_b, std_b)


def compare_stats(mean_a: float, std_a: float | None, mean_b: float,
                  std_b: float | None) -> Comparison:
    """The same, from a summary table's mean and standard deviation (NaN or None for a
    single run)."""
    def known(s):
        return None if s is None or (isinstance(s, float) and math.isnan(s)) else float(s)

    return Comparison(float(mean_a), known(std_a), float(mean_b), known(std_b))


def best_and_runner_up(table, by, metric: str = "valid_ppl"):
    """The lowest-mean group of a table with one row per run, the second lowest, and the
    comparison of the runner-up's runs with the best's (`.gap` >= 0; `.beyond_noise` says
    whether the best is really ahead). `by`: a column or a list of columns."""
    groups = {key: grp[metric].tolist() for key, grp in table.groupby(by)}
    if len(groups) < 2:
        raise ValueError(f"ranking needs at least two values of {by!r}, got {len(groups)}")
    ranked = sorted(groups, key=lambda key: statistics.fmean(groups[key]))
    best, runner_up = ranked[0], ranked[1]
    return best, runner_up, compare(groups[runner_up], groups[best])
