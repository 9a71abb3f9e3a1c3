"""The cell tags of the course's notebooks: each tag's one meaning, written once.

The tests (`tests/notebooks.py`, `test_book.py`, `test_colab.py`), the website build
(`_ext/pin_setup.py`) and the solved-notebook builder read the names from here; a tag used
in a notebook and missing here fails `tests/test_book.py`.
"""

from __future__ import annotations

SETUP = "setup"
EXERCISE = "exercise"
CHECK = "check"
SOLUTION = "solution"
RESULT = "result"
# Jupyter Book's own tags: what the website shows of a cell.
HIDE_INPUT = "hide-input"
REMOVE_INPUT = "remove-input"
HIDE_CELL = "hide-cell"

MEANINGS = {
    SETUP: "the page's second cell, `rnnlab.pages.setup_cell(...)`: installs the package "
           "where it is missing (Colab); the website build pins it to the built commit",
    EXERCISE: "the stub a student edits; its metadata `rnnlab` names the function "
              "(`exercise`) and its check (`check`)",
    CHECK: "calls the exercise's check on the student's function",
    SOLUTION: "the folded answer: defines `<name>_solution` and ends with the check call; "
              "the solved-notebook builder swaps it in for the stub",
    RESULT: "says what this run measured (`page.say`): Markdown output, code hidden",
    HIDE_INPUT: "website: the code is folded behind a button (solutions)",
    REMOVE_INPUT: "website: the code is not shown, only its output (results)",
    HIDE_CELL: "website: code and output folded (listings)",
}


def tags_of(cell) -> list[str]:
    """A cell's tags (a notebook cell as a dict or an nbformat node)."""
    return list(cell.get("metadata", {}).get("tags", []))


def has(cell, tag: str) -> bool:
    """Whether `cell` carries `tag` (one of this module's names)."""
    if tag not in MEANINGS:
        raise ValueError(f"unknown cell tag {tag!r}: the tags are {sorted(MEANINGS)}")
    return tag in tags_of(cell)
