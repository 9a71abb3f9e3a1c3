"""The exercise mechanism: check a student's answer and say precisely what is wrong.

A check never raises. It runs the student's code on fixed inputs, compares with a
reference computed independently (usually by PyTorch itself), and returns a `Verdict`
that prints as one or a few lines:

    ✔ passed | Exercise 1.1 (rnn_step): matches nn.RNNCell on 3 cases.
    ✘ not yet | Exercise 1.1 (rnn_step): ... has the wrong shape: expected (2, 4), got (4, 2).

Writing a check for a new exercise:

    def check_my_thing(fn) -> Verdict:
        def body():
            got = call(fn, x, name="my_thing")          # catches the student's exceptions
            expect_tensor(got, reference(x), "my_thing(x)")
            return "matches the reference"
        return run_check("Exercise 9.9 (my_thing)", body)

Inside `body`, `fail("...")` stops with a message; any exception the *student's* code
raises becomes a message too (via `call`), so "Run all" never stops at a check cell.

An exercise that asks the student to write what a library already provides declares
what it forbids; while the student's code runs, the operations it reaches are watched
(`rnnlab.audit`), so using the library's version is a verdict naming the route, not a pass:

    NO_CELL = forbid("Exercise 1.1 asks you to compute the step yourself",
                     ops=("rnn_tanh_cell", "rnn_tanh"))
    got = call(rnn_step, x, h, ..., name="rnn_step", forbidden=NO_CELL)

The check computes its own references *outside* `call`, where nothing is watched.
"""

from __future__ import annotations

import ast
import html
import inspect
import signal
import textwrap
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from .audit import Forbidden, Route, is_library, watching

TIME_LIMIT_S = 10.0


class CheckFailed(Exception):
    """Raised inside a check to stop with a message for the student."""


def fail(message: str):
    raise CheckFailed(message)


def sentence(text: str) -> str:
    """`text` ending with a full stop, so that another sentence can follow it."""
    text = str(text).rstrip()
    return text if text.endswith((".", "!", "?")) else text + "."


@dataclass(frozen=True)
class Verdict:
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


def run_check(exercise: str, body: Callable[[], str | None]) -> Verdict:
    """Run `body`; turn its result or failure into a `Verdict`. Never raises."""
    try:
        note = body()
        return Verdict(exercise, True, note or "all cases match.")
    except CheckFailed as exc:
        return Verdict(exercise, False, str(exc))
    except Exception as exc:  # a bug in the checker itself: still no traceback for students
        return Verdict(exercise, False, f"the checker could not judge this answer "
                                        f"({type(exc).__name__}: {exc}). Check the type and "
                                        "shape of what your code returns.")


@contextmanager
def _time_limit(seconds: float):
    """Stop the student's code after `seconds` (main thread on Unix; elsewhere no limit)."""
    usable = (hasattr(signal, "SIGALRM")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return

    def on_alarm(signum, frame):
        raise TimeoutError(f"it ran longer than {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def call(fn, *args, name: str, time_limit: float | None = None,
         forbidden: Forbidden | None = None, after: Callable | None = None, **kwargs):
    """Call the student's `fn(*args, **kwargs)`; turn anything it raises into a message.

    A call that runs longer than `time_limit` seconds (default `TIME_LIMIT_S`) is stopped.
    While it runs, what `forbidden` declares is refused (see `rnnlab.audit.forbid`): the
    verdict names the route the student's code took, even if that code caught the error.
    `after(result)` runs inside the same window, e.g. `exhaust` to run a generator the
    student returned (its code runs only when it is iterated).
    """
    time_limit = TIME_LIMIT_S if time_limit is None else time_limit
    if fn is None:
        fail(f"`{name}` is None: define it with `def {name}(...):` and run that cell first.")
    if not callable(fn):
        fail(f"`{name}` should be a function, but it is a {type(fn).__name__}.")
    routes: list[Route] = []
    try:
        # The watch is outermost: the timer is disarmed before the watch ends.
        with watching(forbidden, routes), _time_limit(time_limit):
            result = fn(*args, **kwargs)
            if after is not None:
                result = after(result)
    except (Exception, SystemExit) as exc:   # SystemExit: a stray exit() in student code
        if routes:
            fail(_refusal(routes[0], forbidden, name))
        fail(_explain(exc, fn, name, args, kwargs))
    if routes:
        fail(_refusal(routes[0], forbidden, name))
    return result


def _refusal(route: Route, forbidden: Forbidden, name: str) -> str:
    return f"{route.describe(name)}: {forbidden.reason}."


def exhaust(result):
    """`list(result)` if the student returned an iterator (a generator runs only now)."""
    return list(result) if isinstance(result, Iterator) else result


def _explain(exc: BaseException, fn, name: str, args, kwargs) -> str:
    if isinstance(exc, NotImplementedError):
        return _not_attempted(exc, fn, name)
    if isinstance(exc, TypeError) and _raised_at_call(exc):
        return (f"`{name}` was called as {name}({_describe_args(args, kwargs)}) and Python "
                f"said: {exc}. Keep the signature given in the exercise.")
    return _student_error(exc, name)


def _not_attempted(exc: NotImplementedError, fn, name: str) -> str:
    """A stub: the one that raised, which need not be `fn` (a solved function may call one)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    code = tb.tb_frame.f_code if tb is not None else None
    if code is None or is_library(code.co_filename):
        # e.g. an operation PyTorch has not implemented for a device: an error, not a stub
        return _student_error(exc, name)
    if code in _entry_codes(fn):
        return _not_attempted_message(name)
    other = getattr(code, "co_qualname", code.co_name)
    if other == name:    # e.g. a lambda that only forwards to the stub
        return _not_attempted_message(name)
    return (f"`{other}` is not attempted yet, and your `{name}` calls it: solve `{other}` "
            f"first (replace the `raise NotImplementedError` line in `{other}` and run its "
            f"cell), then run this check again. Your `{name}` itself may be fine.")


def _not_attempted_message(name: str) -> str:
    return (f"not attempted yet: replace the `raise NotImplementedError` line in `{name}` "
            "with your code, run that cell, then run this check again.")


def _entry_codes(fn) -> set:
    """The code objects that `fn(...)` runs first: its own body, not what it calls."""
    if inspect.isclass(fn):
        targets = [getattr(fn, "__init__", None), getattr(fn, "__new__", None)]
    elif inspect.ismethod(fn):
        targets = [fn.__func__]
    elif inspect.isfunction(fn):
        targets = [fn]
    else:   # a callable object, e.g. an nn.Module instance: forward (via __call__)
        targets = [getattr(type(fn), attr, None) for attr in ("forward", "__call__")]
    return {t.__code__ for t in targets if inspect.isfunction(t)}


def _raised_at_call(exc: BaseException) -> bool:
    # A TypeError about the call itself (wrong number of arguments) has no frame inside fn.
    tb = exc.__traceback__
    return tb is not None and tb.tb_next is None


def _describe_args(args, kwargs) -> str:
    parts = [_describe(a) for a in args] + [f"{k}={_describe(v)}" for k, v in kwargs.items()]
    return ", ".join(parts)


def safe_repr(value, limit: int = 60) -> str:
    """repr() of a student's value that never raises and never floods the message."""
    try:
        text = repr(value)
    except Exception:
        return f"<a {type(value).__name__} object>"
    return text if len(text) <= limit else text[:limit - 3] + "..."


def as_scalar(value, what: str):
    """A plain Python scalar from an int/float/str or a one-element tensor/array; else fail."""
    if hasattr(value, "shape") and hasattr(value, "item"):
        if getattr(value, "size", None) == 1 or (hasattr(value, "numel") and
                                                  callable(value.numel) and value.numel() == 1):
            try:
                return value.item()
            except Exception:
                fail(f"{what} is a {type(value).__name__} whose value cannot be read "
                     "(is it on the 'meta' device?): return a plain number.")
        fail(f"{what} should be a single value, got a {type(value).__name__} of shape "
             f"{tuple(value.shape)}.")
    return value


def _describe(value) -> str:
    if isinstance(value, torch.Tensor):
        return f"<tensor {tuple(value.shape)}>"
    if isinstance(value, (list, tuple)):
        return f"<{type(value).__name__} of {len(value)}>"
    return safe_repr(value) if isinstance(value, (int, float, str)) else type(value).__name__


def _student_error(exc: BaseException, name: str) -> str:
    # Point at the last line of the student's own code (a notebook cell), not at library code.
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not is_library(f.filename)]
    where = ""
    if frames:
        line = (frames[-1].line or "").strip()
        where = f" at line {frames[-1].lineno}" + (f": `{line}`" if line else "")
    hint = ""
    if "stack expects a non-empty TensorList" in str(exc):
        hint = (" You stacked an empty list: did a loop run zero times? (range(T - 1) does "
                "when T = 1; a loop over time steps is range(T).)")
    elif "expected scalar type" in str(exc) or "same dtype" in str(exc):
        hint = (" Two tensors of different dtypes met: create new tensors with "
                "dtype=x.dtype, so that your function works for float32 and float64 inputs.")
    return f"your `{name}` raised {type(exc).__name__}{where}: {exc}{hint}"


# ---------------------------------------------------------------------------
# Comparing what the student returned with what was expected
# ---------------------------------------------------------------------------


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def expect_tensor(got, expected: torch.Tensor, what: str, atol: float = 1e-5,
                  rtol: float = 1e-4, hint_transpose: bool = True) -> None:
    """Fail with a precise message unless `got` equals `expected` (type, shape, dtype, values)."""
    if got is None:
        fail(f"{what} returned None: did you forget `return`?")
    if isinstance(got, tuple) and not isinstance(expected, tuple):
        fail(f"{what} should return one tensor of shape {tuple(expected.shape)}, "
             f"got a tuple of {len(got)} items.")
    if not isinstance(got, torch.Tensor):
        extra = " (a NumPy array: use torch operations, or torch.from_numpy)" \
            if type(got).__module__ == "numpy" else ""
        fail(f"{what} should return a torch.Tensor, got {type(got).__name__}{extra}.")
    if got.device != expected.device:
        fail(f"{what} is on device {got.device}, expected {expected.device}: create new tensors "
             "on the inputs' device (e.g. torch.zeros(..., device=x.device)).")
    if tuple(got.shape) != tuple(expected.shape):
        msg = (f"{what} has the wrong shape: expected {tuple(expected.shape)}, "
               f"got {tuple(got.shape)}.")
        if (hint_transpose and got.dim() == 2 and tuple(got.shape) == tuple(expected.shape)[::-1]):
            msg += " That is the transpose: check the order of a matrix product (x @ W, not W @ x)."
        fail(msg)
    if got.dtype != expected.dtype:
        if got.is_floating_point() and expected.is_floating_point():
            fail(f"{what} has dtype {got.dtype}, but the inputs are {expected.dtype}: return "
                 f"{expected.dtype}. A tensor your code creates takes the default dtype, or "
                 "float64 from NumPy: create it with dtype=x.dtype (and device=x.device).")
        fail(f"{what} has dtype {got.dtype}, expected {expected.dtype}.")
    if got.is_floating_point() and not torch.isfinite(got).all():
        bad = int((~torch.isfinite(got)).sum())
        fail(f"{what} contains {bad} NaN or infinite value(s).")
    if not torch.allclose(got.detach(), expected, atol=atol, rtol=rtol):
        diff = (got.detach().to(torch.float64) - expected.to(torch.float64)).abs()
        first = tuple(int(i) for i in (diff > atol + rtol * expected.abs()).nonzero()[0])
        msg = (f"{what} has the right shape but wrong values: at index {first} expected "
               f"{_fmt(float(expected[first]))}, got {_fmt(float(got[first]))} "
               f"(largest difference {_fmt(float(diff.max()))}).")
        if got.dim() == 2 and got.shape[0] == got.shape[1] and \
                torch.allclose(got.detach().T, expected, atol=atol, rtol=rtol):
            msg += " Your matrix is the transpose of the expected one."
        fail(msg)


def close(got, reference: torch.Tensor, atol: float = 1e-5, rtol: float = 1e-4) -> bool:
    """True if `got` is a tensor of `reference`'s shape and dtype with close values: a safe
    test of what a typical mistake returns (never raises, whatever the student returned)."""
    return (isinstance(got, torch.Tensor) and isinstance(reference, torch.Tensor)
            and got.shape == reference.shape and got.dtype == reference.dtype
            and got.device == reference.device
            and bool(torch.allclose(got.detach(), reference, atol=atol, rtol=rtol)))


def as_pair(got, what: str, names: str) -> tuple:
    """A pair from a tuple or a list (the one rule for every check); else fail."""
    if got is None:
        fail(f"{what} returned None: did you forget `return`?")
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        kind = f"a {type(got).__name__} of {len(got)}" if isinstance(got, (tuple, list)) \
            else f"a {type(got).__name__}"
        fail(f"{what} should return a pair {names}, got {kind}.")
    return tuple(got)


# ---------------------------------------------------------------------------
# Reading the student's source
# ---------------------------------------------------------------------------


def none_comparisons(obj) -> list[tuple[str, int, str]]:
    """`x == None` / `x != None` in a function, or in a class's own methods.

    Returns (function's qualified name, line number, the comparison's text). Source that
    cannot be read (code typed into `exec`) is skipped. Methods are read one by one:
    `inspect.getsource` of a class defined in a notebook cell fails on Python < 3.13.
    """
    if inspect.isclass(obj):
        functions = [f for klass in obj.__mro__ for f in vars(klass).values()
                     if inspect.isfunction(f) and not is_library(f.__code__.co_filename)]
    else:
        functions = [getattr(obj, "__func__", obj)]
    found = []
    for f in functions:
        try:
            lines, start = inspect.getsourcelines(f)
            tree = ast.parse(textwrap.dedent("".join(lines)))
        except (OSError, TypeError, SyntaxError, IndentationError):
            continue
        source = textwrap.dedent("".join(lines))
        for node in ast.walk(tree):
            if isinstance(node, ast.Compare) and _compares_with_none(node):
                text = ast.get_source_segment(source, node) or ""
                found.append((f.__qualname__, start + node.lineno - 1, " ".join(text.split())))
    return found


def _compares_with_none(node: ast.Compare) -> bool:
    operands = [node.left, *node.comparators]
    for op, a, b in zip(node.ops, operands, operands[1:]):
        if isinstance(op, (ast.Eq, ast.NotEq)) and any(
                isinstance(x, ast.Constant) and x.value is None for x in (a, b)):
            return True
    return False
