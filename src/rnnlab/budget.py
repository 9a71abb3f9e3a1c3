"""How much a chapter trains: a profile of a few true sizes, plus one recipe per chapter
that trains more than one model.

Every chapter starts with `page = start_page("chN")` (see `pages.py`), which picks the
profile once, and reads its sizes from `page.budget`: the shared sizes (`epochs`,
`hidden_size`, `batch_size`, `num_steps`, `num_seeds`) and its own recipe (`budget.ch2`,
`budget.ch5`, `budget.ch7`), never a number typed into a cell. One switch decides whether
the whole book runs in minutes on a laptop CPU (*quick*) or reproduces the real results
(*full*, the default on a GPU); set `RNNLAB_BUDGET` to `quick` or `full` to choose, e.g.
`RNNLAB_BUDGET=full make book`.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass

import torch

from .config import RunConfig
from .sweep import expand_grid

BUDGET_ENV = "RNNLAB_BUDGET"


@dataclass(frozen=True)
class Sweep:
    """One sweep: the configuration it varies, the grid of values (their product is
    taken) and the name its runs are cached under: `sweep(s.base, s.grid, seeds,
    name=s.name)`."""

    name: str
    base: RunConfig
    grid: Mapping[str, tuple]

    def configs(self) -> list[RunConfig]:
        """Every configuration of the grid (one run per seed each)."""
        return expand_grid(self.base, {k: list(v) for k, v in self.grid.items()})


@dataclass(frozen=True)
class Ch2:
    """Chapter 2: one-hot input against embeddings of these sizes, on the first
    `max_tokens` characters of the book (None: all of it); `inputs` is that comparison as a
    sweep (the same RNN, only its input layer varies)."""

    embed_sizes: tuple[int, ...]
    max_tokens: int | None
    inputs: Sweep


@dataclass(frozen=True)
class Ch5:
    """Chapter 5's sweeps, by name (chapter 4 counts the models they train)."""

    grids: Mapping[str, Sweep]

    @property
    def base(self) -> RunConfig:
        """The RNN every sweep of the first half varies."""
        return self.grids["hidden-batch"].base


@dataclass(frozen=True)
class Ch7:
    """Chapter 7: RNN, GRU and LSTM trained alike (the cell is replaced), at equal tokens
    seen and at equal training time."""

    equal_tokens: RunConfig
    equal_time: RunConfig

    @property
    def sweeps(self) -> dict[str, Sweep]:
        cells = {"cell": ("rnn", "gru", "lstm")}
        return {"tokens": Sweep("ch7-cells-tokens", self.equal_tokens, cells),
                "time": Sweep("ch7-cells-time", self.equal_time, cells)}


@dataclass(frozen=True)
class Budget:
    """A profile: the sizes every chapter shares, and each chapter's recipe."""

    name: str
    epochs: int              # passes over the training text for a chapter's main model
    hidden_size: int         # hidden units of the chapter's main character model
    batch_size: int          # B
    num_steps: int           # T
    num_seeds: int           # repeats of each configuration in experiments and sweeps
    ch2: Ch2
    ch5: Ch5
    ch7: Ch7

    def __str__(self) -> str:
        return (f"{self.name}: {self.epochs} epochs, H={self.hidden_size}, B={self.batch_size}, "
                f"T={self.num_steps}, seeds={self.num_seeds}")

    def page_runs(self, prefix: str) -> list[tuple[RunConfig, int]]:
        """The training runs page `prefix` plans, as `(RunConfig, how many)`: what
        `estimate.page_seconds` adds up to say, near the page's top, how long it will
        train. Small fits, timings and demonstrations of a few steps are left out; a page
        that trains nothing long plans nothing."""
        seeds = self.num_seeds
        one = RunConfig(hidden_size=self.hidden_size, batch_size=self.batch_size,
                        num_steps=self.num_steps, epochs=self.epochs)
        sgd = dataclasses.replace(one, optimizer="sgd", lr=1.0, embed_size=None)
        if prefix == "ch1":      # the memory model, then clipping: with and without, per seed
            return [(dataclasses.replace(sgd, impl="scratch"), 1 + 2 * seeds)]
        if prefix == "ch2":      # nn.Embedding(V, V) and the frozen identity, then the sweep
            return [(dataclasses.replace(one, embed_size=28, epochs=1), 2),
                    *[(cfg, seeds) for cfg in self.ch2.inputs.configs()]]
        if prefix == "ch3":      # The Time Machine by hand, then ours and d2l's
            return [(dataclasses.replace(one, impl="scratch", embed_size=None), 1),
                    (sgd, 2)]
        if prefix == "ch5":      # the sweeps, then the final choice retrained for the test
            return [*[(cfg, seeds) for s in self.ch5.grids.values() for cfg in s.configs()],
                    (self.ch5.grids["dropout"].base, seeds)]
        if prefix == "ch7":      # three cells for gradient flow, the sweeps, your own text
            cells = self.ch7.sweeps["tokens"].configs()
            return [*[(cfg, 1) for cfg in cells],
                    *[(cfg, seeds) for s in self.ch7.sweeps.values() for cfg in s.configs()],
                    (dataclasses.replace(self.ch7.equal_tokens, cell="lstm"), 1)]
        return []

    @property
    def sweeps(self) -> dict[str, Sweep]:
        """Every sweep a page draws a conclusion from, by name: what `make reference` runs
        at the full profile and commits (`benchmarks/reference.py`)."""
        found = [*self.ch7.sweeps.values(), *self.ch5.grids.values(), self.ch2.inputs]
        return {s.name: s for s in found}


def _ch5(epochs: int, max_tokens: int | None, seconds: float, overfit_epochs: int,
         overfit_hidden: tuple[int, ...], overfit_layers: tuple[int, ...],
         dropout_hidden: int, dropouts: tuple[float, ...]) -> Ch5:
    base = RunConfig(cell="rnn", hidden_size=128, embed_size=32, batch_size=32, num_steps=35,
                     lr=0.01, optimizer="adam", clip=1.0, epochs=epochs, max_tokens=max_tokens)
    overfit = dataclasses.replace(base, cell="lstm", epochs=overfit_epochs)
    sweeps = [
        Sweep("hidden-batch", base, {"hidden_size": (128, 200, 300), "batch_size": (16, 32, 64)}),
        # equal wall time: epochs is only an upper bound, max_seconds stops each run
        Sweep("batch-time", dataclasses.replace(base, epochs=1000, max_seconds=seconds),
              {"batch_size": (16, 32, 64)}),
        Sweep("lr", base, {"lr": (0.001, 0.003, 0.01, 0.03)}),
        Sweep("steps", base, {"num_steps": (8, 16, 35, 64)}),
        Sweep("overfit", overfit, {"hidden_size": overfit_hidden, "num_layers": overfit_layers}),
        Sweep("dropout", dataclasses.replace(overfit, hidden_size=dropout_hidden, num_layers=2),
              {"dropout": dropouts}),
    ]
    return Ch5({s.name: s for s in sweeps})


def _ch2(embed_sizes: tuple[int, ...], max_tokens: int | None, hidden: int,
         epochs: int) -> Ch2:
    base = RunConfig(hidden_size=hidden, embed_size=None, batch_size=32, num_steps=35,
                     lr=0.01, optimizer="adam", clip=1.0, epochs=epochs, max_tokens=max_tokens)
    return Ch2(embed_sizes, max_tokens,
               Sweep("ch2-inputs", base, {"embed_size": (None, *embed_sizes)}))


def _ch7(hidden: int, layers: int, dropout: float, epochs: int, max_tokens: int | None,
         seconds: float, lr: float, lr_decay: float | None) -> Ch7:
    tokens = RunConfig(hidden_size=hidden, num_layers=layers, embed_size=32, dropout=dropout,
                       io_dropout=dropout, batch_size=32, num_steps=35, lr=lr, lr_decay=lr_decay,
                       optimizer="adam", clip=1.0, epochs=epochs, max_tokens=max_tokens)
    # equal time: epochs is only an upper bound, max_seconds stops each run
    return Ch7(tokens, dataclasses.replace(tokens, epochs=10_000, max_seconds=seconds))


PROFILES = {
    "quick": Budget("quick", epochs=5, hidden_size=64, batch_size=32, num_steps=35, num_seeds=3,
                    ch2=_ch2(embed_sizes=(8, 32), max_tokens=50_000, hidden=64, epochs=5),
                    ch5=_ch5(epochs=3, max_tokens=50_000, seconds=2.0, overfit_epochs=12,
                             overfit_hidden=(64, 256), overfit_layers=(1, 2),
                             dropout_hidden=128, dropouts=(0.0, 0.2)),
                    ch7=_ch7(hidden=128, layers=1, dropout=0.0, epochs=3, max_tokens=50_000,
                             seconds=3.0, lr=0.01, lr_decay=None)),
    "full": Budget("full", epochs=40, hidden_size=256, batch_size=32, num_steps=35, num_seeds=3,
                   ch2=_ch2(embed_sizes=(8, 32, 128), max_tokens=None, hidden=256, epochs=40),
                   # Sized so that `make reference` runs every sweep in about two hours of
                   # one CPU core (benchmarks/reference.py); a GPU runs them in minutes.
                   ch5=_ch5(epochs=10, max_tokens=None, seconds=30.0, overfit_epochs=20,
                            overfit_hidden=(128, 256), overfit_layers=(1, 2),
                            dropout_hidden=256, dropouts=(0.0, 0.2, 0.4)),
                   ch7=_ch7(hidden=256, layers=1, dropout=0.0, epochs=20, max_tokens=None,
                            seconds=60.0, lr=0.01, lr_decay=None)),
}


def get_budget(name: str | None = None) -> Budget:
    """The budget profile: `name`, else `$RNNLAB_BUDGET`, else *full* on CUDA, *quick* on CPU."""
    name = name or os.environ.get(BUDGET_ENV) or ("full" if torch.cuda.is_available() else "quick")
    name = name.strip().lower()
    if name not in PROFILES:
        raise ValueError(f"unknown budget {name!r} (from the argument or ${BUDGET_ENV}): "
                         f"choose one of {sorted(PROFILES)}")
    return PROFILES[name]
