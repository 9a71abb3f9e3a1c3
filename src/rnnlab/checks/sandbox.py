"""Running the student's code: `call` catches what it raises (anything, `BaseException`
included), stops it after a time limit it cannot cancel, watches what it reaches
(`rnnlab.audit`), refuses what reaches for the checker itself (`rnnlab.guard`) and
hands back plain values."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch

from ..audit import Forbidden, Route, watching
from ..guard import (
    Escape,
    TimeUp,
    active,
    escapes,
    in_student_code,
    is_library,
    plain,
    trip,
    untrip,
    verify,
    watchdog,
)
from .explain import explain_exception
from .verdict import CheckFailed, fail

TIME_LIMIT_S = 10.0


class _Limit:
    """Stop the student's code after `seconds`: `SIGALRM` (which also ends a `sleep`),
    repeated every 50 ms, and the watchdog thread's `TimeUp`, again and again, for code that
    catches it or cancels the signal. Neither lands in the checker's own frames. A real
    Ctrl-C (SIGINT) is noted in `interrupted`, so that the verdict can tell it from a
    `KeyboardInterrupt` the code raised itself."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.expired: list = []
        self.interrupted: list = []
        self.previous: dict = {}
        self.main = threading.current_thread() is threading.main_thread()
        self.watch = None
        self.trace = sys.gettrace()

    def __enter__(self):
        if self.main:
            self.previous[signal.SIGALRM] = signal.signal(signal.SIGALRM, self._on_alarm)
            self.previous[signal.SIGINT] = signal.signal(signal.SIGINT, self._on_interrupt)
            signal.setitimer(signal.ITIMER_REAL, self.seconds, 0.05)
        self.watch = watchdog().limit(self.seconds + 0.25, self.expired)
        self.watch.__enter__()
        return self

    def _on_alarm(self, signum, frame):
        if in_student_code(frame):
            self.expired.append(True)
            message = f"it ran longer than {self.seconds:g} s"
            trip(frame, message)       # for code that catches the first stop
            raise TimeUp(message)

    def _on_interrupt(self, signum, frame):
        self.interrupted.append(True)
        if in_student_code(frame):
            raise KeyboardInterrupt

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Disarm everything (idempotent: the call runs it again after the `with`)."""
        if self.expired:
            untrip(self.trace)
        if self.main:
            signal.setitimer(signal.ITIMER_REAL, 0)
            for signum, handler in self.previous.items():
                signal.signal(signum, handler)
            self.previous = {}
        if self.watch is not None:
            watch, self.watch = self.watch, None
            watch.__exit__(None, None, None)


def call(fn, *args, name: str, time_limit: float | None = None,
         forbidden: Forbidden | None = None, after: Callable | None = None,
         on_error: Callable[[BaseException], str | None] | None = None, **kwargs):
    """Call the student's `fn(*args, **kwargs)`; turn anything it raises into a message.

    A call that runs longer than `time_limit` seconds (default `TIME_LIMIT_S`) is stopped.
    While it runs, what `forbidden` declares is refused (see `rnnlab.audit.forbid`): the
    verdict names the route the student's code took, even if that code caught the error;
    so is anything that reaches for the checker itself (`rnnlab.guard`).
    `after(result)` runs inside the same window, e.g. `exhaust` to run a generator the
    student returned (its code runs only when it is iterated); then the result becomes
    plain values (`plain`), still inside the window, and that is what is returned.
    `on_error(exc)` may return a sentence that says what an error the student's code raised
    means for this exercise (a product whose shapes do not fit, say); it is added to the
    message.
    """
    return _through_tape(name, args, lambda: _call(fn, args, kwargs, name, time_limit,
                                                  forbidden, after, on_error))


def _through_tape(name: str, args, run: Callable[[], object]):
    """`run()`, or, while grading, `run()` recorded on the tape in force (its result, the
    tensor arguments as it left them, or the failure it stopped with), or replayed from
    it without running anything."""
    tape = _TAPE[-1] if _TAPE else None
    if tape is not None and tape.replaying:
        return tape.replay(name, args)
    if tape is None:
        return run()
    try:
        result = run()
    except CheckFailed as exc:
        tape.record(name, failed=str(exc))
        raise
    tape.record(name, result=result, args=args)
    return result


def _call(fn, args, kwargs, name, time_limit, forbidden, after, on_error):
    time_limit = TIME_LIMIT_S if time_limit is None else time_limit
    if fn is None:
        fail(f"`{name}` is None: define it with `def {name}(...):` and run that cell first.")
    if not callable(fn):
        fail(f"`{name}` should be a function, but it is a {type(fn).__name__}.")
    _refuse_changes(name)
    codes = _student_codes(fn)
    routes: list[Route] = []
    limit = _Limit(time_limit)
    result = error = None
    # Torch's global modes as they were: a student's `torch.set_grad_enabled(False)` or
    # `torch.set_default_dtype` must not outlive the call (the reference, and every cell
    # after it, would run in them).
    grad_mode, default_dtype = torch.is_grad_enabled(), torch.get_default_dtype()
    try:
        # The timer is outermost, so that its own signal calls are not watched; it never
        # stops the checker's own frames (`in_student_code`).
        with active(routes), limit, watching(forbidden, routes, codes):
            result = fn(*args, **kwargs)
            if after is not None:
                result = after(result)
            result = plain(result)
    except BaseException as exc:   # anything: SystemExit, KeyboardInterrupt, GeneratorExit
        error = exc
    limit.close()
    torch.set_grad_enabled(grad_mode)
    torch.set_default_dtype(default_dtype)
    expired, interrupted = limit.expired, limit.interrupted
    _refuse_changes(name)
    if routes:
        fail(_refusal(routes[0], forbidden, name))
    if interrupted:
        fail(f"the check was interrupted (Ctrl-C or the stop button) while your `{name}` "
             "ran: run the check again to judge it.")
    if expired:
        fail(f"your `{name}` ran longer than {time_limit:g} s and was stopped: is there a "
             "loop that never ends (a `while` whose condition stays true)?")
    _refuse_escapes(codes, name)
    if error is not None:
        if isinstance(error, Escape):
            fail(f"your `{name}` reached for the checker itself: {error}.")
        message = explain_exception(error, fn, name, args, kwargs)
        hint = on_error(error) if on_error is not None and isinstance(error, Exception) \
            else None
        fail(f"{message} {hint}" if hint else message)
    return result


def observe(probe: Callable[..., object], *args, name: str):
    """`probe(*args)`: checker code that looks at what the student's code made (a module's
    parameters, its source) and returns plain values. When grading, it runs in the process
    that holds those objects and only its result is replayed where the verdict is made."""
    taped_run = bool(_TAPE) and not _TAPE[-1].replaying
    return _through_tape(name, (), lambda: plain(probe(*args)) if taped_run else probe(*args))


class Opaque:
    """What a grading run could not bring back from the student's process: an object that
    is not plain data (a module, say), known here by its type's name only."""

    def __init__(self, type_name: str):
        self.type_name = type_name

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return Opaque(f"{self.type_name}.{name}")      # `model.begin_state`, to replay

    def __call__(self, *args, **kwargs):
        raise TypeError(f"{self.type_name} was not brought back from the graded run")

    def __repr__(self) -> str:
        return f"<{self.type_name}>"


class TapeEnded(CheckFailed):
    """A replayed check asked for more, or other, calls than the recorded run made."""


class Tape:
    """A grading run's record of every `call` and `observe`: made in the process that runs
    the student's code (`recording`), replayed in the one that judges it (`replaying`),
    where no code of the student's runs: each call returns what was recorded, in order,
    and a tensor argument the student's code changed in place is changed here too."""

    def __init__(self, entries: list | None = None):
        self.replaying = entries is not None
        self.entries = list(entries or [])
        self.position = 0

    def record(self, name: str, result=None, args=(), failed: str | None = None):
        if failed is not None:
            self.entries.append({"name": name, "failed": failed})
            return
        changed = [a if isinstance(a, torch.Tensor) else None for a in args]
        self.entries.append({"name": name, "result": result,
                             "args": [None if a is None else a.detach().clone()
                                      for a in changed]})

    def replay(self, name: str, args):
        if self.position >= len(self.entries):
            raise TapeEnded(f"the graded run stopped before the check reached `{name}`")
        entry = self.entries[self.position]
        self.position += 1
        if entry.get("name") != name:
            raise TapeEnded(f"the graded run called `{entry.get('name')}` where the check "
                            f"calls `{name}`")
        if "failed" in entry:
            fail(str(entry["failed"]))
        for arg, after in zip(args, entry.get("args") or ()):
            if isinstance(arg, torch.Tensor) and isinstance(after, torch.Tensor) \
                    and after.shape == arg.shape and after.dtype == arg.dtype:
                with torch.no_grad():
                    arg.copy_(after)
        return entry.get("result")


_TAPE: list[Tape] = []       # the tape in force while grading (see rnnlab.grading)


@contextmanager
def taped(tape: Tape):
    """Record every `call` and `observe` on `tape`, or replay them from it."""
    _TAPE.append(tape)
    try:
        yield tape
    finally:
        _TAPE.remove(tape)


def _student_codes(fn) -> set:
    """The code objects of `fn` (or of its class's `__init__` and `forward`), where they
    are the student's."""
    targets = [fn, getattr(fn, "__init__", None), getattr(type(fn), "forward", None),
               getattr(fn, "forward", None)]
    codes = set()
    for t in targets:
        code = getattr(getattr(t, "__func__", t), "__code__", None)
        if code is not None and not is_library(code.co_filename):
            codes.add(code)
    return codes


def _refuse_changes(name: str) -> None:
    changed = verify()
    if changed:
        fail(f"the checker's own `{changed[0]}` was changed (by your `{name}` or another "
             "cell): a check refuses code that switches off or gets around it. Restart the "
             "kernel (Runtime → Restart session in Colab) and run the chapter again.")


def _refuse_escapes(codes, name: str) -> None:
    found = escapes(codes)
    if found:
        _, line, construct, what = found[0]
        fail(f"your code uses `{construct}` (line {line}), which {what}: a "
             f"check refuses code that switches off or gets around it, and `{name}` needs "
             "only the operations the exercise teaches. Remove it and run the check again.")


def _refusal(route: Route, forbidden: Forbidden | None, name: str) -> str:
    reason = route.reason or (forbidden.reason if forbidden else "")
    return f"{route.describe(name)}: {reason}."


def exhaust(result):
    """`list(result)` if the student returned an iterator (a generator runs only now)."""
    return list(result) if isinstance(result, Iterator) else result
