"""What every page of the book does besides teaching: its header and footer (device, budget,
run time), what the run measured said as Markdown, package source shown as a captioned
listing, an error shown without a traceback, and the Colab setup cell.

    page = start_page("ch1")             # says where the page runs, and its budget
    page.record("loss", loss, ".3f")     # keep a measured value ...
    page.say("The loss is {{loss}}.")    # ... and say it, in a folded result cell
    page.finish()                        # says how long the page took

A result cell is folded wherever students read: `#@title ...` and `cellView: form` for
Colab, `jupyter.source_hidden` for JupyterLab, the tag `remove-input` for the website, so
the reader sees only its Markdown output, with the numbers of their own run.
"""

from __future__ import annotations

import inspect
import json
import re
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ._repository import BRANCH, REPOSITORY
from ._version import __version__
from .budget import Budget, get_budget
from .runtime import describe_device, get_device
from .tags import SETUP, has

_D2L_VERSION = "0.17.6"


def source_ref(version: str = __version__) -> str:
    """The git ref that holds this version of the package: the branch (`main`) for a
    development version (`0.2.0.dev0`), the tag `v0.2.0` for a release."""
    return BRANCH if "dev" in version else f"v{version}"


# A placeholder in a result template: {{name}} or {{name:.2f}} (a format spec).
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][\w]*)\s*(?::([^{}]*))?\}\}")
# Syntax only Sphinx/MyST understands; Colab and JupyterLab would show it raw.
_MYST = re.compile(r"\{[a-z][\w:-]*\}`|^\([\w-]+\)=\s*$|^(```|:::)\{", re.M)


class ResultNotComputed(KeyError):
    """A result template names a value that no cell has recorded (yet)."""

    def __str__(self) -> str:
        return self.args[0]


def _plain(value):
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        value = value.item()        # numpy/torch scalars would show as np.float64(0.3)
    return value


def markdown(template: str, values: dict) -> str:
    """`template` with every {{name}} or {{name:fmt}} replaced by `values[name]`.

    Everything else is kept as written, so `$...$` math, `**bold**` and Markdown links
    pass through (LaTeX braces such as `W_{hh}` are single, never double). A name with no
    value raises `ResultNotComputed`; MyST-only syntax (roles, labels, directives) raises
    ValueError, because Colab and JupyterLab would show it raw.
    """
    def fill(match: re.Match) -> str:
        name, fmt = match.group(1), match.group(2)
        if name not in values:
            raise ResultNotComputed(
                f"this result needs `{name}`, which a cell above computes: run the cells "
                f"above this one first (Runtime → Run before, or Run all)")
        value = _plain(values[name])
        return format(value, fmt) if fmt else str(value)

    text = _PLACEHOLDER.sub(fill, textwrap.dedent(template).strip())
    if _MYST.search(text):
        raise ValueError(f"MyST-only syntax in a result, which Colab shows raw: "
                         f"{_MYST.search(text).group(0)!r}")
    return text


def _display_markdown(text: str) -> None:
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display
    except ImportError:
        get_ipython = None
    if get_ipython is not None and get_ipython() is not None:
        display(Markdown(text))
    else:
        print(text)


@dataclass
class Page:
    """A running page: where it runs, its budget, when it started, and the results its
    cells have recorded for the page's result cells (see `start_page`, `record`, `say`)."""

    prefix: str
    device: torch.device
    budget: Budget
    started: float = field(default_factory=time.perf_counter)
    values: dict = field(default_factory=dict)
    said: set = field(default_factory=set)

    def record(self, name: str, value, fmt: str | None = None) -> None:
        """Keep `value` for the page's result cells as {{name}}. `fmt` formats it now,
        e.g. `record("ppl", 4.8123, ".2f")` makes {{ppl}} read "4.81". Returns None, so a
        cell that ends with `page.record(...)` shows nothing."""
        value = _plain(value)
        self.values[name] = format(value, fmt) if fmt else value

    def say(self, template: str, **values) -> None:
        """Show what this run measured: `template` as Markdown, its {{name}} placeholders
        filled from the recorded values (and `values`, which win). In Colab, JupyterLab and
        on the website the output reads as a paragraph of the page, with this run's
        numbers."""
        known = {**self.values, **values}
        text = markdown(template, known)
        self.said |= {m.group(1) for m in _PLACEHOLDER.finditer(template)}
        _display_markdown(text)

    def unsaid(self) -> list[str]:
        """Recorded values that no result has shown: a computed result never reported."""
        return sorted(set(self.values) - self.said)

    def finish(self, fmt: str = ".0f") -> None:
        """Say how long the page took (seconds since `start_page`). Raises AssertionError
        if a recorded value was never shown by `say`: every computed result is reported."""
        runtime = time.perf_counter() - self.started
        _display_markdown(f"This page ran in {runtime:{fmt}} s on "
                          f"{describe_device(self.device)} ({self.budget.name} budget).")
        missing = self.unsaid()
        assert not missing, f"results recorded but never shown on this page: {missing}"


def _training_time(budget: Budget, prefix: str, device: torch.device) -> str:
    """" Its training takes about 5 minutes here ...": the page's planned runs
    (`budget.page_runs`) at the speed a one-second probe measures (`estimate`)."""
    from .estimate import page_seconds, probe, said

    if not budget.page_runs(prefix):
        return ""
    seconds = page_seconds(budget, prefix, probe(device))
    return (f" Its training takes {said(seconds)} on this device, less where its runs are "
            "already cached (estimated from a one-second speed test, good to about a factor "
            "of two).")


def start_page(prefix: str, device: torch.device | None = None) -> Page:
    """The top of a page: pick the device and the budget and say both (the budget is
    *quick* on a CPU, *full* on a GPU; the environment variable RNNLAB_BUDGET overrides)."""
    device = device or get_device()
    budget = get_budget()
    _display_markdown(f"This page runs on **{describe_device(device)}** with the "
                      f"**{budget.name}** budget.{_training_time(budget, prefix, device)}")
    page = Page(prefix, device, budget)
    page.values.update(device=describe_device(device), budget=budget.name)
    page.said |= {"device", "budget"}        # said just above
    return page


def setup_cell(d2l: bool, ref: str | None = None) -> str:
    """The first code cell of every notebook: on Colab, install this version of rnnlab
    (the git ref `ref`, by default `source_ref()`), and d2l without its outdated pins where
    the page uses d2l."""
    lines = ["# Colab setup: install rnnlab at the version this notebook belongs to"
             + (", and d2l\n# without its outdated pins." if d2l else "."),
             "# Colab's torch, numpy and matplotlib stay as they are; elsewhere this does nothing.",
             "import sys",
             "",
             'if "google.colab" in sys.modules:',
             f'    %pip install -q "rnnlab @ git+{REPOSITORY}@{ref or source_ref()}"']
    if d2l:
        lines.append(f"    %pip install -q --no-deps d2l=={_D2L_VERSION}")
    return "\n".join(lines)


def pin_setup_cell(path: Path, ref: str) -> bool:
    """Rewrite the setup cell of the notebook file at `path` to install rnnlab at the git
    ref `ref` (a branch, a tag or a commit), keeping whether it installs d2l; True if the
    file changed. Used by the release command (`tools/release.py`) and by the website build,
    which pins the notebooks it offers for download to the commit built."""
    text = path.read_text(encoding="utf-8")
    nb = json.loads(text)
    for cell in nb["cells"]:
        if has(cell, SETUP):
            source = setup_cell("d2l==" in "".join(cell["source"]), ref)
            cell["source"] = source.splitlines(keepends=True)
    new = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
    if new == text:
        return False
    path.write_text(new, encoding="utf-8")
    return True


def _listing(obj) -> tuple[str, str, int, int]:
    """(source, path inside the repository, first line, last line) of a package object.
    A decorated function (`@torch.no_grad()`) is listed from its own file, not the
    decorator's."""
    obj = inspect.unwrap(obj)
    lines, first = inspect.getsourcelines(obj)
    path = Path(inspect.getsourcefile(obj)).resolve()
    package = Path(__file__).resolve().parent
    try:
        rel = "src/rnnlab/" + path.relative_to(package).as_posix()
    except ValueError:
        rel = path.name
    return textwrap.dedent("".join(lines)), rel, first, first + len(lines) - 1


def show_source(obj, folded: bool = False) -> None:
    """Display the source of a package function or class as a listing captioned with its
    file and lines, linked to them in the repository.

    `folded`: the listing is closed until the reader opens it (an HTML `<details>`, which
    Colab, JupyterLab and the website all fold): for a listing that answers an exercise
    above it on the page.
    """
    source, rel, first, last = _listing(obj)
    url = f"{REPOSITORY}/blob/{source_ref()}/{rel}#L{first}-L{last}"
    caption = f"{rel}, lines {first}–{last}"
    try:
        from IPython.display import HTML, Code, display
    except ImportError:
        print(f"# {caption} ({url})\n{source}")
        return
    link = (f'<a href="{url}"><code>{rel}</code></a>, lines {first}–{last}')
    if folded:
        display(HTML(f'<details class="rnnlab-listing"><summary>{link} (click to show)'
                     f"</summary>{Code(source, language='python')._repr_html_()}</details>"))
        return
    display(HTML(f'<p class="rnnlab-listing">{link}</p>'))
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
