"""Reference runs for model variants the pages ask about, at the full profile: a recipe of
`get_budget("full")` trained as it is and changed one way at a time (a forget-gate bias, a
ReLU, no clipping, biases from U(0, 1), ten layers), the same seeds, everything else equal.

    make variants                         # every experiment; or one:
    .venv/bin/python benchmarks/variants.py forget-bias [--seeds 0 1 2]

    forget-bias   chapter 7's equal-tokens LSTM from PyTorch's initialisation and with every
                  forget gate's bias started at 1 (`rnnlab.inits.set_forget_bias`)
    activations   the same recipe's RNN: tanh or ReLU (`rnnlab.inits.relu_rnn`), with the
                  gradient clipped at 1 or not clipped, and biases from U(0, 1)
                  (`rnnlab.inits.uniform_biases`), the student notes' questions
    depth         its RNN at H = 128 for 10 epochs: one layer, and ten layers plain, with
                  residual connections (`rnnlab.stacks.ResidualRNN`), or LSTM layers

Each run is cached under results/reference/runs/<experiment>/ (a later session resumes; a
run made by other training code, or other variant code (`VARIANT_MODULES`), is trained
again), and src/rnnlab/results/<experiment>.json
(read by the pages through `rnnlab.evidence.load`) holds every run with its provenance.
A variant with nothing changed is the same run as the matching one of the `ch7-cells-tokens`
reference sweep (the same seeding, model and training), which the script checks when both
are there.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import subprocess
import time
from pathlib import Path

import torch

import rnnlab
from rnnlab import evidence
from rnnlab.budget import get_budget
from rnnlab.inits import relu_rnn, set_forget_bias, uniform_biases
from rnnlab.models import num_params
from rnnlab.stacks import ResidualRNN
from rnnlab.sweep import _code, code_fingerprint, provenance

ROOT = Path(__file__).resolve().parent.parent
RUNS = ROOT / "results" / "reference" / "runs"
OUT = ROOT / "src" / "rnnlab" / "results"
# The modules that change a model here and that no sweep imports, so that
# `code_fingerprint()` does not cover them.
VARIANT_MODULES = ("inits.py", "stacks.py")


def variant_code() -> str:
    """A hash of `VARIANT_MODULES`' syntax trees: a cached run made with other variant code
    is trained again, as one made by other training code is."""
    digest = hashlib.sha1()
    for name in VARIANT_MODULES:
        digest.update(_code(Path(rnnlab.__file__).parent / name))
    return digest.hexdigest()[:12]


def _forget(model, variant, cfg, V):
    return model if variant["forget_bias"] == "pytorch" else set_forget_bias(model, 1.0)


def _activation(model, variant, cfg, V):
    if variant["activation"] == "relu":
        model = relu_rnn(model)
    return uniform_biases(model) if variant["bias_init"] == "uniform(0, 1)" else model


def _stack(model, variant, cfg, V):
    if variant["stack"] in ("plain", "residual"):
        return ResidualRNN(V, cfg.hidden_size, cfg.num_layers, cfg.embed_size,
                           residual=variant["stack"] == "residual")
    return model


@dataclasses.dataclass(frozen=True)
class Experiment:
    """A base recipe (chapter 7's equal-tokens recipe of the full profile with `changes`)
    and its variants: (file label, the variant's columns, RunConfig changes); the first is
    the recipe as it is. `change(model, variant, cfg, V)` makes the variant's model."""

    changes: dict
    variants: list
    change: object
    same_as_cells: bool       # the first variant is a run of the ch7-cells-tokens sweep


EXPERIMENTS = {
    "forget-bias": Experiment({"cell": "lstm"}, [
        ("pytorch", {"forget_bias": "pytorch"}, {}),
        ("1", {"forget_bias": "1"}, {})], _forget, True),
    "activations": Experiment({"cell": "rnn"}, [
        ("tanh", {"activation": "tanh", "bias_init": "pytorch"}, {}),
        ("relu", {"activation": "relu", "bias_init": "pytorch"}, {}),
        ("tanh-noclip", {"activation": "tanh", "bias_init": "pytorch"}, {"clip": None}),
        ("relu-noclip", {"activation": "relu", "bias_init": "pytorch"}, {"clip": None}),
        ("tanh-uniform", {"activation": "tanh", "bias_init": "uniform(0, 1)"}, {}),
    ], _activation, True),
    # Ten layers cost ten times one: half the epochs, H = 128.
    "depth": Experiment({"cell": "rnn", "hidden_size": 128, "epochs": 10}, [
        ("1-layer", {"stack": "1 layer"}, {"num_layers": 1}),
        ("10-plain", {"stack": "plain"}, {"num_layers": 10}),
        ("10-residual", {"stack": "residual"}, {"num_layers": 10}),
        ("10-lstm", {"stack": "lstm"}, {"num_layers": 10, "cell": "lstm"}),
    ], _stack, False),
}


assert tuple(EXPERIMENTS) == evidence.VARIANTS, "rnnlab.evidence.VARIANTS names them all"


def run(cfg, seed: int, variant: dict, change, device) -> dict:
    data = rnnlab.load_time_machine(cfg.batch_size, cfg.num_steps, max_tokens=cfg.max_tokens)
    rnnlab.seed_everything(seed)
    cfg = dataclasses.replace(cfg, seed=seed, eval_train=True)
    model = change(cfg.model(len(data.vocab)), variant, cfg, len(data.vocab))
    start = time.perf_counter()
    hist = rnnlab.train(model, data, cfg, device, show_progress=False)
    finite = [p for p in hist.valid_ppl if math.isfinite(p)]
    return {**dataclasses.asdict(cfg), **variant, "seed": seed, "device": device.type,
            "valid_ppl": hist.valid_ppl[-1],
            "best_valid_ppl": min(finite) if finite else math.inf,
            "train_eval_ppl": hist.train_eval_ppl[-1], "epochs_run": hist.epochs,
            "tokens_seen": hist.total_tokens, "wall_s": time.perf_counter() - start,
            "train_s": hist.total_train_seconds, "params": num_params(model),
            "valid_curve": hist.valid_ppl, "variant_code": variant_code(),
            **provenance(device)}


def experiment(name: str, seeds: list[int], device) -> None:
    spec = EXPERIMENTS[name]
    variants = spec.variants
    base = dataclasses.replace(get_budget("full").ch7.equal_tokens, **spec.changes)
    code, changes = code_fingerprint(), variant_code()
    folder = RUNS / name
    folder.mkdir(parents=True, exist_ok=True)
    rows, started = [], time.perf_counter()
    for seed in seeds:
        for label, columns, config in variants:
            path = folder / f"seed{seed}-{label}.json"
            row = json.loads(path.read_text()) if path.exists() else None
            if row is None or (row.get("code"), row.get("variant_code")) != (code, changes):
                print(f"{name}: training seed {seed}, {label} ...", flush=True)
                row = run(dataclasses.replace(base, **config), seed, columns, spec.change,
                          device)
                path.write_text(json.dumps(row))
            rows.append(row)
            print(f"{name}: seed {seed}, {label}: valid ppl {row['valid_ppl']:.4f} "
                  f"(best {row['best_valid_ppl']:.4f})", flush=True)
    first = variants[0][0]                       # the recipe as it is
    unchanged = [row for row, (label, _, _) in zip(rows, variants * len(seeds))
                 if label == first]
    if spec.same_as_cells:
        check_against_cells(base.cell, unchanged)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip() or "unknown"
    report = {"name": name, "profile": "full",
              "grid": {"variant": [label for label, _, _ in variants]}, "seeds": seeds,
              "cpu_seconds": sum(r["train_s"] for r in rows),
              "wall_seconds": time.perf_counter() - started,
              "provenance": {**provenance(device), "commit": commit,
                             "command": f"python benchmarks/variants.py {name}"},
              "rows": rows}
    (OUT / f"{name}.json").write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {(OUT / f'{name}.json').relative_to(ROOT)}", flush=True)


def check_against_cells(cell: str, rows: list[dict]) -> None:
    """A variant with nothing changed must be that cell's run of ch7-cells-tokens."""
    cells = evidence.load("ch7-cells-tokens")
    if cells is None or cells.stale:
        return
    same_cell = cells.rows[cells.rows["cell"] == cell].set_index("seed")
    for row in rows:
        if row["seed"] in same_cell.index:
            theirs = same_cell.loc[row["seed"], "valid_ppl"]
            same = math.isclose(row["valid_ppl"], theirs, rel_tol=1e-6)
            print(f"seed {row['seed']}: the same run in ch7-cells-tokens gave {theirs:.4f} "
                  f"({'the same' if same else 'DIFFERENT'})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help=f"experiments to run, of "
                        f"{', '.join(EXPERIMENTS)} (default: all)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    unknown = set(args.names) - set(EXPERIMENTS)
    if unknown:
        parser.error(f"unknown experiments {sorted(unknown)}: choose from {list(EXPERIMENTS)}")
    torch.set_num_threads(args.threads)
    for name in args.names or EXPERIMENTS:
        experiment(name, args.seeds, torch.device("cpu"))


if __name__ == "__main__":
    main()
