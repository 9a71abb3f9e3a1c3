import pytest
import torch

from rnnlab import sweep as S

TINY = S.RunConfig(hidden_size=8, embed_size=4, batch_size=4, num_steps=8, epochs=1,
                   max_tokens=3_000)
CPU = torch.device("cpu")


def _sweep(tmp_path, grid, seeds=(0, 1), **kw):
    return S.sweep(TINY, grid, seeds=seeds, name="t", cache_dir=tmp_path, device=CPU,
                   show_progress=False, **kw)


def test_tidy_table_one_row_per_config_and_seed(tmp_path):
    table = _sweep(tmp_path, {"hidden_size": [4, 8], "lr": [0.01]})
    assert len(table) == 4 and list(table["seed"]) == [0, 1, 0, 1]
    assert list(table["hidden_size"]) == [4, 4, 8, 8]
    for col in ["valid_ppl", "train_ppl", "best_valid_ppl", "tokens_seen", "wall_s", "params",
                "valid_curve"]:
        assert col in table.columns
    assert (table["params"].iloc[0] < table["params"].iloc[2])
    assert not table["cached"].any()


def test_cache_hit_retrains_nothing_and_returns_the_same_numbers(tmp_path, monkeypatch):
    first = _sweep(tmp_path, {"hidden_size": [4, 8]})
    monkeypatch.setattr(S, "run_one", lambda *a, **k: pytest.fail("retrained a cached run"))
    second = _sweep(tmp_path, {"hidden_size": [4, 8]})
    assert second["cached"].all()
    assert list(second["valid_ppl"]) == list(first["valid_ppl"])


def test_cache_miss_for_a_changed_configuration(tmp_path):
    _sweep(tmp_path, {"hidden_size": [4]})
    table = _sweep(tmp_path, {"hidden_size": [4, 6]})
    assert list(table["cached"]) == [True, True, False, False]


def test_interrupted_sweep_resumes(tmp_path, monkeypatch):
    real = S.run_one
    calls = []

    def flaky(cfg, seed, device=None, test=False):
        if len(calls) == 2:
            raise KeyboardInterrupt("simulated interruption")
        calls.append((cfg.hidden_size, seed))
        return real(cfg, seed, device, test)

    monkeypatch.setattr(S, "run_one", flaky)
    with pytest.raises(KeyboardInterrupt):
        _sweep(tmp_path, {"hidden_size": [4, 6]})
    monkeypatch.setattr(S, "run_one", real)
    table = _sweep(tmp_path, {"hidden_size": [4, 6]})
    assert list(table["cached"]) == [True, True, False, False]     # 2 done before the stop
    assert not list(tmp_path.glob("t/*.tmp"))                       # no half-written files


def test_same_seed_same_result_and_seeds_differ(tmp_path):
    table = _sweep(tmp_path, {"hidden_size": [8]}, seeds=(0, 1))
    again = S.run_one(TINY, 0, CPU)
    assert again["valid_ppl"] == table["valid_ppl"].iloc[0]
    assert table["valid_ppl"].iloc[0] != table["valid_ppl"].iloc[1]


@pytest.mark.parametrize("grid, message", [
    ({}, "grid is empty"),
    ({"hidden": [8]}, r"unknown hyperparameter\(s\) \['hidden'\]"),
    ({"hidden_size": 8}, "must be a list"),
    ({"hidden_size": []}, "empty list"),
    ({"hidden_size": [0]}, "bad configuration.*hidden_size"),
    ({"cell": ["transformer"]}, "bad configuration.*cell"),
    ({"lr": [-1]}, "bad configuration.*lr"),
    ({"lr_decay": [1.5]}, "bad configuration.*lr_decay"),
    ([], "list of configurations is empty"),
])
def test_bad_grids_are_explained_before_any_training(tmp_path, grid, message):
    with pytest.raises(ValueError, match=message):
        _sweep(tmp_path, grid)


def test_lr_decay_reaches_training():
    assert S.RunConfig(lr_decay=0.5).train_config(0).lr_decay == 0.5
    assert S.RunConfig().train_config(0).lr_decay is None


def test_bad_seeds(tmp_path):
    with pytest.raises(ValueError, match="seeds"):
        _sweep(tmp_path, {"hidden_size": [4]}, seeds=[])


def test_summarize(tmp_path):
    table = _sweep(tmp_path, {"hidden_size": [4, 8]}, seeds=(0, 1))
    summary = S.summarize(table, ["hidden_size"])
    assert list(summary["seeds"]) == [2, 2]
    assert (summary["min"] <= summary["mean"]).all() and (summary["mean"] <= summary["max"]).all()
    with pytest.raises(ValueError, match="not in the table"):
        S.summarize(table, ["nope"])


def test_equal_time_budget(tmp_path):
    cfg = S.RunConfig(**{**TINY.__dict__, "epochs": 100, "max_seconds": 0.2})
    row = S.run_one(cfg, 0, CPU)
    assert row["epochs_run"] < 100 and row["wall_s"] < 5


def test_train_ppl_is_measured_like_validation_and_test_is_opt_in(tmp_path):
    table = _sweep(tmp_path, {"hidden_size": [4]}, seeds=(0,))
    row = table.iloc[0]
    assert "test_ppl" not in table.columns
    assert row["train_curve"][-1] == row["train_ppl"] and len(row["train_curve"]) == 1
    final = _sweep(tmp_path, [{"hidden_size": 4}], seeds=(0,), test=True)  # the choice
    assert not final["cached"].iloc[0]                      # a test run is a run of its own
    assert 1 < final["test_ppl"].iloc[0] < 60
    assert final["valid_ppl"].iloc[0] == row["valid_ppl"]   # same training, same numbers
