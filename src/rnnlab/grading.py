"""Grading a class's notebooks out of process: `python -m rnnlab grade NOTEBOOK... --out
grades.csv`.

For each submitted notebook and each exercise of its chapter, the cell that defines the
exercise (found by its metadata or by the name it defines, `rnnlab.classroom`) runs with the
chapter's import cell, and the cells it calls, in a fresh process forked from a server that
has imported the libraries (`rnnlab._forkserver`: milliseconds per job, not the seconds it
takes to import torch):

- there, before any of the student's code runs, the inputs are fixed by a grading seed the
  student never saw (`guard.grading`), the process gets a memory limit and a scratch folder,
  and everything the student's code does runs inside the checker's watch: threads,
  subprocesses, `ctypes`, frames, `setprofile`/`settrace`, the network and files written
  outside the scratch folder are refused (the audit hook, which cannot be removed), and
  reaching for the checker is refused as in a notebook;
- the exercise's check runs there with a `Tape` recording what each call of the student's
  code returned, made plain (tensors, numbers, strings, tuples of them); only that record
  comes back, as bytes the grading process reads with `torch.load(weights_only=True)`,
  which builds data and never runs code;
- the grading process runs the same check again with the same seed, replaying the record
  instead of calling anything: the references and the verdict are computed here, where no
  code of the student's ever ran.

A row is "flagged" for review when the cell's source holds a construct that gets around a
checker (`guard.escapes_in_source`), when the replay and the record disagree, or when the
process had to be stopped. What this does not promise: it is not a security sandbox for
hostile code on a shared server (the student's code runs as the grader's user, with the
grader's files readable); run it where a submission could do no harm if it found a way out.
"""

from __future__ import annotations

import csv
import io
import json
import linecache
import os
import re
import secrets
import select
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from .classroom import exercise_cells, import_cell, read_notebook, source

__all__ = ["GRADE_TIMEOUT_S", "Row", "grade", "summary", "write_grades"]

GRADE_TIMEOUT_S = 60.0         # one exercise of one submission, start to verdict
_MEMORY_HEADROOM = 2 << 30     # bytes the student's process may allocate beyond the libraries


@dataclass(frozen=True)
class Row:
    """One exercise of one submission: the grade and why."""

    student: str
    exercise: str          # "6.2"
    name: str              # what the student defines, "rnn_backward"
    passed: bool
    flagged: str           # why to look at it by hand ("" if nothing)
    message: str           # the verdict's message, as the student would read it
    seconds: float
    found: str             # "metadata", "name" or "missing"


# ---------------------------------------------------------------------------
# What crosses between the processes: plain data, read back without running code
# ---------------------------------------------------------------------------

def _portable(value, depth: int = 0):
    """`value` as data `torch.load(weights_only=True)` reads back: tensors (detached,
    on the CPU), numbers, strings, None, and lists, tuples and dicts of them; anything else
    becomes a marker naming its type."""
    if value is None or type(value) in (bool, int, float, str):
        return value
    if depth > 8:
        return {"__opaque__": type(value).__name__, "__module__": type(value).__module__}
    if type(value) is torch.Tensor:
        if value.device.type == "meta":
            return {"__meta__": list(value.shape), "__dtype__": str(value.dtype)}
        return value.detach().to("cpu").clone()
    if type(value) in (torch.device, torch.dtype):
        return {"__torch__": str(value)}
    if type(value) is complex:
        return {"__complex__": [value.real, value.imag]}
    if type(value).__module__ == "numpy" and hasattr(value, "item") and \
            getattr(value, "shape", None) == ():
        return _portable(value.item(), depth + 1)      # a NumPy scalar: its number
    if type(value) in (list, tuple):
        items = [_portable(v, depth + 1) for v in value]
        return items if type(value) is list else {"__tuple__": items}
    if type(value) is dict and all(type(k) in (str, int) for k in value):
        return {"__dict__": [[k, _portable(v, depth + 1)] for k, v in value.items()]}
    return {"__opaque__": type(value).__name__, "__module__": type(value).__module__}


def _restored(value):
    """The inverse of `_portable`, in the grading process."""
    from .checks.sandbox import Opaque

    if isinstance(value, list):
        return [_restored(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "__tuple__" in value:
        return tuple(_restored(v) for v in value["__tuple__"])
    if "__dict__" in value:
        return {k: _restored(v) for k, v in value["__dict__"]}
    if "__meta__" in value:
        dtype = getattr(torch, str(value["__dtype__"]).replace("torch.", ""), torch.float32)
        return torch.empty(value["__meta__"], dtype=dtype, device="meta")
    if "__torch__" in value:
        text = str(value["__torch__"])
        return getattr(torch, text[6:]) if text.startswith("torch.") else torch.device(text)
    if "__complex__" in value:
        return complex(*value["__complex__"])
    if "__opaque__" in value:
        kind = type(str(value["__opaque__"]), (Opaque,),
                    {"__module__": str(value.get("__module__", "?"))})
        return kind(str(value["__opaque__"]))
    return value


def _encode(payload: dict) -> bytes:
    buffer = io.BytesIO()
    torch.save(_portable(payload), buffer)
    return buffer.getvalue()


def _decode(data: bytes):
    return _restored(torch.load(io.BytesIO(data), weights_only=True))


# ---------------------------------------------------------------------------
# The student's process
# ---------------------------------------------------------------------------

def _child(job: dict, fd: int) -> None:
    """Run one job (see `_run_job`) in this forked process, write its record to `fd`, and
    exit: nothing of the student's runs after that (atexit handlers, finalisers)."""
    try:
        payload = _run_job(job)
    except BaseException as exc:         # noqa: BLE001 - the record says what happened
        payload = {"error": f"{type(exc).__name__}: {exc}"[:2000]}
    try:
        data = _encode(payload)
    except BaseException as exc:         # noqa: BLE001
        data = _encode({"error": f"the record could not be written ({exc})"[:2000]})
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    os.close(fd)
    os._exit(0)


def _run_job(job: dict) -> dict:
    import resource

    from .checks.sandbox import Tape, call, taped
    from .checks.verdict import CheckFailed
    from .exercises import declared
    from .guard import grading

    used = int(Path("/proc/self/statm").read_text().split()[0]) * os.sysconf("SC_PAGE_SIZE") \
        if Path("/proc/self/statm").exists() else 0
    if used:
        limit = used + job.get("memory", _MEMORY_HEADROOM)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    torch.set_num_threads(1)
    if job.get("call_limit"):
        from .checks import sandbox
        sandbox.TIME_LIMIT_S = float(job["call_limit"])    # a setting checks may lower
    scratch = job.get("scratch") or tempfile.mkdtemp(prefix="rnnlab-grade-")
    os.chdir(scratch)
    ex = declared()[job["name"]]
    namespace = {"__name__": "__submission__", "__builtins__": __builtins__,
                 "__quiet_page__": _quiet_page}
    with grading(job["seed"], scratch):
        for label, code in job["cells"]:
            filename = f"<{label}>"
            linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
            try:
                compiled = compile(code, filename, "exec")
            except SyntaxError as exc:
                return {"failed": f"the {label} does not run: SyntaxError at line "
                                  f"{exc.lineno}: {exc.msg}."}
            try:
                call(exec, compiled, namespace, name=label)
            except CheckFailed as exc:
                return {"failed": f"the {label} does not run: {exc}"}
        if job["name"] not in namespace:
            return {"failed": f"running the cell did not define `{job['name']}`."}
        answer = namespace[job["name"]]
        if not callable(answer):         # an exercise answered by a value (5.1, 5.3, 7.3)
            try:
                value = call(lambda: answer, name=job["name"])
            except CheckFailed as exc:
                return {"failed": str(exc)}
            return {"value": value}
        tape = Tape()
        with taped(tape):
            verdict = ex.check(answer)
        return {"tape": tape.entries, "child_passed": bool(verdict.passed)}


# ---------------------------------------------------------------------------
# The grading process
# ---------------------------------------------------------------------------

class Submitted:
    """Where the student's function stands in the grading process: never called (every call
    is replayed from the record), known by name only."""

    def __init__(self, name: str):
        self.__name__ = self.__qualname__ = name

    def __call__(self, *args, **kwargs):
        raise RuntimeError("a graded answer is replayed, never called here")


def _judge(name: str, payload: dict, seed: int) -> tuple[bool, str, str]:
    """(passed, message, flag) from a job's record, computed here."""
    from .checks.sandbox import Tape, taped
    from .exercises import declared
    from .guard import grading

    ex = declared()[name]
    if "error" in payload:
        return False, f"the grader could not run this exercise ({payload['error']}).", \
            "the grading process failed"
    if "failed" in payload:
        return False, str(payload["failed"]), ""
    with grading(seed):
        if "value" in payload:
            verdict = ex.check(payload["value"])
            return verdict.passed, verdict.message, ""
        tape = Tape(payload.get("tape") or [])
        with taped(tape):
            verdict = ex.check(Submitted(name))
    flag = ""
    if tape.position < len(tape.entries) or "graded run" in verdict.message:
        flag = "the record of the student's run and the check's replay disagree"
    elif bool(payload.get("child_passed")) != verdict.passed:
        flag = "the student's process judged it otherwise"
    return verdict.passed, verdict.message, flag


class _Server:
    """The grading server (`rnnlab._forkserver`): started once, forks a process per job."""

    def __init__(self):
        package_root = str(Path(__file__).resolve().parents[1])
        paths = [package_root] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep)
                                  if p]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths))
        self.process = subprocess.Popen([sys.executable, "-m", "rnnlab._forkserver"],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        env=env)
        status, data = self._receive(timeout=600)
        if status != b"ok" or data != b"ready":
            raise RuntimeError("the grading server did not start")

    def _receive(self, timeout: float) -> tuple[bytes, bytes]:
        out = self.process.stdout
        ready, _, _ = select.select([out], [], [], timeout)
        if not ready:
            raise RuntimeError("the grading server stopped answering")
        (n,) = struct.unpack(">I", _read_exactly(out, 4))
        reply = _read_exactly(out, n)
        return reply[:2], reply[2:]

    def run(self, job: dict, timeout: float) -> tuple[dict, float]:
        start = time.perf_counter()
        body = json.dumps(dict(job, timeout=timeout)).encode()
        self.process.stdin.write(struct.pack(">I", len(body)) + body)
        self.process.stdin.flush()
        status, data = self._receive(timeout + 60)
        seconds = time.perf_counter() - start
        if status == b"to":
            return {"failed": f"the exercise did not finish within {timeout:g} s and was "
                              "stopped: is there a loop that never ends?",
                    "flag": "stopped at the time limit"}, seconds
        if status != b"ok":
            return {"error": "the process running it ended without a record (out of "
                             "memory, or killed)"}, seconds
        try:
            return _decode(data), seconds
        except Exception as exc:   # noqa: BLE001 - a record that is not data is not believed
            return {"error": f"its record could not be read as data "
                             f"({type(exc).__name__})"}, seconds

    def close(self):
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def _read_exactly(stream, n: int) -> bytes:
    """`n` bytes from `stream` (the grading server's pipes, both ways); EOFError if it ends."""
    data = b""
    while len(data) < n:
        chunk = stream.read(n - len(data))
        if not chunk:
            raise EOFError("the stream ended")
        data += chunk
    return data


def _imports_only(code: str) -> str:
    """The import cell with a quiet page: `start_page` times a speed probe and prints the
    page's header, which no exercise needs (the CPU and the budget it picks are kept)."""
    return re.sub(r"\bstart_page\(", "__quiet_page__(", code)


def _quiet_page(prefix: str):
    from .budget import get_budget
    from .pages import Page

    return Page(prefix, torch.device("cpu"), get_budget())


def _calls(code: str) -> set[str]:
    return set(re.findall(r"\b([A-Za-z_]\w*)\s*\(", code))


def _jobs(path: Path, nb: dict, seed: int, call_limit: float | None = None):
    """(exercise, job or None, how found) for every exercise of the notebook's chapter."""
    from .exercises import declared

    exercises = declared()
    names = list(exercises)
    found = exercise_cells(nb, names)
    # the chapter its import cell names; only where that cell is gone, the chapters of the
    # exercises it defines (a helper that happens to share a later exercise's name then
    # does not add that chapter)
    chapters = {int(m.group(1)) for cell in nb["cells"] if cell.get("cell_type") == "code"
                for m in re.finditer(r"from\s+rnnlab\.exercises\s+import\s+ch(\d+)\b",
                                     source(cell))}
    if not chapters:
        chapters = {int(exercises[n].number.split(".")[0]) for n in found}
    cells = nb["cells"]
    for chapter in sorted(chapters):
        setup = import_cell(nb, chapter)
        for name, ex in exercises.items():
            if ex.number.split(".")[0] != str(chapter):
                continue
            if name not in found:
                yield ex, None, "missing"
                continue
            index, how = found[name]
            code = source(cells[index])
            run = [] if setup is None else [("chapter's import cell",
                                             _imports_only(source(cells[setup])))]
            # cells of other exercises this one calls (1.2's loop may call 1.1's step)
            for other, (j, _) in found.items():
                if other != name and other in _calls(code) and j != setup:
                    run.append((f"cell defining {other}", source(cells[j])))
            run.append((f"cell defining {name}", code))
            yield ex, {"name": name, "cells": run, "seed": seed, "path": str(path),
                       "call_limit": call_limit}, how


def _student(path: Path, paths: list[Path]) -> str:
    same_name = [p for p in paths if p.name == path.name]
    return path.stem if len(same_name) == 1 else f"{path.parent.name}/{path.stem}"


def grade(paths, seed: int | None = None, timeout: float = GRADE_TIMEOUT_S,
          progress=None, call_limit: float | None = None) -> tuple[list[Row], int]:
    """Grade the notebooks at `paths`; (rows, the seed used). `progress(row)` is called as
    each row is graded; `call_limit` lowers the seconds one call of the student's code may
    run (the checks' own limit, `rnnlab.checks.TIME_LIMIT_S`, by default)."""
    paths = [Path(p) for p in paths]
    if not paths:
        raise ValueError("give at least one notebook to grade")
    seed = secrets.randbits(31) if seed is None else int(seed)
    server = _Server()
    try:
        return _grade_all(server, paths, seed, timeout, progress, call_limit), seed
    finally:
        server.close()


def _grade_all(server, paths, seed, timeout, progress, call_limit) -> list[Row]:
    from .guard import escapes_in_source

    rows: list[Row] = []
    for path in paths:
        student = _student(path, paths)
        try:
            nb = read_notebook(path)
        except ValueError as exc:
            row = Row(student, "-", "-", False, "not a notebook", str(exc), 0.0, "missing")
            rows.append(row)
            if progress:
                progress(row)
            continue
        for ex, job, how in _jobs(path, nb, seed, call_limit):
            if job is None:
                row = Row(student, ex.number, ex.name, False, "",
                          f"no cell defines `{ex.name}`: not attempted.", 0.0, how)
            else:
                payload, seconds = server.run(job, timeout)
                passed, message, flag = _judge(ex.name, payload, seed)
                flag = payload.get("flag", flag)
                escapes = escapes_in_source(job["cells"][-1][1])
                if escapes:
                    line, construct, what = escapes[0]
                    flag = f"uses `{construct}` (line {line}), which {what}"
                row = Row(student, ex.number, ex.name, bool(passed), flag, message,
                          round(seconds, 3), how)
            rows.append(row)
            if progress:
                progress(row)
    return rows


def write_grades(rows: list[Row], out: str | Path) -> tuple[Path, Path]:
    """Write the long CSV (`out`: one row per student and exercise) and the wide one
    (`out` with `-wide` before the suffix: one row per student, one column per exercise
    and a total); returns both paths."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    wide_path = out.with_name(f"{out.stem}-wide{out.suffix or '.csv'}")
    with out.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "exercise", "name", "passed", "flagged", "message",
                         "seconds", "found"])
        for r in rows:
            writer.writerow([r.student, r.exercise, r.name, int(r.passed), r.flagged,
                             r.message, f"{r.seconds:.3f}", r.found])
    numbers = sorted({r.exercise for r in rows if r.exercise != "-"},
                     key=lambda n: tuple(int(p) for p in n.split(".")))
    students = list(dict.fromkeys(r.student for r in rows))
    with wide_path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["student", *numbers, "total", "flagged"])
        for s in students:
            mine = {r.exercise: r for r in rows if r.student == s}
            marks = [int(mine[n].passed) if n in mine else "" for n in numbers]
            flags = sum(1 for r in mine.values() if r.flagged)
            writer.writerow([s, *marks, sum(m for m in marks if m != ""), flags])
    return out, wide_path


def summary(rows: list[Row], seed: int | None = None) -> str:
    """A table to print: per student, the exercises passed of those graded, and the flags."""
    students = list(dict.fromkeys(r.student for r in rows))
    width = max([len(s) for s in students] + [7])
    lines = [f"{'student':<{width}}  passed  flagged  seconds"]
    for s in students:
        mine = [r for r in rows if r.student == s]
        passed = sum(r.passed for r in mine)
        flagged = sum(bool(r.flagged) for r in mine)
        seconds = sum(r.seconds for r in mine)
        lines.append(f"{s:<{width}}  {passed:>2}/{len(mine):<3}  {flagged:>7}  "
                     f"{seconds:7.1f}")
    total = sum(r.passed for r in rows)
    lines.append(f"{len(students)} submission(s), {total} of {len(rows)} exercises passed"
                 + (f" (grading seed {seed})" if seed is not None else ""))
    return "\n".join(lines)

