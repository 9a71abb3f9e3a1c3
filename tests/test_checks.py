"""The exercise mechanism (rnnlab.checks): verdicts, calls that never raise, comparisons
and their messages. Every chapter's exercises are tested in tests/test_exercises.py."""

import time

import pytest
import torch

from rnnlab.checks import Verdict, call, expect_tensor, run_check

# ---------------------------------------------------------------------------
# The mechanism
# ---------------------------------------------------------------------------


def _verdict(body):
    return run_check("Exercise 0.0 (demo)", body)


def test_verdict_prints_a_mark_and_the_reason():
    ok = _verdict(lambda: "fine")
    assert ok.passed and bool(ok) and str(ok).startswith("✔ passed") and "fine" in str(ok)
    bad = _verdict(lambda: expect_tensor(torch.zeros(2, 3), torch.zeros(3, 2), "f(x)"))
    assert not bad and str(bad).startswith("✘ not yet")
    assert "expected (3, 2), got (2, 3)" in bad.message and "transpose" in bad.message


@pytest.mark.parametrize("got, fragment", [
    (None, "forget `return`"),
    ((torch.zeros(2),), "tuple"),
    ([0.0, 0.0], "torch.Tensor, got list"),
    (torch.zeros(2, dtype=torch.float64), "dtype torch.float64"),
    (torch.tensor([0.0, float("nan")]), "NaN"),
    (torch.tensor([0.0, 1.5]), "at index (1,) expected 1, got 1.5"),
])
def test_expect_tensor_messages(got, fragment):
    v = _verdict(lambda: expect_tensor(got, torch.tensor([0.0, 1.0]), "f(x)"))
    assert not v.passed and fragment in v.message, v.message


def test_expect_tensor_mentions_numpy():
    import numpy as np
    v = _verdict(lambda: expect_tensor(np.zeros(2), torch.zeros(2), "f(x)"))
    assert "NumPy" in v.message


def test_call_turns_student_exceptions_into_messages():
    def stub(x):
        raise NotImplementedError

    def broken(x):
        return x @ torch.zeros(5, 5)

    assert "not attempted yet" in _verdict(lambda: call(stub, 1, name="f")).message
    msg = _verdict(lambda: call(broken, torch.zeros(2, 3), name="f")).message
    assert "raised RuntimeError" in msg and "x @ torch.zeros(5, 5)" in msg
    msg = _verdict(lambda: call(lambda a, b: a, 1, name="f")).message
    assert "signature" in msg
    assert "is None" in _verdict(lambda: call(None, name="f")).message
    assert "should be a function" in _verdict(lambda: call(3, name="f")).message


def test_call_stops_a_function_that_never_returns():
    def forever(x):
        while True:
            pass

    start = time.perf_counter()
    v = _verdict(lambda: call(forever, 1, name="f", time_limit=0.5))
    assert "ran longer than" in v.message and time.perf_counter() - start < 5


def test_a_bug_in_a_check_still_gives_a_verdict():
    v = _verdict(lambda: 1 / 0)
    assert isinstance(v, Verdict) and not v.passed and "could not judge" in v.message
