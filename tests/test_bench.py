import json
import sys
from pathlib import Path

import pytest
import torch
from environment import D2L_MISSING, HAVE_D2L, needs

from rnnlab.bench import run_suite

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
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import run
    finally:
        sys.path.pop(0)
    out = tmp_path / "bench.json"
    d2l = [] if HAVE_D2L else ["--no-d2l"]
    assert run.main(["--hidden", "8", "--batch", "4", "--steps", "5", "--repeats", "2",
                     "--gen-repeats", "1", "--out", str(out), *d2l]) == 0
    printed = capsys.readouterr().out
    assert "hoisted / naive" in printed and "threads" in printed and "torch" in printed
    saved = json.loads(out.read_text())
    assert len(saved["rows"]) == 4 + HAVE_D2L and "8" in saved["ratios"]
    assert "verdict" in saved["ratios"]["8"]["hoisted / naive"]


def test_count_operations_sees_one_recurrent_operation_for_nn_rnn():
    from rnnlab import RNNModel, RNNScratch
    from rnnlab.bench import count_operations

    X = torch.randint(0, 10, (2, 6))
    fused = count_operations(RNNModel(10, 8), X)
    looped = count_operations(RNNScratch(10, 8), X)
    assert fused["inside"]["aten::tanh"] == 6            # the loop runs inside the operation
    assert not looped["inside"]                           # no recurrent operation at all
    assert fused["called from Python"] < looped["called from Python"]
    assert looped["called from Python"] >= 6 * 2          # at least a product and tanh per step
    assert fused["GPU kernels"] == looped["GPU kernels"] == 0
