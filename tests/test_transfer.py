"""Transfer exercises: an idea applied to a new situation, with a check that a trivial
answer cannot pass (issue 20, item 3).

Each row names an exercise that asks for more than repeating the page: fix a bug the page
did not show, build a model the page did not build, design a fair comparison, read a run's
history, find the cut in a loop, write a cell the page did not write. For each, the answers
a student could give without doing the work — the stub as given, a constant, the format
without the substance, the page's own cell in place of the new one — must fail.
"""

import pytest
import torch
from notebooks import define, exercise
from torch import nn

from rnnlab.exercises import ch3, ch5, ch6, ch7


def _stub(name: str):
    return define(exercise(name)["stub"], name)


def _lstm_step_as_given(x, h, c, W_xh, W_hh, b_xh, b_hh):
    """Chapter 7's four-block LSTM step, applied to the three blocks unchanged."""
    H = h.shape[1]
    a = x @ W_xh + b_xh + h @ W_hh + b_hh
    i, f, g = torch.sigmoid(a[:, :H]), torch.sigmoid(a[:, H:2 * H]), torch.tanh(a[:, 2 * H:])
    c = f * c + i * g
    return torch.tanh(c), c


TRANSFER = {
    "3.3 fix a hand-made layer": (ch3.check_rnn_layer, [
        ("the stub as given", lambda: _stub("RNNLayer")),
        ("nn.RNN itself", lambda: lambda d, H: nn.RNN(d, H, batch_first=True)),
    ]),
    "3.5 a GRU language model": (ch3.check_gru_model, [
        ("an nn.GRU alone", lambda: lambda V, H: nn.GRU(V, H, batch_first=True)),
        ("an empty module", lambda: lambda V, H: nn.Module()),
    ]),
    "5.1 a fair comparison of depth": (ch5.check_my_grid, [
        ("depths at one hidden size (format only)", lambda: {"num_layers": [1, 2]}),
        ("a list at one hidden size", lambda: [{"num_layers": 1}, {"num_layers": 2}]),
    ]),
    "5.4 diagnose a run": (ch5.check_diagnose, [
        (f"always {answer!r}", lambda answer=answer: lambda t, v: answer)
        for answer in ch5.DIAGNOSES
    ]),
    "6.4 the loop that cuts every step": (ch6.check_unroll, [
        ("the stub as given", lambda: _stub("unroll")),
    ]),
    "7.4 a coupled-gate LSTM": (ch7.check_coupled_lstm_step, [
        ("the state unchanged", lambda: lambda x, h, c, *w: (h, c)),
        ("the page's LSTM step, uncoupled", lambda: _lstm_step_as_given),
    ]),
}


def test_at_least_six_transfer_exercises():
    assert len(TRANSFER) >= 6


@pytest.mark.parametrize("exercise, label", [(e, label) for e, (_, answers) in TRANSFER.items()
                                             for label, _ in answers])
def test_a_trivial_answer_fails(exercise, label):
    check, answers = TRANSFER[exercise]
    make = dict(answers)[label]
    v = check(make())
    assert not v.passed, f"{exercise}: {label} passed: {v}"
    assert "could not judge" not in v.message and "Traceback" not in v.message
