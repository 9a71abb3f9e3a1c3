"""The command line's best model per CPU-minute: for budgets of 1, 3 and 10 minutes, on The
Time Machine (as written, and cleaned to letters) and on Tiny Shakespeare, the held-out loss
(nats per character on the test tail, the last 10 % of the text) of the command's old
defaults and of the plan `--minutes` now makes (`rnnlab.plan`), one after the other in one
run, on the same machine.

    make per-minute                                   # every text and budget
    .venv/bin/python benchmarks/per_minute.py --minutes 1 --texts shakespeare
    .venv/bin/python benchmarks/per_minute.py --explore hidden=512,layers=1 --minutes 3

The old defaults are `python -m rnnlab train FILE --minutes M` before the plan: a 2 x 256
LSTM on batches of 32 x 64, Adam at 2e-3 throughout, the whole validation text after every
epoch (not counted in the M minutes), early stopping with patience 3, the best epoch kept.
The plan's M minutes count everything before its final evaluation: the probe, the memory
check, training and its validations. Both are scored by `perplexity` on the test tail.

Each run is cached in results/per_minute/ by its settings and the code that trains it (a
later session resumes); src/rnnlab/results/per_minute.json holds the table with its
provenance. `--explore` runs one plan with settings overridden and prints it (not cached
into the table): how `rnnlab.plan.TABLE` and `DROPOUT` were chosen.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import hashlib
import json
import math
import subprocess
import time
from pathlib import Path

import torch

from rnnlab import plan as planning
from rnnlab.cli import RECIPE
from rnnlab.data import load_text
from rnnlab.runtime import seed_everything
from rnnlab.sweep import provenance
from rnnlab.train import perplexity, train

ROOT = Path(__file__).resolve().parent.parent
RUNS = ROOT / "results" / "per_minute"
OUT = ROOT / "src" / "rnnlab" / "results" / "per_minute.json"
TEXTS = {  # name -> (shipped file, cleaning)
    "time-machine": ("timemachine.txt", "none"),
    "time-machine-cleaned": ("timemachine.txt", "d2l"),
    "shakespeare": ("tinyshakespeare.txt", "none"),
}
BUDGETS = (1.0, 3.0, 10.0)


def _data(text: str, batch: int, steps: int):
    name, clean = TEXTS[text]
    return load_text(planning.shipped_text(name), batch, steps, clean=clean)


def run_old(text: str, minutes: float, seed: int = 0) -> dict:
    """`python -m rnnlab train FILE --minutes M` as it was before the plan."""
    cfg = dataclasses.replace(RECIPE, epochs=None, max_seconds=minutes * 60, seed=seed)
    data = _data(text, cfg.batch_size, cfg.num_steps)
    seed_everything(cfg.seed)
    model = cfg.model(len(data.vocab))
    start = time.perf_counter()
    hist = train(model, data, cfg, torch.device("cpu"), show_progress=False)
    wall = time.perf_counter() - start
    test = perplexity(model, data.test_batches())
    return {"recipe": "old defaults", "test_nats": math.log(test),
            "valid_nats": math.log(min(hist.valid_ppl)), "wall_seconds": wall,
            "train_seconds": hist.total_train_seconds, "epochs": hist.epochs,
            "tokens": hist.total_tokens, "stop": hist.stop_reason,
            "settings": f"{cfg.num_layers}x{cfg.hidden_size} B{cfg.batch_size} "
                        f"T{cfg.num_steps} lr {cfg.lr:g}"}


def run_plan(text: str, minutes: float, seed: int = 0, **override) -> dict:
    """`python -m rnnlab train FILE --minutes M` with the plan."""
    started = time.perf_counter()
    data = _data(text, 32, 64)
    plan = planning.make_plan(minutes, len(data.train_corpus), len(data.vocab), seed=seed,
                              started=started, **override)
    data = planning.data_for(plan, data)
    seed_everything(plan.cfg.seed)
    model = plan.cfg.model(len(data.vocab))
    done = planning.train_planned(model, data, plan)
    wall = time.perf_counter() - started
    test = perplexity(model, data.test_batches())
    valid = perplexity(model, data.valid_batches())
    c = plan.cfg
    return {"recipe": "plan", "test_nats": math.log(test), "valid_nats": math.log(valid),
            "wall_seconds": wall, "train_seconds": done.train_seconds,
            "validations": len(done.valid_slice_ppl), "tokens": done.tokens,
            "stop": done.stop_reason, "passes": done.tokens / len(data.train_corpus),
            "plan": plan.sentence(),
            "settings": f"{c.num_layers}x{c.hidden_size} E{c.embed_size} B{c.batch_size} "
                        f"T{c.num_steps} lr {c.lr:g} dropout {c.dropout:g}/{c.io_dropout:g}"}


def _cached(key: dict, make) -> dict:
    RUNS.mkdir(parents=True, exist_ok=True)
    name = hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    path = RUNS / f"{name}.json"
    if path.exists():
        return json.loads(path.read_text())
    row = {**key, **make(), "provenance": provenance(torch.device("cpu"))}
    path.write_text(json.dumps(row, indent=1))
    return row


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--texts", nargs="+", default=list(TEXTS), choices=list(TEXTS))
    parser.add_argument("--minutes", nargs="+", type=float, default=list(BUDGETS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--recipes", nargs="+", default=["old defaults", "plan"],
                        choices=["old defaults", "plan"])
    parser.add_argument("--explore", default=None,
                        help="k=v,k=v: one plan with these settings, printed, not tabled")
    args = parser.parse_args()
    torch.set_num_threads(2)
    if args.explore is not None:
        over = {}
        for item in filter(None, args.explore.split(",")):
            k, v = item.split("=")
            over[k] = float(v) if k in ("lr", "dropout", "io_dropout") else int(v)
        for text in args.texts:
            for minutes in args.minutes:
                row = run_plan(text, minutes, args.seed, **over)
                print(json.dumps({"text": text, "minutes": minutes, **over, **row}),
                      flush=True)
        return
    rows = []
    for minutes in args.minutes:
        for text in args.texts:
            for recipe, make in (("old defaults", run_old), ("plan", run_plan)):
                if recipe not in args.recipes:
                    continue
                key = {"text": text, "minutes": minutes, "recipe": recipe,
                       "seed": args.seed, "code": planning.code_key(recipe)}
                row = _cached(key, functools.partial(make, text, minutes, args.seed))
                rows.append(row)
                print(f"{text:22s} {minutes:4g} min  {recipe:13s} "
                      f"{row['test_nats']:.3f} nats  ({row['settings']}; "
                      f"{row['wall_seconds']:.0f} s)", flush=True)
    if args.recipes != ["old defaults", "plan"]:
        return
    table = {"what": "held-out loss (nats per character, test tail) after M minutes of "
                     "`python -m rnnlab train FILE --minutes M`: old defaults vs the plan",
             "command": "make per-minute", "commit": _commit(),
             "provenance": provenance(torch.device("cpu")), "rows": rows}
    OUT.write_text(json.dumps(table, indent=1) + "\n")
    readme = ROOT / "README.md"
    readme.write_text(planning.with_table(readme.read_text(encoding="utf-8"), table),
                      encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)} and the README's table")


if __name__ == "__main__":
    main()
