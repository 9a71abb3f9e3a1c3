import json
import sys
import warnings
from pathlib import Path

import pytest
import torch
from environment import D2L_MISSING, HAVE_D2L, needs

from rnnlab import RNNModel, RNNScratch, bench, noise, timing
from rnnlab.bench import run_suite
from rnnlab.timing import time_call

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("include_d2l", [False, True])
def test_suite_measures_every_model_at_equal_sizes(include_d2l):
    if include_d2l:
        needs(HAVE_D2L, D2L_MISSING)
    rows = run_suite(hidden_size=8, batch_size=4, num_steps=5, repeats=2, gen_repeats=1,
                     gen_chars=5, device=torch.device("cpu"), include_d2l=include_d2l)
    models = ["hand-made (naive loop)", "hand-made (hoisted input)",
              "hand-made (hand backward)", "concise nn.RNN"]
    assert [r["model"] for r in rows] == models + ["d2l.RNNModel (reference)"] * include_d2l
    for r in rows:
        assert r["H"] == 8 and r["B"] == 4 and r["T"] == 5
        assert r["train tokens/s (min)"] <= r["train tokens/s"] <= r["train tokens/s (max)"]
        assert r["generate chars/s"] > 0


def test_benchmark_script_prints_and_writes_json(tmp_path, capsys):
    run = _benchmark("run")
    out = tmp_path / "bench.json"
    d2l = [] if HAVE_D2L else ["--no-d2l"]
    assert run.main(["--hidden", "8", "--batch", "4", "--steps", "5", "--repeats", "2",
                     "--gen-repeats", "1", "--out", str(out), *d2l]) == 0
    printed = capsys.readouterr().out
    assert "hoisted / naive" in printed and "threads" in printed and "torch" in printed
    saved = json.loads(out.read_text())
    assert len(saved["rows"]) == 4 + HAVE_D2L and "8" in saved["ratios"]
    assert "verdict" in saved["ratios"]["8"]["hoisted / naive"]


@pytest.mark.slow
def test_sweep_benchmark_prints_the_ratio_and_identical_results(tmp_path):
    import subprocess

    out = tmp_path / "sweep.json"
    run = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "sweep_parallel.py"),
                          "--repeats", "1", "--hidden", "4", "8", "--seeds", "1",
                          "--tokens", "3000", "--out", str(out)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "serial / pool wall time: median" in run.stdout and "results identical" in run.stdout
    saved = json.loads(out.read_text())
    assert saved["identical"] and saved["runs"] == 2 and len(saved["ratios"]) == 1


def test_count_operations_sees_one_recurrent_operation_for_nn_rnn():
    from rnnlab.bench import count_operations

    X = torch.randint(0, 10, (2, 6))
    fused = count_operations(RNNModel(10, 8), X)
    looped = count_operations(RNNScratch(10, 8), X)
    assert fused["inside"]["aten::tanh"] == 6            # the loop runs inside the operation
    assert not looped["inside"]                           # no recurrent operation at all
    assert fused["called from Python"] < looped["called from Python"]
    assert looped["called from Python"] >= 6 * 2          # at least a product and tanh per step
    assert fused["GPU kernels"] == looped["GPU kernels"] == 0


# --- speed verdicts under load -------------------------------------------------------


def test_interleaved_rounds_rotate_the_order():
    calls = []
    fns = {name: (lambda n=name: calls.append(n)) for name in "abc"}
    times = timing.interleaved_times(fns, repeats=3, warmup=0)
    assert calls == list("abc" "bca" "cab")
    assert all(len(t) == 3 for t in times.values())


def test_speed_ratio_verdicts():
    steady_a, steady_b = [1.0, 1.05, 0.98, 1.02] * 5, [2.0, 1.9, 2.1, 2.05] * 5
    r = noise.speed_ratio(steady_a, steady_b)
    assert r.median == pytest.approx(2.0, rel=0.01) and r.low <= r.median <= r.high
    assert r.verdict(1.5) == "met" and r.verdict(3.0) == "missed"
    assert r.verdict(2.0).startswith("too noisy") and "includes 2" in r.verdict(2.0)
    loaded_a = [1.0] * 10 + [100.0] * 10               # a second process took the cores
    loaded = noise.speed_ratio(loaded_a, steady_b)
    assert loaded.spread > noise.NOISE_LIMIT
    assert loaded.verdict(0.5).startswith("too noisy") and "busy" in loaded.verdict(0.5)
    with pytest.raises(ValueError, match="same rounds"):
        noise.speed_ratio([1.0], [1.0, 2.0])


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


def _benchmark(name):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import importlib
        return importlib.import_module(name)
    finally:
        sys.path.pop(0)


def test_reference_prunes_only_runs_made_by_other_code(tmp_path, capsys):
    reference = _benchmark("reference")
    (tmp_path / "kept.json").write_text(json.dumps({"code": "now", "valid_ppl": 5.0}))
    (tmp_path / "stale.json").write_text(json.dumps({"code": "before", "valid_ppl": 5.0}))
    (tmp_path / "damaged.json").write_text("{not json")
    reference._prune(tmp_path, {"now"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["damaged.json", "kept.json"]
    assert "removed 1 cached runs made by other code" in capsys.readouterr().out


def test_the_variants_cache_key_covers_their_own_modules(tmp_path, monkeypatch):
    variants = _benchmark("variants")
    import rnnlab

    key = variants.variant_code()
    assert key == variants.variant_code() and len(key) == 12
    package = Path(rnnlab.__file__).parent
    for name in variants.VARIANT_MODULES:                 # a changed module, another key
        copy = tmp_path / "rnnlab"
        copy.mkdir(exist_ok=True)
        for other in variants.VARIANT_MODULES:
            text = (package / other).read_text()
            (copy / other).write_text(text + ("\nCHANGED = 1\n" if other == name else ""))
        (copy / "__init__.py").write_text("")
        monkeypatch.setattr(rnnlab, "__file__", str(copy / "__init__.py"))
        assert variants.variant_code() != key, name
        monkeypatch.undo()
