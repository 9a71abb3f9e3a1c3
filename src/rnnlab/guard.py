"""Keeping the checker in charge of the code it judges.

A check runs the student's function in the student's own Python, so that code could reach
the checker itself: switch off its watch, read its reference answer, patch its messages,
outlast its time limit. This module closes the doors that honest code never opens, and
names the door when a function tries one:

- an audit hook (`sys.addaudithook`, which cannot be removed) refuses, while the student's
  function runs: reading frames (`sys._getframe`, `.tb_frame`, `.gi_frame`), switching the
  profiler or tracer (`sys.setprofile`, `sys.settrace`), searching objects
  (`gc.get_objects`, `gc.get_referrers`), `ctypes`, other processes, the network and new
  audit hooks; at any time it refuses changes to the checker's classes and functions;
- the checker's modules are frozen: their attributes cannot be set, and the names they had
  when they were imported are the names they keep (`verify` names any that changed);
- `plain` turns what the student returned into plain values (`torch.Tensor` proper, `int`,
  `float`, `str`, lists, tuples, dicts) inside the time limit, so no code of theirs runs
  while the check compares;
- `escapes` reads the student's source for constructs that get around a check;
- `watchdog` stops a call that outlives its time limit even if the code catches the
  timeout or cancels the timer;
- `generator` draws a check's inputs afresh for every check, so answers remembered from an
  earlier run do not pass.

This is a learning aid's guard, not a sandbox: code that sets out to defeat it in the same
process can, and grading a class needs a separate process (see the README).
"""

from __future__ import annotations

import _thread
import ast
import ctypes
import functools
import linecache
import os
import secrets
import sys
import sysconfig
import threading
import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple

import torch

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
_TORCH_DIR = os.path.dirname(os.path.abspath(torch.__file__))
_STDLIB_DIRS = tuple({sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib")})


def is_library(filename: str) -> bool:
    """Code that is not the student's: this package, PyTorch, installed packages and the
    standard library."""
    return (filename.startswith((_PACKAGE_DIR, _TORCH_DIR) + _STDLIB_DIRS)
            or "site-packages" in filename or "dist-packages" in filename
            or filename.startswith("<frozen"))


def student_frame(frame) -> bool:
    """True if `frame` runs the student's code: not library code (`is_library`), nor code
    that library code generated (a namedtuple's or a dataclass's methods, made by `eval`)."""
    filename = frame.f_code.co_filename
    if not filename.startswith("<") or filename.startswith("<ipython-input"):
        return not is_library(filename)
    if filename.startswith("<frozen"):
        return False
    name = frame.f_globals.get("__name__") or ""
    if name.startswith("namedtuple_"):
        return False
    module_file = getattr(sys.modules.get(name), "__file__", None)
    return module_file is None or not is_library(module_file)


# The environment variable that switches the guard off: for the package's own tests, which
# must patch the checker to show what a watch-less check would say. Verdicts say so.
UNGUARDED = os.environ.get("RNNLAB_UNGUARDED_CHECKS") == "1"

# Module names whose attributes are frozen once imported (the checker itself).
MECHANISM = ("rnnlab.audit", "rnnlab.checks", "rnnlab.exercises", "rnnlab.guard")
# Settings a student (or a test) may change: they only make checks stricter or slower.
_TUNABLE = frozenset({"TIME_LIMIT_S"})


class Route(NamedTuple):
    """One forbidden thing the student's code reached: what, through which library
    function (or None), the student's line that led there (0 and "" if unknown), and why
    it is refused when that is not the exercise's own reason."""

    what: str
    via: str | None
    line: int
    text: str
    reason: str = ""

    def describe(self, name: str) -> str:
        via = f" (called by {self.via})" if self.via else ""
        where = f" at line {self.line}: `{self.text}`" if self.line and self.text else \
            (f" at line {self.line}" if self.line else "")
        return f"{self.what}{via} ran inside your `{name}`{where}"


class Escape(RuntimeError):
    """Raised inside the student's code when it reaches for the checker itself."""


class TimeUp(BaseException):
    """Raised inside the student's code when its time is up (not an `Exception`, so that
    `except Exception` does not swallow it)."""


# Audit events refused while the student's function runs, and how to name them.
_EVENTS = {
    "sys._getframe": "reading the call stack (`sys._getframe`)",
    "sys._current_frames": "reading the call stack (`sys._current_frames`)",
    "sys.setprofile": "switching the profiler (`sys.setprofile`)",
    "sys.settrace": "switching the tracer (`sys.settrace`)",
    "sys._setprofileallthreads": "switching the profiler (`sys.setprofile`)",
    "sys._settraceallthreads": "switching the tracer (`sys.settrace`)",
    "sys.addaudithook": "adding an audit hook (`sys.addaudithook`)",
    "gc.get_objects": "searching the interpreter's objects (`gc.get_objects`)",
    "gc.get_referrers": "searching the interpreter's objects (`gc.get_referrers`)",
    "gc.get_referents": "searching the interpreter's objects (`gc.get_referents`)",
    "subprocess.Popen": "starting another process (`subprocess`)",
    "os.system": "starting another process (`os.system`)",
    "os.exec": "starting another process (`os.exec*`)",
    "os.posix_spawn": "starting another process (`os.posix_spawn`)",
    "os.spawn": "starting another process (`os.spawn*`)",
    "os.fork": "starting another process (`os.fork`)",
    "os.forkpty": "starting another process (`os.forkpty`)",
    "os.kill": "sending a signal (`os.kill`)",
    "os.killpg": "sending a signal (`os.killpg`)",
    "pty.spawn": "starting another process (`pty.spawn`)",
}
_EVENT_PREFIXES = {"ctypes.": "calling C directly (`ctypes`)",
                   "socket.": "the network (`socket`)"}
_FRAME_ATTRIBUTES = frozenset({"tb_frame", "gi_frame", "cr_frame", "ag_frame"})

# Audit events that write or remove files: refused outside the scratch folder when grading.
_WRITES = frozenset({"open", "os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.truncate",
                     "os.chmod", "os.chown", "os.link", "os.symlink", "shutil.rmtree",
                     "shutil.copyfile", "shutil.move"})
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def _outside(event: str, args, scratch: str) -> str | None:
    """What a file event does outside `scratch`, or None (a read, or inside it)."""
    if event == "open":
        path, mode, flags = (tuple(args) + (None, None, 0))[:3]
        writes = any(c in str(mode or "") for c in "wax+") or bool((flags or 0) & _WRITE_FLAGS)
        if not writes:
            return None
        targets = [path]
    else:
        targets = [a for a in args if isinstance(a, (str, bytes, os.PathLike))][:2]
    for target in targets:
        if isinstance(target, int):
            continue
        try:
            real = os.path.realpath(os.fsdecode(target))
        except (TypeError, ValueError):
            real = ""
        if real != scratch and not real.startswith(scratch + os.sep):
            return f"writing files outside the grading folder (`{event}`)"
    return None


_REASON = ("a check refuses code that switches off or gets around it: an exercise needs "
           "only the operations it teaches")


def _make_guard():
    """The guard's functions, sharing state that lives only in their closures."""
    get_ident = _thread.get_ident
    state = {"routes": None, "internal": 0, "watchdog": None, "salt": 0, "tripped": False,
             "fixed_salt": None, "scratch": None}
    protected: set[int] = set()           # ids of the checker's classes and functions
    frozen: dict[str, tuple[types.ModuleType, dict]] = {}
    classes: dict[type, dict] = {}        # the checker's classes, as they were defined

    def hook(event, args):
        if event in ("object.__setattr__", "object.__delattr__"):
            if id(args[0]) in protected and not state["internal"]:
                raise Escape(f"{_name_of(args[0])} belongs to the checker and cannot be "
                             f"changed (setting `{args[1]}`)")
            return
        routes = state["routes"]
        if routes is None or state["internal"] or get_ident() == state["watchdog"]:
            return
        if event == "sys.settrace" and state["tripped"]:
            return           # Python unsetting `trip`'s trace function once it has raised
        what = _EVENTS.get(event)
        if what is None and state["scratch"] is not None and event in _WRITES:
            what = _outside(event, args, state["scratch"])
        if what is None:
            if event == "object.__getattr__" and args[1] in _FRAME_ATTRIBUTES:
                what = f"reading a frame (`.{args[1]}`)"
            else:
                what = next((w for p, w in _EVENT_PREFIXES.items() if event.startswith(p)),
                            None)
        if what is not None:
            state["internal"] += 1
            try:
                frame = sys._getframe(1)
            finally:
                state["internal"] -= 1
            writes = event in _WRITES
            if event != "sys.addaudithook" and not (_student_in_stack(frame) if writes
                                                    else _from_student(frame)):
                return            # library code's own use (a lazy import, say)
            routes.append(Route(what, None, 0, "", _REASON))
            raise Escape(f"{what}: {_REASON}.")

    def protect(*objects):
        for obj in objects:
            protected.add(id(obj))
            if isinstance(obj, type):
                for value in vars(obj).values():
                    target = getattr(value, "__func__", value)
                    if isinstance(target, types.FunctionType):
                        protected.add(id(target))

    def freeze(module: types.ModuleType):
        if UNGUARDED or module.__name__ in frozen:
            return
        state["internal"] += 1
        try:
            module.__class__ = _FrozenModule
        finally:
            state["internal"] -= 1
        name = module.__name__
        for key, value in list(vars(module).items()):
            if getattr(value, "__module__", None) != name:
                continue
            if isinstance(value, type):
                classes[value] = dict(vars(value))
                protect(value)
            elif isinstance(value, types.FunctionType):
                protect(value)
                if key.startswith("check_") and name.startswith("rnnlab.exercises."):
                    vars(module)[key] = sealed = _sealed_check(value)
                    protect(sealed)
        frozen[name] = (module, dict(vars(module)))
        protect(module)

    def frozen_value(module, name):
        entry = frozen.get(object.__getattribute__(module, "__name__"))
        if entry is None or name not in entry[1]:
            return _MISSING
        return entry[1][name]

    def learn(module, name, value):
        """A new name set on a frozen module (a submodule being imported): kept."""
        entry = frozen.get(object.__getattribute__(module, "__name__"))
        if entry is not None and name not in entry[1]:
            entry[1][name] = value

    def verify() -> list[str]:
        """The checker's names that no longer hold what they held when imported."""
        changed = []
        for name, (module, snapshot) in frozen.items():
            now = vars(module)
            for key, value in snapshot.items():
                if key not in _TUNABLE and now.get(key, _MISSING) is not value:
                    changed.append(f"{name}.{key}")
        for cls, snapshot in classes.items():
            now = vars(cls)
            changed += [f"{cls.__module__}.{cls.__qualname__}.{key}" for key in
                        set(now) | set(snapshot) if now.get(key, _MISSING) is not
                        snapshot.get(key, _MISSING) and key != "__weakref__"]
        return changed

    @contextmanager
    def active(routes: list):
        """Refuse the audit events above, recording them in `routes`, for the body."""
        previous = state["routes"]
        state["routes"] = routes
        try:
            yield
        finally:
            state["routes"] = previous

    @contextmanager
    def internal():
        """The checker's own frame reads and patches, not refused."""
        state["internal"] += 1
        try:
            yield
        finally:
            state["internal"] -= 1

    def set_watchdog(ident):
        state["watchdog"] = ident

    def set_tripped(on: bool):
        state["tripped"] = on

    def new_salt():
        fixed = state["fixed_salt"]
        state["salt"] = secrets.randbits(40) if fixed is None else fixed

    @contextmanager
    def grading(seed: int, scratch: str | None = None):
        """Inputs drawn from `seed` (the same in the process that runs the student's code
        and in the one that judges it), and, with `scratch`, files written by the student's
        code refused outside that folder. A grading process sets this once, before any
        code of the student's runs."""
        previous = state["fixed_salt"], state["scratch"]
        state["fixed_salt"] = int(seed) % (1 << 40)
        state["scratch"] = None if scratch is None else os.path.realpath(scratch)
        try:
            yield
        finally:
            state["fixed_salt"], state["scratch"] = previous

    def seed(n: int) -> int:
        """A seed for a check's inputs: `n` mixed with a salt drawn for every check."""
        return state["salt"] * 1000 + n

    def generator(n: int) -> torch.Generator:
        """A generator for a check's inputs, seeded by `seed(n)`."""
        return torch.Generator().manual_seed(seed(n))

    return (hook, protect, freeze, frozen_value, learn, verify, active, internal,
            set_watchdog, set_tripped, new_salt, seed, generator, grading)


_MISSING = object()


class _FrozenModule(types.ModuleType):
    """A checker module: names read as they were imported; none can be set."""

    def __getattribute__(self, name):
        value = frozen_value(self, name)
        if value is _MISSING:
            return super().__getattribute__(name)
        return value

    def __setattr__(self, name, value):
        if frozen_value(self, name) is _MISSING or name in _TUNABLE:
            learn(self, name, value)
            return super().__setattr__(name, value)
        module = object.__getattribute__(self, "__name__")
        raise Escape(f"{module}.{name} belongs to the checker and cannot be replaced")

    def __delattr__(self, name):
        module = object.__getattribute__(self, "__name__")
        raise Escape(f"{module}.{name} belongs to the checker and cannot be deleted")


def _sealed_check(check):
    """`check` run between two `verify`s, with fresh inputs (`new_salt`), returning a copy of
    its verdict made here: what the notebook calls as `chN.check_x` (see `freeze`)."""
    verdict_type = sys.modules["rnnlab.checks.verdict"].Verdict
    label = check.__name__

    def changed_verdict(changed):
        return verdict_type(label, False, f"the checker's own `{changed[0]}` was changed (by "
                            "your code or another cell): a check refuses code that switches "
                            "off or gets around it. Restart the kernel (Runtime → Restart "
                            "session in Colab) and run the chapter again.")

    def sealed(*args, **kwargs):
        changed = verify()
        if changed:
            return changed_verdict(changed)
        new_salt()
        verdict = check(*args, **kwargs)
        changed = verify()
        if changed:
            return changed_verdict(changed)
        if type(verdict) is not verdict_type:
            return verdict_type(label, False, "the check's verdict was replaced: a check "
                                "refuses code that switches off or gets around it.")
        return verdict_type(str.__str__(verdict.exercise), bool(verdict.passed),
                            str.__str__(verdict.message))

    sealed.__name__, sealed.__qualname__ = check.__name__, check.__qualname__
    sealed.__doc__, sealed.__module__ = check.__doc__, check.__module__
    return sealed


def _from_student(frame) -> bool:
    """True if the student's code made this call, directly or through the standard library
    (`inspect.currentframe`, `subprocess.run`); not when PyTorch or another package did."""
    while frame is not None:
        filename = frame.f_code.co_filename
        stdlib = filename.startswith(_STDLIB_DIRS) and "-packages" not in filename
        if not (stdlib or filename.startswith("<frozen")):
            return not is_library(filename)
        frame = frame.f_back
    return False


def _student_in_stack(frame) -> bool:
    """True if the student's code is anywhere below this call: a file written for it by
    any library (`torch.save`, `pandas.DataFrame.to_csv`) is its write."""
    while frame is not None:
        if student_frame(frame):
            return True
        frame = frame.f_back
    return False


def _name_of(obj) -> str:
    if isinstance(obj, types.ModuleType):
        return object.__getattribute__(obj, "__name__")
    module = getattr(obj, "__module__", "")
    return f"{module}.{getattr(obj, '__qualname__', type(obj).__name__)}"


(_hook, protect, freeze, frozen_value, learn, verify, active, internal, _set_watchdog,
 _set_tripped, new_salt, seed, generator, grading) = _make_guard()

if not UNGUARDED:
    sys.addaudithook(_hook)


# ---------------------------------------------------------------------------
# The time limit that the judged code cannot cancel
# ---------------------------------------------------------------------------

_set_async_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc
_set_async_exc.argtypes = (ctypes.c_ulong, ctypes.py_object)


class _Watchdog:
    """One daemon thread that raises `TimeUp` in a call's thread, again and again, once its
    time is up and until it returns (code that catches it, or cancels `SIGALRM`, is still
    stopped). It polls, so that a call costs it nothing; started before student code runs."""

    POLL_S = 0.1

    def __init__(self):
        self.lock = threading.Lock()        # held while injecting, so that none lands late
        self.target = None                  # (thread ident, deadline, expired flag list)
        self.thread = threading.Thread(target=self._run, name="rnnlab-check-watchdog",
                                       daemon=True)
        self.thread.start()
        _set_watchdog(self.thread.ident)

    def _run(self):
        import time
        while True:
            time.sleep(self.POLL_S)
            with self.lock:
                target = self.target
                if target is None or time.monotonic() < target[1]:
                    continue
                ident, _, expired = target
                with internal():
                    frame = sys._current_frames().get(ident)
                if frame is None or in_student_code(frame):
                    expired.append(True)
                    _set_async_exc(ident, TimeUp)

    @contextmanager
    def limit(self, seconds: float, expired: list):
        import time
        self.target = (_thread.get_ident(), time.monotonic() + seconds, expired)
        try:
            yield
        finally:
            self.target = None
            with self.lock:           # an injection under way has finished
                pass
            if expired:               # one may be pending still: clear it
                with internal():
                    _set_async_exc(_thread.get_ident(), None)


def trip(frame, message: str) -> None:
    """Trace the student's code in `frame`'s stack, instruction by instruction, and raise
    `TimeUp` again at the first instruction of any handler that caught one: code that
    catches the stop (`except BaseException: pass` in a loop) meets another inside its
    handler, where it cannot be caught by the same `try`. Undone by `untrip` (and by Python
    itself once the trace function raises; the next `SIGALRM` trips again)."""
    def raiser(f, event, arg):
        if not student_frame(f):
            return None
        f.f_trace_opcodes = True
        if isinstance(sys.exc_info()[1], TimeUp):
            raise TimeUp(message)
        return raiser

    _set_tripped(True)
    with internal():
        sys.settrace(raiser)
    while frame is not None and not frame.f_code.co_filename.startswith(_CHECKER_FILES):
        if student_frame(frame):
            frame.f_trace, frame.f_trace_opcodes = raiser, True
        frame = frame.f_back


def untrip(previous) -> None:
    """Put back the trace function `previous` (what `sys.gettrace()` was before the call)."""
    with internal():
        if sys.gettrace() is not previous:
            sys.settrace(previous)
    _set_tripped(False)


_WATCHDOG: list = []
_CHECKER_FILES = tuple(os.path.join(_PACKAGE_DIR, f)
                       for f in ("checks", "audit.py", "exercises", "guard.py"))


def in_student_code(frame) -> bool:
    """True unless `frame` is the checker's own code (or library code it called): a stop
    lands only where the student's code, or what it called, is running."""
    while frame is not None:
        if frame.f_code.co_filename.startswith(_CHECKER_FILES):
            return False
        if student_frame(frame):
            return True
        frame = frame.f_back
    return False


def watchdog() -> _Watchdog:
    if not _WATCHDOG or not _WATCHDOG[0].thread.is_alive():   # e.g. after a fork
        _WATCHDOG[:] = [_Watchdog()]
    return _WATCHDOG[0]


# ---------------------------------------------------------------------------
# Plain values
# ---------------------------------------------------------------------------


def plain(value, depth: int = 0):
    """`value` as plain Python and PyTorch values, computed now (inside the time limit and
    the watch): a Tensor subclass becomes a `torch.Tensor`, an `int` subclass an `int`, and
    so on, so that no code of the student's runs when the check later compares."""
    kind = type(value)
    if value is None or kind in (int, float, bool, str, complex, bytes, torch.Tensor):
        return value
    if depth > 8:
        return value
    if isinstance(value, torch.Tensor):
        converted = torch.Tensor.as_subclass(value, torch.Tensor)
        if type(converted) is not torch.Tensor:
            raise Escape(f"returned a {kind.__name__} that will not become a plain "
                         "torch.Tensor: return a torch.Tensor")
        return converted
    if isinstance(value, int):
        return int.__int__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, tuple):
        items = tuple(plain(v, depth + 1) for v in tuple.__iter__(value))
        return items if kind is tuple or not hasattr(value, "_fields") else kind(*items)
    if isinstance(value, list):
        return [plain(v, depth + 1) for v in list.__iter__(value)]
    if isinstance(value, dict):
        return {plain(k, depth + 1): plain(v, depth + 1) for k, v in dict.items(value)}
    return value


# ---------------------------------------------------------------------------
# Reading the student's source
# ---------------------------------------------------------------------------

# Names and attributes that switch off or get around a check (none is needed by an exercise).
_ESCAPE_NAMES = {
    "DisableTorchFunction": "switches off the checker's watch",
    "DisableTorchFunctionSubclass": "switches off the checker's watch",
    "_disable_current_modes": "switches off the checker's watch",
    "_pop_mode": "switches off the checker's watch",
    "_pop_mode_temporarily": "switches off the checker's watch",
    "_pop_torch_function_stack": "switches off the checker's watch",
    "_set_torch_function_state": "switches off the checker's watch",
    "_getframe": "reads the checker's frames",
    "_current_frames": "reads the checker's frames",
    "currentframe": "reads the checker's frames",
    "getouterframes": "reads the checker's frames",
    "f_back": "reads the checker's frames",
    "f_locals": "reads the checker's frames",
    "f_globals": "reads the checker's frames",
    "tb_frame": "reads the checker's frames",
    "gi_frame": "reads the checker's frames",
    "get_objects": "searches the interpreter's objects",
    "get_referrers": "searches the interpreter's objects",
    "get_referents": "searches the interpreter's objects",
    "setprofile": "switches off the checker's watch",
    "settrace": "switches off the checker's watch",
    "setswitchinterval": "starves the checker's timer",
    "addaudithook": "adds an audit hook",
    "setitimer": "cancels the checker's timer",
    "load_inline": "compiles C++ that the checker cannot see",
    "cpp_extension": "compiles C++ that the checker cannot see",
    "load_library": "loads code that the checker cannot see",
    "jit": "runs TorchScript, which the checker cannot see",
    "cell_contents": "reaches into the checker's closures",
    "__closure__": "reaches into the checker's closures",
    "__torch_function__": "runs code of yours inside the checker's watch",
    "__torch_dispatch__": "runs code of yours inside the checker's watch",
    "_C": "reaches into PyTorch's internals",
}
_ESCAPE_MODULES = {
    "ctypes": "calls C directly", "subprocess": "starts another process",
    "multiprocessing": "starts another process", "threading": "starts a thread",
    "_thread": "starts a thread", "concurrent": "runs code in another thread or process",
    "signal": "changes the checker's timer", "gc": "searches the interpreter's objects",
    "socket": "uses the network", "inspect": "reads the checker's frames",
}
# Names through which the checker's own modules are reached (a student's cell never needs
# to change them): assigning to their attributes is refused.
_CHECKER_ROOTS = {"rnnlab", "checks", "audit", "sandbox", "verdict", "guard", "expect",
                  "exercises", "Verdict", "ch1", "ch2", "ch3", "ch4", "ch5", "ch6", "ch7"}


def escapes(codes) -> list[tuple[str, int, str, str]]:
    """Constructs that get around a check, in the student's code that ran.

    `codes` are the code objects of the student's functions that ran (their bodies are
    read); a notebook cell holding one is read whole (its top-level lines run too).
    Returns (file, line, the construct, what it does). Source that cannot be read (code
    typed into `exec`) is skipped.
    """
    if UNGUARDED:
        return []
    found = set()
    for code in codes:
        found.update(_escapes_in(code.co_filename, code.co_firstlineno, code.co_name,
                                 "".join(linecache.getlines(code.co_filename))))
    return sorted(found, key=lambda f: (f[0], f[1]))


def escapes_in_source(source: str) -> list[tuple[int, str, str]]:
    """Constructs that get around a check anywhere in `source` (a submitted cell): (line,
    the construct, what it does). Source that does not parse gives none."""
    tree = _parse(source)
    if tree is None:
        return []
    return sorted({(getattr(node, "lineno", 0), construct, what)
                   for node in ast.walk(tree) for construct, what in _escape(node)})


@functools.lru_cache(maxsize=4096)
def _escapes_in(filename: str, first: int, name: str, source: str) -> tuple:
    """`escapes` for one function (a whole cell, for a notebook's), remembered by source."""
    tree = _parse(source)
    if tree is None:
        return ()
    if _is_cell(filename):
        roots = [tree]
    else:
        roots = [node for node in ast.walk(tree)
                 if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
                 and _starts(node) == (first, name)]
    return tuple((filename, getattr(node, "lineno", 0), construct, what)
                 for root in roots for node in ast.walk(root)
                 for construct, what in _escape(node))


@functools.lru_cache(maxsize=64)
def _parse(source: str):
    try:
        return ast.parse(source) if source else None
    except (SyntaxError, ValueError):
        return None


def _is_cell(filename: str) -> bool:
    """A notebook cell's code (IPython names its file so)."""
    return "ipykernel_" in filename or filename.startswith("<ipython-input")


def _starts(node) -> tuple[int, str]:
    """(first line, name) as the node's code object records them."""
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    return first, getattr(node, "name", "<lambda>")


def _escape(node) -> Iterator[tuple[str, str]]:
    if isinstance(node, ast.Attribute) and node.attr in _ESCAPE_NAMES:
        yield f".{node.attr}", _ESCAPE_NAMES[node.attr]
    elif isinstance(node, ast.Name) and node.id in _ESCAPE_NAMES:
        yield node.id, _ESCAPE_NAMES[node.id]
    elif isinstance(node, ast.FunctionDef) and node.name in _ESCAPE_NAMES:
        yield f"def {node.name}", _ESCAPE_NAMES[node.name]
    elif isinstance(node, ast.Import):
        for alias in node.names:
            root = alias.name.split(".")[0]
            if root in _ESCAPE_MODULES:
                yield f"import {alias.name}", _ESCAPE_MODULES[root]
    elif isinstance(node, ast.ImportFrom) and node.module:
        root = node.module.split(".")[0]
        if root in _ESCAPE_MODULES:
            yield f"from {node.module} import ...", _ESCAPE_MODULES[root]
        elif node.module.startswith(("rnnlab.audit", "rnnlab.checks")):
            yield f"from {node.module} import ...", "reaches into the checker"
    elif isinstance(node, (ast.Assign, ast.AugAssign, ast.Delete, ast.AnnAssign)):
        targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
        for target in targets:
            root = _root_name(target)
            if isinstance(target, (ast.Attribute, ast.Subscript)) and root in _CHECKER_ROOTS:
                yield f"assigning to {ast.unparse(target)}", "changes the checker"
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
            node.func.id in ("setattr", "delattr", "vars") and node.args and \
            _root_name(node.args[0]) in _CHECKER_ROOTS:
        yield f"{node.func.id}({ast.unparse(node.args[0])}, ...)", "changes the checker"
    if isinstance(node, ast.Attribute) and node.attr == "__dict__" and \
            _root_name(node.value) in _CHECKER_ROOTS:
        yield f"{ast.unparse(node)}", "changes the checker"


def _root_name(node) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def freeze_loaded(current: str | None = None) -> None:
    """Freeze every checker module imported so far, and `current` (the module calling this
    as its last line, still being imported); a module half-way through its import is left
    until it calls this itself."""
    for name, module in list(sys.modules.items()):
        if module is None or not any(name == m or name.startswith(m + ".") for m in MECHANISM):
            continue
        if name == current or not getattr(getattr(module, "__spec__", None), "_initializing",
                                           False):
            freeze(module)


protect(_FrozenModule, _Watchdog, Escape, TimeUp, Route)
