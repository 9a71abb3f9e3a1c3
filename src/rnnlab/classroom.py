"""For instructors: a student copy of the chapters, and a submitted notebook's exercises.

    python -m rnnlab student-copy SRC_DIR OUT_DIR     # the chapters without the answers

`student_copy` writes every notebook of SRC_DIR to OUT_DIR without its solution cells
(tagged `solution`) and without the listings that answer an exercise above them (the cells
that call `show_source(..., folded=True)`, which the pages place after an exercise's check
because they give it away); outputs are cleared, everything else is unchanged.

`exercise_cells` finds, in a submitted notebook, the cell that defines each exercise: by
its metadata (`rnnlab.exercise`), or, where the student lost it (a copied or retyped cell,
a notebook saved elsewhere), by the name the cell defines. `rnnlab.grading` runs them.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

from .tags import SOLUTION, has

__all__ = ["exercise_cells", "import_cell", "read_notebook", "student_copy", "without_answers"]


def read_notebook(path: str | Path) -> dict:
    """A notebook file as a dict, with a clear error for what is not one."""
    path = Path(path)
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} is not a readable notebook (.ipynb): {exc}") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise ValueError(f"{path} is not a notebook: it has no list of cells")
    return nb


def source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def _gives_answer_away(cell: dict) -> bool:
    if cell.get("cell_type") != "code":
        return False
    if has(cell, SOLUTION):
        return True
    return bool(re.search(r"show_source\([^)]*folded\s*=\s*True", source(cell)))


def without_answers(nb: dict) -> tuple[dict, int]:
    """(a copy of notebook `nb` without its answers and with its outputs cleared, how many
    cells were left out): what `student_copy` writes, and what the website shows when it
    is built as the student copy (`RNNLAB_STUDENT_COPY=1 make book`)."""
    out = dict(nb)
    kept = [dict(c) for c in nb.get("cells", []) if not _gives_answer_away(c)]
    for cell in kept:
        if cell.get("cell_type") == "code":
            cell["outputs"], cell["execution_count"] = [], None
    out["cells"] = kept
    return out, len(nb.get("cells", [])) - len(kept)


def student_copy(src_dir: str | Path, out_dir: str | Path) -> list[tuple[str, int]]:
    """Write every notebook of `src_dir` to `out_dir` without its answers (see the module's
    docstring); returns (notebook name, cells removed) for each. `out_dir` may not be
    `src_dir`, and a notebook already in `out_dir` is replaced."""
    src, out = Path(src_dir), Path(out_dir)
    if not src.is_dir():
        raise ValueError(f"{src} is not a folder of notebooks")
    notebooks = sorted(src.glob("*.ipynb"))
    if not notebooks:
        raise ValueError(f"{src} holds no notebooks (*.ipynb)")
    if out.resolve() == src.resolve():
        raise ValueError("OUT_DIR must differ from SRC_DIR: the copy would replace the "
                         "notebooks with their solutions")
    out.mkdir(parents=True, exist_ok=True)
    report = []
    for path in notebooks:
        nb, removed = without_answers(read_notebook(path))
        report.append((path.name, removed))
        (out / path.name).write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n",
                                     encoding="utf-8")
    return report


def _defined(code: str) -> set[str]:
    """The names a cell defines at its top level (functions, classes, assignments)."""
    try:
        tree = ast.parse(python_source(code))
    except SyntaxError:      # a cell that does not parse still names what it meant to define
        return {m.group(1) or m.group(2)
                for m in re.finditer(r"^(?:def|class)\s+(\w+)|^(\w+)\s*=", code, re.M)}
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def python_source(code: str) -> str:
    """A cell's source as plain Python: IPython's magics and shell lines (`%pip ...`,
    `!ls`) become `pass`, so that a block holding one stays a block."""
    return re.sub(r"^(\s*)[%!].*$", r"\1pass", code, flags=re.M)


def exercise_cells(nb: dict, names) -> dict[str, tuple[int, str]]:
    """{exercise name: (cell index, how it was found)} for the exercises among `names` that
    `nb` defines: the cell whose metadata names it, else the last code cell that defines the
    name (the one a "Run all" leaves in force). Solution cells never count."""
    found: dict[str, tuple[int, str]] = {}
    cells = nb.get("cells", [])
    for i, cell in enumerate(cells):
        if cell.get("cell_type") != "code" or has(cell, SOLUTION):
            continue
        meta = cell.get("metadata", {}).get("rnnlab", {})
        if isinstance(meta, dict) and meta.get("exercise") in names \
                and meta["exercise"] in _defined(source(cell)):
            found[meta["exercise"]] = (i, "metadata")
    for i, cell in enumerate(cells):
        if cell.get("cell_type") != "code" or has(cell, SOLUTION):
            continue
        for name in _defined(source(cell)) & set(names):
            if name not in found or found[name][1] == "name":
                found[name] = (i, "name")
    return found


def import_cell(nb: dict, chapter: int) -> int | None:
    """The index of the chapter's import cell: the code cell that imports its checks."""
    pattern = re.compile(rf"from\s+rnnlab\.exercises\s+import\s+[\w, ]*\bch{chapter}\b")
    for i, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") == "code" and pattern.search(source(cell)):
            return i
    return None
