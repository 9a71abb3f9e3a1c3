"""Every chapter runs top to bottom with every exercise solved, and then every check passes.

(The shipped, unsolved state is executed by nbmake: `pytest --nbmake book`.) The solved
state is made by putting each solution into its exercise cell, renamed from
`<name>_solution` to the name the exercise asks for.
"""

import copy
import re

import nbformat
import pytest
from nbclient import NotebookClient
from notebooks import BOOK, CHAPTERS


def solved(nb_path):
    nb = nbformat.read(nb_path, as_version=4)
    solutions = {c.metadata["rnnlab"]["exercise"]: c.source for c in nb.cells
                 if "solution" in c.metadata.get("tags", [])}
    out = copy.deepcopy(nb)
    for cell in out.cells:
        if "exercise" in cell.metadata.get("tags", []):
            name = cell.metadata["rnnlab"]["exercise"]
            lines = [line for line in solutions[name].splitlines()
                     if not line.startswith("#@title") and not re.match(r"ch\d+\.check_", line)]
            cell.source = "\n".join(lines).replace(f"{name}_solution", name)
    return out


@pytest.mark.parametrize("nb_path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_with_every_exercise_solved(nb_path):
    nb = solved(nb_path)
    NotebookClient(nb, timeout=1200, kernel_name="python3",
                   resources={"metadata": {"path": str(BOOK)}}).execute()
    verdicts = []
    for cell in nb.cells:
        if "check" in cell.metadata.get("tags", []):
            text = "".join(o.get("data", {}).get("text/plain", "") for o in cell.outputs)
            verdicts.append(text)
    assert verdicts, f"{nb_path.name} has no check cells"
    for text in verdicts:
        assert "✔ passed" in text and "not yet" not in text, text
