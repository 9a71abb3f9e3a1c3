"""The course's speed benchmark suite, run by `make bench` and the Performance page, with
its targets; the timing helpers it uses are `timing.py`'s.

    compare_training_speed(models, X, Y)  seconds per training step, interleaved
    run_suite(H), suite_ratios(rows)      hand-made vs nn.RNN vs d2l at equal sizes
    count_operations(model, X)            what one forward pass asks PyTorch to do
"""

from __future__ import annotations

import statistics
from collections.abc import Callable

import torch

from .noise import speed_ratio
from .timing import interleaved_times


def _training_step(model: torch.nn.Module, X: torch.Tensor, Y: torch.Tensor,
                   lr: float = 1.0) -> Callable[[], None]:
    """The training loop's step (`train.train_step`) on `(X, Y)` from a fresh state, with
    clipping at 1 and an SGD update, as a function of no arguments to time."""
    from .train import train_step

    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    return lambda: train_step(model, X, Y, optimizer, clip=1.0)


def compare_training_speed(models: dict[str, torch.nn.Module], X: torch.Tensor,
                           Y: torch.Tensor, repeats: int = 20, warmup: int = 3
                           ) -> dict[str, list[float]]:
    """Seconds per training step of each model on the batch `(X, Y)`, interleaved."""
    device = X.device
    steps = {name: _training_step(model.to(device), X, Y) for name, model in models.items()}
    return interleaved_times(steps, repeats=repeats, warmup=warmup, device=device)



def _candidates(V: int, H: int, include_d2l: bool, with_compiled: bool = False) -> dict:
    """The models the suite compares, all at the same sizes (one-hot input, one layer)."""
    from .models import RNNModel
    from .scratch import RNNScratch

    models = {
        NAIVE: lambda: RNNScratch(V, H),
        HOISTED: lambda: RNNScratch(V, H, hoist_input=True),
        MANUAL: lambda: RNNScratch(V, H, backward="manual"),
        FUSED: lambda: RNNModel(V, H),
    }
    if with_compiled:   # fuses the per-step operations of the Python loop (slow to compile)
        models[COMPILED] = lambda: torch.compile(RNNScratch(V, H, hoist_input=True))
    if include_d2l:
        def d2l_model():
            from d2l import torch as d2l

            from .reference import D2LModel
            return D2LModel(d2l.RNNModel(torch.nn.RNN(V, H), V))
        models[D2L] = d2l_model
    return models


NAIVE, HOISTED, FUSED = "hand-made (naive loop)", "hand-made (hoisted input)", "concise nn.RNN"
MANUAL = "hand-made (hand backward)"
COMPILED, D2L = "hand-made (hoisted, torch.compile)", "d2l.RNNModel (reference)"
# The ratios the course reports, as (name, faster candidate, slower candidate, CPU target).
_RATIOS = [("hoisted / naive", HOISTED, NAIVE, 1.2), ("hoisted / nn.RNN", HOISTED, FUSED, 0.9),
          ("hand backward / hoisted", MANUAL, HOISTED, 1.3),
          ("hand backward / nn.RNN", MANUAL, FUSED, 1.0),
          ("nn.RNN / naive", FUSED, NAIVE, None), ("d2l / nn.RNN", D2L, FUSED, None),
          ("compiled / nn.RNN", COMPILED, FUSED, None)]


def run_suite(hidden_size: int = 256, batch_size: int = 32, num_steps: int = 35,
              repeats: int = 10, gen_repeats: int = 3, gen_chars: int = 100,
              include_d2l: bool = True, device: torch.device | None = None,
              seed: int = 0, with_compiled: bool = False) -> list[dict]:
    """Training and generation speed of every candidate model at equal sizes.

    One row per model: median tokens/s for a training step (forward, backward, clipping,
    SGD update on one `(B, T)` batch of The Time Machine) and for greedy generation, with
    the min-max spread over `repeats` timed runs after warm-up, and the per-round times
    (`"train seconds"`, `"generate seconds"`) for `suite_ratios`. The candidates are timed
    in interleaved rounds (`interleaved_times`).
    """
    import random

    from .data import load_time_machine
    from .runtime import get_device, seed_everything
    from .train import generate

    device = device or get_device()
    data = load_time_machine(batch_size, num_steps)
    X, Y = next(iter(data.train_batches(random.Random(seed))))
    X, Y = X.to(device), Y.to(device)
    models = {}
    for name, make in _candidates(len(data.vocab), hidden_size, include_d2l,
                                          with_compiled).items():
        seed_everything(seed)
        models[name] = make().to(device)
    train_times = compare_training_speed(models, X, Y, repeats=repeats)
    gen_times = interleaved_times(
        {name: (lambda m=m: generate(m, data.vocab, "time traveller", gen_chars,
                                     device=device)) for name, m in models.items()},
        repeats=gen_repeats, warmup=1, device=device)
    rows = []
    for name in models:
        train_t, gen_t = train_times[name], gen_times[name]
        rows.append({
            "model": name, "H": hidden_size, "B": batch_size, "T": num_steps,
            "train tokens/s": X.numel() / statistics.median(train_t),
            "train tokens/s (min)": X.numel() / max(train_t),
            "train tokens/s (max)": X.numel() / min(train_t),
            "generate chars/s": gen_chars / statistics.median(gen_t),
            "generate chars/s (min)": gen_chars / max(gen_t),
            "generate chars/s (max)": gen_chars / min(gen_t),
            "repeats": repeats,
            "train seconds": train_t, "generate seconds": gen_t,
        })
    return rows


def suite_ratios(rows: list[dict], on_cpu: bool = True) -> list[dict]:
    """The course's speed ratios (`_RATIOS`) at every hidden size of `run_suite`'s rows:
    one dict per (H, ratio) with the `SpeedRatio`, its target and the verdict. Targets are
    set for a CPU; elsewhere the verdict is "no target on this device"."""
    out = []
    for H in sorted({r["H"] for r in rows}):
        by = {r["model"]: r["train seconds"] for r in rows if r["H"] == H}
        for name, fast, slow, target in _RATIOS:
            if fast in by and slow in by:
                ratio = speed_ratio(by[fast], by[slow])
                verdict = ("no target" if target is None else
                           ratio.verdict(target) if on_cpu else "no target on this device")
                out.append({"H": H, "ratio": name, "median": ratio.median, "low": ratio.low,
                            "high": ratio.high, "spread": ratio.spread, "target": target,
                            "verdict": verdict, "speed_ratio": ratio})
    return out


def count_operations(model: torch.nn.Module, X: torch.Tensor) -> dict:
    """What one forward pass of `model` on `X` asks PyTorch to do, counted by its profiler.

    Returns a dict: `"called from Python"` (top-level ATen operations), `"all ATen
    operations"` (including those run inside other operations), `"GPU kernels"` (0 on a
    CPU), and `"inside"`, a `Counter` of the operations run inside a recurrent operation
    (`aten::rnn_tanh`, `aten::lstm`, ...) if the model calls one. One unprofiled forward
    pass runs first, as a warm-up.
    """
    import os
    from collections import Counter

    os.environ.setdefault("KINETO_LOG_LEVEL", "6")     # keep the profiler's C++ log quiet
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU]
    if X.device.type == "cuda":
        activities.append(ProfilerActivity.CUDA)
    with torch.no_grad():
        model(X)
        with profile(activities=activities) as prof:
            model(X)
    events = prof.events()
    aten = [e for e in events if e.name.startswith("aten::")]
    top = [e for e in aten if e.cpu_parent is None]
    recurrent = ("aten::rnn_tanh", "aten::rnn_relu", "aten::lstm", "aten::gru")
    inside = Counter(c.name for e in top if e.name in recurrent for c in e.cpu_children)
    return {"called from Python": len(top), "all ATen operations": len(aten),
            "GPU kernels": sum(e.device_type == DeviceType.CUDA for e in events),
            "inside": inside}


def write_report(report: dict, out) -> None:
    """Write a benchmark's report as JSON to `out` (its folder made if needed), and say so."""
    import json
    from pathlib import Path

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"wrote {out}")
