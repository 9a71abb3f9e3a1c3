"""How long grading a class takes: 100 submissions of one chapter, out of process.

    make bench-grade                 # or: .venv/bin/python benchmarks/grade.py
    .venv/bin/python benchmarks/grade.py --chapter 6 --submissions 100

Writes the submissions into a temporary folder (half the chapter with the book's solutions
in place, half the student copy with its stubs), grades them with `rnnlab.grading.grade`
as `python -m rnnlab grade` does, and prints the seconds: in all, to start the grading
server, per submission and per exercise, with the machine's CPU count and torch's version.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from notebooks import CHAPTERS, solved  # noqa: E402

from rnnlab import grading  # noqa: E402
from rnnlab.classroom import read_notebook, without_answers  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chapter", type=int, default=6)
    parser.add_argument("--submissions", type=int, default=100)
    args = parser.parse_args(argv)
    chapter = next(nb for nb in CHAPTERS if int(nb.name[:2]) == args.chapter)
    with tempfile.TemporaryDirectory() as tmp:
        right = solved(chapter)
        stubs = nbformat.from_dict(without_answers(read_notebook(chapter))[0])
        paths = []
        for i in range(args.submissions):
            folder = Path(tmp, f"student_{i:03d}")
            folder.mkdir()
            paths.append(folder / chapter.name)
            nbformat.write(right if i % 2 == 0 else stubs, paths[-1])
        start = time.perf_counter()
        server = grading._Server()
        started = time.perf_counter() - start
        try:
            rows = grading._grade_all(server, paths, 1, grading.GRADE_TIMEOUT_S, None, None)
        finally:
            server.close()
        total = time.perf_counter() - start
    passed = sum(r.passed for r in rows)
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"torch {torch.__version__}")
    print(f"graded {len(paths)} submissions of chapter {args.chapter} "
          f"({len(rows)} exercises, {passed} passed) in {total:.1f} s")
    print(f"  starting the grading server: {started:.1f} s")
    print(f"  per submission: {(total - started) / len(paths):.3f} s, "
          f"per exercise: {(total - started) / len(rows):.3f} s")
    per_submission = len(rows) // len(paths)
    solved_ones = (len(paths) + 1) // 2
    if passed != solved_ones * per_submission:     # every solution passes, every stub fails
        print(f"expected {solved_ones * per_submission} passes, got {passed}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
