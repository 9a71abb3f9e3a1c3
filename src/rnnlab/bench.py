"""Timing helpers and the speed benchmark suite that `make bench` and the Performance page run.

    time_call(fn)                     one function: median, min and max seconds per call
    interleaved_times({name: fn})     several candidates, timed in alternating rounds
    speed_ratio(times_a, times_b)     a/b speed with its range, spread and a verdict
    run_suite(H), suite_ratios(rows)  hand-made vs nn.RNN vs d2l at equal sizes
    count_operations(model, X)        what one forward pass asks PyTorch to do
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from .validate import require_int, require_positive_int


@dataclass(frozen=True)
class Timing:
    """Seconds per call: the median of `repeats` runs, and their min and max."""

    median: float
    low: float
    high: float
    repeats: int

    def __str__(self) -> str:
        us = [1e6 * t for t in (self.median, self.low, self.high)]
        return f"{us[0]:,.1f} µs (min {us[1]:,.1f}, max {us[2]:,.1f})"


def _sync(device: torch.device | str | None) -> None:
    if device is not None and torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def time_call(fn: Callable[[], object], repeats: int = 20, warmup: int = 3,
              number: int = 1, device: torch.device | str | None = None) -> Timing:
    """Time `fn()`: `warmup` untimed calls, then `repeats` timings of `number` calls each.

    On CUDA, pass `device` so that the GPU is synchronised before the clock is read
    (kernels run asynchronously; without it you time the launch, not the work).
    """
    require_positive_int("repeats", repeats)
    require_positive_int("number", number)
    require_int("warmup", warmup, minimum=0)
    for _ in range(warmup):
        fn()
    _sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        _sync(device)
        times.append((time.perf_counter() - start) / number)
    return Timing(statistics.median(times), min(times), max(times), repeats)


def _training_step(model: torch.nn.Module, X: torch.Tensor, Y: torch.Tensor,
                   lr: float = 1.0) -> Callable[[], None]:
    """One training step of `model` on `(X, Y)`: forward, backward, clipping, SGD update."""
    from .train import sequence_loss

    device = next(model.parameters()).device
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)

    def step():
        logits, _ = model(X, model.begin_state(X.shape[0], device))
        loss = sequence_loss(logits, Y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()

    return step


def training_tokens_per_s(model: torch.nn.Module, X: torch.Tensor, Y: torch.Tensor,
                          lr: float = 1.0, repeats: int = 10, warmup: int = 3
                          ) -> tuple[float, Timing]:
    """Tokens per second of one training step (forward, backward, clipping, SGD update).

    `X`, `Y`: one `(B, T)` batch on the model's device. Returns `(median tokens/s, Timing)`.
    To compare models, use `interleaved_times`: timed one after another, they meet
    different load.
    """
    device = next(model.parameters()).device
    timing = time_call(_training_step(model, X, Y, lr), repeats=repeats, warmup=warmup,
                       device=device)
    return X.numel() / timing.median, timing


def interleaved_times(fns: dict[str, Callable[[], object]], repeats: int = 20,
                      warmup: int = 3, device: torch.device | str | None = None
                      ) -> dict[str, list[float]]:
    """Seconds per call of each function, measured in *rounds*: each round times every
    function once, in an order that rotates from round to round.

    A second process that slows the machine for a while then slows every candidate of the
    rounds it overlaps, instead of whichever candidate happened to be timed then, so the
    ratios of one round compare like with like (see `SpeedRatio`).
    """
    require_positive_int("repeats", repeats)
    require_int("warmup", warmup, minimum=0)
    names = list(fns)
    for name in names:
        for _ in range(warmup):
            fns[name]()
    _sync(device)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            start = time.perf_counter()
            fns[name]()
            _sync(device)
            times[name].append(time.perf_counter() - start)
    return times


# A candidate whose slow runs (90th percentile) take more than this many times its fast
# runs (10th percentile) was measured on a machine whose load changed during the
# measurement: its ratios are not judged. An idle machine stays well inside it.
NOISE_LIMIT = 1.5


def _deciles(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return values[0], values[0]
    cuts = statistics.quantiles(values, n=10, method="inclusive")
    return cuts[0], cuts[-1]


@dataclass(frozen=True)
class SpeedRatio:
    """How many times as fast candidate `a` is as candidate `b`, from interleaved rounds.

    `median`: the ratio of the median times; `low`, `high`: the 10th and 90th percentiles
    of the per-round ratios (time of b / time of a, each round timed both within moments);
    `spread`: the larger of the two candidates' own 90th/10th percentile time ratios.
    """

    median: float
    low: float
    high: float
    spread: float
    rounds: int

    def verdict(self, target: float = 1.0, above: str = "met", below: str = "missed") -> str:
        """`above` when the whole range is at or above `target`, `below` when it is under
        it, else "too noisy to judge" with the reason (the range, or the spread, says so)."""
        if self.spread > NOISE_LIMIT:
            return (f"too noisy to judge: a candidate's step times varied {self.spread:.1f}× "
                    f"between runs (above {NOISE_LIMIT}×: the machine was busy)")
        if self.low >= target:
            return above
        if self.high < target:
            return below
        return (f"too noisy to judge: the range {self.low:.2f}× to {self.high:.2f}× "
                f"includes {target:g}×")

    def __str__(self) -> str:
        return f"{self.median:.2f}× (range {self.low:.2f}× to {self.high:.2f}×)"


def speed_ratio(times_a: list[float], times_b: list[float]) -> SpeedRatio:
    """Speed of a over speed of b, from two lists of seconds measured in the same rounds."""
    if len(times_a) != len(times_b) or not times_a:
        raise ValueError("speed_ratio needs two equally long, non-empty lists of times, "
                         "measured in the same rounds (see interleaved_times)")
    per_round = [tb / ta for ta, tb in zip(times_a, times_b)]
    low, high = _deciles(per_round)
    spread = max(hi / lo for lo, hi in (_deciles(times_a), _deciles(times_b)))
    return SpeedRatio(statistics.median(times_b) / statistics.median(times_a), low, high,
                      spread, len(per_round))


def compare_training_speed(models: dict[str, torch.nn.Module], X: torch.Tensor,
                           Y: torch.Tensor, repeats: int = 20, warmup: int = 3
                           ) -> dict[str, list[float]]:
    """Seconds per training step of each model on the batch `(X, Y)`, interleaved."""
    device = X.device
    steps = {name: _training_step(model.to(device), X, Y) for name, model in models.items()}
    return interleaved_times(steps, repeats=repeats, warmup=warmup, device=device)


def generation_tokens_per_s(model: torch.nn.Module, vocab, prefix: str = "time traveller",
                            num_chars: int = 100, repeats: int = 5, warmup: int = 1
                            ) -> tuple[float, Timing]:
    """Characters per second of `rnnlab.generate` (greedy, batch of one)."""
    from .train import generate

    device = next(model.parameters()).device
    timing = time_call(lambda: generate(model, vocab, prefix, num_chars, device=device),
                       repeats=repeats, warmup=warmup, device=device)
    return num_chars / timing.median, timing


def _candidates(V: int, H: int, include_d2l: bool, compile: bool = False) -> dict:
    """The models the suite compares, all at the same sizes (one-hot input, one layer)."""
    from .models import RNNModel
    from .scratch import RNNScratch

    models = {
        NAIVE: lambda: RNNScratch(V, H),
        HOISTED: lambda: RNNScratch(V, H, hoist_input=True),
        MANUAL: lambda: RNNScratch(V, H, backward="manual"),
        FUSED: lambda: RNNModel(V, H),
    }
    if compile:   # fuses the per-step operations of the Python loop (slow to compile)
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
RATIOS = [("hoisted / naive", HOISTED, NAIVE, 1.2), ("hoisted / nn.RNN", HOISTED, FUSED, 0.9),
          ("hand backward / hoisted", MANUAL, HOISTED, 1.3),
          ("hand backward / nn.RNN", MANUAL, FUSED, 1.0),
          ("nn.RNN / naive", FUSED, NAIVE, None), ("d2l / nn.RNN", D2L, FUSED, None),
          ("compiled / nn.RNN", COMPILED, FUSED, None)]


def run_suite(hidden_size: int = 256, batch_size: int = 32, num_steps: int = 35,
              repeats: int = 10, gen_repeats: int = 3, gen_chars: int = 100,
              include_d2l: bool = True, device: torch.device | None = None,
              seed: int = 0, compile: bool = False) -> list[dict]:
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
    for name, make in _candidates(len(data.vocab), hidden_size, include_d2l, compile).items():
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
    """The course's speed ratios (`RATIOS`) at every hidden size of `run_suite`'s rows:
    one dict per (H, ratio) with the `SpeedRatio`, its target and the verdict. Targets are
    set for a CPU; elsewhere the verdict is "no target on this device"."""
    out = []
    for H in sorted({r["H"] for r in rows}):
        by = {r["model"]: r["train seconds"] for r in rows if r["H"] == H}
        for name, fast, slow, target in RATIOS:
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
