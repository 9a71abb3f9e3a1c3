"""Test-wide guards: no test may open a network connection (the course runs offline)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "offline"))
from rnnlab_offline import NetworkBlocked, block, unblock  # noqa: E402

__all__ = ["NetworkBlocked"]

# Made-up student submissions, wrong on purpose: graded by tests/test_grading.py, never
# run as notebooks (`make test` runs nbmake over every notebook it collects).
collect_ignore_glob = ["submissions/*"]


@pytest.fixture(autouse=True, scope="session")
def block_network():
    """Every test runs with outbound connections refused (loopback stays allowed)."""
    block()
    yield
    unblock()
