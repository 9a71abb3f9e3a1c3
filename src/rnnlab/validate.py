"""Argument checks every module shares. They *raise* (a `ValueError` naming the argument);
their names start with `require_`, unlike the exercise checks (`chN.check_*`), which never
raise and print a verdict instead."""

from __future__ import annotations


def require_int(name: str, value, minimum: int = 1) -> None:
    """Raise a ValueError naming `name` unless `value` is an int >= `minimum` (bools refused)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        kind = {1: "a positive integer", 0: "a non-negative integer"}.get(
            minimum, f"an integer >= {minimum}")
        raise ValueError(f"{name} must be {kind}, got {value!r}")


def require_positive_int(name: str, value) -> None:
    """Raise a ValueError naming `name` unless `value` is an int >= 1 (bools refused)."""
    require_int(name, value, 1)
