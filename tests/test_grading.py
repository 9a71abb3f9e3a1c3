"""For instructors (issue 32): a student copy, and grading submitted notebooks out of process.

The corpus in tests/submissions/ (written by make_corpus.py) holds made-up chapter-1
submissions: right, partial, broken, slow, greedy, and one per kind of route around a
checker that a red team found in the notebook's own checks. `expected.csv` says the row
each must get; no cheating submission may pass anything, and a flagged row says why.
"""

import csv
import pickle
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import torch
from notebooks import BOOK, CHAPTERS, book_extension, cells, solved, source

from rnnlab import classroom, grading
from rnnlab.exercises import declared

CORPUS = Path(__file__).parent / "submissions"
HONEST = {"correct", "colab_saved", "deleted_and_reordered", "partial", "syntax_error",
          "infinite_loop", "huge_allocation"}


@pytest.fixture(scope="module")
def corpus_rows():
    paths = sorted(CORPUS.glob("*.ipynb"))
    rows, seed = grading.grade(paths, seed=20261207, call_limit=2, timeout=60)
    assert seed == 20261207
    return {(r.student, r.exercise): r for r in rows}


def _expected():
    with (CORPUS / "expected.csv").open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_the_corpus_covers_the_kinds_the_issue_lists():
    students = {row["student"] for row in _expected()}
    assert students == {p.stem for p in CORPUS.glob("*.ipynb")}
    assert len(students - HONEST) >= 10           # one cheating submission per route kind


@pytest.mark.parametrize("row", _expected(), ids=lambda r: f"{r['student']}-{r['exercise']}")
def test_each_submission_gets_its_expected_row(row, corpus_rows):
    got = corpus_rows[(row["student"], row["exercise"])]
    assert got.passed == (row["passed"] == "1"), got
    assert row["message"] in got.message, got.message
    if row["flagged"]:
        assert row["flagged"] in got.flagged, got.flagged
    else:
        assert got.flagged == "", got.flagged


def test_no_cheating_submission_passes_anything(corpus_rows):
    cheats = [r for (student, _), r in corpus_rows.items() if student not in HONEST]
    assert cheats and not any(r.passed for r in cheats), [r for r in cheats if r.passed]


def test_every_exercise_of_the_chapter_gets_a_row(corpus_rows):
    numbers = [ex.number for ex in declared().values() if ex.number.startswith("1.")]
    for student in {s for s, _ in corpus_rows}:
        assert {n for s, n in corpus_rows if s == student} == set(numbers), student


def test_the_gradebook_is_a_long_and_a_wide_csv(corpus_rows, tmp_path):
    rows = list(corpus_rows.values())
    long_path, wide_path = grading.write_grades(rows, tmp_path / "grades.csv")
    with long_path.open() as f:
        long = list(csv.DictReader(f))
    assert len(long) == len(rows)
    assert set(long[0]) == {"student", "exercise", "name", "passed", "flagged", "message",
                            "seconds", "found"}
    with wide_path.open() as f:
        wide = {r["student"]: r for r in csv.DictReader(f)}
    assert wide["correct"]["total"] == "5" and wide["correct"]["1.3"] == "1"
    assert wide["partial"]["total"] == "1" and wide["partial"]["1.2"] == "0"
    assert int(wide["thread"]["flagged"]) == 1
    table = grading.summary(rows, 7)
    assert "correct" in table and "5/5" in table and "grading seed 7" in table


# ---------------------------------------------------------------------------
# The book's own solutions, and the student copy
# ---------------------------------------------------------------------------


@pytest.mark.slow
def test_the_books_solutions_all_pass_and_the_student_copy_passes_none(tmp_path):
    solved_dir, copy_dir = tmp_path / "solved", tmp_path / "copy"
    solved_dir.mkdir()
    for nb in CHAPTERS:
        nbformat.write(solved(nb), solved_dir / nb.name)
    rows, _ = grading.grade(sorted(solved_dir.glob("*.ipynb")), seed=3)
    assert len(rows) == len(declared())
    assert all(r.passed and not r.flagged for r in rows), [r for r in rows if not r.passed]
    classroom.student_copy(BOOK, copy_dir)
    rows, _ = grading.grade(sorted(copy_dir.glob("0*.ipynb")), seed=3)
    assert len(rows) == len(declared()) and not any(r.passed for r in rows)


def test_the_student_copy_leaves_out_solutions_and_the_listings_that_answer(tmp_path):
    report = dict(classroom.student_copy(BOOK, tmp_path))
    for nb in CHAPTERS:
        kept = cells(tmp_path / nb.name)
        assert not [c for c in kept if "solution" in c.get("metadata", {}).get("tags", [])]
        assert not [c for c in kept if "folded=True" in source(c)]
        assert all(not c.get("outputs") for c in kept if c["cell_type"] == "code")
        removed = len(cells(nb)) - len(kept)
        assert report[nb.name] == removed >= 3
    with pytest.raises(ValueError, match="must differ"):
        classroom.student_copy(BOOK, BOOK)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no notebooks"):
        classroom.student_copy(tmp_path / "empty", tmp_path / "x")


def test_an_exercise_is_found_by_its_metadata_or_by_the_name_it_defines():
    names = list(declared())
    nb = {"cells": [
        {"cell_type": "code", "metadata": {"rnnlab": {"exercise": "rnn_step"}},
         "source": "def rnn_step(x, h, W_xh, W_hh, b_h):\n    return h\n"},
        {"cell_type": "code", "metadata": {}, "source": "def rnn_forward(X, h0, *w):\n    pass\n"},
        {"cell_type": "code", "metadata": {"tags": ["solution"]},
         "source": "def clip_gradients(g, m):\n    return g\n"},
        {"cell_type": "code", "metadata": {}, "source": "pass_through = (1.0, 0.0)\n"},
        {"cell_type": "code", "metadata": {}, "source": "def one_hot(X, V:\n"},   # broken
    ]}
    found = classroom.exercise_cells(nb, names)
    assert found == {"rnn_step": (0, "metadata"), "rnn_forward": (1, "name"),
                     "pass_through": (3, "name"), "one_hot": (4, "name")}


def test_the_website_built_as_the_student_copy_reads_notebooks_without_answers(monkeypatch):
    ext = book_extension("student_copy")
    chapter = BOOK / "06_bptt.ipynb"

    class App:
        class env:
            @staticmethod
            def doc2path(docname):
                return BOOK / f"{docname.split('/')[-1]}.ipynb"

        def __init__(self):
            self.handlers = {}

        def connect(self, event, handler):
            self.handlers[event] = handler
    app = App()
    monkeypatch.delenv(ext.ENV, raising=False)
    ext.setup(app)
    assert app.handlers == {}                    # the ordinary build is untouched
    monkeypatch.setenv(ext.ENV, "1")
    ext.setup(app)
    source = [chapter.read_text(encoding="utf-8")]
    app.handlers["source-read"](app, "book/06_bptt", source)
    import json
    kept = json.loads(source[0])["cells"]
    _, removed = classroom.without_answers(classroom.read_notebook(chapter))
    assert len(kept) == len(cells(chapter)) - removed and removed >= 5
    assert not any("solution" in c["metadata"].get("tags", []) for c in kept)


def test_the_command_line_writes_the_student_copy(tmp_path):
    done = subprocess.run([sys.executable, "-m", "rnnlab", "student-copy", str(BOOK),
                           str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "01_recurrence.ipynb: 5 cell(s) with an answer left out" in done.stdout
    assert (tmp_path / "07_gated.ipynb").exists()


def test_the_chapter_graded_is_the_one_its_import_cell_names():
    """A chapter-1 notebook with a helper called `one_hot` is not graded on chapter 2; a
    notebook whose import cell is gone is graded on the chapters of what it defines."""
    def code(text):
        return {"cell_type": "code", "metadata": {}, "source": text}
    helper = code("def one_hot(i, n):\n    return [int(k == i) for k in range(n)]\n")
    nb = {"cells": [code("import torch\nfrom rnnlab.exercises import ch1\n"), helper]}
    numbers = {ex.number for ex, _, _ in grading._jobs(Path("x.ipynb"), nb, 1)}
    assert numbers == {ex.number for ex in declared().values() if ex.number.startswith("1.")}
    numbers = {ex.number for ex, _, _ in grading._jobs(Path("x.ipynb"), {"cells": [helper]}, 1)}
    assert numbers == {ex.number for ex in declared().values() if ex.number.startswith("2.")}


# ---------------------------------------------------------------------------
# What crosses between the processes
# ---------------------------------------------------------------------------


def test_a_record_is_data_and_comes_back_as_it_went():
    payload = {"tape": [{"name": "f", "result": (torch.ones(2, 3), 1, 2.5, "s", None,
                                                 [True, {"k": torch.zeros(1)}]),
                         "args": [None]}],
               "meta": torch.empty(2, 3, device="meta"), "dtype": torch.float64}
    back = grading._decode(grading._encode(payload))
    result = back["tape"][0]["result"]
    assert isinstance(result, tuple) and torch.equal(result[0], torch.ones(2, 3))
    assert result[1:5] == (1, 2.5, "s", None) and result[5][1]["k"].shape == (1,)
    assert back["meta"].device.type == "meta" and back["dtype"] is torch.float64


def test_what_is_not_plain_data_comes_back_as_a_name_only():
    import numpy as np
    from torch import nn
    back = grading._decode(grading._encode({"m": nn.Linear(2, 2), "a": np.zeros(2),
                                            "n": np.float32(1.5)}))
    assert type(back["m"]).__name__ == "Linear" and not isinstance(back["m"], nn.Module)
    assert type(back["a"]).__name__ == "ndarray" and back["n"] == 1.5


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_a_record_that_would_run_code_is_refused():
    class Evil:
        def __reduce__(self):
            return (print, ("this ran in the grading process",))
    with pytest.raises(pickle.UnpicklingError):       # weights_only: data, never code
        grading._decode(pickle.dumps(Evil()))


# ---------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------


def test_the_command_line_grades_into_two_csvs(tmp_path):
    out = tmp_path / "grades.csv"
    done = subprocess.run([sys.executable, "-m", "rnnlab", "grade",
                           str(CORPUS / "correct.ipynb"), str(CORPUS / "thread.ipynb"),
                           "--out", str(out), "--seed", "11", "--quiet"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "2 submission(s), 5 of 10 exercises passed (grading seed 11)" in done.stdout
    assert out.exists() and (tmp_path / "grades-wide.csv").exists()
    bad = subprocess.run([sys.executable, "-m", "rnnlab", "grade", str(tmp_path / "no.ipynb")],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "no such notebook" in bad.stderr
