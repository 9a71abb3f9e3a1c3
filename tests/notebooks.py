"""Helpers for tests that read the book's notebooks (cells found by their tags)."""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
CHAPTERS = sorted(BOOK.glob("[0-9][0-9]_*.ipynb"))      # numbered chapters, with exercises
NOTEBOOKS = sorted(BOOK.glob("*.ipynb"))                 # every executed page


def cells(nb_path: Path) -> list[dict]:
    return json.loads(nb_path.read_text(encoding="utf-8"))["cells"]


def source(cell: dict) -> str:
    src = cell["source"]
    return "".join(src) if isinstance(src, list) else src


def tagged(nb_path: Path, tag: str) -> list[dict]:
    return [c for c in cells(nb_path) if tag in c.get("metadata", {}).get("tags", [])]


def exercises(nb_path: Path) -> dict[str, dict[str, str]]:
    """{exercise name: {"stub": source, "solution": source, "check": check function name}}.

    The exercise name is what the student defines (`rnn_step`, `RNNLayer`, `count_rnn`);
    the solution cell defines the same name with `_solution` appended.
    """
    out: dict[str, dict[str, str]] = {}
    for tag, key in [("exercise", "stub"), ("solution", "solution")]:
        for c in tagged(nb_path, tag):
            meta = c["metadata"]["rnnlab"]
            entry = out.setdefault(meta["exercise"], {})
            entry[key] = source(c)
            entry["check"] = meta["check"]
    return out
