"""Where a chapter runs and how much it trains: the device helper and the budget switch.

Every chapter starts with

    device = rnnlab.get_device()
    budget = rnnlab.get_budget()

and reads its sizes (epochs, hidden sizes, seeds, sweep grids) from `budget`, so one switch
decides whether the whole book runs in minutes on a laptop CPU (*quick*) or reproduces the
real results (*full*, the default on a GPU). Set the environment variable `RNNLAB_BUDGET`
to `quick` or `full` to override the default, e.g. `RNNLAB_BUDGET=full make book`.
"""

from __future__ import annotations

import os
import platform
import random
from dataclasses import dataclass

import torch

from .validate import require_int

BUDGET_ENV = "RNNLAB_BUDGET"


def get_device() -> torch.device:
    """CUDA when a GPU is present, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def describe_device(device: torch.device | None = None) -> str:
    """A one-line description of where this run happens, for the top of each chapter."""
    device = device or get_device()
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        name = f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    return f"{device.type} ({name}), torch {torch.__version__}"


@dataclass(frozen=True)
class Budget:
    """How much training a chapter does. Read sizes from here, never hard-code them."""

    name: str
    epochs: int              # passes over the training text for a chapter's main model
    hidden_size: int         # hidden units of the chapter's main character model
    batch_size: int          # B
    num_steps: int           # T
    max_tokens: int | None   # cap on corpus length (None = the whole book)
    num_seeds: int           # repeats of each configuration in experiments and sweeps
    embed_sizes: tuple[int, ...] = (8, 32)   # chapter 2: embedding sizes to compare
    # chapter 5: sweeps
    sweep_epochs: int = 3                    # epochs per run (= equal tokens seen)
    sweep_max_tokens: int | None = 50_000    # characters of the book a sweep trains on
    sweep_seconds: float = 2.0               # budget per run in the equal-wall-time sweep
    overfit_epochs: int = 6                  # longer runs, to see the train/valid gap open
    overfit_hidden: tuple[int, ...] = (64, 256)
    overfit_layers: tuple[int, ...] = (1, 2)
    dropouts: tuple[float, ...] = (0.0, 0.3)  # regularisation grid for the largest model
    dropout_hidden: int = 128                # hidden size of that model (2-layer LSTM)
    # chapter 7: RNN vs GRU vs LSTM at equal budgets
    gated_hidden: int = 128
    gated_layers: int = 1
    gated_dropout: float = 0.0               # between stacked layers
    gated_io_dropout: float = 0.0            # on the input vectors and the last outputs
    gated_epochs: int = 3                    # equal tokens: passes over gated_max_tokens
    gated_max_tokens: int | None = 50_000
    gated_seconds: float = 3.0               # equal wall time, training steps only
    gated_lr: float = 0.01                   # Adam's learning rate for those runs
    gated_lr_decay: float | None = None      # times lr after an epoch with no new best

    def __str__(self) -> str:
        tokens = "all" if self.max_tokens is None else f"{self.max_tokens:,}"
        return (f"{self.name}: {self.epochs} epochs, H={self.hidden_size}, B={self.batch_size}, "
                f"T={self.num_steps}, tokens={tokens}, seeds={self.num_seeds}")


PROFILES = {
    "quick": Budget("quick", epochs=5, hidden_size=64, batch_size=32, num_steps=35,
                    max_tokens=None, num_seeds=3, embed_sizes=(8, 32)),
    "full": Budget("full", epochs=40, hidden_size=256, batch_size=32, num_steps=35,
                   max_tokens=None, num_seeds=3, embed_sizes=(8, 32, 128),
                   sweep_epochs=10, sweep_max_tokens=None, sweep_seconds=30.0,
                   overfit_epochs=30, overfit_hidden=(128, 512), overfit_layers=(1, 2, 3),
                   dropouts=(0.0, 0.2, 0.4), dropout_hidden=512,
                   gated_hidden=512, gated_layers=2, gated_dropout=0.5, gated_io_dropout=0.5,
                   gated_epochs=40, gated_max_tokens=None, gated_seconds=120.0, gated_lr=2e-3,
                   gated_lr_decay=0.5),
}


def get_budget(name: str | None = None) -> Budget:
    """The budget profile: `name`, else `$RNNLAB_BUDGET`, else *full* on CUDA, *quick* on CPU."""
    name = name or os.environ.get(BUDGET_ENV) or ("full" if torch.cuda.is_available() else "quick")
    name = name.strip().lower()
    if name not in PROFILES:
        raise ValueError(f"unknown budget {name!r} (from the argument or ${BUDGET_ENV}): "
                         f"choose one of {sorted(PROFILES)}")
    return PROFILES[name]


def seed_everything(seed: int) -> None:
    """Seed Python's, and torch's (CPU and CUDA) random generators."""
    require_int("seed", seed, minimum=None)
    random.seed(seed)
    torch.manual_seed(seed)
