"""A tiny Sphinx extension: with RNNLAB_STUDENT_COPY=1 (`RNNLAB_STUDENT_COPY=1 make book`),
the website is the student copy. Every notebook is read without its solution cells and
without the listings that answer an exercise (`rnnlab.classroom.without_answers`, what
`python -m rnnlab student-copy` writes), so the pages are executed and shown without them,
and the notebooks the site offers for download are stripped the same way."""

from __future__ import annotations

import json
import os
from pathlib import Path

ENV = "RNNLAB_STUDENT_COPY"


def enabled() -> bool:
    return os.environ.get(ENV) == "1"


def strip_source(text: str) -> str:
    """A notebook's JSON text without its answers."""
    from rnnlab.classroom import without_answers

    nb, _ = without_answers(json.loads(text))
    return json.dumps(nb, indent=1, ensure_ascii=False)


def _source_read(app, docname, source):
    if str(app.env.doc2path(docname)).endswith(".ipynb"):
        source[0] = strip_source(source[0])


def _build_finished(app, exception):
    if exception is not None:
        return
    for path in Path(app.outdir, "_sources").rglob("*.ipynb"):
        path.write_text(strip_source(path.read_text(encoding="utf-8")) + "\n",
                        encoding="utf-8")


def setup(app):
    if enabled():
        app.connect("source-read", _source_read)
        app.connect("build-finished", _build_finished)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
