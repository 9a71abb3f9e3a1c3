"""Sweep benchmark: the same small grid trained serially and on a local process pool.

    make bench-sweep                 # or: .venv/bin/python benchmarks/sweep_parallel.py
    .venv/bin/python benchmarks/sweep_parallel.py --workers 2 --repeats 3

Each repeat trains the grid twice, into fresh caches: in this process, and on
`rnnlab.sweep.process_pool(workers)` (the pool's start-up included). Prints the wall times,
their ratio (median and range over repeats) and whether the two tables hold the same
numbers, and writes everything to benchmarks/results/sweep-<device>.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

import rnnlab
from rnnlab.bench import write_report
from rnnlab.sweep import RunConfig, process_pool, sweep

NUMBERS = ["hidden_size", "seed", "valid_ppl", "train_eval_ppl", "best_valid_ppl", "params",
           "tokens_seen"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--hidden", type=int, nargs="+", default=[32, 64, 96, 128])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--tokens", type=int, default=150_000, help="characters of the book")
    parser.add_argument("--out", type=Path, default=None, help="JSON file to write")
    args = parser.parse_args(argv)

    device = rnnlab.get_device()
    threads = torch.get_num_threads()
    base = RunConfig(embed_size=16, epochs=1, max_tokens=args.tokens)
    grid, seeds = {"hidden_size": args.hidden}, list(range(args.seeds))
    runs = len(args.hidden) * len(seeds)
    print(f"device: {rnnlab.describe_device(device)}; {runs} runs per sweep; "
          f"{args.workers} workers of {max(1, threads // args.workers)} thread(s) each "
          f"vs this process's {threads}")
    serial_s, pool_s, identical = [], [], True
    for r in range(args.repeats):
        with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
            start = time.perf_counter()
            one = sweep(base, grid, seeds=seeds, name="bench", cache_dir=a, device=device,
                        show_progress=False)
            serial_s.append(time.perf_counter() - start)
            start = time.perf_counter()
            with process_pool(args.workers) as pool:
                two = sweep(base, grid, seeds=seeds, name="bench", cache_dir=b, device=device,
                            show_progress=False, executor=pool)
            pool_s.append(time.perf_counter() - start)
            same = one[NUMBERS].equals(two[NUMBERS]) and (
                sorted(p.name for p in Path(a, "bench").glob("*.json"))
                == sorted(p.name for p in Path(b, "bench").glob("*.json")))
            identical &= same
        print(f"repeat {r + 1}: serial {serial_s[-1]:.1f} s, pool {pool_s[-1]:.1f} s, "
              f"tables {'identical' if same else 'DIFFER'}")
    ratios = [s / p for s, p in zip(serial_s, pool_s)]
    print(f"serial / pool wall time: median {statistics.median(ratios):.2f}x "
          f"(range {min(ratios):.2f}x to {max(ratios):.2f}x over {args.repeats} repeats); "
          f"results {'identical' if identical else 'DIFFERENT'} (same numbers, same keys)")
    write_report({"device": rnnlab.describe_device(device), "runs": runs,
                  "workers": args.workers, "serial_s": serial_s, "pool_s": pool_s,
                  "ratios": ratios, "identical": identical},
                 args.out or Path(__file__).parent / "results" / f"sweep-{device.type}.json")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
