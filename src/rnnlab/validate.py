"""The one argument check every module shares: sizes and counts are positive integers."""

from __future__ import annotations


def check_positive_int(name: str, value) -> None:
    """Raise a ValueError naming `name` unless `value` is an int >= 1 (bools refused)."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
