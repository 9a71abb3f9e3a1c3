import dataclasses
import json
import shutil
import threading

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
    for col in ["valid_ppl", "train_eval_ppl", "best_valid_ppl", "tokens_seen", "wall_s", "params",
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
    assert row["train_eval_curve"][-1] == row["train_eval_ppl"]
    assert len(row["train_eval_curve"]) == 1
    final = _sweep(tmp_path, [{"hidden_size": 4}], seeds=(0,), test=True)  # the choice
    assert not final["cached"].iloc[0]                      # a test run is a run of its own
    assert 1 < final["test_ppl"].iloc[0] < 60
    assert final["valid_ppl"].iloc[0] == row["valid_ppl"]   # same training, same numbers


# --- the sweep cache -----------------------------------------------------------------

def test_the_cache_key_covers_every_module_the_runner_imports():
    names = {p.name for p in S.fingerprint_files()}
    assert {"sweep.py", "data.py", "models.py", "train.py", "runtime.py", "validate.py",
            "progress.py"} <= names
    assert "plots.py" not in names and "checks.py" not in names


@pytest.mark.parametrize("module", ["validate.py", "sweep.py", "runtime.py"])
def test_editing_an_imported_module_changes_the_key(tmp_path, module):
    copy = tmp_path / "rnnlab"
    shutil.copytree(S.fingerprint_files()[0].parent, copy,
                    ignore=shutil.ignore_patterns("__pycache__", "texts"))
    before = S.code_fingerprint(copy)
    with open(copy / module, "a") as f:
        f.write("\n# a comment\n")
    assert S.code_fingerprint(copy) == before        # comments are not code
    with open(copy / module, "a") as f:
        f.write("\n_EDITED = 1\n")
    assert S.code_fingerprint(copy) != before


def test_docstrings_do_not_change_the_key(tmp_path):
    copy = tmp_path / "rnnlab"
    shutil.copytree(S.fingerprint_files()[0].parent, copy,
                    ignore=shutil.ignore_patterns("__pycache__", "texts"))
    before = S.code_fingerprint(copy)
    path = copy / "train.py"
    text = path.read_text()
    path.write_text(text.replace('"""Mean cross-entropy over every position',
                                 '"""The mean cross-entropy over every position'))
    assert path.read_text() != text and S.code_fingerprint(copy) == before
    path.write_text(text.replace("reduction=\"none\")", "reduction=\"sum\")"))
    assert S.code_fingerprint(copy) != before


def test_a_damaged_cache_file_is_recomputed_with_a_warning(tmp_path):
    first = S.sweep(TINY, {"lr": [0.01]}, seeds=[0], name="d", cache_dir=tmp_path,
                    device=CPU, show_progress=False)
    (path,) = (tmp_path / "d").glob("*.json")
    path.write_text(path.read_text()[:40])                  # truncated, as by a crash
    with pytest.warns(UserWarning, match="damaged"):
        again = S.sweep(TINY, {"lr": [0.01]}, seeds=[0], name="d", cache_dir=tmp_path,
                        device=CPU, show_progress=False)
    assert not again["cached"].any()
    assert again["valid_ppl"].iloc[0] == pytest.approx(first["valid_ppl"].iloc[0])
    assert json.loads(path.read_text())["valid_ppl"] == again["valid_ppl"].iloc[0]


def test_concurrent_writers_never_share_a_temporary_file(tmp_path):
    path = tmp_path / "row.json"
    errors = []

    def write(i):
        try:
            for _ in range(30):
                S._write_atomic(path, {"valid_ppl": i, "pad": "x" * 10_000})
        except Exception as exc:       # with one shared .tmp name, os.replace races fail
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert json.loads(path.read_text())["valid_ppl"] in range(4)
    assert list(tmp_path.iterdir()) == [path], "temporary files were left behind"


def test_sweep_speed_excludes_validation(monkeypatch, tmp_path):
    row = S.run_one(TINY, 0, CPU)
    assert row["tokens_per_s"] == pytest.approx(row["tokens_seen"] / row["train_s"])
    assert row["train_s"] < row["wall_s"]


# --- sweeps on an executor: the caller reads and writes the cache --------------------

class _Counting:
    """An executor that counts what is submitted to it (a thread pool underneath). One
    worker by default: runs in threads of one process share torch's global random state,
    which every run seeds, so two at once are not reproducible (a process pool's are)."""

    def __init__(self, workers=1):
        from concurrent.futures import ThreadPoolExecutor
        self.pool, self.submitted = ThreadPoolExecutor(workers), []

    def submit(self, fn, *args):
        self.submitted.append(args[:2])
        return self.pool.submit(fn, *args)


_NUMBERS = ["hidden_size", "seed", "valid_ppl", "train_eval_ppl", "best_valid_ppl", "params",
            "tokens_seen"]


def _same_table(a, b):
    assert a[_NUMBERS].equals(b[_NUMBERS]), (a[_NUMBERS], b[_NUMBERS])


def test_an_executor_gives_the_serial_table_and_trains_only_what_is_missing(tmp_path):
    grid = {"hidden_size": [4, 8]}
    serial = S.sweep(TINY, grid, seeds=[0, 1], name="s", cache_dir=tmp_path / "a",
                     device=CPU, show_progress=False)
    (tmp_path / "b" / "p").mkdir(parents=True)
    for path in list((tmp_path / "a" / "s").glob("*.json"))[:1]:   # one run already done
        (tmp_path / "b" / "p" / path.name).write_text(path.read_text())
    executor = _Counting()
    parallel = S.sweep(TINY, grid, seeds=[0, 1], name="p", cache_dir=tmp_path / "b",
                       device=CPU, show_progress=False, executor=executor)
    _same_table(serial, parallel)
    assert len(executor.submitted) == 3 and parallel["cached"].sum() == 1
    names = {p.name for p in (tmp_path / "a" / "s").glob("*.json")}
    assert names == {p.name for p in (tmp_path / "b" / "p").glob("*.json")}   # same keys
    assert not list((tmp_path / "b" / "p").glob("*.tmp"))


def test_a_run_that_raises_is_a_row_with_its_error_and_the_others_go_on(tmp_path):
    grid = {"max_tokens": [3_000, 40]}                  # 40 characters: too short to train
    table = S.sweep(TINY, grid, seeds=[0], name="e", cache_dir=tmp_path, device=CPU,
                    show_progress=False, executor=_Counting())
    good, bad = table.iloc[0], table.iloc[1]
    assert isinstance(good["valid_ppl"], float) and good["valid_ppl"] > 1
    assert "too short" in bad["error"] and bad["valid_ppl"] != bad["valid_ppl"]   # NaN
    assert bad["max_tokens"] == 40 and bad["seed"] == 0
    assert len(list((tmp_path / "e").glob("*.json"))) == 1          # only the finished run


def test_ctrl_c_cancels_pending_runs_and_keeps_finished_ones(tmp_path, monkeypatch):
    import concurrent.futures as cf
    real = cf.as_completed
    seen = {}

    def interrupted(futures):
        seen["futures"] = list(futures)
        yield next(real(futures))
        raise KeyboardInterrupt

    monkeypatch.setattr(cf, "as_completed", interrupted)
    executor = _Counting(workers=1)
    with pytest.raises(KeyboardInterrupt):
        S.sweep(TINY, {"hidden_size": [4, 6, 8]}, seeds=[0], name="c", cache_dir=tmp_path,
                device=CPU, show_progress=False, executor=executor)
    assert any(f.cancelled() for f in seen["futures"])
    assert len(list((tmp_path / "c").glob("*.json"))) == 1
    executor.pool.shutdown()


@pytest.mark.slow
def test_a_process_pool_gives_the_serial_numbers_with_its_share_of_the_cores(tmp_path):
    import os
    grid = {"hidden_size": [4, 8]}
    serial = S.sweep(TINY, grid, seeds=[0, 1], name="s", cache_dir=tmp_path / "a",
                     device=CPU, show_progress=False)
    with S.process_pool(2) as pool:
        threads = pool.submit(torch.get_num_threads).result()
        parallel = S.sweep(TINY, grid, seeds=[0, 1], name="s", cache_dir=tmp_path / "b",
                           device=CPU, show_progress=False, executor=pool)
    assert threads == max(1, (os.cpu_count() or 1) // 2)
    _same_table(serial, parallel)


@pytest.mark.slow
def test_a_killed_worker_leaves_no_partial_file_and_a_rerun_finishes_the_table(tmp_path):
    import os
    import signal
    import time

    grid = {"hidden_size": [4, 5, 6, 7, 8, 9]}
    slow = dataclasses.replace(TINY, epochs=3, max_tokens=20_000)
    folder = tmp_path / "k"
    result = {}
    with S.process_pool(2) as pool:
        thread = threading.Thread(target=lambda: result.setdefault("table", S.sweep(
            slow, grid, seeds=[0], name="k", cache_dir=tmp_path, device=CPU,
            show_progress=False, executor=pool)))
        thread.start()
        deadline = time.monotonic() + 240
        while not list(folder.glob("*.json")) and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(next(iter(pool._processes)), signal.SIGKILL)   # one worker, mid-run
        thread.join(240)
    table = result["table"]
    failed = table["error"].notna() if "error" in table else table["seed"] < 0
    assert failed.any(), "the kill came too late: every run had finished"
    assert not list(folder.glob("*.tmp")), "a partial file was left behind"
    done = len(list(folder.glob("*.json")))
    assert done == (~failed).sum()
    again = S.sweep(slow, grid, seeds=[0], name="k", cache_dir=tmp_path, device=CPU,
                    show_progress=False)
    assert again["cached"].sum() == done                     # only the missing ones ran
    whole = S.sweep(slow, grid, seeds=[0], name="whole", cache_dir=tmp_path, device=CPU,
                    show_progress=False)
    _same_table(again, whole)


@pytest.mark.slow
def test_a_dask_cluster_runs_the_sweep_with_the_serial_numbers(tmp_path):
    import distributed  # requirements.txt installs it; rnnlab[dask] for users
    grid = {"hidden_size": [4, 8]}
    serial = S.sweep(TINY, grid, seeds=[0], name="s", cache_dir=tmp_path / "a", device=CPU,
                     show_progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        client.run(torch.set_num_threads, 1)
        parallel = S.sweep(TINY, grid, seeds=[0], name="s", cache_dir=tmp_path / "b",
                           device=CPU, show_progress=False, executor=client.get_executor())
        workers = len(client.scheduler_info()["workers"])
    assert workers == 2
    _same_table(serial, parallel)


def test_a_forking_pool_is_refused_not_left_to_hang(tmp_path):
    """The standard library's default pool forks on Linux; after torch has trained here,
    its workers deadlock. The sweep refuses it, before submitting anything, in a child
    process with a time limit (a hang fails the test instead of stalling the suite)."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(f"""
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        from rnnlab.config import RunConfig
        from rnnlab.sweep import sweep
        base = RunConfig(hidden_size=4, embed_size=4, epochs=1, max_tokens=2000,
                         batch_size=4, num_steps=8)
        sweep(base, {{"lr": [0.01]}}, seeds=[0], name="serial", cache_dir={str(tmp_path)!r},
              show_progress=False)                      # torch has trained here
        with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork")) as ex:
            try:
                sweep(base, {{"lr": [0.02]}}, seeds=[0], name="pool",
                      cache_dir={str(tmp_path)!r}, executor=ex, show_progress=False)
            except ValueError as exc:
                print("refused:", exc)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=100)
    assert done.returncode == 0, done.stderr
    assert "refused:" in done.stdout and "process_pool(workers)" in done.stdout, done.stdout
