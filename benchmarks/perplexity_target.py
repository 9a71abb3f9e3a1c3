"""The course's perplexity target: a gated model at validation perplexity <= 4.0 on The
Time Machine's held-out tail, by the book's protocol, trained with the command line.

    make target                      # or: .venv/bin/python benchmarks/perplexity_target.py
    .venv/bin/python benchmarks/perplexity_target.py --minutes 5     # a shorter budget

Runs exactly the command a reader would type (printed first), on the GPU when there is
one, then prints what the checkpoint recorded: the best epoch's validation perplexity, the
test perplexity of those weights, the epochs and the training seconds, and the verdict
against the target. Everything goes to benchmarks/results/target-<device>.json as well.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

import rnnlab
from rnnlab.bench import write_report
from rnnlab.data import time_machine_path

TARGET = 4.0
TEXT = time_machine_path()
# The recipe: a two-layer LSTM with dropout on every non-recurrent connection (Zaremba et
# al. 2014), Adam with the learning rate halved after each epoch without a new best, and
# early stopping that keeps the best epoch's weights (--patience, the command's default).
RECIPE = ["--clean", "d2l", "--cell", "lstm", "--hidden", "512", "--layers", "2",
          "--dropout", "0.5", "--io-dropout", "0.5", "--lr", "2e-3", "--lr-decay", "0.5",
          "--no-plan"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=20.0,
                        help="training time budget (default 20; early stopping usually "
                             "ends the run sooner)")
    parser.add_argument("--hidden", type=int, default=None, help="override the recipe's 512")
    parser.add_argument("--epochs", type=int, default=None, help="cap on epochs")
    parser.add_argument("--text", type=Path, default=TEXT,
                        help="the text (default: The Time Machine shipped with rnnlab)")
    parser.add_argument("--out", type=Path, default=None, help="JSON file to write")
    args = parser.parse_args(argv)

    recipe = list(RECIPE)
    if args.hidden is not None:
        recipe[recipe.index("--hidden") + 1] = str(args.hidden)
    extra = ["--epochs", str(args.epochs)] if args.epochs else []
    with tempfile.TemporaryDirectory() as tmp:
        ckpt_path = Path(tmp) / "target.rnnlab.pt"
        command = [sys.executable, "-m", "rnnlab", "train", str(args.text), *recipe,
                   "--minutes", str(args.minutes), *extra, "--out", str(ckpt_path)]
        shown = shlex.join(["python", *command[1:-2]])     # as typed, without --out
        print("$", shown, flush=True)
        result = subprocess.run(command)
        if result.returncode != 0:
            print(f"the training command failed (exit status {result.returncode})")
            return result.returncode
        ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    hist = ckpt["history"]
    best = min(hist["valid_ppl"])
    device = rnnlab.get_device()
    report = {
        "device": rnnlab.describe_device(device),
        "command": shown,
        "best_valid_ppl": best,
        "best_epoch": hist["best_epoch"],
        "test_ppl": hist["test_ppl"],
        "epochs": hist["epochs"],
        "train_seconds": hist["train_seconds"],
        "valid_ppl": hist["valid_ppl"],
        "target": TARGET,
        "verdict": "met" if best <= TARGET else "missed",
    }
    print(f"\ndevice: {report['device']}")
    print(f"best validation perplexity {best:.3f} at epoch {hist['best_epoch']} of "
          f"{hist['epochs']} ({hist['train_seconds']:.0f} s of training); test perplexity "
          f"of those weights {hist['test_ppl']:.3f}")
    print(f"target: validation perplexity <= {TARGET}: {report['verdict']}")
    write_report(report, args.out or Path(__file__).parent / "results"
                 / f"target-{device.type}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
