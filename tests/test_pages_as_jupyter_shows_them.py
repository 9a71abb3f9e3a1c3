"""Every chapter as plain Jupyter and Colab show it (nbconvert, no Sphinx): a markdown cell
is shown as written, so it must hold no MyST syntax; a folded result cell shows only its
title until it runs; no listing of an exercise's answer comes before its check.

The executed side (every result cell has Markdown output, and no Markdown output holds
MyST syntax) is checked where the pages are executed: tests/test_colab.py.
"""

import ast
import re

import nbformat
import pytest
from notebooks import CHAPTERS, MYST, NOTEBOOKS, cells, source

from rnnlab import tags
from rnnlab.classroom import python_source

# What Jupyter shows of a page: rendered HTML text, scripts and styles aside.
_TAGS = re.compile(r"<(script|style)\b.*?</\1>|<[^>]+>", re.S)


def jupyter_text(nb) -> str:
    """The text plain Jupyter renders for a notebook (nbconvert's HTML, tags stripped).
    A cell whose source JupyterLab hides (`jupyter.source_hidden`, Colab's forms too) shows
    no code."""
    import copy

    from nbconvert import HTMLExporter

    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.metadata.get("jupyter", {}).get("source_hidden"):
            cell.source = ""
    body, _ = HTMLExporter().from_notebook_node(nb)
    return _TAGS.sub(" ", body)


def myst_in_markdown_outputs(nb) -> list[str]:
    """MyST syntax found in the Markdown outputs of an executed notebook."""
    found = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            text = out.get("data", {}).get("text/markdown", "")
            found += [m.group(0) for m in MYST.finditer(text)]
    return found


def result_cells_without_markdown(nb) -> list[str]:
    """Result cells of an executed notebook that showed no Markdown."""
    return [cell.source[:80] for cell in nb.cells
            if tags.has(cell, tags.RESULT)
            and not any("text/markdown" in o.get("data", {}) for o in cell.outputs)]


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.name)
def test_as_committed_plain_jupyter_shows_no_myst_syntax(nb_path):
    text = jupyter_text(nbformat.read(nb_path, as_version=4))
    for pattern in (r"\{glue:", r"\{doc\}", r"\{ref\}", r"\{[a-z]+\}`", r"^\([\w-]+\)=$"):
        hit = re.search(pattern, text, re.M)
        assert not hit, f"{nb_path.name} shows raw {hit.group(0)!r} in plain Jupyter"


def test_the_render_checks_can_fail():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("A loss of {glue:text}`ch1_loss`."),
        nbformat.v4.new_code_cell("page.say('x')", metadata={"tags": ["result"]}),
    ])
    assert "{glue:text}" in jupyter_text(nb)
    assert result_cells_without_markdown(nb) == ["page.say('x')"]
    nb.cells[1].outputs = [nbformat.v4.new_output(
        "display_data", data={"text/markdown": "See {doc}`chapter 1 <01_recurrence>`."})]
    assert myst_in_markdown_outputs(nb) and not result_cells_without_markdown(nb)


def _answers(chapter: int) -> dict[str, set]:
    """{exercise number "N.k": the package objects whose listing would give it away}: its
    declaration's `answered_by`, less what an earlier exercise already names (a later
    exercise answered by the same function does not make it that one's answer)."""
    from rnnlab.exercises import declared

    out: dict[str, set] = {}
    for ex in declared().values():
        if ex.number.split(".")[0] == str(chapter):
            found = {p: _resolve(p) for p in ex.answered_by}
            assert None not in found.values(), f"{ex.number}: answered_by names {found}"
            out[ex.number] = set(found.values())
    earlier: set = set()
    for key in sorted(out, key=lambda k: tuple(map(int, k.split(".")))):
        out[key] -= earlier
        earlier |= out[key]
    return out


def _resolve(path: str):
    """The object at a dotted path ("rnnlab.cells.gru_step"), or None."""
    import importlib
    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for part in parts[i:]:
            obj = getattr(obj, part, None)
        return obj
    return None


def _listed_objects(code: str) -> list[str]:
    """The expressions passed to show_source(...) in a cell."""
    tree = ast.parse(python_source(code))
    return [ast.unparse(node.args[0]) for node in ast.walk(tree)
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "show_source"]


@pytest.mark.parametrize("nb_path", CHAPTERS, ids=lambda p: p.name)
def test_no_listing_shows_an_exercise_answer_before_its_check(nb_path):
    import importlib

    import rnnlab

    chapter = int(nb_path.name[:2])
    answers = _answers(chapter)
    names = {"rnnlab": rnnlab}          # what the page imports from the package
    for cell in cells(nb_path):
        if cell["cell_type"] == "code":
            for node in ast.walk(ast.parse(python_source(source(cell)))):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("rnnlab"):
                    module = importlib.import_module(node.module)
                    names.update({a.asname or a.name: getattr(module, a.name)
                                  for a in node.names if hasattr(module, a.name)})
    seen: list[tuple[str, object]] = []
    number = None
    for cell in cells(nb_path):
        text = source(cell)
        heading = re.search(r"^### Exercise (\d+\.\d+)", text, re.M)
        if cell["cell_type"] == "markdown" and heading:
            number = heading.group(1)
        if cell["cell_type"] != "code":
            continue
        for expr in _listed_objects(text):
            seen.append((expr, eval(expr, dict(names))))
        if tags.has(cell, tags.CHECK) and number:
            shown = [e for e, obj in seen if obj in answers.get(number, set())]
            assert not shown, (f"{nb_path.name}: {shown} listed before the check of "
                               f"exercise {number}; show it after (folded)")


def test_the_answer_check_knows_the_gated_steps():
    from rnnlab.cells import gru_step, lstm_step

    assert {gru_step, lstm_step} <= _answers(7)["7.1"]     # both refused from 7.1 on
