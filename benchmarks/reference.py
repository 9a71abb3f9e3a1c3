"""The reference results: every experiment the pages draw a conclusion from, at the full
profile, run once and committed with provenance.

    make reference                                  # or: .venv/bin/python benchmarks/reference.py
    .venv/bin/python benchmarks/reference.py --only ch7-cells-tokens lr --workers 2
    .venv/bin/python benchmarks/reference.py --list

Each sweep of `get_budget("full").sweeps` (chapter 2's inputs, chapter 5's sweeps, chapter
7's cells at equal tokens and equal time) is trained with `rnnlab.sweep.sweep`, cached run
by run under results/reference/runs/<sweep>/ (committed: a later session, or another
machine, resumes where this one stopped; a run whose code changed is trained again, since
the cache key holds the code's fingerprint, and once the sweep is whole the files of runs
made by other code are removed). After each sweep,
src/rnnlab/results/<sweep>.json (shipped with the package, read by the pages through
`rnnlab.evidence`) holds every run (its configuration, per-epoch curves, figures and
provenance: package and torch versions, code fingerprint, device, CPU, threads, date) and
the sweep's provenance (commit, command, seconds). Then the speed suite
(speed-<device>.json), the perplexity target (target-<device>.json) and the model variants
(benchmarks/variants.py: forget-bias.json, activations.json). Nothing runs
twice: a finished sweep is read from its cache.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

import torch

import rnnlab
from rnnlab.budget import get_budget
from rnnlab.sweep import process_pool, provenance, sweep

ROOT = Path(__file__).resolve().parent.parent
RUNS = ROOT / "results" / "reference" / "runs"     # the cache: one file per run
OUT = ROOT / "src" / "rnnlab" / "results"          # the summaries, shipped with the package
EXTRA = ("speed", "target", "variants")


def _commit() -> str:
    """The commit checked out, with "+changes" if tracked files differ from it."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True,
                              text=True).stdout.strip()

    head = git("rev-parse", "HEAD") or "unknown"
    # the code only: the results this command writes under src/rnnlab/results/ do not count
    dirty = git("status", "--porcelain", "--untracked-files=no", "--", "src",
                ":(exclude)src/rnnlab/results")
    return head + ("+changes" if dirty else "")


def _write(path: Path, report: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(report, indent=1, default=str) + "\n")
    tmp.replace(path)
    print(f"wrote {path.relative_to(ROOT)}", flush=True)


def _prune(folder: Path, codes: set[str]) -> None:
    """Remove the cached runs in `folder` that other code made: the sweep's summary now
    holds only runs by `codes`, and a stale file would never be read again (its key holds
    the code that made it)."""
    gone = []
    for path in sorted(folder.glob("*.json")):
        try:
            code = json.loads(path.read_text()).get("code")
        except (OSError, json.JSONDecodeError):
            continue                           # damaged: the sweep warned and retrained it
        if code not in codes:
            path.unlink()
            gone.append(path.name)
    if gone:
        print(f"{folder.name}: removed {len(gone)} cached runs made by other code", flush=True)


def run_sweep(plan, seeds, device, command: str, workers: int) -> None:
    info = {"commit": _commit(), "command": command}
    start = time.perf_counter()
    if workers > 1:
        with process_pool(workers) as pool:
            table = sweep(plan.base, plan.grid, seeds, name=plan.name, cache_dir=RUNS,
                          device=device, executor=pool, provenance=info)
    else:
        table = sweep(plan.base, plan.grid, seeds, name=plan.name, cache_dir=RUNS,
                      device=device, provenance=info)
    failed = table[table["error"].notna()] if "error" in table else table.iloc[:0]
    if len(failed):
        print(f"{plan.name}: {len(failed)} runs failed:", *failed["error"], sep="\n  ")
        return
    rows = table.drop(columns=["cached"]).to_dict("records")
    _prune(RUNS / plan.name, {r["code"] for r in rows})
    _write(OUT / f"{plan.name}.json", {
        "name": plan.name, "profile": "full", "grid": {k: list(v) for k, v in
                                                      plan.grid.items()},
        "seeds": list(seeds),
        "cpu_seconds": sum(r["train_s"] for r in rows),
        "wall_seconds": sum(r["wall_s"] for r in rows),
        "this_call_seconds": time.perf_counter() - start,
        "provenance": {**provenance(device), **info}, "rows": rows})


def run_extra(name: str, device, command: str) -> None:
    if name == "variants":           # their own runs and summaries (benchmarks/variants.py)
        subprocess.run([sys.executable, str(ROOT / "benchmarks" / "variants.py")],
                       check=True)
        return
    info = {"commit": _commit(), "command": command, **provenance(device)}
    out = OUT / f"{name}-{device.type}.json"
    if name == "speed":
        script = [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--hidden", "64",
                  "256", "512", "--out", str(out)]
    else:
        script = [sys.executable, str(ROOT / "benchmarks" / "perplexity_target.py"),
                  "--out", str(out)]
    start = time.perf_counter()
    subprocess.run(script, check=True)
    report = json.loads(out.read_text())
    report["provenance"] = {**info, "seconds": time.perf_counter() - start}
    _write(out, report)


def main(argv=None) -> int:
    budget = get_budget("full")
    names = list(budget.sweeps) + list(EXTRA)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=names, default=None,
                        help="run only these experiments (default: all, in this order)")
    parser.add_argument("--workers", type=int, default=1,
                        help="local processes for the sweeps (default 1)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads for a serial run (default: torch's)")
    parser.add_argument("--list", action="store_true", help="list the experiments and stop")
    args = parser.parse_args(argv)
    if args.list:
        for name, plan in budget.sweeps.items():
            print(f"{name:18s} {len(plan.configs())} configurations x {budget.num_seeds} seeds:"
                  f" {dict(plan.grid)}")
        print("speed              the speed suite at H = 64, 256, 512")
        print("target             the command line's recipe for the perplexity target")
        print("variants           a forget-gate bias, ReLU, no clipping, U(0, 1) biases")
        return 0
    if args.threads:
        torch.set_num_threads(args.threads)
    device = rnnlab.get_device()
    command = shlex.join(["python", "benchmarks/reference.py", *(argv or sys.argv[1:])])
    seeds = list(range(budget.num_seeds))
    for name in args.only or names:
        print(f"== {name}", flush=True)
        if name in EXTRA:
            run_extra(name, device, command)
        else:
            run_sweep(budget.sweeps[name], seeds, device, command, args.workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
