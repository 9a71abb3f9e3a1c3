"""Timing helpers: measured figures with warm-up, repeats, median and spread."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from .validate import check_positive_int


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
    check_positive_int("repeats", repeats)
    check_positive_int("number", number)
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup must be a non-negative integer, got {warmup!r}")
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


def training_tokens_per_s(model: torch.nn.Module, X: torch.Tensor, Y: torch.Tensor,
                          lr: float = 1.0, repeats: int = 10, warmup: int = 3
                          ) -> tuple[float, Timing]:
    """Tokens per second of one training step (forward, backward, clipping, SGD update).

    `X`, `Y`: one `(B, T)` batch on the model's device. Returns `(median tokens/s, Timing)`.
    """
    from torch.nn import functional as F

    device = next(model.parameters()).device
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)

    def step():
        logits, _ = model(X, model.begin_state(X.shape[0], device))
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), Y.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()

    timing = time_call(step, repeats=repeats, warmup=warmup, device=device)
    return X.numel() / timing.median, timing


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
    from .models import RNNModel, RNNScratch

    models = {
        "hand-made (naive loop)": lambda: RNNScratch(V, H),
        "hand-made (hoisted input)": lambda: RNNScratch(V, H, hoist_input=True),
        "concise nn.RNN": lambda: RNNModel(V, H),
    }
    if compile:   # fuses the per-step operations of the Python loop (slow to compile)
        models["hand-made (hoisted, torch.compile)"] = \
            lambda: torch.compile(RNNScratch(V, H, hoist_input=True))
    if include_d2l:
        def d2l_model():
            from d2l import torch as d2l

            from .reference import D2LModel
            return D2LModel(d2l.RNNModel(torch.nn.RNN(V, H), V))
        models["d2l.RNNModel (reference)"] = d2l_model
    return models


def run_suite(hidden_size: int = 256, batch_size: int = 32, num_steps: int = 35,
              repeats: int = 10, gen_repeats: int = 3, gen_chars: int = 100,
              include_d2l: bool = True, device: torch.device | None = None,
              seed: int = 0, compile: bool = False) -> list[dict]:
    """Training and generation speed of every candidate model at equal sizes.

    One row per model: median tokens/s for a training step (forward, backward, clipping,
    SGD update on one `(B, T)` batch of The Time Machine) and for greedy generation, with
    the min-max spread over `repeats` timed runs after warm-up.
    """
    import random

    from .data import load_time_machine
    from .runtime import get_device, seed_everything

    device = device or get_device()
    data = load_time_machine(batch_size, num_steps)
    X, Y = next(iter(data.train_batches(random.Random(seed))))
    X, Y = X.to(device), Y.to(device)
    rows = []
    candidates = _candidates(len(data.vocab), hidden_size, include_d2l, compile)
    for name, make in candidates.items():
        seed_everything(seed)
        model = make().to(device)
        train_tps, train_t = training_tokens_per_s(model, X, Y, repeats=repeats)
        gen_tps, gen_t = generation_tokens_per_s(model, data.vocab, num_chars=gen_chars,
                                                 repeats=gen_repeats)
        rows.append({
            "model": name, "H": hidden_size, "B": batch_size, "T": num_steps,
            "train tokens/s": train_tps,
            "train tokens/s (min)": X.numel() / train_t.high,
            "train tokens/s (max)": X.numel() / train_t.low,
            "generate chars/s": gen_tps,
            "generate chars/s (min)": gen_chars / gen_t.high,
            "generate chars/s (max)": gen_chars / gen_t.low,
            "repeats": repeats,
        })
    return rows


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
