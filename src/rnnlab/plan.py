"""A recipe planned for the time it is given: the command line's `--minutes`.

    plan = make_plan(minutes=3, train_tokens=len(data.train_corpus), vocab_size=len(vocab))
    print(plan.sentence())                       # what was planned, and why, in one line
    model = plan.cfg.model(len(vocab))
    result = train_planned(model, data_for(plan, data), plan)

A fixed recipe stopped by a clock wastes the end of its budget: its learning rate is as
high in the last minute as in the first, its size is the same for one minute as for ten,
and a full validation pass after every epoch costs time that could have trained. A plan
fixes all three:

- the size, batch and sequence length come from `TABLE`, what won at which budget on a
  two-core CPU (`benchmarks/per_minute.py` measures it); on another machine the budget is
  first scaled by a one-second throughput probe (`probe_speed`), so a machine twice as
  fast plans as for twice the minutes;
- the learning rate warms up, then follows a cosine to zero at the end of the budget,
  driven by elapsed time (`lr_at`), not epochs;
- validation during training reads a bounded slice of the held-out text (`VALID_SLICE`
  tokens), its cost kept under `EVAL_SHARE` of the budget; the full held-out text is read
  once, at the end; the best slice score's weights are kept (early stopping);
- dropout is planned from the number of passes over the text the budget allows (a small
  text read many times overfits), `DROPOUT`;
- the model's measured training memory (`memory.training_memory`) must fit the free
  memory, or the batch, then the width, is halved until it does, and the plan says so.

The budget counts everything the run does before its final evaluation: the probe, the
memory check, training and the slice validations.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import os
import random
import time
from dataclasses import dataclass, field

import torch

from .config import RunConfig
from .data import LMData, seq_data_iter_stream
from .models import detach_state
from .runtime import seed_everything
from .train import make_optimizer, perplexity, train_step


@dataclass(frozen=True)
class Row:
    """One line of the table: the recipe that won for budgets up to `up_to` minutes of
    the reference machine."""

    up_to: float                 # minutes on the reference machine (inclusive)
    hidden: int
    layers: int
    embed: int
    batch: int
    steps: int
    lr: float
    tokens_per_s: float          # its training speed on the reference machine


# What won at which budget on the reference machine (2 cores, torch's 2 threads), from
# `benchmarks/per_minute.py --explore` on Tiny Shakespeare, held-out (test) loss in nats,
# one seed each (results/per_minute/explore.jsonl):
#   1 min:  2x256 B32 lr 6e-3 1.701; B16 lr 4e-3 1.703; B32 lr 4e-3 1.772; B64 lr 4e-3
#           1.793; B64 lr 2e-3 1.911; 2x384 B64 lr 3e-3 2.111 (the old defaults: 1.813)
#   3 min:  2x384 B32 lr 6e-3 1.661; 2x256 B32 lr 8e-3 1.687
#   10 min: 2x384 B32 lr 6e-3 1.669; 2x512 B32 lr 5e-3 1.668 (a tie: the faster one kept);
#           2x384 with dropout 0.25 instead of the planned 0.1 (9 passes) 1.713
# Tokens per second: training steps of that size on the reference machine.
TABLE = (
    Row(up_to=2.0, hidden=256, layers=2, embed=64, batch=32, steps=64, lr=6e-3,
        tokens_per_s=31_500),
    Row(up_to=math.inf, hidden=384, layers=2, embed=64, batch=32, steps=64, lr=6e-3,
        tokens_per_s=14_500),
)
# The probe's workload and its speed on the reference machine (tokens per second; the
# mean of the probes of the exploration runs).
PROBE = dict(hidden=256, layers=2, embed=64, batch=64, steps=64)
REFERENCE_SPEED = 31_000.0
# Dropout (between layers, on the input vectors and before the output layer) by the
# passes over the training text the budget allows: (at least this many passes, dropout).
DROPOUT = ((0.0, 0.0), (4.0, 0.1), (12.0, 0.25), (40.0, 0.4))
WARMUP = 0.02            # the share of the budget the learning rate warms up over
VALID_SLICE = 8_000      # tokens of held-out text read by each validation during training
EVAL_SHARE = 0.04        # validations during training take at most this share of the budget
EVALS = 20               # and there are at most this many
PATIENCE = 0.3           # stop after this share of the budget without a better slice score
MEMORY_SHARE = 0.5       # a plan uses at most this share of the free memory


@dataclass(frozen=True)
class Plan:
    """What a budget buys: the run (`cfg`: sizes, batch, steps, peak learning rate,
    dropout, seed) and how its time is spent."""

    cfg: RunConfig
    seconds: float               # the whole budget, from `started`
    started: float               # time.perf_counter() when planning began
    speed_ratio: float           # this machine's probe speed / the reference machine's
    passes: float                # expected passes over the training text
    reasons: tuple[str, ...] = ()
    shrunk: str = ""             # why the memory check made the model smaller ("" if not)

    def sentence(self) -> str:
        """One line: what was planned and why."""
        c = self.cfg
        drop = (", no dropout" if not (c.dropout or c.io_dropout) else
                f", dropout {c.dropout:g}" if c.dropout == c.io_dropout else
                f", dropout {c.dropout:g} between layers, {c.io_dropout:g} on input and output")
        shrunk = f"; {self.shrunk}" if self.shrunk else ""
        return (f"plan for {self.seconds / 60:g} min: {c.cell} {c.num_layers}x{c.hidden_size} "
                f"(embed {c.embed_size}), batch {c.batch_size}x{c.num_steps}, Adam "
                f"{c.lr:g} warm-up then cosine to 0 at the end of the budget{drop}; "
                + "; ".join(self.reasons) + shrunk)


def lr_at(fraction: float, peak: float, warmup: float = WARMUP) -> float:
    """The learning rate after `fraction` of the budget (0..1): linear warm-up over the
    first `warmup`, then a cosine from `peak` down to 0 at the end of the budget."""
    fraction = min(max(fraction, 0.0), 1.0)
    if fraction < warmup:
        return peak * (fraction / warmup)
    done = (fraction - warmup) / (1 - warmup)
    return peak * 0.5 * (1 + math.cos(math.pi * done))


def probe_speed(seconds: float = 1.0, vocab_size: int = 65, clock=time.perf_counter,
                device: torch.device | None = None) -> float:
    """Training tokens per second of the `PROBE` model on `device` (default: the CPU),
    timed for about `seconds` (torch's random state is left as it was)."""
    cfg = RunConfig(cell="lstm", hidden_size=PROBE["hidden"], num_layers=PROBE["layers"],
                    embed_size=PROBE["embed"], batch_size=PROBE["batch"],
                    num_steps=PROBE["steps"])
    device = device or torch.device("cpu")
    cuda = device.type == "cuda"
    with torch.random.fork_rng(devices=[device] if cuda else []):
        torch.manual_seed(0)
        model = cfg.model(vocab_size).to(device)
        optimizer = make_optimizer(model, cfg)
        X = torch.randint(0, vocab_size, (cfg.batch_size, cfg.num_steps)).to(device)
        train_step(model, X, X, optimizer, clip=1.0)                    # warm-up
        sync = torch.cuda.synchronize if cuda else (lambda: None)
        sync()
        steps, start = 0, clock()
        while clock() - start < seconds or steps < 2:
            train_step(model, X, X, optimizer, clip=1.0)
            steps += 1
            sync()
        return steps * X.numel() / (clock() - start)


def free_memory(device: torch.device | None = None) -> int | None:
    """Bytes free for a new allocation on `device`: a GPU's free memory, or the machine's
    (Linux: MemAvailable); None when unknown."""
    if device is not None and device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def step_memory(cfg: RunConfig, vocab_size: int, device: torch.device | None = None) -> int:
    """Bytes one training step of `cfg`'s model holds on `device` (default: the CPU),
    measured by `memory.training_memory` on a throwaway model: a lower bound on its peak."""
    from .memory import training_memory

    device = device or torch.device("cpu")
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        model = cfg.model(vocab_size).to(device)
        X = torch.randint(0, vocab_size, (cfg.batch_size, cfg.num_steps)).to(device)
        return training_memory(model, X, X, make_optimizer(model, cfg)).total


def dropout_for(passes: float) -> float:
    """The planned dropout for a run expected to read its training text `passes` times."""
    return max(p for least, p in DROPOUT if passes >= least)


def make_plan(minutes: float, train_tokens: int, vocab_size: int, *, cell: str = "lstm",
              impl: str = "concise", hidden: int | None = None, layers: int | None = None,
              embed: int | None = None, batch: int | None = None, steps: int | None = None,
              lr: float | None = None, dropout: float | None = None,
              io_dropout: float | None = None, seed: int = 0,
              speed_ratio: float | None = None, memory: int | None = -1,
              started: float | None = None, device: torch.device | None = None) -> Plan:
    """Plan a run of `minutes` on a training text of `train_tokens` tokens.

    Settings given explicitly (`hidden`, `layers`, ...) are kept; the rest come from the
    table row for the budget scaled by this machine's speed (`speed_ratio`; None: probed
    now, about one second, on `device`). `memory`: the bytes free for the run (-1: read
    from the system, or from the GPU for a CUDA `device`; None: unknown, not checked).
    """
    started = time.perf_counter() if started is None else started
    if not minutes > 0:
        raise ValueError(f"minutes must be positive, got {minutes}")
    if speed_ratio is None:       # a tiny budget gets a shorter probe
        speed_ratio = probe_speed(min(1.0, minutes * 60 * 0.02),
                                  device=device) / REFERENCE_SPEED
    effective = minutes * speed_ratio
    row = next(r for r in TABLE if effective <= r.up_to)
    given = dict(hidden=hidden, layers=layers, embed=embed, batch=batch, steps=steps, lr=lr)
    pick = {k: getattr(row, k) if v is None else v for k, v in given.items()}
    kept = [k for k, v in given.items() if v is not None]
    reasons = [f"this machine runs {speed_ratio:.2f}x the reference's speed, so "
               f"{minutes:g} min here is {effective:.3g} reference min"
               + (f" ({', '.join(kept)} as given)" if kept else "")]
    memory = free_memory(device) if memory == -1 else memory
    shrunk = ""

    def config(drop: float) -> RunConfig:
        between = drop if dropout is None else dropout
        return RunConfig(cell=cell, impl=impl, hidden_size=pick["hidden"],
                         num_layers=pick["layers"], embed_size=pick["embed"] or None,
                         batch_size=pick["batch"], num_steps=pick["steps"], lr=pick["lr"],
                         dropout=between if pick["layers"] > 1 or dropout else 0.0,
                         io_dropout=drop if io_dropout is None else io_dropout,
                         epochs=None, max_seconds=minutes * 60, seed=seed, clip=1.0)

    if memory is not None:
        start_size = (pick["batch"], pick["hidden"])
        while step_memory(config(0.0), vocab_size, device) > MEMORY_SHARE * memory:
            if pick["batch"] > 1:
                pick["batch"] //= 2
            elif pick["hidden"] > 8:
                pick["hidden"] //= 2
            else:
                raise ValueError(f"not even the smallest model fits the free memory "
                                 f"({memory / 2**20:.0f} MiB)")
        if (pick["batch"], pick["hidden"]) != start_size:
            shrunk = (f"shrunk from batch {start_size[0]}, width {start_size[1]} to batch "
                      f"{pick['batch']}, width {pick['hidden']}: the measured training "
                      f"memory must stay under {MEMORY_SHARE:.0%} of the free "
                      f"{memory / 2**20:,.0f} MiB")
    # Throughput of the size actually planned, from the table's speeds: the row's speed
    # scaled by the ratio of their work per token (the product of width and layers).
    work = lambda h, n: n * h * h                                       # noqa: E731
    speed = row.tokens_per_s * speed_ratio * work(row.hidden, row.layers) \
        / work(pick["hidden"], pick["layers"])
    passes = speed * minutes * 60 * (1 - EVAL_SHARE) / max(train_tokens, 1)
    drop = dropout_for(passes)
    if impl == "scratch":
        drop = 0.0
        reasons.append("no dropout: the hand-made cells have none")
    elif dropout is None or io_dropout is None:
        reasons.append(f"about {passes:.3g} passes over the {train_tokens:,}-token training "
                       f"text, so dropout {drop:g}")
    return Plan(config(drop), minutes * 60, started, speed_ratio, passes, tuple(reasons),
                shrunk)


def data_for(plan: Plan, data: LMData) -> LMData:
    """`data` cut into the plan's batches (the batch shrinks if the text is too short)."""
    batch = plan.cfg.batch_size
    while True:
        try:
            return dataclasses.replace(data, batch_size=batch, num_steps=plan.cfg.num_steps)
        except ValueError:
            if batch == 1:
                raise
            batch //= 2


@dataclass
class Planned:
    """What a planned run measured."""

    valid_slice_ppl: list[float] = field(default_factory=list)   # each validation
    at_seconds: list[float] = field(default_factory=list)       # when (from `started`)
    lr: list[float] = field(default_factory=list)               # the rate at that time
    tokens: int = 0
    train_seconds: float = 0.0
    stop_reason: str = ""          # "time" or "patience"
    best: int = -1                 # index of the kept validation


def train_planned(model: torch.nn.Module, data: LMData, plan: Plan,
                  device: torch.device | None = None, clock=time.perf_counter,
                  on_validation=None) -> Planned:
    """Train `model` on `data` (cut by `data_for`) by `plan` until its budget ends.

    The learning rate follows `lr_at` by elapsed time; the bounded validation slice is
    read at most `EVALS` times, spaced so that it takes at most `EVAL_SHARE` of the
    budget; the weights of the best slice score are kept. `on_validation(planned)` is
    called after each validation (a progress line).
    """
    device = device or next(model.parameters()).device
    cfg = plan.cfg
    seed_everything(cfg.seed)
    rng = random.Random(cfg.seed)
    model.to(device)
    optimizer = make_optimizer(model, cfg)
    deadline = plan.started + plan.seconds
    span = max(deadline - clock(), 1e-9)
    begin = clock()
    piece = data.valid_corpus[:VALID_SLICE + 1]
    out, best_state = Planned(), None
    next_eval, spent, last_batch = begin + span / EVALS, 0.0, 0.0

    def validate(now: float) -> None:
        nonlocal best_state
        out.valid_slice_ppl.append(perplexity(model, seq_data_iter_stream(piece), device))
        out.at_seconds.append(now - plan.started)
        out.lr.append(optimizer.param_groups[0]["lr"])
        if out.valid_slice_ppl[-1] <= min(out.valid_slice_ppl):
            out.best = len(out.valid_slice_ppl) - 1
            best_state = copy.deepcopy(model.state_dict())
        if on_validation is not None:
            on_validation(out)

    model.train()
    state = None
    while True:
        for X, Y in data.train_batches(rng):
            now = clock()
            if out.tokens and now + last_batch > deadline:
                out.stop_reason = "time"
                break
            for group in optimizer.param_groups:
                group["lr"] = lr_at((now - begin) / span, cfg.lr)
            X, Y = X.to(device), Y.to(device)
            state = None if state is None or data.random_iter else detach_state(state)
            _, _, state = train_step(model, X, Y, optimizer, state, cfg.clip)
            out.tokens += Y.numel()
            done = clock()
            last_batch = done - now
            out.train_seconds += last_batch
            if done >= next_eval:
                validate(done)
                model.train()
                spent += clock() - done
                # Spaced so that validations take at most EVAL_SHARE of the time, judged
                # by their mean cost so far.
                gap = max(span / EVALS, spent / len(out.at_seconds) / EVAL_SHARE)
                next_eval = clock() + gap
                waited = out.at_seconds[-1] - out.at_seconds[out.best]
                if waited > PATIENCE * plan.seconds:
                    out.stop_reason = "patience"
                    break
        else:
            state = None
            continue
        break
    validate(clock())
    model.load_state_dict(best_state)
    model.train(False)
    return out


SHIPPED = {"timemachine.txt": "H. G. Wells, The Time Machine (1895)",
           "tinyshakespeare.txt": "Tiny Shakespeare (Karpathy's char-rnn): 40,000 lines of "
                                  "Shakespeare's plays"}


def shipped_text(name: str):
    """The path of a text shipped in the package (`SHIPPED`), all public domain."""
    from importlib import resources
    from pathlib import Path

    if name not in SHIPPED:
        raise ValueError(f"no shipped text {name!r}: choose one of {sorted(SHIPPED)}")
    return Path(str(resources.files("rnnlab") / "texts" / name))


# ---------------------------------------------------------------------------
# The benchmark's table (benchmarks/per_minute.py writes it; the README and chapter 7 show it)
# ---------------------------------------------------------------------------

TEXT_NAMES = {"time-machine": "The Time Machine, as written",
              "time-machine-cleaned": "The Time Machine, letters only",
              "shakespeare": "Tiny Shakespeare"}
RECIPE_MODULES = ("train.py", "models.py", "data.py", "config.py")


def code_key(recipe: str) -> str:
    """A hash of the code that trains `recipe` ("plan" or "old defaults"): the training
    modules' syntax trees, and this module's for the plan, the command's `RECIPE` for the
    old defaults. A benchmark row made by other code is stale."""
    import hashlib
    from pathlib import Path

    from .sweep import _code

    here = Path(__file__).parent
    digest = hashlib.sha1()
    for name in RECIPE_MODULES + (("plan.py",) if recipe == "plan" else ()):
        digest.update(_code(here / name))
    if recipe != "plan":
        from .cli import RECIPE

        digest.update(repr(RECIPE).encode())
    return digest.hexdigest()[:12]


def per_minute_results() -> dict | None:
    """The committed benchmark (`src/rnnlab/results/per_minute.json`), or None."""
    import json

    from .evidence import results_dir

    path = results_dir() / "per_minute.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def per_minute_table(results: dict) -> str:
    """The benchmark as a Markdown table: held-out loss by text and budget, old defaults
    beside the plan, the gain, and a line on where and by which code it was measured."""
    rows = {(r["text"], r["minutes"], r["recipe"]): r for r in results["rows"]}
    lines = ["| text | budget | old defaults | plan | gain | the plan |",
             "|---|---:|---:|---:|---:|---|"]
    for text in TEXT_NAMES:
        for minutes in sorted({m for t, m, _ in rows if t == text}):
            old, new = rows.get((text, minutes, "old defaults")), rows.get((text, minutes, "plan"))
            if old is None or new is None:
                continue
            lines.append(f"| {TEXT_NAMES[text]} | {minutes:g} min | {old['test_nats']:.3f} | "
                         f"{new['test_nats']:.3f} | {old['test_nats'] - new['test_nats']:+.3f} "
                         f"| {new['settings']} |")
    p = results["provenance"]
    stale = [r for r in results["rows"] if r["code"] != code_key(r["recipe"])]
    lines += ["", f"Held-out loss in nats per character (the test tail, the last 10 % of each "
              f"text; lower is better), one seed, measured by `{results['command']}` at commit "
              f"{results['commit']} on {p['cpu']} ({p['threads']} threads, torch "
              f"{p['torch']}), {p['date'][:10]}."
              + (f" {len(stale)} of its rows were made by code that has changed since: "
                 "run it again." if stale else "")]
    return "\n".join(lines)


TABLE_START = "<!-- per-minute table: written by benchmarks/per_minute.py -->"
TABLE_END = "<!-- end of the per-minute table -->"


def with_table(readme: str, results: dict) -> str:
    """`readme` with the text between its table markers replaced by `per_minute_table`."""
    if TABLE_START not in readme or TABLE_END not in readme:
        raise ValueError("the README has no per-minute table markers")
    head, rest = readme.split(TABLE_START, 1)
    _, tail = rest.split(TABLE_END, 1)
    return f"{head}{TABLE_START}\n{per_minute_table(results)}\n{TABLE_END}{tail}"
