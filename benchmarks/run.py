"""Speed benchmarks: hand-made RNN (naive and hoisted) vs nn.RNN vs d2l, at equal sizes.

    make bench                       # or: .venv/bin/python benchmarks/run.py
    .venv/bin/python benchmarks/run.py --hidden 128 256 512 --repeats 20

Prints a table of training and generation speed (median, and min-max over repeats) with
the device, torch version and thread count, the ratios the course cares about (from
interleaved rounds, with a verdict or "too noisy to judge"), and writes everything to
benchmarks/results/<device>.json.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import torch

import rnnlab
from rnnlab.bench import run_suite, suite_ratios, write_report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, nargs="+", default=[64, 256],
                        help="hidden sizes to measure (default: 64 256)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=35)
    parser.add_argument("--repeats", type=int, default=30, help="timed training steps")
    parser.add_argument("--gen-repeats", type=int, default=3)
    parser.add_argument("--no-d2l", action="store_true", help="skip d2l's reference model")
    parser.add_argument("--compile", action="store_true",
                        help="also measure torch.compile of the hoisted hand-made model")
    parser.add_argument("--out", type=Path, default=None, help="JSON file to write")
    args = parser.parse_args(argv)

    device = rnnlab.get_device()
    info = {"device": rnnlab.describe_device(device), "torch": torch.__version__,
            "threads": torch.get_num_threads(), "python": platform.python_version(),
            "date": time.strftime("%Y-%m-%d %H:%M:%S")}
    print(" | ".join(f"{k}: {v}" for k, v in info.items()))
    start = time.perf_counter()
    rows = []
    for H in args.hidden:
        rows += run_suite(H, args.batch, args.steps, repeats=args.repeats,
                          gen_repeats=args.gen_repeats, include_d2l=not args.no_d2l,
                          device=device, with_compiled=args.compile)
    header = (f"{'model':34s} {'H':>4s} {'train tok/s':>12s} {'(min-max)':>20s} "
              f"{'gen chars/s':>12s} {'(min-max)':>18s}")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['model']:34s} {r['H']:4d} {r['train tokens/s']:12,.0f} "
              f"{r['train tokens/s (min)']:9,.0f}-{r['train tokens/s (max)']:<10,.0f} "
              f"{r['generate chars/s']:12,.0f} "
              f"{r['generate chars/s (min)']:8,.0f}-{r['generate chars/s (max)']:<9,.0f}")
    # Ratios of interleaved rounds, with a verdict that says "too noisy to judge" when the
    # measurement cannot carry one (rnnlab.bench.suite_ratios, as on the Performance page).
    ratios: dict[int, dict] = {}
    for q in suite_ratios(rows, on_cpu=device.type == "cpu"):
        ratios.setdefault(q["H"], {})[q["ratio"]] = {
            k: q[k] for k in ("median", "low", "high", "spread", "target", "verdict")}
        target = "" if q["target"] is None else f", target {q['target']}x: {q['verdict']}"
        print(f"H={q['H']}: {q['ratio']} = {q['speed_ratio']}{target}")
    elapsed = time.perf_counter() - start
    print(f"measured in {elapsed:.0f} s")
    write_report({"info": info, "rows": rows, "ratios": ratios, "seconds": elapsed},
                 args.out or Path(__file__).parent / "results" / f"{device.type}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
