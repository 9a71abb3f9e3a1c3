"""Every exercise check survives anything a student might hand it: each of many wrong
answers gets a verdict with a clear message, never an exception or a traceback."""

import importlib
import inspect

import numpy as np
import pytest
import torch

from rnnlab.checks import Verdict, sandbox

CHECKS = [fn for ch in ("ch1", "ch2", "ch3", "ch4", "ch5", "ch6", "ch7")
          for name, fn in inspect.getmembers(importlib.import_module(f"rnnlab.exercises.{ch}"),
                                             inspect.isfunction)
          if name.startswith("check_") and fn.__module__.endswith(ch)]


def _raise(exc):
    def f(*args, **kwargs):
        raise exc
    return f


def _forever(*args, **kwargs):
    while True:
        pass


class _Weird:
    def __repr__(self):
        raise RuntimeError("even repr fails")


WRONG_ANSWERS = {
    "None": None,
    "int 0": 0,
    "float nan": float("nan"),
    "string": "rnn",
    "empty list": [],
    "dict": {"a": 1},
    "numpy array": np.zeros((2, 3)),
    "tensor": torch.zeros(2, 3),
    "tensor on another device": torch.zeros(2, 3, device="meta"),
    "weird object": _Weird(),
    "returns None": lambda *a, **k: None,
    "returns NaN tensor": lambda *a, **k: torch.full((2, 4), float("nan")),
    "returns int64 tensor": lambda *a, **k: torch.zeros(2, 4, dtype=torch.long),
    "returns numpy": lambda *a, **k: np.zeros((2, 4)),
    "returns wrong shape": lambda *a, **k: torch.zeros(7),
    "returns string": lambda *a, **k: "done",
    "returns tuple of None": lambda *a, **k: (None, None),
    "returns meta tensor": lambda *a, **k: torch.zeros(2, 4, device="meta"),
    "raises ValueError": _raise(ValueError("bad")),
    "raises RuntimeError": _raise(RuntimeError("shape mismatch")),
    "raises KeyError": _raise(KeyError("x")),
    "calls exit()": _raise(SystemExit(1)),
    "takes no arguments": lambda: 1,
    "takes one argument": lambda x: x,
    "loops forever": _forever,
}


@pytest.fixture(autouse=True)
def short_time_limit(monkeypatch):
    monkeypatch.setattr(sandbox, "TIME_LIMIT_S", 0.3)


def test_enough_checks_and_answers():
    assert len(CHECKS) >= 16
    assert len(CHECKS) * len(WRONG_ANSWERS) >= 200


@pytest.mark.parametrize("label", list(WRONG_ANSWERS))
@pytest.mark.parametrize("check", CHECKS, ids=lambda f: f.__name__)
def test_check_survives_wrong_answer(check, label):
    verdict = check(WRONG_ANSWERS[label])
    assert isinstance(verdict, Verdict)
    assert not verdict.passed, f"{check.__name__} passed {label!r}"
    assert len(verdict.message) > 20, verdict.message
    assert "Traceback" not in verdict.message
    assert "could not judge" not in verdict.message, verdict.message   # a checker bug
    str(verdict), verdict._repr_html_()      # both renderings work
