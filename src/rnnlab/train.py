"""Training, evaluation and generation for the character language models.

    history = train(model, data, RunConfig(epochs=5), device)
    perplexity(model, data.valid_batches(), device)
    generate(model, data.vocab, "time traveller", num_chars=50)
"""

from __future__ import annotations

import contextlib
import itertools
import math
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from .config import RunConfig
from .data import LMData, Vocab
from .models import detach_state
from .progress import progress
from .runtime import get_device, seed_everything
from .validate import require_index_range, require_indices, require_int, require_positive_int


def _plural(n: int, word: str) -> str:
    """ "1 epoch", "2 epochs"."""
    return f"{n:,} {word}{'' if n == 1 else 's'}"


@dataclass
class History:
    """Per-epoch measurements of one training run (lists, one entry per epoch)."""

    train_ppl: list[float] = field(default_factory=list)   # running mean during the epoch
    valid_ppl: list[float] = field(default_factory=list)   # one stream, eval mode
    # With RunConfig(eval_train=True): training text measured like validation text (eval
    # mode, weights fixed, one stream of the same length), so the two are comparable.
    train_eval_ppl: list[float] = field(default_factory=list)
    tokens_per_s: list[float] = field(default_factory=list)   # training steps only
    seconds: list[float] = field(default_factory=list)        # the whole epoch, evaluation too
    train_seconds: list[float] = field(default_factory=list)  # training steps only
    grad_norm: list[float] = field(default_factory=list)   # mean pre-clipping norm per epoch
    tokens_seen: list[int] = field(default_factory=list)   # cumulative, after each epoch
    lr: list[float] = field(default_factory=list)          # the learning rate of each epoch
    # Why training stopped: "epochs" (all done), "time" (the time budget), "patience"
    # (no new best validation perplexity for that many epochs); "" before it has run.
    stop_reason: str = ""

    def stop_sentence(self, cfg: RunConfig) -> str:
        """Why the run stopped, for a person: "stopped after 3 epochs: ..."."""
        done = f"stopped after {_plural(self.epochs, 'epoch')}"
        if self.stop_reason == "time":
            return f"{done}: the time budget ({cfg.max_seconds:g} s of training) ran out"
        if self.stop_reason == "patience":
            return (f"{done}: no better validation perplexity for "
                    f"{_plural(cfg.patience, 'epoch')}")
        return f"{done}: every epoch asked for is done" if self.stop_reason == "epochs" \
            else done

    @property
    def epochs(self) -> int:
        return len(self.train_ppl)

    @property
    def total_tokens(self) -> int:
        return self.tokens_seen[-1] if self.tokens_seen else 0

    @property
    def best_epoch(self) -> int:
        """The epoch (from 1) with the lowest validation perplexity."""
        if not self.valid_ppl:
            raise ValueError("no epoch has been trained yet")
        return self.valid_ppl.index(min(self.valid_ppl)) + 1

    @property
    def total_train_seconds(self) -> float:
        """Seconds spent in training steps, evaluation excluded (what max_seconds limits)."""
        return sum(self.train_seconds)


def make_optimizer(model: nn.Module, cfg: RunConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)


def sequence_loss(logits: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over every position: logits `(B, T, V)`, targets `(B, T)`.

        loss = 1/(B*T) * sum over b, t of  -log softmax(logits[b, t])[Y[b, t]]

    Perplexity is `exp(loss)`.
    """
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), Y.reshape(-1))


def train_step(model: nn.Module, X: torch.Tensor, Y: torch.Tensor,
               optimizer: torch.optim.Optimizer, state=None, clip: float | None = None,
               last_only: bool = False, forward_context=None):
    """One training step, the one every loop of the package runs (`train`, `fit`, the speed
    benchmark `bench.compare_training_speed` and `memory.training_memory`): forward from
    `state` (None: `model.begin_state`), mean cross-entropy, backward, the gradient norm
    clipped at `clip` (None: measured, not clipped), the optimizer's update.

    `X`, `Y`: `(B, T)` on the model's device; with `last_only=True` only the last step's
    prediction is trained (`Y` of shape `(B,)` or `(B, T)`). `forward_context`: a context
    manager entered around the forward pass and the loss (e.g. `memory.SavedTensors`).
    Returns `(loss, grad_norm, state)`: the loss detached and the norm before clipping, both
    as tensors on the device (reading them with `.item()` every step would stall a GPU),
    and the state after the batch, still attached to this batch's graph.
    """
    if state is None:
        state = model.begin_state(X.shape[0], X.device)
    with forward_context or contextlib.nullcontext():
        logits, state = model(X, state)
        if last_only:
            loss = F.cross_entropy(logits[:, -1], Y if Y.dim() == 1 else Y[:, -1])
        else:
            loss = sequence_loss(logits, Y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    norm = nn.utils.clip_grad_norm_(model.parameters(), clip if clip is not None else math.inf)
    optimizer.step()
    return loss.detach(), norm, state


@dataclass
class _EpochStats:
    """What one pass over the training batches measured."""

    perplexity: float
    tokens_per_s: float
    grad_norm: float      # mean gradient norm before clipping
    tokens: int           # target tokens trained on
    seconds: float        # time spent on these batches
    last_batch_seconds: float
    stopped_early: bool   # the time budget (max_seconds) cut the epoch short


def train_epoch(model: nn.Module, batches: Iterable, optimizer: torch.optim.Optimizer,
                device: torch.device, clip: float | None, carry_state: bool,
                seconds_left: float | None = None) -> _EpochStats:
    """One pass over `batches`, or fewer when `seconds_left` of training time runs out.

    With `seconds_left`, the epoch stops before a batch that would end past it (judged by
    the time the last batch took); it trains at least one batch.

    With sequential batches (`carry_state=True`) the state flows from one batch into the
    next, *detached*: gradients stop at the batch boundary, otherwise backward would run
    through every earlier batch (truncated backpropagation through time). With random
    batches the state is reset for every batch, since the rows are unrelated.
    """
    model.train()
    # Sums stay on the device: reading them every batch (.item()) would stall a GPU.
    total_loss = torch.zeros((), device=device)
    total_norm = torch.zeros((), device=device)
    total_tokens, num_batches, state, stopped, last_batch = 0, 0, None, False, 0.0
    start = batch_start = time.perf_counter()
    for X, Y in batches:
        X, Y = X.to(device), Y.to(device)
        state = detach_state(state) if carry_state and state is not None else None
        loss, norm, state = train_step(model, X, Y, optimizer, state, clip)
        total_norm += norm
        total_loss += loss * Y.numel()
        total_tokens += Y.numel()
        num_batches += 1
        now = time.perf_counter()
        last_batch, batch_start = now - batch_start, now
        if seconds_left is not None and now - start + last_batch > seconds_left:
            stopped = True
            break
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elapsed = time.perf_counter() - start
    if total_tokens == 0:
        raise ValueError("the data yielded no batches: use a smaller batch_size or num_steps")
    return _EpochStats(math.exp(total_loss.item() / total_tokens), total_tokens / elapsed,
                      total_norm.item() / num_batches, total_tokens, elapsed, last_batch,
                      stopped)


@torch.no_grad()
def perplexity(model: nn.Module, batches: Iterable, device: torch.device | None = None,
               carry_state: bool = True) -> float:
    """exp(mean cross-entropy per token) of `model` on `batches` of `(X, Y)`, `(B, T)` each.

    1 is perfect; a model guessing uniformly over V tokens scores V. With sequential
    batches (the default) the state is carried from one batch to the next. The course
    evaluates with `data.valid_batches()`: the held-out text as one stream.
    """
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    total_loss, total_tokens, state = 0.0, 0, None
    for X, Y in batches:
        X, Y = X.to(device), Y.to(device)
        if state is None or not carry_state or _batch_size(state) != X.shape[0]:
            state = model.begin_state(X.shape[0], device)
        logits, state = model(X, state)
        losses = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), Y.reshape(-1),
                                 reduction="none")
        total_loss += losses.double().sum().item()     # float64 sum: long streams
        total_tokens += Y.numel()
    model.train(was_training)
    if total_tokens == 0:
        raise ValueError("perplexity() got no batches to evaluate")
    return math.exp(total_loss / total_tokens)


def _batch_size(state) -> int:
    return (state[0] if isinstance(state, tuple) else state).shape[1]


def _require_causal(model: nn.Module) -> None:
    """Refuse a bidirectional model: it cannot be a next-token model.

    Its backward direction reads the sequence from the end, so at step t it has already
    read x_{t+1}, the token it is asked to predict: the training loss rewards copying it.
    """
    if any(isinstance(m, nn.RNNBase) and m.bidirectional for m in model.modules()):
        raise ValueError("a bidirectional RNN cannot be trained to predict the next token: "
                         "its backward direction has already read that token (at step t it "
                         "has seen x_{t+1}, ..., x_T), so it would learn to copy it. Use "
                         "bidirectional=False for a language model.")


def train(model: nn.Module, data: LMData, cfg: RunConfig | None = None,
          device: torch.device | None = None, show_progress: bool = True) -> History:
    """Train `model` on `data.train_batches()` for `cfg.epochs`; validate after each epoch.

    Returns a `History` with train and validation perplexity, tokens/s, the mean gradient
    norm (before clipping) and the tokens seen so far, per epoch. Validation perplexity
    uses the held-out text as one stream (`data.valid_batches()`). Bidirectional models are
    refused (`_require_causal`). With `cfg.max_seconds` training stops once that much time
    has gone into training steps (mid-epoch if need be; validation does not count), which
    gives runs of equal time budgets. `cfg.patience` stops after that many epochs without a
    new best validation perplexity, and `cfg.restore_best` ends with the best epoch's
    weights (`History.best_epoch`). `cfg.lr_decay` multiplies the learning rate by that
    factor after every epoch without a new best (`History.lr` records it). The same
    `cfg.seed` gives the same run (with `max_seconds`, where it stops depends on the
    machine's speed).
    """
    cfg = cfg or RunConfig()
    _require_causal(model)
    _require_vocab_fits(model, data)
    device = device or get_device()
    seed_everything(cfg.seed)
    rng = random.Random(cfg.seed)
    model.to(device)
    optimizer = make_optimizer(model, cfg)
    scheduler = (None if cfg.lr_decay is None else torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="min", factor=cfg.lr_decay, patience=0, threshold=0.0))
    history, last_batch, best_state = History(), 0.0, None
    # No epoch limit: a bar that counts epochs and time, with no total and no ETA.
    epochs = itertools.count() if cfg.epochs is None else range(cfg.epochs)
    unbounded = {} if cfg.epochs else {"bar_format": "{desc}: {n_fmt} [{elapsed}{postfix}]"}
    bar = progress(desc="epochs", total=cfg.epochs, unit=" epochs",
                   disable=not show_progress, **unbounded)
    history.stop_reason = "epochs"
    for _ in epochs:
        start = time.perf_counter()
        left = None if cfg.max_seconds is None else cfg.max_seconds - history.total_train_seconds
        if left is not None and history.epochs and left < last_batch:
            history.stop_reason = "time"
            break           # the next batch would end past the budget
        stats = train_epoch(model, data.train_batches(rng), optimizer, device, cfg.clip,
                            carry_state=not data.random_iter, seconds_left=left)
        history.lr.append(optimizer.param_groups[0]["lr"])
        history.train_seconds.append(stats.seconds)
        last_batch = stats.last_batch_seconds
        history.train_ppl.append(stats.perplexity)
        history.tokens_per_s.append(stats.tokens_per_s)
        history.grad_norm.append(stats.grad_norm)
        history.tokens_seen.append(history.total_tokens + stats.tokens)
        history.valid_ppl.append(perplexity(model, data.valid_batches(), device))
        if cfg.eval_train:
            history.train_eval_ppl.append(perplexity(model, data.train_eval_batches(), device))
        history.seconds.append(time.perf_counter() - start)
        bar.set_postfix(train_ppl=f"{stats.perplexity:.2f}",
                        valid_ppl=f"{history.valid_ppl[-1]:.2f}",
                        tok_s=f"{stats.tokens_per_s:,.0f}", refresh=False)
        bar.update(1)           # before any stop below: the bar counts every epoch run
        if cfg.restore_best and history.best_epoch == history.epochs:
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        if scheduler is not None:
            scheduler.step(history.valid_ppl[-1])
        if stats.stopped_early:
            history.stop_reason = "time"
            break
        if cfg.patience is not None and history.epochs - history.best_epoch >= cfg.patience:
            history.stop_reason = "patience"
            break                       # no new best for `patience` epochs
    bar.close()
    if cfg.restore_best and history.epochs:
        model.load_state_dict(best_state)
    return history


def _require_vocab_fits(model: nn.Module, data: LMData) -> None:
    """The data's indices run up to len(data.vocab) - 1: the model must have that many."""
    size = getattr(model, "vocab_size", None)
    if size is not None and size < len(data.vocab):
        raise ValueError(f"the model has vocab_size={size} but the data's vocabulary has "
                         f"{len(data.vocab)} tokens: build it with len(data.vocab)")


@torch.no_grad()
def generate(model: nn.Module, vocab: Vocab, prefix: str, num_chars: int,
             temperature: float = 0.0, seed: int | None = None,
             device: torch.device | None = None) -> str:
    """Continue `prefix` by `num_chars` tokens: characters, or for a word vocabulary
    (`Vocab(token="word")`) words, written with a space between them.

    `temperature=0` picks the most likely token each step (greedy); a positive
    temperature samples from softmax(logits / temperature): below 1 sharper, above 1
    more random. `seed` makes sampling reproducible without touching torch's global random
    generator; with `seed=None` sampling draws from that generator (so `torch.manual_seed`
    before the call reproduces it), and greedy decoding draws no random numbers at all.
    Tokens the vocabulary lacks raise a `ValueError` that names them. The continuation
    never contains `<unk>`: it stands for "some token the vocabulary lacks", not a
    token to write.
    """
    if not isinstance(prefix, str) or not prefix:
        raise ValueError(f"prefix must be a non-empty string, got {prefix!r}")
    require_int("num_chars", num_chars, minimum=0)
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0 (0 = greedy), got {temperature}")
    device = device or next(model.parameters()).device
    ids = vocab.encode(prefix)
    if not ids:
        raise ValueError(f"prefix {prefix!r} holds no {vocab.token} token to start from")
    require_index_range(torch.tensor([ids]), getattr(model, "vocab_size", len(vocab)))
    gen = None if seed is None else torch.Generator(device="cpu").manual_seed(seed)
    was_training = model.training
    model.eval()
    # Warm up: feed the whole prefix, keep the state and the last step's logits.
    logits, state = model(torch.tensor([ids], device=device), model.begin_state(1, device))
    out = list(ids)
    for _ in range(num_chars):
        last = logits[0, -1].float().cpu()                   # (V,)
        if last.numel() > 1:
            last[vocab.unk] = -math.inf                      # never write <unk>
        if temperature == 0:
            nxt = int(last.argmax())
        else:
            probs = torch.softmax(last / temperature, dim=-1)
            nxt = int(torch.multinomial(probs, 1, generator=gen))
        out.append(nxt)
        logits, state = model(torch.tensor([[nxt]], device=device), state)
    model.train(was_training)
    return vocab.decode(out)


def fit(model: nn.Module, X: torch.Tensor, Y: torch.Tensor, steps: int = 300,
        lr: float = 0.01, last_only: bool = False, seed: int = 0,
        clip: float | None = None) -> list[float]:
    """Full-batch training on fixed tensors (the toy tasks): Adam for `steps` steps.

    `X`, `Y`: `(B, T)` indices. With `last_only=True` only the last step's prediction is
    trained (`Y` may then be `(B,)`), as in a sequence-to-one task. `clip` caps the global
    gradient norm of every step. Returns the loss per step.
    """
    require_positive_int("steps", steps)
    _require_task_indices(model, X)
    seed_everything(seed)
    device = next(model.parameters()).device
    X, Y = X.to(device), Y.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    model.train()
    for _ in range(steps):
        loss, _, _ = train_step(model, X, Y, optimizer, clip=clip, last_only=last_only)
        losses.append(loss.item())
    return losses


@torch.no_grad()
def predict(model: nn.Module, X: torch.Tensor, last_only: bool = False) -> torch.Tensor:
    """Most likely next token at every step `(B, T)`, or at the last step only `(B,)`."""
    _require_task_indices(model, X)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    logits, _ = model(X.to(device), model.begin_state(X.shape[0], device))
    model.train(was_training)
    pred = logits.argmax(-1).cpu()
    return pred[:, -1] if last_only else pred


def _require_task_indices(model: nn.Module, X) -> None:
    """Indices enter `fit`/`predict` here: check them once, before any device sees them."""
    size = getattr(model, "vocab_size", None)
    if size is not None:
        require_indices(X, size)
