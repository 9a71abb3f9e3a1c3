"""Argument checks every module shares. They *raise* (a `ValueError` naming the argument);
their names start with `require_`, unlike the exercise checks (`chN.check_*`), which never
raise and print a verdict instead."""

from __future__ import annotations


def require_int(name: str, value, minimum: int | None = 1) -> None:
    """Raise a ValueError naming `name` unless `value` is an int (bools refused) that is at
    least `minimum` (None: any int)."""
    if isinstance(value, bool) or not isinstance(value, int) or (
            minimum is not None and value < minimum):
        kind = {1: "a positive integer", 0: "a non-negative integer", None: "an int"}.get(
            minimum, f"an integer >= {minimum}")
        raise ValueError(f"{name} must be {kind}, got {value!r}")


def require_positive_int(name: str, value) -> None:
    """Raise a ValueError naming `name` unless `value` is an int >= 1 (bools refused)."""
    require_int(name, value, 1)
