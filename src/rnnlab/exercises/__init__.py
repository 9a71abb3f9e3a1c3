"""The exercises: one module per chapter (`chN`), each holding its checks (`chN.check_*`)
and, at its end, one declaration per exercise (`Exercise`): its number, the name the
student defines, its check, what it forbids, the slips it names and the routes it refuses.

Everything else is derived from the declarations: the number in every verdict (`title`),
the table the tests check the notebooks' headings against (`declared`), the wrong answers
the tests feed each check (a `Slip` is the notebook's own solution cell with one thing
changed, or a value written out), and the refused routes (`routes`: right answers through
a door the exercise closes, which pass when nothing is watched).

Adding an exercise is the notebook's cells (tagged `exercise`, `solution`, `check`, with
`rnnlab.exercise` and `rnnlab.check` in their metadata) and its chapter's module: the check
and the declaration (see CONTRIBUTING.md).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from ..guard import freeze_loaded as _freeze_loaded

_WRITTEN = object()      # a slip given as edits of the solution, not as a value


@dataclass(frozen=True)
class Slip:
    """A typical wrong answer (or a refused route) and a phrase its verdict must hold.

    The answer is the exercise's solution cell with `edits` made (each `(old, new)` replaces
    every occurrence of `old`, which must occur), or `answer` itself where the slip is not an
    edit away (a value, or a wrong type).
    """

    says: str
    edits: tuple[tuple[str, str], ...] = ()
    answer: Any = _WRITTEN

    @property
    def is_edit(self) -> bool:
        return self.answer is _WRITTEN


def edit(old: str | dict[str, str], new: str | None = None, *, says: str) -> Slip:
    """The solution with `old` written `new` (or every `{old: new}` of a dict): its verdict
    holds `says`."""
    pairs = tuple(old.items()) if isinstance(old, dict) else ((old, new),)
    if any(not isinstance(o, str) or not isinstance(n, str) or not o for o, n in pairs):
        raise TypeError("edit takes old and new source text: edit('h @ W_hh', 'h @ W_hh.T', "
                        "says=...) or edit({old: new, ...}, says=...)")
    return Slip(says, pairs)


def given(answer: Any, *, says: str) -> Slip:
    """`answer` itself (a value, a function, a class): its verdict holds `says`."""
    return Slip(says, (), answer)


@dataclass(frozen=True)
class Exercise:
    """One exercise: everything about it that is not in its notebook.

    `number` ("1.1") is written only here; `name` is what the student defines (the cells'
    `rnnlab.exercise`); `check` the check function; `forbids` what `call` refuses while the
    student's code runs (`rnnlab.audit.forbid`; None where nothing is); `slips` typical wrong
    answers, each with a phrase its message must hold (at least three); `routes` right
    answers through a door the exercise closes, each refused with a phrase (at least one
    where something is forbidden); `answered_by` the package's own objects that compute the
    answer (dotted names): no listing on the page may show them above the exercise's check
    (the check refuses them whatever it declares: all of rnnlab is refused inside a check).
    """

    number: str
    name: str
    check_function: Any
    forbids: Any = None
    slips: tuple[Slip, ...] = ()
    routes: tuple[Slip, ...] = ()
    answered_by: tuple[str, ...] = ()

    @property
    def title(self) -> str:
        return f"Exercise {self.number}"

    @property
    def check(self):
        """The check as the notebook calls it (`chN.check_x`, sealed when the module froze)."""
        module = sys.modules[self.check_function.__module__]
        return getattr(module, self.check_function.__name__)

    @property
    def key(self) -> tuple[int, ...]:
        return tuple(int(part) for part in self.number.split("."))


_DECLARED: dict[str, Exercise] = {}


def declare(*exercises: Exercise) -> tuple[Exercise, ...]:
    """Register a chapter's exercises (its module's last lines, before it freezes)."""
    for ex in exercises:
        if not isinstance(ex, Exercise):
            raise TypeError(f"declare takes Exercise(...) values, got {type(ex).__name__}")
        clash = [d.name for d in _DECLARED.values()
                 if d.name != ex.name and d.number == ex.number]
        if clash:
            raise ValueError(f"Exercise {ex.number} is declared twice: {clash[0]} and "
                             f"{ex.name}")
        _DECLARED[ex.name] = ex
    return exercises


def declared() -> MappingProxyType:
    """{name: Exercise} for every chapter's exercises, in course order (imports them all)."""
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("ch"):
            importlib.import_module(f"{__name__}.{info.name}")
    ordered = sorted(_DECLARED.values(), key=lambda ex: ex.key)
    return MappingProxyType({ex.name: ex for ex in ordered})


def title(name: str, label: str | None = None) -> str:
    """A verdict's title: "Exercise N.k (label)", the label defaulting to `name`."""
    return f"{_DECLARED[name].title} ({label or name})"


_freeze_loaded(__name__)   # the checker's names cannot be changed from here on
