"""One description of a training run: the model, the data layout and the training, with one
set of defaults and one place that validates them.

    cfg = RunConfig(cell="lstm", hidden_size=256, epochs=5)
    model = cfg.model(len(data.vocab))           # RNNModel, or ScratchLM with impl="scratch"
    history = train(model, data, cfg, device)    # reads the training fields

Every caller describes a run with it: `train` (the chapters), `sweep` (one run per
configuration and seed), the command line (`python -m rnnlab train`, whose flags default to
`cli.RECIPE`, a `RunConfig`) and the reference runs. A `RunConfig` is frozen and checked
when it is made (so `dataclasses.replace(cfg, lr=-1)` fails at once, naming the field).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .validate import require_choice, require_int, require_positive_int

_CELLS = ("rnn", "gru", "lstm")
_IMPLS = ("concise", "scratch")
_OPTIMIZERS = ("sgd", "adam")


@dataclass(frozen=True)
class RunConfig:
    """One run: what model, on what batches, trained how. Defaults are the course's usual
    small character model: a one-layer RNN of 128 units on embeddings of 32, batches of
    32 x 35, Adam at 0.01 with the gradient norm clipped at 1, for 10 epochs."""

    # The model
    cell: str = "rnn"                 # "rnn", "gru" or "lstm"
    impl: str = "concise"             # nn.RNN/GRU/LSTM ("concise") or ScratchLM ("scratch")
    hidden_size: int = 128
    num_layers: int = 1
    embed_size: int | None = 32       # None = one-hot input
    dropout: float = 0.0              # between stacked layers (needs num_layers >= 2)
    io_dropout: float = 0.0           # on the input vectors and the last layer's outputs
    # The data
    batch_size: int = 32
    num_steps: int = 35
    max_tokens: int | None = None     # use only the first max_tokens characters of the book
    # The training
    # None: no epoch limit, until the time budget or patience stops the run.
    epochs: int | None = 10
    lr: float = 0.01
    optimizer: str = "adam"           # "adam" or "sgd"
    clip: float | None = 1.0          # max gradient norm; None = no clipping
    weight_decay: float = 0.0
    seed: int = 0                     # seeds the weights, the batch order and dropout
    # Equal-time runs: at most this many seconds of training steps. Validation and other
    # evaluation do not count. Checked between batches: a run stops before a batch that
    # would end past the budget, judged by the last batch's time (it trains at least one).
    max_seconds: float | None = None
    eval_train: bool = False          # also measure training perplexity like validation's
    # Early stopping: stop after `patience` epochs without a new best validation perplexity;
    # with `restore_best`, end with the weights of the best epoch, not the last.
    patience: int | None = None
    restore_best: bool = False
    # Learning-rate decay on a plateau: after an epoch without a new best validation
    # perplexity, multiply the learning rate by `lr_decay` (torch's ReduceLROnPlateau).
    lr_decay: float | None = None

    def __post_init__(self):
        require_choice("cell", self.cell, _CELLS)
        require_choice("impl", self.impl, _IMPLS)
        require_positive_int("hidden_size", self.hidden_size)
        require_positive_int("num_layers", self.num_layers)
        if self.embed_size is not None:
            require_positive_int("embed_size", self.embed_size)
        for name in ("dropout", "io_dropout"):
            p = getattr(self, name)
            if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p < 1:
                raise ValueError(f"{name} must be in [0, 1), got {p!r}")
        if self.impl == "scratch" and (self.dropout or self.io_dropout):
            raise ValueError("dropout needs impl='concise' (the hand-made cells have none)")
        require_positive_int("batch_size", self.batch_size)
        require_positive_int("num_steps", self.num_steps)
        if self.max_tokens is not None:
            require_positive_int("max_tokens", self.max_tokens)
        if self.epochs is None:
            if self.max_seconds is None and self.patience is None:
                raise ValueError("epochs=None (no epoch limit) needs max_seconds or patience "
                                 "to stop the run")
        else:
            require_positive_int("epochs", self.epochs)
        if not _positive_number(self.lr):
            raise ValueError(f"lr must be positive, got {self.lr!r}")
        require_choice("optimizer", self.optimizer, _OPTIMIZERS)
        if self.clip is not None and not _positive_number(self.clip):
            raise ValueError(f"clip must be positive or None, got {self.clip!r}")
        if not _number(self.weight_decay) or self.weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay!r}")
        require_int("seed", self.seed, minimum=None)
        if self.max_seconds is not None and not _positive_number(self.max_seconds):
            raise ValueError(f"max_seconds must be positive or None, got {self.max_seconds!r}")
        if self.patience is not None:
            require_positive_int("patience", self.patience)
        if self.lr_decay is not None and not (_number(self.lr_decay) and 0 < self.lr_decay < 1):
            raise ValueError(f"lr_decay must be in (0, 1) or None, got {self.lr_decay!r}")

    def model(self, vocab_size: int):
        """The model this run trains, untrained: `RNNModel` or, with impl="scratch",
        `ScratchLM` (the RNN with its input projection hoisted out of the loop)."""
        from .models import RNNModel
        from .scratch import ScratchLM

        if self.impl == "scratch":
            return ScratchLM(vocab_size, self.hidden_size, self.num_layers, self.cell,
                             embed_size=self.embed_size, hoist_input=self.cell == "rnn")
        return RNNModel(vocab_size, self.hidden_size, self.num_layers, self.cell,
                        self.embed_size, dropout=self.dropout, io_dropout=self.io_dropout)

    def changed(self) -> dict:
        """The fields that differ from the defaults (how a run is named in a message)."""
        return {k: v for k, v in dataclasses.asdict(self).items()
                if v != _DEFAULTS[k]}


def _number(x) -> bool:
    return not isinstance(x, bool) and isinstance(x, (int, float))


def _positive_number(x) -> bool:
    return _number(x) and x > 0


FIELDS = [f.name for f in dataclasses.fields(RunConfig)]
_DEFAULTS = {f.name: f.default for f in dataclasses.fields(RunConfig)}
