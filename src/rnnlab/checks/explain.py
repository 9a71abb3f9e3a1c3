"""Turning what the student's code raised into a message a student can act on: a stub not
yet attempted, the line that failed, the arguments it was given."""

from __future__ import annotations

import inspect
import traceback

import torch

from ..guard import is_library


def error_hint(*fragments: str, says: str):
    """An `on_error` for `call`: `says` (what the error means for this exercise) when the
    message of what the student's code raised holds any of `fragments` (any case)."""
    wanted = tuple(f.lower() for f in fragments)

    def on_error(exc: BaseException) -> str | None:
        text = str(exc).lower()
        return says if any(f in text for f in wanted) else None
    return on_error


# PyTorch's words for a product or a sum whose shapes do not fit.
SHAPES = ("cannot be multiplied", "size mismatch", "must match")


def explain_exception(exc: BaseException, fn, name: str, args, kwargs) -> str:
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
    said = f": {exc}" if str(exc) else "."
    if isinstance(exc, (KeyboardInterrupt, SystemExit, GeneratorExit)):
        hint += (f" {type(exc).__name__} stops a program, not a function: return a value "
                 "(the check treats it as an error in your code).")
    return f"your `{name}` raised {type(exc).__name__}{where}{said}{hint}"
