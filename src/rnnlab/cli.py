"""The command line for readers who finish the course: train on any text, then sample.

    python -m rnnlab train FILE [--cell lstm] [--hidden 256] [--layers 2] [--minutes 5] ...
    python -m rnnlab sample CHECKPOINT [--prefix "the "] [--chars 300] [--temperature 0.8]

`train` writes a checkpoint (default `FILE.rnnlab.pt`) holding the weights, the vocabulary
and every setting needed to rebuild the model; `sample` reads it back. A bad argument, a
bad text or a damaged checkpoint gives one line on stderr and exit status 2, never a
traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from . import __version__
from .data import Vocab, load_text, preprocess
from .gated import GatedScratch
from .models import RNNModel, RNNScratch
from .runtime import describe_device, get_device, seed_everything
from .train import TrainConfig, generate, perplexity, train

CHECKPOINT_FORMAT = "rnnlab-checkpoint-1"


class CommandError(Exception):
    """A problem to report in one line (exit status 2)."""


def build_model(settings: dict) -> torch.nn.Module:
    """The model a checkpoint's `settings` describe (see `train_command`)."""
    V, H, L = settings["vocab_size"], settings["hidden"], settings["layers"]
    embed = settings["embed"] or None
    if settings["impl"] == "scratch":
        if settings["cell"] == "rnn":
            return RNNScratch(V, H, L, embed_size=embed, hoist_input=True)
        return GatedScratch(V, H, L, cell=settings["cell"], embed_size=embed)
    return RNNModel(V, H, L, cell=settings["cell"], embed_size=embed,
                    dropout=settings["dropout"], io_dropout=settings["io_dropout"])


def _positive(kind):
    def parse(text):
        value = kind(text)
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value
    return parse


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m rnnlab", description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=f"rnnlab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train a character model on a text file")
    t.add_argument("file", type=Path, help="a UTF-8 text file")
    t.add_argument("--cell", choices=["rnn", "gru", "lstm"], default="lstm")
    t.add_argument("--impl", choices=["concise", "scratch"], default="concise",
                   help="nn.RNN/GRU/LSTM (concise) or the course's hand-made cells (scratch)")
    t.add_argument("--hidden", type=_positive(int), default=256)
    t.add_argument("--layers", type=_positive(int), default=2)
    t.add_argument("--embed", type=int, default=32, help="embedding size; 0 = one-hot")
    t.add_argument("--dropout", type=float, default=0.0, help="dropout between layers")
    t.add_argument("--io-dropout", type=float, default=0.0,
                   help="dropout on the input vectors and on the last layer's outputs")
    t.add_argument("--batch", type=_positive(int), default=32)
    t.add_argument("--steps", type=_positive(int), default=64, help="time steps per batch")
    t.add_argument("--lr", type=_positive(float), default=2e-3, help="Adam's learning rate")
    t.add_argument("--minutes", type=_positive(float), default=None,
                   help="training time budget (validation excluded)")
    t.add_argument("--epochs", type=_positive(int), default=None,
                   help="passes over the text (default 10, or unlimited with --minutes)")
    t.add_argument("--patience", type=_positive(int), default=3,
                   help="stop after this many epochs without a better validation perplexity; "
                        "the checkpoint keeps the best epoch's weights")
    t.add_argument("--lr-decay", type=float, default=None,
                   help="multiply the learning rate by this factor after every epoch "
                        "without a better validation perplexity (e.g. 0.5)")
    t.add_argument("--clean", choices=["none", "d2l"], default="none",
                   help="none: the text as it is; d2l: letters only, lower case")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", type=Path, default=None, help="checkpoint (default FILE.rnnlab.pt)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    s = sub.add_parser("sample", help="generate text from a checkpoint")
    s.add_argument("checkpoint", type=Path)
    s.add_argument("--prefix", default=None, help="text to continue (default: its first line)")
    s.add_argument("--chars", type=_positive(int), default=300)
    s.add_argument("--temperature", type=float, default=0.8, help="0 = greedy")
    s.add_argument("--seed", type=int, default=None)
    return parser


def train_command(args) -> int:
    if args.embed < 0:
        raise CommandError(f"--embed must be >= 0 (0 = one-hot), got {args.embed}")
    for flag, p in (("--dropout", args.dropout), ("--io-dropout", args.io_dropout)):
        if not 0 <= p < 1:
            raise CommandError(f"{flag} must be in [0, 1), got {p}")
    if args.lr_decay is not None and not 0 < args.lr_decay < 1:
        raise CommandError(f"--lr-decay must be in (0, 1), got {args.lr_decay}")
    if args.impl == "scratch" and (args.dropout or args.io_dropout):
        raise CommandError("dropout needs --impl concise (the hand-made cells have none)")
    try:
        data = load_text(args.file, args.batch, args.steps, clean=args.clean)
    except OSError as exc:
        raise CommandError(f"cannot read {args.file}: {exc.strerror or exc}") from None
    settings = {"cell": args.cell, "impl": args.impl, "hidden": args.hidden,
                "layers": args.layers, "embed": args.embed, "dropout": args.dropout,
                "io_dropout": args.io_dropout,
                "vocab_size": len(data.vocab), "clean": args.clean, "steps": args.steps}
    seed_everything(args.seed)
    model = build_model(settings)
    device = get_device()
    epochs = args.epochs or (10_000 if args.minutes else 10)
    cfg = TrainConfig(epochs=epochs, lr=args.lr, optimizer="adam", clip=1.0, seed=args.seed,
                      max_seconds=args.minutes * 60 if args.minutes else None,
                      patience=args.patience, restore_best=True, lr_decay=args.lr_decay,
                      show_progress=not args.quiet)
    print(f"{data}\nmodel: {args.impl} {args.cell}, H={args.hidden}, L={args.layers}, "
          f"on {describe_device(device)}", file=sys.stderr)
    hist = train(model, data, cfg, device)
    test_ppl = perplexity(model, data.test_batches(), device)
    out = args.out or args.file.with_name(args.file.name + ".rnnlab.pt")
    torch.save({"format": CHECKPOINT_FORMAT, "rnnlab": __version__, "settings": settings,
                "vocab": data.vocab.idx_to_token[1:],
                "state_dict": {k: v.cpu() for k, v in model.state_dict().items()},
                "history": {"valid_ppl": hist.valid_ppl, "epochs": hist.epochs,
                            "best_epoch": hist.best_epoch, "lr": hist.lr,
                            "test_ppl": test_ppl,
                            "train_seconds": hist.total_train_seconds},
                "first_line": args.file.read_text(encoding="utf-8").split("\n")[0][:80]},
               out)
    print(f"{hist.epochs} epochs, {hist.total_train_seconds:.0f} s of training; kept epoch "
          f"{hist.best_epoch}: validation perplexity {min(hist.valid_ppl):.3f}, test "
          f"{test_ppl:.3f}; wrote {out}")
    return 0


def load_checkpoint(path: Path):
    """(model, vocab, checkpoint dict) from a file written by `train`."""
    if not path.is_file():
        raise CommandError(f"{path} does not exist")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:     # torch raises many kinds for a damaged file
        raise CommandError(f"{path} is not a readable rnnlab checkpoint "
                           f"({type(exc).__name__}: {str(exc).splitlines()[0][:120]})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise CommandError(f"{path} is not an rnnlab checkpoint (no {CHECKPOINT_FORMAT!r} "
                           "marker): write one with `python -m rnnlab train FILE`")
    try:
        # Each token once: Vocab keeps first-seen order for equal counts, after <unk>.
        vocab = Vocab([ckpt["vocab"]])
        if vocab.idx_to_token[1:] != list(ckpt["vocab"]):
            raise ValueError("its vocabulary lists a token twice")
        model = build_model(ckpt["settings"])
        model.load_state_dict(ckpt["state_dict"])
    except (KeyError, TypeError, RuntimeError, ValueError) as exc:
        raise CommandError(f"{path} is a damaged rnnlab checkpoint "
                           f"({type(exc).__name__}: {str(exc).splitlines()[0][:120]})") from None
    return model, vocab, ckpt


def sample_command(args) -> int:
    if args.temperature < 0:
        raise CommandError(f"--temperature must be >= 0 (0 = greedy), got {args.temperature}")
    model, vocab, ckpt = load_checkpoint(args.checkpoint)
    prefix = args.prefix if args.prefix is not None else ckpt.get("first_line") or " "
    if ckpt["settings"]["clean"] == "d2l":
        prefix = " ".join(preprocess(prefix)) or " "
    try:
        text = generate(model, vocab, prefix, args.chars, temperature=args.temperature,
                        seed=args.seed)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    print(text)
    return 0


def main(argv=None) -> int:
    args = _parser().parse_args(argv)         # argparse: usage + one line, exit status 2
    try:
        return train_command(args) if args.command == "train" else sample_command(args)
    except (CommandError, ValueError, TypeError) as exc:
        print(f"rnnlab: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rnnlab: interrupted", file=sys.stderr)
        return 130
