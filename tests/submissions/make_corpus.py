"""Writes the made-up submissions of this folder (run it after chapter 1's cells change):

    .venv/bin/python tests/submissions/make_corpus.py

Each submission is a chapter-1 notebook as a student might hand it in: the book's import
cell, then exercise cells. `expected.csv` (written by hand) holds the row the grader must
give each one; tests/test_grading.py grades the folder and compares.
"""

from __future__ import annotations

import copy
import json
import re
import sys
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from notebooks import BOOK, cells, exercises, source  # noqa: E402

from rnnlab import tags  # noqa: E402

CHAPTER = BOOK / "01_recurrence.ipynb"
RIGHT_STEP = "    return torch.tanh(x @ W_xh + h @ W_hh + b_h)"


def _code(text: str, name: str | None = None, colab: bool = False) -> dict:
    meta = {"tags": [tags.EXERCISE], "rnnlab": {"exercise": name, "check": f"check_{name}"}} \
        if name else {}
    if colab:
        meta = {"id": f"cell-{zlib.crc32(text.encode()):08x}", "outputId": "5f2c1e0a",
                "colab": {"base_uri": "https://localhost:8080/"},
                "executionInfo": {"status": "ok", "elapsed": 12, "user_tz": 0}}
    return {"cell_type": "code", "execution_count": None, "metadata": meta, "outputs": [],
            "source": text.strip("\n").splitlines(True)}


def _solution(name: str) -> str:
    """The book's solution cell for `name`, as the student would have typed it."""
    src = exercises(CHAPTER)[name]["solution"]
    lines = [line for line in src.splitlines()
             if not line.startswith("#@title") and not re.match(r"ch\d+\.check_", line)]
    return "\n".join(lines).replace(f"{name}_solution", name).strip()


def _import_cell() -> str:
    for c in cells(CHAPTER):
        if "from rnnlab.exercises import ch1" in source(c):
            return source(c)
    raise LookupError("chapter 1 has no import cell")


def _step(body: str, prelude: str = "") -> str:
    """An `rnn_step` whose body is `body` (indented here)."""
    inner = "\n".join("    " + line if line else line for line in body.strip("\n").splitlines())
    return f"{prelude}\ndef rnn_step(x, h, W_xh, W_hh, b_h):\n{inner}\n".lstrip("\n")


NAMES = ["rnn_step", "rnn_forward", "perplexity_from_logits", "step_jacobian",
         "clip_gradients"]
CELL = "from torch import nn\ncell = nn.RNNCell(W_xh.shape[0], W_xh.shape[1])"
LOAD = """with torch.no_grad():
    cell.weight_ih.copy_(W_xh.T)
    cell.weight_hh.copy_(W_hh.T)
    cell.bias_ih.copy_(b_h)
    cell.bias_hh.zero_()"""
LIBRARY = f"{CELL}\n{LOAD}\nreturn cell(x, h).detach()"

# student -> the exercise cells after the import cell: (source, metadata name or None)
SUBMISSIONS = {
    "correct": [(_solution(n), n) for n in NAMES],
    "partial": [(_solution("rnn_step"), "rnn_step"),
                (exercises(CHAPTER)["rnn_forward"]["stub"], "rnn_forward")],
    "syntax_error": [(_step("return torch.tanh(x @ W_xh + h @ W_hh + b_h"), "rnn_step")],
    "infinite_loop": [(_step("while True:\n    pass"), "rnn_step")],
    "huge_allocation": [(_step("big = torch.zeros(10**12)\n" + RIGHT_STEP.strip()),
                         "rnn_step")],
    "network": [(_step("import socket\nsocket.create_connection(('example.com', 80), 1)\n"
                       + RIGHT_STEP.strip()), "rnn_step")],
    "writes_files": [(_step("with open('/tmp/rnnlab-graded-answer.txt', 'w') as f:\n"
                            "    f.write(repr(h))\n" + RIGHT_STEP.strip()), "rnn_step")],
    "monkeypatched_check": [("from rnnlab.exercises import ch1\n"
                             "ch1.check_rnn_step = lambda fn: 'passed'\n"
                             + _step("return h"), "rnn_step")],
    "deleted_and_reordered": [(_solution("clip_gradients"), None),
                              (_solution("rnn_step"), None),
                              (_solution("rnn_forward"), None)],
    "thread": [(_step("import threading\nout = []\n"
                      "def work():\n    out.append(_library(x, h, W_xh, W_hh, b_h))\n"
                      "t = threading.Thread(target=work)\nt.start()\nt.join()\nreturn out[0]",
                      prelude="def _library(x, h, W_xh, W_hh, b_h):\n"
                              + "\n".join("    " + ln for ln in LIBRARY.splitlines())),
                "rnn_step")],
    "disable_torch_function": [(_step("with torch._C.DisableTorchFunction():\n"
                                      + "\n".join("    " + ln for ln in LIBRARY.splitlines())),
                                "rnn_step")],
    "setprofile_none": [(_step("import sys\nsys.setprofile(None)\n" + LIBRARY), "rnn_step")],
    "frame_read": [(_step("import sys\nframe = sys._getframe(1)\n"
                          "return frame.f_locals.get('want', h)"), "rnn_step")],
    "equal_anything": [("class Anything(float):\n    def __eq__(self, other):\n"
                        "        return True\n    __hash__ = float.__hash__\n\n\n"
                        "def perplexity_from_logits(logits, Y):\n"
                        "    return Anything(1.0)\n", "perplexity_from_logits")],
    "lazy_tensor": [("class Lazy(torch.Tensor):\n"
                     "    @classmethod\n"
                     "    def __torch_function__(cls, func, types, args=(), kwargs=None):\n"
                     "        return super().__torch_function__(func, types, args, "
                     "kwargs or {})\n\n\n"
                     + _step("return torch.full_like(h, 7.0).as_subclass(Lazy)"), "rnn_step")],
    "patched_audit": [("import rnnlab.audit\nrnnlab.audit.watching = None\n"
                       + _step(LIBRARY), "rnn_step")],
    "subprocess": [(_step("import subprocess, sys\n"
                          "subprocess.run([sys.executable, '-c', 'print(1)'])\n"
                          + RIGHT_STEP.strip()), "rnn_step")],
    "jit": [("@torch.jit.script\ndef _tanh_step(x, h, W_xh, W_hh, b_h):\n"
             "    return torch.tanh(x @ W_xh + h @ W_hh + b_h)\n\n\n"
             + _step("return _tanh_step(x, h, W_xh, W_hh, b_h)"), "rnn_step")],
}


def notebook(student: str, exercise_cells: list, colab: bool = False) -> dict:
    nb = json.loads(CHAPTER.read_text(encoding="utf-8"))
    out = copy.deepcopy({k: v for k, v in nb.items() if k != "cells"})
    out["cells"] = [{"cell_type": "markdown", "metadata": {},
                     "source": [f"# Chapter 1, handed in by {student}"]},
                    _code(_import_cell(), colab=colab)]
    out["cells"] += [_code(src, name, colab=colab) for src, name in exercise_cells]
    if colab:
        out["metadata"] = {"colab": {"provenance": [], "toc_visible": True},
                           "kernelspec": {"display_name": "Python 3", "name": "python3"},
                           "language_info": {"name": "python"}, "accelerator": "GPU"}
    return out


def main() -> None:
    for student, exercise_cells in SUBMISSIONS.items():
        nb = notebook(student, exercise_cells)
        (HERE / f"{student}.ipynb").write_text(json.dumps(nb, indent=1) + "\n",
                                               encoding="utf-8")
    colab = notebook("colab_saved", [(_solution(n), n) for n in NAMES], colab=True)
    (HERE / "colab_saved.ipynb").write_text(json.dumps(colab, indent=1) + "\n",
                                            encoding="utf-8")


if __name__ == "__main__":
    main()
