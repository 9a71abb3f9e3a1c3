"""Running the student's code: `call` catches what it raises, stops it after a time
limit, and watches what it reaches (`rnnlab.audit`) while it runs."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ..audit import Forbidden, Route, watching
from .explain import explain_exception
from .verdict import fail

TIME_LIMIT_S = 10.0


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
        fail(explain_exception(exc, fn, name, args, kwargs))
    if routes:
        fail(_refusal(routes[0], forbidden, name))
    return result


def _refusal(route: Route, forbidden: Forbidden, name: str) -> str:
    return f"{route.describe(name)}: {forbidden.reason}."


def exhaust(result):
    """`list(result)` if the student returned an iterator (a generator runs only now)."""
    return list(result) if isinstance(result, Iterator) else result
