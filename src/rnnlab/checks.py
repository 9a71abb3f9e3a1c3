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
"""

from __future__ import annotations

import html
import math
import signal
import textwrap
import threading
import traceback
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

TIME_LIMIT_S = 10.0
_PACKAGE_DIR = str(Path(__file__).parent)


class CheckFailed(Exception):
    """Raised inside a check to stop with a message for the student."""


def fail(message: str):
    raise CheckFailed(message)


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


def call(fn, *args, name: str, time_limit: float | None = None, **kwargs):
    """Call the student's `fn(*args, **kwargs)`; turn anything it raises into a message.

    A call that runs longer than `time_limit` seconds (default `TIME_LIMIT_S`) is stopped.
    """
    time_limit = TIME_LIMIT_S if time_limit is None else time_limit
    if fn is None:
        fail(f"`{name}` is None: define it with `def {name}(...):` and run that cell first.")
    if not callable(fn):
        fail(f"`{name}` should be a function, but it is a {type(fn).__name__}.")
    try:
        with _time_limit(time_limit):
            return fn(*args, **kwargs)
    except NotImplementedError:
        fail(f"not attempted yet: replace the `raise NotImplementedError` line in `{name}` "
             "with your code, run that cell, then run this check again.")
    except TypeError as exc:
        if _raised_at_call(exc):
            fail(f"`{name}` was called as {name}({_describe_args(args, kwargs)}) and Python "
                 f"said: {exc}. Keep the signature given in the exercise.")
        fail(_student_error(exc, name))
    except (Exception, SystemExit) as exc:   # SystemExit: a stray exit() in student code
        fail(_student_error(exc, name))


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
              if not f.filename.startswith(_PACKAGE_DIR) and "site-packages" not in f.filename]
    where = ""
    if frames:
        line = (frames[-1].line or "").strip()
        where = f" at line {frames[-1].lineno}" + (f": `{line}`" if line else "")
    return f"your `{name}` raised {type(exc).__name__}{where}: {exc}"


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


def expect_number(got, expected: float, what: str, rel: float = 1e-4) -> None:
    """Fail unless `got` is a real number within relative tolerance `rel` of `expected`."""
    if isinstance(got, torch.Tensor) and got.numel() == 1:
        got = got.item()
    if isinstance(got, bool) or not isinstance(got, (int, float)):
        fail(f"{what} should be a number, got {type(got).__name__}.")
    if not math.isfinite(got):
        fail(f"{what} is {got}, expected a finite number.")
    if not math.isclose(got, expected, rel_tol=rel, abs_tol=1e-9):
        fail(f"{what}: expected {_fmt(expected)}, got {_fmt(got)}.")
