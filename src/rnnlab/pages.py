"""What every page of the book does besides teaching: its header and footer (device, budget,
run time), numbers glued into the prose, package source shown as a captioned listing, an
error shown without a traceback, and the Colab setup cell.

    page = start_page("ch1")      # prints and glues ch1_device, ch1_budget
    ...
    page.finish()                 # glues ch1_runtime and prints how long the page took
"""

from __future__ import annotations

import inspect
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from . import __version__
from .runtime import Budget, describe_device, get_budget, get_device

# Where the course lives; `_config.yml` (repository.url) says the same, checked by a test.
REPOSITORY = "https://github.com/rnnlab-course/rnnlab"
D2L_VERSION = "0.17.6"


def source_ref(version: str = __version__) -> str:
    """The git ref that holds this version of the package: the branch `main` for a
    development version (`0.2.0.dev0`), the tag `v0.2.0` for a release."""
    return "main" if "dev" in version else f"v{version}"


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


@dataclass
class Page:
    """A running page: where it runs, its budget, and when it started (see `start_page`)."""

    prefix: str
    device: torch.device
    budget: Budget
    started: float = field(default_factory=time.perf_counter)

    def finish(self, fmt: str = ".0f") -> None:
        """Glue `<prefix>_runtime` (seconds since `start_page`) and print it. Returns None,
        so a last cell ending with `page.finish()` shows only the printed line."""
        runtime = time.perf_counter() - self.started
        glue(f"{self.prefix}_runtime", runtime, fmt)
        print(f"This page ran in {runtime:{fmt}} s on {describe_device(self.device)} "
              f"({self.budget.name} budget).")


def start_page(prefix: str, device: torch.device | None = None) -> Page:
    """The top of a page: pick the device and the budget, print both, and glue them as
    `<prefix>_device` and `<prefix>_budget` for the page's first paragraph."""
    device = device or get_device()
    budget = get_budget()
    print("device:", describe_device(device))
    print("budget:", budget)     # quick on a CPU, full on a GPU; RNNLAB_BUDGET overrides
    glue(f"{prefix}_device", describe_device(device))
    glue(f"{prefix}_budget", budget.name)
    return Page(prefix, device, budget)


def setup_cell(d2l: bool) -> str:
    """The first code cell of every notebook: on Colab, install this version of rnnlab
    (`source_ref`), and d2l without its outdated pins where the page uses d2l."""
    lines = ["# Colab setup: install rnnlab at the version this notebook belongs to"
             + (", and d2l\n# without its outdated pins." if d2l else "."),
             "# Colab's torch, numpy and matplotlib stay as they are; elsewhere this does nothing.",
             "import sys",
             "",
             'if "google.colab" in sys.modules:',
             f'    %pip install -q "rnnlab @ git+{REPOSITORY}@{source_ref()}"']
    if d2l:
        lines.append(f"    %pip install -q --no-deps d2l=={D2L_VERSION}")
    return "\n".join(lines)


def _listing(obj) -> tuple[str, str, int, int]:
    """(source, path inside the repository, first line, last line) of a package object."""
    lines, first = inspect.getsourcelines(obj)
    path = Path(inspect.getsourcefile(obj)).resolve()
    package = Path(__file__).resolve().parent
    try:
        rel = "src/rnnlab/" + path.relative_to(package).as_posix()
    except ValueError:
        rel = path.name
    return textwrap.dedent("".join(lines)), rel, first, first + len(lines) - 1


def show_source(obj) -> None:
    """Display the source of a package function or class as a listing captioned with its
    file and lines, linked to them in the repository."""
    source, rel, first, last = _listing(obj)
    url = f"{REPOSITORY}/blob/{source_ref()}/{rel}#L{first}-L{last}"
    caption = f"{rel}, lines {first}–{last}"
    try:
        from IPython.display import HTML, Code, display
    except ImportError:
        print(f"# {caption} ({url})\n{source}")
        return
    display(HTML(f'<p class="rnnlab-listing"><a href="{url}"><code>{rel}</code></a>, '
                 f"lines {first}–{last}</p>"))
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
