import pytest
import torch

from rnnlab.bench import time_call
from rnnlab.pages import glue, show_error, show_source


def test_time_call_measures_and_validates():
    calls = []
    t = time_call(lambda: calls.append(1), repeats=5, warmup=2, number=3)
    assert len(calls) == 2 + 5 * 3
    assert 0 <= t.low <= t.median <= t.high and t.repeats == 5
    assert "µs" in str(t)
    with pytest.raises(ValueError, match="repeats"):
        time_call(lambda: None, repeats=0)
    with pytest.raises(ValueError, match="warmup"):
        time_call(lambda: None, warmup=-1)


def test_show_error_prints_the_message_not_a_traceback(capsys):
    assert show_error(lambda: torch.zeros(2, 3) @ torch.zeros(2, 3)) is None
    out = capsys.readouterr().out
    assert out.startswith("RuntimeError: ") and "Traceback" not in out
    show_error(lambda: 1)
    assert "no error" in capsys.readouterr().out


def test_glue_returns_nothing_so_cells_stay_quiet():
    assert glue("x", 3.14159, ".2f") is None


def test_glue_shows_numpy_scalars_as_plain_numbers(monkeypatch):
    import myst_nb
    import numpy as np

    seen = {}
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display: seen.update({name: value}))
    glue("lr", np.float64(0.01))
    glue("n", torch.tensor(3))
    assert repr(seen["lr"]) == "0.01" and repr(seen["n"]) == "3"


def test_show_source_prints_outside_ipython(capsys):
    show_source(time_call)
    assert "def time_call" in capsys.readouterr().out
