"""The course's one verdict rule: when does a difference between two measured configurations
mean something? Every "lower", "higher", "best", "beats", "overfits" on the pages is judged
here, and every "faster" too (`SpeedRatio`, the speed statistic, is defined below).

**The rule (perplexities and other positive measurements).** Each side is a set of runs
that differ only in their seed. Values are compared on the log scale (the log of a
perplexity is the loss in nats), so one run that blows up to 10^5 counts as a large gap,
not as a mean that swamps everything. Runs with the same seed are compared with each other
(**paired by seed**: the same seed gives both the same initial draw of random numbers and
the same batch order). Then

    A is lower than B   when, for every seed, log A - log B < -2 * s
    A is higher than B  when, for every seed, log A - log B > +2 * s
    otherwise A and B are within noise of each other,

where s is the seed-to-seed standard deviation (of the log values) of the steadier of the
two sides: a side that blows up on some seeds is worse, not noisier. Without shared seeds
(`paired=False`) every run of A is compared with every run of B. With fewer than two runs
on a side no spread is known and no verdict is given.

It is a rough rule with a handful of seeds, not a significance test: with 3 seeds, "lower"
means lower on all 3 by more than twice the typical seed-to-seed wobble. A side whose runs
mix another setting (e.g. three hidden sizes pooled as if they were seeds) is refused with
an error, since its "spread" would be the spread across that setting.

    c = compare(ppl_one_hot, ppl_embedding)     # per-seed values, in the same seed order
    c.verdict()        # "higher than" / "lower than" / "within noise of" / "(one run: ...)"
    compare_runs(table, "batch_size", 16, 64)   # two rows sets of a sweep table, paired
    best_and_runner_up(table, "hidden_size")    # a ranking, judged by the same rule
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# Every pair's gap must exceed this many seed standard deviations (log scale).
_SPREADS = 2.0


@dataclass(frozen=True)
class Comparison:
    """Two sets of runs (values per seed) and the rule's verdict on them.

    `a`, `b`: the values, in seed order when `paired`. `mean_a`, `std_a`, ... describe them
    on their own scale (for tables); the verdict is judged on the log scale."""

    a: tuple[float, ...]
    b: tuple[float, ...]
    paired: bool = True

    @property
    def mean_a(self) -> float:
        return statistics.fmean(self.a)

    @property
    def mean_b(self) -> float:
        return statistics.fmean(self.b)

    @property
    def std_a(self) -> float | None:
        """Seed standard deviation of a (None for one run)."""
        return statistics.stdev(self.a) if len(self.a) > 1 else None

    @property
    def std_b(self) -> float | None:
        return statistics.stdev(self.b) if len(self.b) > 1 else None

    @property
    def gap(self) -> float:
        """mean_a - mean_b, on the values' own scale (for display)."""
        return self.mean_a - self.mean_b

    @property
    def log_gaps(self) -> list[float]:
        """log a - log b for every pair: per seed when paired, else every a with every b."""
        pairs = zip(self.a, self.b) if self.paired else itertools.product(self.a, self.b)
        return [math.log(x) - math.log(y) for x, y in pairs]

    @property
    def ratio(self) -> float:
        """The typical factor a / b: exp of the median per-pair log gap."""
        return math.exp(statistics.median(self.log_gaps))

    @property
    def noise(self) -> float | None:
        """What every pair's log gap must exceed: twice the steadier side's seed standard
        deviation of log values (None with a single run on a side)."""
        if len(self.a) < 2 or len(self.b) < 2:
            return None
        spread = min(statistics.stdev(map(math.log, side)) for side in (self.a, self.b))
        return _SPREADS * spread

    @property
    def judged(self) -> bool:
        """Whether a verdict is possible (both sides have a spread)."""
        return self.noise is not None

    @property
    def wins(self) -> int:
        """Pairs in which a is lower than b."""
        return sum(g < 0 for g in self.log_gaps)

    @property
    def pairs(self) -> int:
        return len(self.log_gaps)

    @property
    def direction(self) -> int:
        """-1: a lower beyond noise; +1: a higher beyond noise; 0: within noise or unjudged."""
        if not self.judged:
            return 0
        gaps = self.log_gaps
        if all(g < -self.noise for g in gaps):
            return -1
        if all(g > self.noise for g in gaps):
            return 1
        return 0

    @property
    def beyond_noise(self) -> bool:
        """Every pair's gap exceeds the noise, in one direction (False when unjudged)."""
        return self.direction != 0

    def verdict(self, lower: str = "lower than", higher: str = "higher than",
                within: str = "within noise of",
                unjudged: str = "not comparable with one run of") -> str:
        """Words for a sentence "A is <verdict> B": `lower` or `higher` only when the rule
        says so (every pair beyond noise, in the same direction)."""
        if not self.judged:
            return unjudged
        return {-1: lower, 1: higher, 0: within}[self.direction]

    def evidence(self) -> str:
        """The numbers behind the verdict, for a sentence: "lower for 3 of 3 seeds; log
        gaps -0.110 to -0.080, noise ±0.030" ("higher for ..." when most pairs are)."""
        gaps = self.log_gaps
        unit = "seeds" if self.paired else "pairs of runs"
        if not self.judged:
            return f"{self.pairs} {unit[:-1] if self.pairs == 1 else unit}: no spread known"
        higher = sum(g > 0 for g in gaps)
        count = (f"lower for {self.wins}" if self.wins >= higher else f"higher for {higher}")
        return (f"{count} of {self.pairs} {unit}; log gaps {min(gaps):+.3f} to "
                f"{max(gaps):+.3f}, noise ±{self.noise:.3f}")


def _values(side, name: str) -> list[float]:
    values = [float(v) for v in side]
    if not values:
        raise ValueError("a comparison needs at least one run on each side")
    if any(math.isnan(v) for v in values):
        raise ValueError(f"a run's value on side {name} is NaN: it diverged or was not measured")
    if any(v <= 0 for v in values):
        raise ValueError(f"side {name} has a value <= 0: the rule compares positive "
                         "measurements (perplexities, seconds) on the log scale")
    return values


def compare(a: Sequence[float] | Mapping, b: Sequence[float] | Mapping,
            paired: bool = True) -> Comparison:
    """Compare the runs `a` with the runs `b` by the rule (see the module's docstring).

    Lists are paired by position (the i-th of each ran with the same seed), so they must be
    equally long; dicts `{seed: value}` are paired by seed and must hold the same seeds.
    `paired=False`: the runs share no seeds; every run of a meets every run of b."""
    if isinstance(a, Mapping) or isinstance(b, Mapping):
        if not (isinstance(a, Mapping) and isinstance(b, Mapping)):
            raise ValueError("give both sides as {seed: value} dicts, or both as lists")
        if paired and set(a) != set(b):
            raise ValueError(f"paired by seed, the two sides must have the same seeds: "
                             f"{sorted(a)} vs {sorted(b)}")
        seeds = sorted(a) if paired else None
        a = [a[s] for s in seeds] if paired else list(a.values())
        b = [b[s] for s in seeds] if paired else list(b.values())
    a, b = _values(a, "a"), _values(b, "b")
    if paired and len(a) != len(b):
        raise ValueError(f"paired by seed, the two sides need one value per seed each; got "
                         f"{len(a)} and {len(b)} (paired=False compares unpaired runs)")
    return Comparison(tuple(a), tuple(b), paired)


def _settings(table, by: Sequence[str], metric: str) -> list[str]:
    """The columns of `table` that describe a run's settings (RunConfig's fields), other
    than `by`, the seed and the metric."""
    from .config import FIELDS

    return [c for c in FIELDS if c in table.columns and c not in (*by, "seed", metric)]


def _require_one_setting(rows, by: Sequence[str], metric: str, what: str) -> None:
    """Refuse `rows` whose runs differ in something other than `by` and the seed."""
    import pandas as pd

    for column in _settings(rows, by, metric):
        values = rows[column].drop_duplicates().tolist()
        if len(values) > 1:
            shown = ", ".join("None" if pd.isna(v) else str(v) for v in values)
            raise ValueError(
                f"{what} mix runs with different {column} ({shown}): their spread would be "
                f"the spread across {column}, not across seeds. Compare at one {column} "
                f"(e.g. table[table['{column}'] == {values[0]!r}])")
    if "seed" in rows.columns:
        for key, group in rows.groupby(list(by), dropna=False):
            if group["seed"].duplicated().any():
                where = dict(zip(by, key if isinstance(key, tuple) else (key,)))
                raise ValueError(f"{what} hold two runs with the same seed for {where}: they "
                                 "differ in another setting, so they are not repeats")


def _by_seed(rows, metric: str) -> dict:
    if "seed" not in rows.columns:
        raise ValueError("the table needs a 'seed' column to pair runs by seed")
    return dict(zip(rows["seed"], rows[metric]))


def compare_runs(table, by: str, a, b, metric: str = "valid_ppl") -> Comparison:
    """Compare the rows of `table` where `by == a` with those where `by == b`, paired by
    seed. Refused (ValueError) when the rows also differ in another setting."""
    rows = table[table[by].isin([a, b])]
    _require_one_setting(rows, [by], metric, f"the rows with {by} = {a!r} and {b!r}")
    side_a, side_b = (_by_seed(rows[rows[by] == v], metric) for v in (a, b))
    if not side_a or not side_b:
        raise ValueError(f"no rows with {by} = {a!r}" if not side_a else
                         f"no rows with {by} = {b!r}")
    return compare(side_a, side_b)


def best_and_runner_up(table, by, metric: str = "valid_ppl"):
    """The best group of a table with one row per run (lowest geometric mean of `metric`),
    the second best, and the comparison of the runner-up's runs with the best's, paired by
    seed (`.gap` >= 0; `.beyond_noise` says whether the best is really ahead: a ranking
    within noise is a tie). `by`: a column or a list of columns. Refused when the runs also
    differ in a setting outside `by`."""
    cols = [by] if isinstance(by, str) else list(by)
    _require_one_setting(table, cols, metric, "the rows ranked")
    groups = {key: grp for key, grp in table.groupby(by)}
    if len(groups) < 2:
        raise ValueError(f"ranking needs at least two values of {by!r}, got {len(groups)}")

    def geometric_mean(key):
        return statistics.fmean(math.log(v) for v in _values(groups[key][metric], str(key)))

    ranked = sorted(groups, key=geometric_mean)
    best, runner_up = ranked[0], ranked[1]
    if "seed" in table.columns:
        c = compare(_by_seed(groups[runner_up], metric), _by_seed(groups[best], metric))
    else:
        c = compare(groups[runner_up][metric], groups[best][metric], paired=False)
    return best, runner_up, c


# ---------------------------------------------------------------------------------------
# Speed: the same idea (paired, robust to a blow-up), for many timed rounds.

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
    """How many times as fast candidate `a` is as candidate `b`, from interleaved rounds
    (each round times both within moments: the rounds are the pairs).

    `median`: the ratio of the median times; `low`, `high`: the 10th and 90th percentiles
    of the per-round ratios (time of b / time of a); `spread`: the larger of the two
    candidates' own 90th/10th percentile time ratios. The verdict "faster" needs 9 rounds
    in 10 on the same side of the target (the 10th percentile above it): with dozens of
    rounds, "every pair", as for perplexities, would let one disturbed round veto.
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
            return (f"too noisy to judge: a candidate's step times varied {self.spread:.2f}× "
                    f"between runs (more than {NOISE_LIMIT}×: the machine was busy)")
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
