"""Where a chapter runs, and how to make a run repeatable: the device helpers and the seed.

Pages call `pages.start_page`, which picks the device with `get_device` and says it with
`describe_device`; the budget (how much a page trains) is `budget.py`'s.
"""

from __future__ import annotations

import platform
import random

import torch

from .validate import require_int


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


def seed_everything(seed: int) -> None:
    """Seed Python's, and torch's (CPU and CUDA) random generators."""
    require_int("seed", seed, minimum=None)
    random.seed(seed)
    torch.manual_seed(seed)
