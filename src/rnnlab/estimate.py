"""How long a page will train, said before it trains: a one-second probe of this device's
speed, times the work the page's budget plans (`budget.page_runs`).

    speed = probe(device)                 # about one second of timed training steps
    speed.run_seconds(cfg, data_sizes)    # one run of a RunConfig, evaluation included
    page_seconds(budget, "ch5", speed)    # every run a page plans

The model of a run's time: a training step costs a fixed time per time step of the batch
(the loop over time: in C++ for `nn.RNN`/`nn.LSTM`, in Python for the hand-made models)
plus its multiply-adds (forward and backward, about 3× the forward's) at the device's
rate; evaluation reads the held-out text as one stream, a batch of 1, forward only. The
probe times four small workloads that pin those constants down on the machine at hand.
It is an estimate for a reader deciding whether to press "Run all", good to about a
factor of two, not a benchmark.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

import torch

from .config import RunConfig
from .params import LMSpec, count_lm

_V = 28                      # The Time Machine's characters: the probes' vocabulary
_EVAL_STEPS = 35             # data.EVAL_STEPS: the chunk length of the evaluation stream


def macs_per_token(cfg: RunConfig, vocab_size: int = _V) -> int:
    """Forward multiply-adds per token of the model `cfg` describes."""
    spec = LMSpec(vocab_size, cfg.hidden_size, cfg.num_layers, cfg.cell, cfg.embed_size)
    return count_lm(spec).macs_per_token


@dataclass(frozen=True)
class Speed:
    """What the probe measured: seconds per time step of a batch (the loop's fixed cost),
    for training and for evaluation, by implementation, and multiply-adds per second."""

    step_train: dict          # {"concise": s, "scratch": s}, per time step, training
    step_eval: dict           # the same for evaluation (batch 1, forward only)
    macs_per_s: float         # training arithmetic, forward and backward counted
    macs_per_s_eval: float    # forward arithmetic at batch 1
    device: str

    def train_seconds(self, cfg: RunConfig, tokens: float, vocab_size: int = _V) -> float:
        """Seconds of training steps to read `tokens` tokens."""
        steps = tokens / cfg.batch_size                      # time steps of batches
        per_layer = cfg.num_layers if cfg.impl == "scratch" else 1
        return (steps * self.step_train[cfg.impl] * per_layer
                + 3 * tokens * macs_per_token(cfg, vocab_size) / self.macs_per_s)

    def eval_seconds(self, cfg: RunConfig, tokens: float, vocab_size: int = _V) -> float:
        """Seconds to evaluate a stream of `tokens` tokens."""
        per_layer = cfg.num_layers if cfg.impl == "scratch" else 1
        fixed = self.step_eval[cfg.impl] * per_layer
        return tokens * (fixed + macs_per_token(cfg, vocab_size) / self.macs_per_s_eval)

    def run_seconds(self, cfg: RunConfig, train_tokens: int, valid_tokens: int,
                    vocab_size: int = _V, seeds: int = 1) -> float:
        """Seconds for `seeds` runs of `cfg` on a text of `train_tokens` training and
        `valid_tokens` validation tokens: training, and the evaluation after every epoch
        (twice the validation text with `eval_train`)."""
        per_epoch = self.train_seconds(cfg, train_tokens, vocab_size)
        if cfg.max_seconds is not None:
            epochs = max(1.0, cfg.max_seconds / per_epoch)
            if cfg.epochs is not None:
                epochs = min(epochs, cfg.epochs)
            training = min(cfg.max_seconds, epochs * per_epoch)
            epochs = -(-epochs // 1)                           # a cut epoch is evaluated
        else:
            epochs = cfg.epochs or 1
            training = epochs * per_epoch
        evaluated = valid_tokens * (2 if cfg.eval_train else 1)
        return seeds * (training + epochs * self.eval_seconds(cfg, evaluated, vocab_size))


def _time(fn, seconds: float, clock=time.perf_counter) -> float:
    """Seconds per call of `fn`, from as many calls as fit in about `seconds` of `clock`."""
    fn()                                              # warm-up
    calls, start = 0, clock()
    while True:
        fn()
        calls += 1
        elapsed = clock() - start
        if elapsed >= seconds:
            return elapsed / calls


def probe(device: torch.device | None = None, seconds: float = 1.0,
          clock=time.perf_counter) -> Speed:
    """Measure this device's speed in about `seconds`: training steps of a tiny concise RNN
    and of a tiny hand-made one (the fixed cost per time step), of a wide LSTM (the
    arithmetic rate), and the evaluation of those models on a stream. torch's random
    state is left as it was."""
    from .runtime import get_device

    device = device or get_device()
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        return _probe(device, seconds, clock)


def _probe(device: torch.device, seconds: float, clock) -> Speed:
    from .train import train_step

    gen = torch.Generator().manual_seed(0)
    B, T = 32, 35
    X = torch.randint(0, _V, (B, T), generator=gen).to(device)
    stream = torch.randint(0, _V, (1, _EVAL_STEPS), generator=gen).to(device)
    share = seconds / 8              # six timed workloads, each with a warm-up call

    def step_time(cfg: RunConfig) -> float:
        torch.manual_seed(0)
        model = cfg.model(_V).to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        return _time(lambda: train_step(model, X, X, optimizer, clip=1.0), share, clock)

    @torch.no_grad()
    def eval_time(cfg: RunConfig) -> float:
        torch.manual_seed(0)
        model = cfg.model(_V).to(device).eval()
        return _time(lambda: model(stream), share, clock)

    small = RunConfig(hidden_size=8, embed_size=8)
    by_hand = RunConfig(hidden_size=8, embed_size=8, impl="scratch")
    wide = RunConfig(cell="lstm", hidden_size=384)
    concise, scratch, big = step_time(small), step_time(by_hand), step_time(wide)
    fixed = {"concise": concise / T, "scratch": scratch / T}
    macs_per_s = 3 * B * T * macs_per_token(wide) / max(big - concise, 1e-9)
    eval_small, eval_hand, eval_big = eval_time(small), eval_time(by_hand), eval_time(wide)
    step_eval = {"concise": eval_small / _EVAL_STEPS, "scratch": eval_hand / _EVAL_STEPS}
    macs_eval = _EVAL_STEPS * macs_per_token(wide) / max(eval_big - eval_small, 1e-9)
    return Speed(fixed, step_eval, macs_per_s, macs_eval, device.type)


def page_seconds(budget, prefix: str, speed: Speed) -> float:
    """Seconds the runs of page `prefix` planned by `budget` take at `speed`."""
    from .data import load_time_machine

    total = 0.0
    for cfg, seeds in budget.page_runs(prefix):
        data = load_time_machine(cfg.batch_size, cfg.num_steps, max_tokens=cfg.max_tokens)
        total += speed.run_seconds(cfg, len(data.train_corpus), len(data.valid_corpus),
                                   len(data.vocab), seeds)
    return total


def sample_runs(budget) -> list[RunConfig]:
    """A few runs of different kinds from `budget`'s plans, for checking the estimate."""
    plans = [cfg for prefix in ("ch1", "ch5", "ch7") for cfg, _ in budget.page_runs(prefix)]
    kinds, picked = set(), []
    for cfg in plans:
        kind = (cfg.impl, cfg.cell, cfg.num_layers > 1, cfg.max_seconds is not None)
        if kind not in kinds:
            kinds.add(kind)
            picked.append(cfg)
    return picked


def measured_run_seconds(cfg: RunConfig, device: torch.device | None = None,
                         clock=time.perf_counter) -> float:
    """Train one run of `cfg` on The Time Machine and return its time in seconds of `clock`
    (wall time by default)."""
    from .data import load_time_machine
    from .runtime import get_device, seed_everything
    from .train import train

    device = device or get_device()
    data = load_time_machine(cfg.batch_size, cfg.num_steps, max_tokens=cfg.max_tokens)
    seed_everything(cfg.seed)
    model = cfg.model(len(data.vocab))
    random.seed(cfg.seed)
    start = clock()
    train(model, data, cfg, device, show_progress=False)
    return clock() - start


def said(seconds: float) -> str:
    """"about 40 seconds", "about 5 minutes": an estimate in words."""
    if seconds < 90:
        return f"about {max(10, round(seconds, -1)):.0f} seconds"
    return f"about {seconds / 60:.0f} minutes"
