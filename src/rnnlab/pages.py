"""Helpers for the book's pages: numbers glued into the prose, package source shown inline."""

from __future__ import annotations

import inspect
import textwrap


def glue(name: str, value, fmt: str | None = None) -> None:
    """Make `value` available to the page's prose as {glue:text}`name` (myst-nb).

    Outside a Jupyter Book build (Colab, plain Jupyter) myst-nb may be missing; then this
    does nothing, so a chapter runs the same everywhere. `fmt` formats numbers up front,
    e.g. `glue("ppl", 4.8123, ".2f")` puts "4.81" in the text. Returns None, so a cell
    that ends with `glue(...)` shows nothing.
    """
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        value = value.item()        # numpy/torch scalars would show as np.float64(0.3)
    shown = format(value, fmt) if fmt else value
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        return
    myst_glue(name, shown, display=False)


def show_source(obj) -> None:
    """Display the source of a package function or class, syntax-highlighted where possible."""
    source = textwrap.dedent(inspect.getsource(obj))     # methods lose their class indent
    try:
        from IPython.display import Code, display
    except ImportError:
        print(source)
        return
    display(Code(source, language="python"))


def show_error(fn, *args, **kwargs) -> None:
    """Call `fn(*args, **kwargs)` and print the exception it raises, without a traceback.

    For pages that show a mistake failing: the page keeps running ("Run all" works) and
    the reader sees the message PyTorch gives. If the call succeeds, that is printed too,
    since the page expected a failure.
    """
    try:
        fn(*args, **kwargs)
    except Exception as exc:  # the point is to show whatever error the mistake causes
        print(f"{type(exc).__name__}: {exc}")
        return
    print("(no error was raised)")
