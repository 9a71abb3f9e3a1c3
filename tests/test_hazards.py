"""Regression tests for side effects that silently changed results (issue 10, part 1):
the global random generator, host-device syncs, the sweep cache, the time budget, and
speed verdicts under load."""

import importlib
import json
import shutil
import threading
import types
import warnings

import pytest
import torch

import rnnlab
from rnnlab import RNNModel, RNNScratch, TrainConfig, bench, generate, train, validate
from rnnlab import sweep as S

CPU = torch.device("cpu")
T = importlib.import_module("rnnlab.train")   # the module; rnnlab.train is the function


def _data():
    return rnnlab.load_time_machine(batch_size=4, num_steps=8, max_tokens=3_000)


# --- generate() and the global random generator ------------------------------------


@pytest.mark.parametrize("kw", [dict(temperature=0.0), dict(temperature=1.0, seed=3)])
def test_generate_leaves_the_global_generator_alone(kw):
    data = _data()
    model = RNNModel(len(data.vocab), 8)
    torch.manual_seed(0)
    expected = torch.randn(3)
    torch.manual_seed(0)
    generate(model, data.vocab, "the ", 10, **kw)
    assert torch.equal(torch.randn(3), expected), "generate() moved torch's global RNG"


def test_generate_without_seed_is_reproducible_from_the_global_seed():
    data = _data()
    model = RNNModel(len(data.vocab), 8)
    runs = []
    for _ in range(2):
        torch.manual_seed(7)
        runs.append(generate(model, data.vocab, "the ", 30, temperature=1.0))
    assert runs[0] == runs[1]


# --- index range checks: once where indices enter, never a sync per forward ----------


def test_forward_checks_the_range_only_on_the_cpu(monkeypatch):
    seen = []
    monkeypatch.setattr(validate, "require_index_range",
                        lambda X, V: seen.append(X.device.type))
    X = torch.randint(0, 5, (2, 3))
    RNNScratch(5, 4)(X)
    RNNModel(5, 4)(X)
    assert seen == ["cpu", "cpu"]
    with pytest.raises(ValueError, match="shape"):       # shape checks stay per call
        RNNModel(5, 4)(X[0])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("make", [lambda: RNNScratch(5, 4), lambda: RNNModel(5, 4)])
def test_forward_on_cuda_does_not_sync(make):
    model = make().cuda()
    X = torch.randint(0, 5, (2, 3), device="cuda")
    model(X)                                                # warm-up
    torch.cuda.set_sync_debug_mode("error")
    try:
        model(X)
    finally:
        torch.cuda.set_sync_debug_mode("default")


def test_indices_are_checked_where_they_enter():
    data = _data()
    V = len(data.vocab)
    small = RNNModel(V - 1, 8)                     # one token short of the data's vocabulary
    with pytest.raises(ValueError, match="vocab_size"):
        train(small, data, TrainConfig(epochs=1, show_progress=False), CPU)
    last = data.vocab.idx_to_token[V - 1]
    with pytest.raises(ValueError, match="indices in"):
        generate(small, data.vocab, last, 3)
    bad = torch.tensor([[0, 1, 9]])
    with pytest.raises(ValueError, match="indices in"):
        rnnlab.fit(RNNModel(5, 4), bad, bad, steps=1)
    with pytest.raises(ValueError, match="indices in"):
        rnnlab.predict(RNNModel(5, 4), bad)


# --- the sweep cache -----------------------------------------------------------------

TINY = S.RunConfig(hidden_size=4, embed_size=4, batch_size=4, num_steps=8, epochs=1,
                   max_tokens=3_000)


def test_the_cache_key_covers_every_module_the_runner_imports():
    names = {p.name for p in S.fingerprint_files()}
    assert {"sweep.py", "data.py", "models.py", "train.py", "runtime.py", "validate.py",
            "progress.py"} <= names
    assert "plots.py" not in names and "checks.py" not in names


@pytest.mark.parametrize("module", ["validate.py", "sweep.py", "runtime.py"])
def test_editing_an_imported_module_changes_the_key(tmp_path, module):
    copy = tmp_path / "rnnlab"
    shutil.copytree(S.fingerprint_files()[0].parent, copy,
                    ignore=shutil.ignore_patterns("__pycache__", "data"))
    before = S.code_fingerprint(copy)
    with open(copy / module, "a") as f:
        f.write("\n# edited\n")
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


# --- max_seconds: training time, validation excluded ---------------------------------


class _Clock:
    """A fake perf_counter: each training forward pass takes 1 s, each evaluation 10 s."""

    def __init__(self):
        self.now = 0.0

    def perf_counter(self):
        return self.now


def test_max_seconds_counts_training_steps_only_and_never_overshoots(monkeypatch):
    clock = _Clock()
    monkeypatch.setattr(T, "time", types.SimpleNamespace(perf_counter=clock.perf_counter))

    def slow_validation(*args, **kwargs):
        clock.now += 10.0
        return 5.0

    monkeypatch.setattr(T, "perplexity", slow_validation)
    data = _data()
    n = sum(1 for _ in data.train_batches())
    model = RNNModel(len(data.vocab), 4)
    forward = model.forward

    def timed_forward(*args, **kwargs):
        clock.now += 1.0
        return forward(*args, **kwargs)

    model.forward = timed_forward
    budget = 2 * n + 0.5            # room for two epochs of n one-second batches, not a third
    hist = train(model, data, TrainConfig(epochs=5, max_seconds=budget, show_progress=False),
                 CPU)
    assert hist.total_train_seconds == 2 * n <= budget
    assert hist.epochs == 2 and hist.tokens_seen[-1] == 2 * n * 4 * 8
    assert hist.seconds[0] == n + 10.0          # `seconds` is the epoch, validation included
    assert hist.tokens_per_s[0] == pytest.approx(4 * 8)   # tokens per training second


def test_sweep_speed_excludes_validation(monkeypatch, tmp_path):
    row = S.run_one(TINY, 0, CPU)
    assert row["tokens_per_s"] == pytest.approx(row["tokens_seen"] / row["train_s"])
    assert row["train_s"] < row["wall_s"]


# --- speed verdicts under load -------------------------------------------------------


def test_interleaved_rounds_rotate_the_order():
    calls = []
    fns = {name: (lambda n=name: calls.append(n)) for name in "abc"}
    times = bench.interleaved_times(fns, repeats=3, warmup=0)
    assert calls == list("abc" "bca" "cab")
    assert all(len(t) == 3 for t in times.values())


def test_speed_ratio_verdicts():
    steady_a, steady_b = [1.0, 1.05, 0.98, 1.02] * 5, [2.0, 1.9, 2.1, 2.05] * 5
    r = bench.speed_ratio(steady_a, steady_b)
    assert r.median == pytest.approx(2.0, rel=0.01) and r.low <= r.median <= r.high
    assert r.verdict(1.5) == "met" and r.verdict(3.0) == "missed"
    assert r.verdict(2.0).startswith("too noisy") and "includes 2" in r.verdict(2.0)
    loaded_a = [1.0] * 10 + [100.0] * 10               # a second process took the cores
    loaded = bench.speed_ratio(loaded_a, steady_b)
    assert loaded.spread > bench.NOISE_LIMIT
    assert loaded.verdict(0.5).startswith("too noisy") and "busy" in loaded.verdict(0.5)
    with pytest.raises(ValueError, match="same rounds"):
        bench.speed_ratio([1.0], [1.0, 2.0])


def test_suite_ratios_give_verdicts_only_for_targets():
    rows = [{"H": 8, "model": name, "train seconds": [t] * 10}
            for name, t in [(bench.NAIVE, 2.0), (bench.HOISTED, 1.0), (bench.FUSED, 1.0)]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = {q["ratio"]: q for q in bench.suite_ratios(rows)}
    assert out["hoisted / naive"]["verdict"] == "met"          # 2.0 >= 1.2
    assert out["hoisted / nn.RNN"]["verdict"] == "met"          # 1.0 >= 0.9
    assert out["nn.RNN / naive"]["verdict"] == "no target"
    assert "d2l / nn.RNN" not in out
    gpu = {q["ratio"]: q for q in bench.suite_ratios(rows, on_cpu=False)}
    assert gpu["hoisted / naive"]["verdict"] == "no target on this device"


# --- early stopping: patience and the best epoch's weights -----------------------------


def test_patience_stops_and_restore_best_keeps_the_best_epoch(monkeypatch):
    scores = iter([5.0, 4.0, 6.0, 7.0, 8.0, 9.0])
    snapshots = []

    def fake_validation(model, batches, device=None):
        snapshots.append({k: v.clone() for k, v in model.state_dict().items()})
        return next(scores)

    monkeypatch.setattr(T, "perplexity", fake_validation)
    data = _data()
    model = RNNModel(len(data.vocab), 4)
    cfg = TrainConfig(epochs=6, patience=2, restore_best=True, show_progress=False)
    hist = train(model, data, cfg, CPU)
    assert hist.valid_ppl == [5.0, 4.0, 6.0, 7.0] and hist.best_epoch == 2
    for name, value in model.state_dict().items():
        assert torch.equal(value, snapshots[1][name]), name          # epoch 2's weights
    assert not torch.equal(snapshots[1]["output.weight"], snapshots[3]["output.weight"])
    with pytest.raises(ValueError, match="patience"):
        TrainConfig(patience=0)


def test_lr_decay_halves_the_rate_after_each_epoch_without_a_new_best(monkeypatch):
    scores = iter([5.0, 4.0, 4.0, 4.5, 3.0, 3.5])     # a tie is not a new best
    monkeypatch.setattr(T, "perplexity", lambda model, batches, device=None: next(scores))
    data = _data()
    cfg = TrainConfig(epochs=6, lr=0.8, optimizer="adam", lr_decay=0.5, show_progress=False)
    hist = train(RNNModel(len(data.vocab), 4), data, cfg, CPU)
    assert hist.lr == pytest.approx([0.8, 0.8, 0.8, 0.4, 0.2, 0.2])
    plain = iter([5.0, 6.0, 7.0])
    monkeypatch.setattr(T, "perplexity", lambda model, batches, device=None: next(plain))
    hist = train(RNNModel(len(data.vocab), 4), data,
                 TrainConfig(epochs=3, lr=0.8, show_progress=False), CPU)
    assert hist.lr == [0.8, 0.8, 0.8]                  # no decay unless asked for
    for bad in (0.0, 1.0, 1.5, -0.5):
        with pytest.raises(ValueError, match="lr_decay"):
            TrainConfig(lr_decay=bad)
