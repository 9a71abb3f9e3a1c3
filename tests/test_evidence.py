"""The committed reference results (rnnlab.evidence): complete provenance, reproducible
from their code, and marked stale when that code changes."""

import importlib
import json

import pytest

from rnnlab import evidence, sweep
from rnnlab.budget import get_budget
from rnnlab.noise import compare

train_module = importlib.import_module("rnnlab.train")
COMMITTED = sorted(p.stem for p in evidence.results_dir().glob("*.json")
                   if p.stem in get_budget("full").sweeps)
PROVENANCE = {"rnnlab", "torch", "code", "device_name", "cpu", "threads", "date", "commit",
              "command"}


def _cheapest_epoch_run():
    """The committed run whose first epoch is cheapest to retrain (stopped by epochs)."""
    rows = [(name, row) for name in COMMITTED
            for row in evidence.load(name).rows.to_dict("records")
            if row.get("max_seconds") is None or row["max_seconds"] != row["max_seconds"]]
    assert rows, "no committed reference run stopped by epochs"
    return min(rows, key=lambda nr: nr[1]["train_s_curve"][0])


def test_some_reference_results_are_committed():
    assert COMMITTED, "make reference has committed nothing under src/rnnlab/results/"


@pytest.mark.parametrize("name", COMMITTED)
def test_every_committed_run_has_its_configuration_curves_and_provenance(name):
    ref = evidence.load(name)
    info = json.loads((evidence.results_dir() / f"{name}.json").read_text())
    assert info["profile"] == "full" and info["cpu_seconds"] > 0
    assert PROVENANCE <= set(info["provenance"]), set(info["provenance"])
    plan = get_budget("full").sweeps[name]
    assert len(ref.rows) == len(plan.configs()) * len(info["seeds"])
    for row in ref.rows.to_dict("records"):
        assert PROVENANCE <= set(row), sorted(PROVENANCE - set(row))
        assert len(row["valid_curve"]) == row["epochs_run"] == len(row["train_s_curve"])
        assert min(row["valid_curve"]) == pytest.approx(row["best_valid_ppl"])


def test_the_committed_results_are_what_this_code_computes():
    """Retrain the first epoch of one committed run: the validation perplexity must be the
    one committed. It fails when the training code changed what it computes; then the
    reference results are stale and `make reference` makes them again."""
    name, row = _cheapest_epoch_run()
    committed, now = evidence.recheck_first_epoch(row)
    assert now == pytest.approx(committed, rel=1e-5), (
        f"{name}: the committed first epoch ({committed:.6f}) is not what the code computes "
        f"now ({now:.6f}): the reference results are stale; run `make reference`")


def test_a_changed_training_loop_is_caught(monkeypatch):
    """The same check, with a training step that clips harder than the committed code."""
    real = train_module.train_step

    def changed(model, X, Y, optimizer, state=None, clip=None, **kw):
        return real(model, X, Y, optimizer, state, 0.1 if clip else clip, **kw)

    monkeypatch.setattr(train_module, "train_step", changed)
    name, row = _cheapest_epoch_run()
    committed, now = evidence.recheck_first_epoch(row)
    assert now != pytest.approx(committed, rel=1e-3)


def test_results_made_by_other_code_are_marked_stale(monkeypatch):
    ref = evidence.load(COMMITTED[0])
    monkeypatch.setattr(sweep, "code_fingerprint", lambda root=None: "not-the-same")
    assert ref.stale and "stale" in ref.describe()


def test_a_missing_result_is_none_and_said_so(tmp_path):
    assert evidence.load("ch7-cells-tokens", folder=tmp_path) is None
    assert "not been committed" in evidence.not_yet("x")


def test_agreement_names_the_verdicts_that_differ():
    lower, tie = compare([4.0, 4.1, 4.2], [5.0, 5.1, 5.2]), compare([4.0, 4.6], [4.2, 4.3])
    assert "agree" in evidence.agreement({"a": lower}, {"a": lower})
    assert "different settings" in evidence.agreement({"a": lower}, {"b": lower})
    said = evidence.agreement({"a": tie, "b": lower}, {"a": lower, "b": lower})
    assert "at a (quick run: within noise; reference: lower)" in said and "b (" not in said
