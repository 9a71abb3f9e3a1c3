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

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

from .guard import Route, internal, is_library, student_frame

__all__ = ["Forbidden", "Refused", "Route", "forbid", "is_library", "watching"]

# Library code that holds answers to the course's exercises. The exercise mechanism itself
# runs around the student's function and is not refused.
_ANSWERS = ("rnnlab", "d2l")
_MECHANISM = ("rnnlab.checks", "rnnlab.exercises", "rnnlab.audit", "rnnlab.guard")
# Autograd's own entry points (Python code): refused where gradients are derived by hand.
_AUTOGRAD_CODE = ("torch.autograd.grad", "torch.autograd.backward", "torch.autograd.functional",
                 "torch.autograd.forward_ad", "torch.autograd.gradcheck",
                 "torch._tensor.Tensor.backward", "torch.func", "torch._functorch")
# PyTorch's recurrent cells and layers, whatever the entry point (nn.RNN, torch._VF, aten).
RECURRENT_OPS = ("rnn_tanh*", "rnn_relu*", "gru*", "lstm*", "_thnn_fused_*")
# Operators that start forward-mode AD or a graph.
_AUTOGRAD_OPS = ("_make_dual", "requires_grad_", "retain_grad")
# Library code that runs what the watch cannot see (TorchScript, compiled C++, a compiler),
# refused in every exercise when the student's code calls it.
_UNSEEN_CODE = ("torch.jit", "torch.utils.cpp_extension", "torch._dynamo", "torch.compile",
                "torch._inductor", "torch._ops._Ops.load_library", "torch.cuda.jiterator")
# Builtins that start threads, change signals or switch the watch off: refused from any
# code while the student's function runs (the checker's own calls happen outside it).
_THREAD_STARTS = frozenset({"start_new_thread", "start_new", "start_joinable_thread"})
_MODE_SWITCHES = frozenset({
    "_pop_torch_function_stack", "_push_on_torch_function_stack", "_set_torch_function_state",
    "_set_torch_function_mode", "_pop_torch_dispatch_stack", "_push_on_torch_dispatch_stack",
    "_set_dispatch_mode", "_unset_dispatch_mode", "_set_skip_next_torch_function",
    "_skip_one_hop_torch_function", "DisableTorchFunction", "DisableTorchFunctionSubclass"})
_ESCAPE_REASON = ("a check refuses code that switches off or gets around it: an exercise "
                  "needs only the operations it teaches")
_len_function_stack = torch._C._len_torch_function_stack
_function_modes_on = torch._C._is_torch_function_mode_enabled


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
        if _within(qualified, _MECHANISM) or self is _NOTHING:
            return False
        return _within(qualified, _ANSWERS + self.code +
                       (_AUTOGRAD_CODE if self.autograd else ()))


# What a check that forbids nothing watches for: only escapes (see `watching`).
_NOTHING = Forbidden("")


def forbid(reason: str, *, ops: tuple[str, ...] = (), code: tuple[str, ...] = (),
           autograd: bool = False, any_op: bool = False) -> Forbidden:
    """Declare what an exercise forbids.

    `reason` is the sentence a refusal ends with: "this exercise asks you to compute the step
    yourself" (the verdict's title names the exercise). `ops`: torch operator names, with
    shell wildcards ("rnn_tanh_cell", "nll_loss*"), matched whatever the entry point.
    `code`: dotted prefixes of library code that must not run ("torch.distributions",
    "torch.nn.utils.clip_grad"); rnnlab's and d2l's code is always refused, so it needs no
    prefix here. `autograd`: refuse the autograd engine, graphs and forward-mode AD.
    `any_op`: refuse every torch operation (an answer computed from sizes alone).
    """
    return Forbidden(reason, tuple(ops), tuple(code), autograd, any_op)


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


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
    """True while the import of a library module runs this frame (its class bodies, say):
    not an answer. A module of the student's own, imported inside their function, is their
    code like any other."""
    frame = frame.f_back
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename.startswith("<frozen importlib"):
            return True
        if not is_library(filename):
            return False
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


def _complex(args, kwargs) -> bool:
    values = list(args) + list((kwargs or {}).values())
    for v in values:
        if isinstance(v, (tuple, list)):
            values.extend(v)
        elif isinstance(v, torch.Tensor) and v.is_complex() or isinstance(v, complex) or \
                isinstance(v, torch.dtype) and v.is_complex:
            return True
    return False


class _Watch:
    def __init__(self, forbidden: Forbidden, routes: list[Route]):
        self.forbidden, self.routes = forbidden, routes

    def refuse(self, what: str, frame=None):
        if frame is None:
            with internal():
                frame = sys._getframe(1)
        via, line, text = _locate(frame)
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
        if forbidden.autograd and _complex(args, kwargs):
            self.watch.refuse(f"complex numbers (`{name}` on a complex tensor, as in a "
                              "complex-step derivative)")
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
def watching(forbidden: Forbidden | None, routes: list[Route],
             reached: set | None = None) -> Iterator[None]:
    """Run the body with `forbidden` enforced; every refusal is appended to `routes`.

    Whatever the exercise forbids, the body may not start threads, change signals, switch
    the watch off or run code the watch cannot see (`_UNSEEN_CODE`). The code objects of
    the student's functions that ran are added to `reached` (for `rnnlab.guard.escapes`).
    """
    forbidden = forbidden or _NOTHING
    watch = _Watch(forbidden, routes)
    reached = set() if reached is None else reached
    decided: dict = {}     # code object -> refused? (a profile hook sees every call)
    seen: set = set()      # routes already recorded, by what

    def record(what, frame, reason=_ESCAPE_REASON):
        if what not in seen:
            seen.add(what)
            via, line, text = _locate(frame)
            routes.append(Route(what, via, line, text, reason))

    def profile(frame, event, arg):
        if event == "c_call":
            name = getattr(arg, "__name__", "")
            module = getattr(arg, "__module__", None)
            if name in _THREAD_STARTS and module == "_thread":
                record("starting a thread", frame)
            elif module == "_signal":
                record(f"changing the check's signals (`signal.{name}`)", frame)
            elif name in _MODE_SWITCHES and student_frame(frame):
                record(f"switching the watch off (`torch._C.{name}`)", frame)
            elif student_frame(frame) and (
                    _len_function_stack() < depth or not _function_modes_on()):
                record("code of yours ran with the checker's watch switched off "
                       "(a disabled or popped torch function mode, or a Tensor subclass's "
                       "__torch_function__)", frame)
            return
        if event != "call":
            return
        code = frame.f_code
        refused = decided.get(code)
        if refused is None:       # a module's own code runs on import: not an answer
            qualified = _qualified(frame)
            if student_frame(frame):
                reached.add(code)
                refused = decided[code] = False
            elif _within(qualified, _UNSEEN_CODE):
                refused = decided[code] = "unseen"
            else:
                refused = decided[code] = code.co_name != "<module>" and \
                    forbidden.refuses_code(qualified)
        if not refused:
            return
        caller = frame.f_back
        if refused == "unseen":
            if caller is not None and student_frame(caller):
                record(f"`{_qualified(frame)}`, which runs code the checker cannot see,",
                       caller)
            return
        if _importing(frame):
            return
        qualified = _qualified(frame)
        if not any(r.what.startswith(f"`{qualified}`") for r in routes):
            via, line, text = _locate(caller)
            routes.append(Route(f"`{qualified}`", None, line, text))

    previous = sys.getprofile()
    modes = [_Functions(watch)] + ([_Engine(watch)] if forbidden.autograd else [])
    depth = _len_function_stack() + 1
    try:
        for mode in modes:
            mode.__enter__()
        if _len_function_stack() != depth or not _function_modes_on():
            routes.append(Route("the checker's watch could not start (PyTorch's mode stack "
                                "was changed before the check ran)", None, 0, "",
                                _ESCAPE_REASON))
        with internal():
            sys.setprofile(profile)
        yield
    finally:
        if sys.getprofile() is not profile:
            routes.append(Route("the checker's profiler was replaced", None, 0, "",
                                _ESCAPE_REASON))
        with internal():
            sys.setprofile(previous)
        if _len_function_stack() != depth:
            routes.append(Route("PyTorch's mode stack was changed", None, 0, "",
                                _ESCAPE_REASON))
        for mode in reversed(modes):
            try:
                mode.__exit__(None, None, None)
            except Exception:     # a stack the student's code changed: say so, above
                pass
