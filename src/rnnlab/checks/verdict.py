"""A check's outcome: `Verdict`, `run_check` (which never raises) and `fail`."""

from __future__ import annotations

import html
import textwrap
from collections.abc import Callable
from dataclasses import dataclass

from ..guard import UNGUARDED


class CheckFailed(Exception):
    """Raised inside a check to stop with a message for the student."""


def fail(message: str):
    raise CheckFailed(message)


def sentence(text: str) -> str:
    """`text` ending with a full stop, so that another sentence can follow it."""
    text = str(text).rstrip()
    return text if text.endswith((".", "!", "?")) else text + "."


class _Sealed(type):
    """A class whose attributes cannot be set after it is made (a verdict's text cannot be
    patched to say "passed")."""

    def __setattr__(cls, name, value):
        if "_sealed" not in vars(cls):      # still being made (by @dataclass)
            return super().__setattr__(name, value)
        raise AttributeError(f"{cls.__qualname__}.{name} belongs to the checker and cannot "
                             "be changed")

    def __delattr__(cls, name):
        raise AttributeError(f"{cls.__qualname__}.{name} belongs to the checker and cannot "
                             "be deleted")


@dataclass(frozen=True)
class Verdict(metaclass=_Sealed):
    """The outcome of a check: `passed`, and a message saying why (or what to fix)."""

    exercise: str
    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        mark = "✔ passed" if self.passed else "✘ not yet"
        return textwrap.fill(f"{mark} | {self.exercise}: {self.message}", width=88,
                             subsequent_indent="    ", break_on_hyphens=False)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        # A coloured box in Jupyter, Colab and on the website; text elsewhere (__str__).
        colour, mark = ("#1a7f37", "✔ passed") if self.passed else ("#b35900", "✘ not yet")
        return (f'<div style="border-left: 4px solid {colour}; padding: 0.4em 0.8em; '
                f'margin: 0.2em 0; font-family: sans-serif">'
                f'<strong style="color: {colour}">{mark}</strong> · '
                f"<strong>{html.escape(self.exercise)}</strong><br>"
                f'<span style="white-space: pre-wrap">{html.escape(self.message)}</span></div>')


type.__setattr__(Verdict, "_sealed", True)


def run_check(exercise: str, body: Callable[[], str | None]) -> Verdict:
    """Run `body`; turn its result or failure into a `Verdict`. Never raises."""
    try:
        note = body()
        if UNGUARDED:
            note = (f"{sentence(note or 'all cases match')} (The guard is off: "
                    "RNNLAB_UNGUARDED_CHECKS=1.)")
        return Verdict(exercise, True, note or "all cases match.")
    except CheckFailed as exc:
        return Verdict(exercise, False, str(exc))
    except Exception as exc:  # a bug in the checker itself: still no traceback for students
        return Verdict(exercise, False, f"the checker could not judge this answer "
                                        f"({type(exc).__name__}: {exc}). Check the type and "
                                        "shape of what your code returns.")
