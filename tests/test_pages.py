"""pages.py: start_page, record/say/finish, show_source and show_error, the setup cell."""

import pytest
import torch
from notebooks import book_extension

from rnnlab.pages import show_error, show_source
from rnnlab.timing import time_call


def test_show_error_prints_the_message_not_a_traceback(capsys):
    assert show_error(lambda: torch.zeros(2, 3) @ torch.zeros(2, 3)) is None
    out = capsys.readouterr().out
    assert out.startswith("RuntimeError: ") and "Traceback" not in out
    show_error(lambda: 1)
    assert "no error" in capsys.readouterr().out


def test_record_and_say_fill_a_markdown_template(capsys):
    import numpy as np

    from rnnlab.pages import start_page

    page = start_page("chX")
    assert page.record("ppl", 4.8123, ".2f") is None          # a cell stays quiet
    page.record("lr", np.float64(0.01))
    page.record("n", torch.tensor(3))
    assert page.say(r"Perplexity {{ppl}} at $\eta$ = {{lr}}, $W_{hh}$ of {{n}} and "
                    r"{{n:03d}}; [chapter 1](01_recurrence.ipynb).") is None
    out = capsys.readouterr().out
    assert ("Perplexity 4.81 at $\\eta$ = 0.01, $W_{hh}$ of 3 and 003; "
            "[chapter 1](01_recurrence.ipynb).") in out
    assert page.unsaid() == []


def test_say_refuses_a_result_no_cell_computed_and_myst_syntax():
    from rnnlab.pages import ResultNotComputed, start_page

    page = start_page("chX")
    with pytest.raises(ResultNotComputed, match="needs `loss`.*run the cells above"):
        page.say("The loss is {{loss}}.")
    with pytest.raises(ValueError, match="MyST"):
        page.say("See {doc}`chapter 1 <01_recurrence>`.")


def test_finish_fails_when_a_recorded_result_is_never_said(capsys):
    from rnnlab.pages import start_page

    page = start_page("chX")
    page.record("gap", 0.5)
    with pytest.raises(AssertionError, match="never shown.*gap"):
        page.finish()
    page.say("The gap is {{gap}}.")
    assert page.finish(".1f") is None


def test_show_source_of_a_decorated_function_names_its_own_file(capsys):
    import rnnlab
    from rnnlab.pages import _listing

    source, rel, first, last = _listing(rnnlab.perplexity)      # @torch.no_grad()
    assert rel == "src/rnnlab/train.py" and "def perplexity" in source
    assert first < last


def test_show_source_prints_outside_ipython(capsys):
    show_source(time_call)
    assert "def time_call" in capsys.readouterr().out


def test_start_page_says_device_and_budget_and_finish_the_runtime(capsys):
    from rnnlab import pages

    page = pages.start_page("chX")
    assert page.device.type in ("cpu", "cuda") and page.budget.name in ("quick", "full")
    assert page.finish(".1f") is None                 # a last cell shows no number
    out = capsys.readouterr().out
    assert out.startswith("This page runs on **") and "This page ran in" in out
    assert page.values["budget"] == page.budget.name


def test_source_ref_follows_the_version():
    from rnnlab.pages import source_ref

    assert source_ref("0.2.0.dev0") == "main" and source_ref("0.2.0") == "v0.2.0"


def test_setup_cell_installs_d2l_only_when_asked():
    from rnnlab.pages import REPOSITORY, setup_cell, source_ref

    with_d2l, without = setup_cell(True), setup_cell(False)
    assert f'"rnnlab @ git+{REPOSITORY}@{source_ref()}"' in without
    assert "d2l" not in without and "--no-deps d2l==0.17.6" in with_d2l
    assert all(len(line) <= 88 for line in with_d2l.splitlines())


def test_show_source_captions_the_listing_with_file_lines_and_link(monkeypatch):
    import inspect

    import IPython.display

    from rnnlab import pages
    from rnnlab.train import train_epoch

    source, rel, first, last = pages._listing(train_epoch)
    lines, start = inspect.getsourcelines(train_epoch)
    assert rel == "src/rnnlab/train.py" and first == start and last == start + len(lines) - 1
    assert source.startswith("def train_epoch")
    shown = []
    monkeypatch.setattr(IPython.display, "display", shown.append)
    pages.show_source(train_epoch)
    caption, listing = shown
    url = f"{pages.REPOSITORY}/blob/{pages.source_ref()}/{rel}#L{first}-L{last}"
    assert url in caption.data and f"lines {first}–{last}" in caption.data
    assert "def train_epoch" in listing.data


def test_the_build_pins_downloaded_notebooks_to_its_commit(tmp_path):
    import json

    from rnnlab.pages import REPOSITORY, pin_setup_cell, setup_cell

    nb = {"cells": [{"cell_type": "code", "metadata": {"tags": ["setup"]},
                     "source": setup_cell(False).splitlines(keepends=True)}]}
    path = tmp_path / "page.ipynb"
    path.write_text(json.dumps(nb))
    assert pin_setup_cell(path, "abc123")
    pinned = "".join(json.loads(path.read_text())["cells"][0]["source"])
    assert f"git+{REPOSITORY}@abc123" in pinned
    assert not pin_setup_cell(path, "abc123")      # nothing left to pin


def test_the_site_names_a_release_or_a_development_version():
    pin_setup = book_extension("pin_setup")
    assert pin_setup.release_words("0.2.0") == "rnnlab 0.2.0, the release tagged v0.2.0"
    assert "development version (branch main), not a release" in pin_setup.release_words(
        "0.3.0.dev0")
