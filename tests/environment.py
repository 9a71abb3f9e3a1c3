"""What a test needs beyond the package, and what happens when it is missing.

Plain `pytest` in the venv skips a test whose tool is missing, saying which and why;
`make test` sets RNNLAB_REQUIRE_ALL=1, so there a missing tool fails the run instead of
quietly skipping what CI is meant to prove. (Chromium is the exception: `make` does not
install it, so the browser test skips wherever it is missing.)
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from pathlib import Path

import pytest

REQUIRE_ALL = os.environ.get("RNNLAB_REQUIRE_ALL") == "1"
HAVE_D2L = importlib.util.find_spec("d2l") is not None
D2L_MISSING = ("d2l is not installed (`make test` installs d2l==0.17.6 --no-deps; by hand: "
               "pip install --no-deps d2l==0.17.6)")


def needs(available: bool, reason: str, module: bool = False) -> None:
    """Skip (plain pytest) or fail (`make test`) unless `available`."""
    if available:
        return
    if REQUIRE_ALL:
        pytest.fail(f"{reason}; `make test` needs it (RNNLAB_REQUIRE_ALL=1)", pytrace=False)
    pytest.skip(reason, allow_module_level=module)


@contextlib.contextmanager
def colab_venv_lock(root: Path):
    """Hold .venv-colab/ alone: tests that install into it (the simulated Colab pages, the
    fresh install of the command line) take turns, whichever pytest worker runs them."""
    import fcntl

    with open(root / ".venv-colab" / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
