"""Watch what a student's function computes, at PyTorch's operator level.

An exercise that asks a student to write what a library already provides cannot win by
blocking names: the same computation has many doors (`nn.RNNCell`, `torch.rnn_tanh_cell`,
`torch._VF.rnn_tanh_cell`, `torch.ops.aten.rnn_tanh_cell`, ...). So while the student's
function runs, `watching` records what actually happens:

- every torch function it calls, whatever the entry point (a `TorchFunctionMode` sees
  `torch.*`, `torch._C._nn.*`, `torch._VF.*`, `torch.ops.aten.*` and Tensor methods alike);
- whether the autograd engine runs (a `TorchDispatchMode` sees the operators a backward
  pass executes), a graph is recorded (`requires_grad`) or forward-mode AD is used;
- which library code runs (a profile hook sees every Python call), so that rnnlab's and
  d2l's own answers, `torch.distributions` or `torch.autograd.gradcheck` are refused too.

An exercise declares what it forbids with `forbid(...)`; a forbidden operation raises
`Refused` where it happens (so it cannot run on) and is recorded as a `Route`, which the
check turns into a verdict naming what it saw, even if the student's code caught the error.
"""

from __future__ import annotations

import fnmatch
import linecache
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

_PACKAGE_DIR = str(Path(__file__).parent)
_TORCH_DIR = str(Path(torch.__file__).parent)

# Library code that holds answers to the course's exercises. The exercise mechanism itself
# runs around the student's function and is not refused.
_ANSWERS = ("rnnlab", "d2l")
_MECHANISM = ("rnnlab.checks", "rnnlab.exercises", "rnnlab.audit")
# Autograd's own entry points (Python code): refused where gradients are derived by hand.
_AUTOGRAD_CODE = ("torch.autograd.grad", "torch.autograd.backward", "torch.autograd.functional",
                 "torch.autograd.forward_ad", "torch.autograd.gradcheck",
                 "torch._tensor.Tensor.backward", "torch.func", "torch._functorch")
# PyTorch's recurrent cells and layers, whatever the entry point (nn.RNN, torch._VF, aten).
RECURRENT_OPS = ("rnn_tanh*", "rnn_relu*", "gru*", "lstm*", "_thnn_fused_*")
# Operators that start forward-mode AD or a graph.
_AUTOGRAD_OPS = ("_make_dual", "requires_grad_", "retain_grad")


class Refused(RuntimeError):
    """Raised inside the student's code when it reaches something the exercise forbids."""


@dataclass(frozen=True)
class Forbidden:
    """What an exercise forbids while the student's function runs (see `forbid`)."""

    reason: str
    ops: tuple[str, ...] = ()
    code: tuple[str, ...] = ()
    autograd: bool = False
    any_op: bool = False

    def refuses_code(self, qualified: str) -> bool:
        if _within(qualified, _MECHANISM):
            return False
        return _within(qualified, _ANSWERS + self.code +
                       (_AUTOGRAD_CODE if self.autograd else ()))


def forbid(reason: str, *, ops: tuple[str, ...] = (), code: tuple[str, ...] = (),
           autograd: bool = False, any_op: bool = False) -> Forbidden:
    """Declare what an exercise forbids.

    `reason` completes a sentence: "Exercise 1.1 asks you to compute the step yourself".
    `ops`: torch operator names, with shell wildcards ("rnn_tanh_cell", "nll_loss*"),
    matched whatever the entry point. `code`: dotted prefixes of library code that must not
    run ("torch.distributions", "rnnlab.bptt.rnn_layer_forward"); rnnlab's and d2l's code
    is always refused. `autograd`: refuse the autograd engine, graphs and forward-mode AD.
    `any_op`: refuse every torch operation (an answer computed from sizes alone).
    """
    return Forbidden(reason, tuple(ops), tuple(code), autograd, any_op)


class Route(NamedTuple):
    """One forbidden thing the student's code reached: what, through which library
    function (or None), and the student's line that led there (0 and "" if unknown)."""

    what: str
    via: str | None
    line: int
    text: str

    def describe(self, name: str) -> str:
        via = f" (called by {self.via})" if self.via else ""
        where = f" at line {self.line}: `{self.text}`" if self.line and self.text else \
            (f" at line {self.line}" if self.line else "")
        return f"{self.what}{via} ran inside your `{name}`{where}"


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def is_library(filename: str) -> bool:
    return (filename.startswith((_PACKAGE_DIR, _TORCH_DIR)) or "site-packages" in filename
            or "dist-packages" in filename or filename.startswith("<frozen"))


def _qualified(frame) -> str:
    code = frame.f_code
    return f"{frame.f_globals.get('__name__', '?')}.{getattr(code, 'co_qualname', code.co_name)}"


def _locate(frame) -> tuple[str | None, int, str]:
    """(the library function nearest the event, the student's line, its text)."""
    via = None
    while frame is not None:
        name = frame.f_globals.get("__name__", "")
        if _within(name, ("rnnlab.audit", "torch.overrides", "torch.utils._python_dispatch")):
            frame = frame.f_back
            continue
        if _within(name, _MECHANISM):     # the check calling the student's function
            return via, 0, ""
        filename = frame.f_code.co_filename
        if not is_library(filename):
            text = (linecache.getline(filename, frame.f_lineno) or "").strip()
            return via, frame.f_lineno, text
        if via is None:
            via = _qualified(frame)
        frame = frame.f_back
    return via, 0, ""


def _importing(frame) -> bool:
    """True while an import runs this frame (a module's class bodies, say): not an answer."""
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


def _op_name(func) -> str:
    schema = getattr(func, "_schema", None)          # torch.ops.aten.x.default
    if schema is not None:
        return schema.name.split("::")[-1]
    qualified = getattr(func, "_qualified_op_name", None)   # torch.ops.aten.x
    if qualified:
        return qualified.split("::")[-1]
    name = getattr(func, "__name__", None)
    if name == "__set__" and hasattr(func, "__self__"):    # a property set: x.requires_grad = ...
        return getattr(func.__self__, "__name__", "__set__")
    return name or type(func).__name__


def _requires_grad(value) -> bool:
    if isinstance(value, torch.Tensor):
        return value.requires_grad
    if isinstance(value, (tuple, list)):
        return any(_requires_grad(v) for v in value)
    return False


class _Watch:
    def __init__(self, forbidden: Forbidden, routes: list[Route]):
        self.forbidden, self.routes = forbidden, routes

    def refuse(self, what: str, frame=None):
        via, line, text = _locate(frame or sys._getframe(1))
        route = Route(what, via, line, text)
        self.routes.append(route)
        raise Refused(f"{route.describe('function')}: {self.forbidden.reason}.")


class _Functions(TorchFunctionMode):
    def __init__(self, watch: _Watch):
        super().__init__()
        self.watch = watch

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = _op_name(func)
        forbidden = self.watch.forbidden
        if any(fnmatch.fnmatchcase(name, p) for p in forbidden.ops):
            self.watch.refuse(f"PyTorch's `{name}`")
        if forbidden.any_op:
            self.watch.refuse(f"a torch operation (`{name}`)")
        if forbidden.autograd and name in _AUTOGRAD_OPS:
            self.watch.refuse(f"autograd (`{name}`)")
        out = func(*args, **(kwargs or {}))
        if forbidden.autograd and _requires_grad(out):
            self.watch.refuse(f"autograd (a tensor with requires_grad=True, from `{name}`)")
        return out


class _Engine(TorchDispatchMode):
    """Sees the operators a backward pass runs (on the CPU, in the calling thread)."""

    def __init__(self, watch: _Watch):
        super().__init__()
        self.watch = watch

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if torch._C._current_graph_task_id() != -1:
            self.watch.refuse("the autograd engine (a backward pass)")
        return func(*args, **(kwargs or {}))


@contextmanager
def watching(forbidden: Forbidden | None, routes: list[Route]) -> Iterator[None]:
    """Run the body with `forbidden` enforced; every refusal is appended to `routes`."""
    if forbidden is None:
        yield
        return
    watch = _Watch(forbidden, routes)

    decided: dict = {}     # code object -> refused? (a profile hook sees every call)

    def profile(frame, event, arg):
        if event == "call":
            refused = decided.get(frame.f_code)
            if refused is None:       # a module's own code runs on import: not an answer
                refused = decided[frame.f_code] = frame.f_code.co_name != "<module>" and \
                    forbidden.refuses_code(_qualified(frame))
            if not refused or _importing(frame):
                return
            qualified = _qualified(frame)
            if not any(
                    r.what.startswith(f"`{qualified}`") for r in routes):
                via, line, text = _locate(frame.f_back)
                routes.append(Route(f"`{qualified}`", None, line, text))

    previous = sys.getprofile()
    modes = [_Functions(watch)] + ([_Engine(watch)] if forbidden.autograd else [])
    try:
        for mode in modes:
            mode.__enter__()
        sys.setprofile(profile)
        yield
    finally:
        sys.setprofile(previous)
        for mode in reversed(modes):
            mode.__exit__(None, None, None)
