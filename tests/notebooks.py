"""Helpers for tests that read the book's notebooks (cells found by their tags)."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

from rnnlab import tags

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
CHAPTERS = sorted(BOOK.glob("[0-9][0-9]_*.ipynb"))      # numbered chapters, with exercises
NOTEBOOKS = sorted(BOOK.glob("*.ipynb"))                 # every executed page
# What only Sphinx/MyST reads; Colab and JupyterLab show it raw: roles ({doc}`x`,
# {glue:text}`x`), target labels ((name)=), directives (```{note}, :::{note}), substitutions.
MYST = re.compile(r"\{[a-z][\w:-]*\}`|^\([\w-]+\)=\s*$|^(```|:::)\s*\{|\{\{[^}]*\}\}", re.M)


def cells(nb_path: Path) -> list[dict]:
    return json.loads(nb_path.read_text(encoding="utf-8"))["cells"]


def source(cell: dict) -> str:
    src = cell["source"]
    return "".join(src) if isinstance(src, list) else src


def tagged(nb_path: Path, tag: str) -> list[dict]:
    """The cells of a notebook that carry `tag` (a name from `rnnlab.tags`)."""
    return [c for c in cells(nb_path) if tags.has(c, tag)]


def exercises(nb_path: Path) -> dict[str, dict[str, str]]:
    """{exercise name: {"stub": source, "solution": source, "check": check function name}}.

    The exercise name is what the student defines (`rnn_step`, `RNNLayer`, `count_rnn`);
    the solution cell defines the same name with `_solution` appended.
    """
    out: dict[str, dict[str, str]] = {}
    for tag, key in [(tags.EXERCISE, "stub"), (tags.SOLUTION, "solution")]:
        for c in tagged(nb_path, tag):
            meta = c["metadata"]["rnnlab"]
            entry = out.setdefault(meta["exercise"], {})
            entry[key] = source(c)
            entry["check"] = meta["check"]
    return out


def exercise(name: str) -> dict[str, str]:
    """One exercise's cells ({"stub", "solution", "check"}), from whichever chapter has it."""
    for nb in CHAPTERS:
        found = exercises(nb)
        if name in found:
            return found[name]
    raise KeyError(f"no chapter has an exercise named {name!r}")


def notebook_namespace() -> dict:
    """The names a chapter's cells may use without importing them: a notebook's imports."""
    import dataclasses
    import importlib
    import math

    import torch
    import torch.nn.functional as F
    from torch import nn

    import rnnlab
    return {"math": math, "torch": torch, "nn": nn, "F": F, "dataclasses": dataclasses,
            "rnnlab": rnnlab,
            **{f"ch{k}": importlib.import_module(f"rnnlab.exercises.ch{k}") for k in range(1, 8)}}


def define(src: str, name: str):
    """Run a cell's source as a notebook would and return the object it defines as `name`.

    The solution cell's closing `chN.check_...(...)` line is dropped (the test calls the
    check), and the source is registered as IPython registers a cell's, so that the checks
    can read it (`inspect`) to quote the student's line.
    """
    import linecache

    lines = [line for line in src.splitlines() if not re.match(r"ch\d+\.check_", line)]
    code = "\n".join(lines) + "\n"
    filename = f"<cell defining {name}>"
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    ns = notebook_namespace()
    exec(compile(code, filename, "exec"), ns)
    return ns[name]


def slip_answer(ex, slip):
    """What a declared slip or route (`rnnlab.exercises.Slip`) of exercise `ex` answers: the
    notebook's solution cell with the slip's edits made (each must find its text), or the
    answer the slip gives."""
    if not slip.is_edit:
        return slip.answer
    src = exercise(ex.name)["solution"]
    for old, new in slip.edits:
        assert old in src, f"exercise {ex.number}'s solution has no {old!r} to edit"
        src = src.replace(old, new)
    return define(src, f"{ex.name}_solution")


def book_extension(name: str):
    """One of the book's Sphinx extensions (`_ext/<name>.py`), imported as a module."""
    import importlib
    import sys

    sys.path.insert(0, str(ROOT / "_ext"))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.pop(0)


def uses_d2l(nb_path: Path) -> bool:
    """Whether a page's code (its setup cell aside) needs d2l: directly, through
    `rnnlab.reference`, or through `run_suite`, which includes d2l's model."""
    code = "\n".join(source(c) for c in cells(nb_path)
                     if c["cell_type"] == "code" and not tags.has(c, tags.SETUP))
    return bool(re.search(r"\bd2l\b.*import|import d2l|rnnlab\.reference|run_suite\(", code))


def solved(nb_path: Path):
    """The notebook (an nbformat node) with every exercise cell replaced by its solution,
    renamed from `<name>_solution` to the name the exercise asks for."""
    import nbformat

    nb = nbformat.read(nb_path, as_version=4)
    solutions = {c.metadata["rnnlab"]["exercise"]: c.source for c in nb.cells
                 if tags.has(c, tags.SOLUTION)}
    out = copy.deepcopy(nb)
    for cell in out.cells:
        if tags.has(cell, tags.EXERCISE):
            name = cell.metadata["rnnlab"]["exercise"]
            lines = [line for line in solutions[name].splitlines()
                     if not line.startswith("#@title") and not re.match(r"ch\d+\.check_", line)]
            cell.source = "\n".join(lines).replace(f"{name}_solution", name)
    return out


def check_verdicts(nb) -> list[str]:
    """The text each executed check cell printed."""
    return ["".join(o.get("data", {}).get("text/plain", "") for o in cell.outputs)
            for cell in nb.cells if tags.has(cell, tags.CHECK)]


def said_templates(code: str) -> str:
    '''The Markdown templates of the page.say(r"""...""") calls in `code`.'''
    return "\n".join(re.findall(r'say\(r?"""(.*?)"""', code, re.S))


def said_names(code: str) -> list[str]:
    """The {{name}} placeholders the `page.say` calls in `code` fill."""
    return re.findall(r"\{\{\s*(\w+)", said_templates(code))


def recorded_names(code: str) -> tuple[set[str], list[str]]:
    """(names `page.record("name", ...)` keeps, patterns of the names made in a loop:
    in `page.record(f"{key}_ratio", ...)` each {...} stands for a word)."""
    names = set(re.findall(r"record\(\s*\"(\w+)\"", code))
    patterns = [re.sub(r"\\\{[^}]*\\\}", r"\\w+", re.escape(p))
                for p in re.findall(r"record\(\s*f\"([^\"]+)\"", code)]
    return names, patterns
