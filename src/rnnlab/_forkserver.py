"""The grading server (`python -m rnnlab._forkserver`, started by `rnnlab.grading`): it
imports the libraries and every chapter's checks once, uses the checker's watch once for
each kind of refusal (its first use takes seconds: PyTorch sets up its dispatch modes
lazily), then, for each job it reads on stdin, forks a process that runs the job and sends
back what that process wrote, as bytes it never reads, within the job's time limit.

Protocol, both ways: a 4-byte big-endian length, then that many bytes. A job is JSON (see
`rnnlab.grading._run_job`); a reply is one status byte (b"ok", b"to" timed out, b"ex" the
process ended without a record) followed by the record.
"""

import json
import os
import select
import shutil
import signal
import struct
import sys
import tempfile
import time

import matplotlib
import matplotlib.pyplot  # noqa: F401  (imported once, here)
import numpy  # noqa: F401
import pandas  # noqa: F401
import torch
import torch.autograd.functional  # noqa: F401

from .audit import Refused, forbid, watching
from .exercises import declared
from .grading import GRADE_TIMEOUT_S, _child, _read_exactly

declared()          # imports every chapter's checks


def _warm() -> None:
    for forbidden in (forbid("warm-up", autograd=True), forbid("warm-up", ops=("rnn_tanh*",)),
                      forbid("warm-up", any_op=True)):
        try:
            with watching(forbidden, [], set()):
                torch.tanh(torch.ones(3, dtype=torch.float64)).sum()
        except Refused:
            pass


def _reply(status: bytes, data: bytes = b"") -> None:
    out = sys.stdout.buffer
    out.write(struct.pack(">I", len(data) + 2) + status + data)
    out.flush()


def _one(job: dict) -> None:
    job["scratch"] = tempfile.mkdtemp(prefix="rnnlab-grade-")   # removed when it ends
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:                                   # the student's process
        os.close(read_end)
        quiet = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(quiet, fd)
        _child(job, write_end)             # never returns
        os._exit(1)
    os.close(write_end)
    deadline = time.monotonic() + float(job.get("timeout", GRADE_TIMEOUT_S))
    chunks, timed_out = [], False
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            break
        ready, _, _ = select.select([read_end], [], [], left)
        if not ready:
            continue
        chunk = os.read(read_end, 1 << 20)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(read_end)
    if timed_out:
        os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    shutil.rmtree(job["scratch"], ignore_errors=True)
    data = b"".join(chunks)
    _reply(b"to" if timed_out else (b"ok" if data else b"ex"), data)


def serve() -> None:
    _warm()
    stdin = sys.stdin.buffer
    _reply(b"ok", b"ready")
    while True:
        try:
            (n,) = struct.unpack(">I", _read_exactly(stdin, 4))
            job = json.loads(_read_exactly(stdin, n))
        except EOFError:
            return
        _one(job)


if __name__ == "__main__":
    serve()
