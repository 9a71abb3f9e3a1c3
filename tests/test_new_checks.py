"""The three new exercises of issue 9 (perplexity, temperature sampling, sequential
batches): the solution passes, the stub is "not attempted", typical wrong answers get
their own message, and the library shortcut is refused.

Until the notebooks have these exercises, the cells come from tests/handoff_cells.py;
tests/test_checks.py tests the notebooks' cells once they are there."""

import linecache

import pytest
import torch
import torch.nn.functional as F
from handoff_cells import CELLS
from test_mistakes import _nll
from torch import nn

from rnnlab.exercises import ch1, ch3
from rnnlab.exercises.ch1 import _perplexity_cases

NAMESPACE = {"torch": torch, "nn": nn, "F": F, "ch1": ch1, "ch3": ch3}


def _define(src: str, name: str):
    """Run a cell's source as a notebook would (readable by inspect), minus the check call."""
    code = "\n".join(line for line in src.splitlines() if not line.startswith("ch")) + "\n"
    filename = f"<cell defining {name}>"
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    ns = dict(NAMESPACE)
    exec(compile(code, filename, "exec"), ns)
    return ns[name]


def _check(name):
    return getattr(ch1 if CELLS[name]["chapter"].startswith("01") else ch3, CELLS[name]["check"])


def _solution(name):
    return _define(CELLS[name]["solution"], f"{name}_solution")


@pytest.mark.parametrize("name", list(CELLS))
def test_solution_passes_and_stub_is_not_attempted(name):
    solved = _check(name)(_solution(name))
    assert solved.passed, str(solved)
    stub = _check(name)(_define(CELLS[name]["stub"], name))
    assert not stub.passed and "not attempted yet" in stub.message, str(stub)


@pytest.mark.parametrize("name", list(CELLS))
def test_cells_follow_the_notebook_conventions(name):
    cells = CELLS[name]
    assert cells["solution"].startswith("#@title Solution (click to show)\n")
    chapter = int(cells["chapter"][:2])
    assert cells["solution"].endswith(f"ch{chapter}.{cells['check']}({name}_solution)")
    assert "raise NotImplementedError" in cells["stub"]
    for text in (cells["stub"], cells["solution"]):
        assert max(len(line) for line in text.splitlines()) <= 88


def test_pass_messages_say_what_was_shown():
    assert "uniform logits give exactly V = 11" in ch1.check_perplexity(
        _solution("perplexity_from_logits")).message
    assert "0.5 and 2.0" in ch3.check_sample_next(_solution("sample_next")).message


def test_bits_with_base_2_is_the_same_perplexity():
    """log2 with 2 ** is right (the same number); only mixing bases is wrong."""
    def in_bits(logits, Y):
        bits = _nll(logits, Y) / torch.log(torch.tensor(2.0))
        return float(2 ** bits.mean())
    assert ch1.check_perplexity(in_bits).passed


def test_multinomial_refuses_negative_weights():
    """As the message for sampling from raw logits says."""
    with pytest.raises(RuntimeError):
        torch.multinomial(torch.tensor([-1.0, 2.0]), 1)


def test_the_large_logit_case_breaks_log_of_softmax():
    """The case meant to catch torch.log(torch.softmax(...)) does give -inf there."""
    label, logits, Y = _perplexity_cases()[-1]
    assert label == "large"
    naive = torch.log(torch.softmax(logits, -1)).gather(-1, Y.unsqueeze(-1))
    assert torch.isinf(naive).any()
    assert torch.isfinite(torch.log_softmax(logits, -1)).all()
