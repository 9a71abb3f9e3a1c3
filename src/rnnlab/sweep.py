"""Hyperparameter sweeps: a grid of configurations in, a tidy table out, cached on disk.

    base = RunConfig(cell="rnn", hidden_size=128, epochs=5)
    table = sweep(base, {"hidden_size": [128, 200, 300], "batch_size": [16, 32, 64]},
                  seeds=[0, 1, 2], name="hidden-x-batch")

Every (configuration, seed) is one training run and one row of the table: its settings,
validation and training perplexity (both measured the same way, after the last epoch),
the best validation perplexity of any epoch, tokens seen, wall time, parameter count and
the per-epoch curves. Each finished run is written to `cache_dir/<name>/<key>.json`, where
the key is a hash of everything that affects the run, so re-running a sweep (rebuilding
the page) retrains only what changed, and a sweep that was interrupted resumes where it
stopped.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import os
import time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from . import __version__
from .data import load_time_machine
from .models import RNNModel, num_params
from .progress import progress
from .runtime import get_device, seed_everything
from .train import TrainConfig, perplexity, train

DEFAULT_CACHE = Path(os.environ.get("RNNLAB_CACHE", ".rnnlab_cache"))


@dataclass(frozen=True)
class RunConfig:
    """One point of a sweep: the model, the data layout and the training budget."""

    cell: str = "rnn"                 # "rnn", "gru" or "lstm"
    hidden_size: int = 128
    num_layers: int = 1
    embed_size: int | None = 32       # None = one-hot input
    dropout: float = 0.0              # between stacked layers (needs num_layers >= 2)
    batch_size: int = 32
    num_steps: int = 35
    lr: float = 0.01
    optimizer: str = "adam"
    weight_decay: float = 0.0
    clip: float | None = 1.0
    epochs: int = 5                   # equal epochs = equal tokens seen, for any B and T
    max_seconds: float | None = None  # or: equal wall time
    max_tokens: int | None = None     # use only the first max_tokens characters of the book

    def model(self, vocab_size: int) -> RNNModel:
        return RNNModel(vocab_size, self.hidden_size, self.num_layers, self.cell,
                        self.embed_size, dropout=self.dropout)

    def train_config(self, seed: int) -> TrainConfig:
        return TrainConfig(epochs=self.epochs, lr=self.lr, optimizer=self.optimizer,
                           clip=self.clip, weight_decay=self.weight_decay, seed=seed,
                           max_seconds=self.max_seconds, eval_train=True,
                           show_progress=False)


FIELDS = [f.name for f in dataclasses.fields(RunConfig)]


def expand_grid(base: RunConfig, grid: dict[str, Sequence] | Sequence[dict]) -> list[RunConfig]:
    """All configurations of a grid (dict of lists: the product) or a list of overrides."""
    if isinstance(grid, dict):
        if not grid:
            raise ValueError("the grid is empty: give at least one hyperparameter to vary")
        for key, values in grid.items():
            if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
                raise ValueError(f"grid[{key!r}] must be a list of values, got {values!r}")
        grid = {k: list(v) for k, v in grid.items()}
        for key, values in grid.items():
            if not values:
                raise ValueError(f"grid[{key!r}] is an empty list: give at least one value")
        points = [dict(zip(grid, combo)) for combo in itertools.product(*grid.values())]
    else:
        points = [dict(p) for p in grid]
        if not points:
            raise ValueError("the list of configurations is empty")
    configs = []
    for point in points:
        unknown = sorted(set(point) - set(FIELDS))
        if unknown:
            raise ValueError(f"unknown hyperparameter(s) {unknown}; RunConfig has: {FIELDS}")
        configs.append(dataclasses.replace(base, **point))
    for cfg in configs:       # fail before training anything, with the settings named
        try:
            with warnings.catch_warnings():   # e.g. dropout with one layer: warned at training
                warnings.simplefilter("ignore")
                cfg.model(2)
            cfg.train_config(0)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"bad configuration {_changed(base, cfg)}: {exc}") from exc
    return configs


def _changed(base: RunConfig, cfg: RunConfig) -> dict:
    return {k: v for k, v in dataclasses.asdict(cfg).items()
            if v != getattr(base, k)} or dataclasses.asdict(cfg)


def code_fingerprint() -> str:
    """A hash of the code a run depends on (data, models, training, this runner), so
    editing it invalidates cached results instead of silently reusing them."""
    here = Path(__file__).parent
    digest = hashlib.sha1()
    for name in ("data.py", "models.py", "train.py", "sweep.py", "runtime.py"):
        digest.update((here / name).read_bytes())
    return digest.hexdigest()[:12]


def run_key(cfg: RunConfig, seed: int, device: str, test: bool = False) -> str:
    """A hash of everything that decides a run's result: settings, seed, device, code."""
    payload = json.dumps({"config": dataclasses.asdict(cfg), "seed": seed, "device": device,
                          "test": test,
                          "rnnlab": __version__, "code": code_fingerprint(),
                          "torch": torch.__version__}, sort_keys=True)
    return hashlib.sha1(payload.encode()).hexdigest()[:16]


def run_one(cfg: RunConfig, seed: int, device: torch.device | None = None,
            test: bool = False) -> dict:
    """Train one configuration with one seed; return its row of the results table.

    `train_ppl` is training perplexity measured like validation perplexity (eval mode, one
    stream of the same length, after the last epoch), so `valid_ppl - train_ppl` is the
    generalisation gap. With `test=True` the row also has `test_ppl`, the perplexity of
    the test text: use it once, for the configuration the sweep has chosen.
    """
    device = device or get_device()
    data = load_time_machine(cfg.batch_size, cfg.num_steps, max_tokens=cfg.max_tokens)
    seed_everything(seed)
    model = cfg.model(len(data.vocab))
    start = time.perf_counter()
    hist = train(model, data, cfg.train_config(seed), device)
    wall = time.perf_counter() - start
    extra = {"test_ppl": perplexity(model, data.test_batches(), device)} if test else {}
    return {**dataclasses.asdict(cfg), "seed": seed, "device": device.type,
            "valid_ppl": hist.valid_ppl[-1], "best_valid_ppl": min(hist.valid_ppl),
            "train_ppl": hist.train_eval_ppl[-1], "epochs_run": hist.epochs,
            "tokens_seen": hist.total_tokens, "wall_s": wall,
            "tokens_per_s": hist.total_tokens / sum(hist.seconds),
            "params": num_params(model),
            "valid_curve": hist.valid_ppl, "train_curve": hist.train_eval_ppl,
            "tokens_curve": hist.tokens_seen, **extra}


def _write_atomic(path: Path, row: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(row))
    tmp.replace(path)          # a run is either cached completely or not at all


def sweep(base: RunConfig, grid: dict[str, Sequence] | Sequence[dict],
          seeds: Sequence[int] = (0, 1, 2), name: str = "sweep",
          cache_dir: str | Path | None = None, device: torch.device | None = None,
          show_progress: bool = True, test: bool = False):
    """Run every configuration of `grid` (over `base`) with every seed; cache each run.

    Returns a pandas DataFrame, one row per (configuration, seed), with a `cached` column
    saying whether the row came from disk. Rows are in grid order, seeds innermost.
    `test=True` adds a `test_ppl` column: for the final run of a chosen configuration only.
    """
    import pandas as pd

    seeds = list(seeds)
    if not seeds or any(isinstance(s, bool) or not isinstance(s, int) for s in seeds):
        raise ValueError(f"seeds must be a non-empty list of ints, got {seeds!r}")
    configs = expand_grid(base, grid)
    device = device or get_device()
    folder = Path(cache_dir or DEFAULT_CACHE) / name
    folder.mkdir(parents=True, exist_ok=True)
    jobs = [(cfg, seed) for cfg in configs for seed in seeds]
    rows = []
    bar = progress(jobs, desc=f"sweep {name}", disable=not show_progress)
    for cfg, seed in bar:
        path = folder / f"{run_key(cfg, seed, device.type, test)}.json"
        if path.exists():
            row, cached = json.loads(path.read_text()), True
        else:
            row, cached = run_one(cfg, seed, device, test), False
            _write_atomic(path, row)
        rows.append({**row, "cached": cached})
    return pd.DataFrame(rows)


def summarize(table, by: Sequence[str], metric: str = "valid_ppl"):
    """Mean, standard deviation, min and max of `metric` over seeds, per configuration."""
    missing = [c for c in [*by, metric] if c not in table.columns]
    if missing:
        raise ValueError(f"columns {missing} are not in the table; it has {list(table.columns)}")
    out = table.groupby(list(by), dropna=False)[metric].agg(["mean", "std", "min", "max",
                                                             "count"])
    return out.rename(columns={"count": "seeds"}).reset_index()
