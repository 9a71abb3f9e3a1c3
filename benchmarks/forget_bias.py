"""Reference runs for chapter 7's forget-gate bias: the LSTM of chapter 7's equal-tokens
recipe (full profile), trained from PyTorch's initialisation and with every forget gate's
bias started at 1 (`rnnlab.inits.set_forget_bias`), the same seeds, everything else equal.

    make forget-bias            # or: .venv/bin/python benchmarks/forget_bias.py [--seeds 0 1 2]

Each run is cached under results/reference/runs/forget-bias/ (a later session resumes; a
run made by other training code is trained again), and src/rnnlab/results/forget-bias.json
(read by the page through `rnnlab.evidence.load("forget-bias")`) holds every run with its
provenance. With PyTorch's initialisation a run is the same as the LSTM's run of the
`ch7-cells-tokens` reference sweep (the same seeding, model and training), which the
script checks when both are there.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import subprocess
import time
from pathlib import Path

import torch

import rnnlab
from rnnlab import evidence
from rnnlab.budget import get_budget
from rnnlab.inits import set_forget_bias
from rnnlab.models import num_params
from rnnlab.sweep import code_fingerprint, provenance

ROOT = Path(__file__).resolve().parent.parent
RUNS = ROOT / "results" / "reference" / "runs" / "forget-bias"
OUT = ROOT / "src" / "rnnlab" / "results" / "forget-bias.json"
NAME = "forget-bias"
VARIANTS = ("pytorch", "1")      # the forget gate's starting bias


def run(cfg, seed: int, variant: str, device) -> dict:
    data = rnnlab.load_time_machine(cfg.batch_size, cfg.num_steps, max_tokens=cfg.max_tokens)
    rnnlab.seed_everything(seed)
    cfg = dataclasses.replace(cfg, seed=seed, eval_train=True)
    model = cfg.model(len(data.vocab))
    if variant != "pytorch":
        set_forget_bias(model, float(variant))
    start = time.perf_counter()
    hist = rnnlab.train(model, data, cfg, device, show_progress=False)
    return {**dataclasses.asdict(cfg), "forget_bias": variant, "seed": seed,
            "device": device.type, "valid_ppl": hist.valid_ppl[-1],
            "best_valid_ppl": min(hist.valid_ppl), "train_eval_ppl": hist.train_eval_ppl[-1],
            "epochs_run": hist.epochs, "tokens_seen": hist.total_tokens,
            "wall_s": time.perf_counter() - start, "train_s": hist.total_train_seconds,
            "params": num_params(model), "valid_curve": hist.valid_ppl,
            **provenance(device)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device("cpu")
    cfg = dataclasses.replace(get_budget("full").ch7.equal_tokens, cell="lstm")
    code = code_fingerprint()
    RUNS.mkdir(parents=True, exist_ok=True)
    rows, started, cpu = [], time.perf_counter(), 0.0
    for seed in args.seeds:
        for variant in VARIANTS:
            path = RUNS / f"seed{seed}-{variant}.json"
            row = json.loads(path.read_text()) if path.exists() else None
            if row is None or row.get("code") != code:
                print(f"training seed {seed}, forget bias {variant} ...", flush=True)
                row = run(cfg, seed, variant, device)
                path.write_text(json.dumps(row))
            cpu += row["train_s"]
            rows.append(row)
            print(f"seed {seed}, forget bias {variant}: valid ppl {row['valid_ppl']:.4f} "
                  f"(best {row['best_valid_ppl']:.4f})", flush=True)
    check_against_cells(rows)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip() or "unknown"
    report = {"name": NAME, "profile": "full", "grid": {"forget_bias": list(VARIANTS)},
              "seeds": args.seeds, "cpu_seconds": cpu,
              "wall_seconds": time.perf_counter() - started,
              "provenance": {**provenance(device), "commit": commit,
                             "command": "python benchmarks/forget_bias.py"},
              "rows": rows}
    OUT.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}")


def check_against_cells(rows: list[dict]) -> None:
    """With PyTorch's initialisation, a run must be the LSTM run of ch7-cells-tokens."""
    cells = evidence.load("ch7-cells-tokens")
    if cells is None or cells.stale:
        return
    lstm = cells.rows[cells.rows["cell"] == "lstm"].set_index("seed")
    for row in rows:
        if row["forget_bias"] == "pytorch" and row["seed"] in lstm.index:
            theirs = lstm.loc[row["seed"], "valid_ppl"]
            same = math.isclose(row["valid_ppl"], theirs, rel_tol=1e-6)
            print(f"seed {row['seed']}: the same run in ch7-cells-tokens gave {theirs:.4f} "
                  f"({'the same' if same else 'DIFFERENT'})", flush=True)


if __name__ == "__main__":
    main()
