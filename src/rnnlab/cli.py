"""The command line for readers who finish the course: train on any text, then sample.

    python -m rnnlab train FILE [--minutes 5] [--cell lstm] [--hidden 256] [--layers 2] ...
    python -m rnnlab sample CHECKPOINT [--prefix "the "] [--chars 300] [--temperature 0.8]

and, for instructors (`rnnlab.classroom`, `rnnlab.grading`):

    python -m rnnlab student-copy SRC_DIR OUT_DIR
    python -m rnnlab grade NOTEBOOK... --out grades.csv [--seed N] [--timeout 60]

`train --minutes M` plans the run for its budget (`rnnlab.plan`: the size, batch and
dropout for M minutes on this machine, a learning rate that falls to zero at the end of the
budget, validation on a slice of the held-out text) and says the plan in one line before it
starts; settings given explicitly are kept. Without `--minutes` (or with `--no-plan`) it
trains the fixed recipe `RECIPE`, for `--epochs` (or until the clock runs out).
`train` writes a checkpoint (default `FILE.rnnlab.pt`) holding the weights, the vocabulary
and every setting needed to rebuild the model; `sample` reads it back. Every argument, the
text and the place to write are checked before training starts, so a run never ends in an
error that loses the trained model; an existing checkpoint is kept unless `--force` says
otherwise. A bad argument, a bad text or an unreadable checkpoint gives one line on stderr
(naming the flag to change) and exit status 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import sys
import time
import warnings
from pathlib import Path

import torch

from ._version import __version__
from .config import RunConfig
from .data import Vocab, load_text, preprocess
from .plan import PATIENCE, data_for, make_plan, train_planned
from .runtime import describe_device, get_device, seed_everything
from .train import generate, perplexity, train

_CHECKPOINT_FORMAT = "rnnlab-checkpoint-1"
_PREFIX_END = "▸"     # printed between the given prefix and the generated text

# The command's recipe: the flags' defaults are this RunConfig's fields (the run the
# command trains is a RunConfig too, checked by it). A two-layer LSTM of 256 units on
# sequences of 64, Adam at 2e-3, early stopping that keeps the best epoch.
RECIPE = RunConfig(cell="lstm", hidden_size=256, num_layers=2, num_steps=64, lr=2e-3,
                   patience=3, restore_best=True)
_EPOCHS = 10          # --epochs without --minutes; with --minutes, no epoch limit
# RunConfig's field names -> the flags that set them, for its messages.
_FLAGS = {"batch_size": "--batch", "num_steps": "--steps", "hidden_size": "--hidden",
          "num_layers": "--layers", "embed_size": "--embed", "io_dropout": "--io-dropout",
          "lr_decay": "--lr-decay", "impl": "--impl", "dropout": "--dropout"}


class _CommandError(Exception):
    """A problem to report in one line (exit status 2)."""


def _run_config(settings: dict) -> RunConfig:
    """The run a checkpoint's `settings` describe (see `_train_command`), on RECIPE."""
    return dataclasses.replace(
        RECIPE, cell=settings["cell"], impl=settings["impl"], hidden_size=settings["hidden"],
        num_layers=settings["layers"], embed_size=settings["embed"] or None,
        dropout=settings["dropout"], io_dropout=settings["io_dropout"],
        num_steps=settings["steps"])


def _build_model(settings: dict) -> torch.nn.Module:
    """The model a checkpoint's `settings` describe."""
    with warnings.catch_warnings():     # dropout with one layer: said once, by the command
        warnings.filterwarnings("ignore", message=".*dropout option adds dropout after all "
                                                  "but last recurrent layer.*")
        return _run_config(settings).model(settings["vocab_size"])


def _positive(kind):
    def parse(text):
        value = kind(text)
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value
    return parse


class _DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """`--help` shows each default, except "no value" (None) and off switches (False)."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m rnnlab", description=__doc__.split("\n")[0])
    formatter = _DefaultsFormatter
    parser.add_argument("--version", action="version", version=f"rnnlab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train a character model on a text file",
                       formatter_class=formatter)
    t.add_argument("file", type=Path, help="a UTF-8 text file")
    t.add_argument("--cell", choices=["rnn", "gru", "lstm"], default=RECIPE.cell,
                   help="the recurrent cell")
    t.add_argument("--impl", choices=["concise", "scratch"], default=RECIPE.impl,
                   help="nn.RNN/GRU/LSTM (concise) or the course's hand-made cells (scratch)")
    planned = "; planned with --minutes"
    t.add_argument("--hidden", type=_positive(int), default=None,
                   help=f"hidden units per layer (default: {RECIPE.hidden_size}{planned})")
    t.add_argument("--layers", type=_positive(int), default=None,
                   help=f"stacked layers (default: {RECIPE.num_layers}{planned})")
    t.add_argument("--embed", type=int, default=None,
                   help=f"embedding size; 0 = one-hot (default: {RECIPE.embed_size}{planned})")
    t.add_argument("--dropout", type=float, default=None,
                   help=f"dropout between layers (default: {RECIPE.dropout:g}{planned})")
    t.add_argument("--io-dropout", type=float, default=None,
                   help="dropout on the input vectors and on the last layer's outputs "
                        f"(default: {RECIPE.io_dropout:g}{planned})")
    t.add_argument("--batch", type=_positive(int), default=None,
                   help=f"sequences per batch (default: {RECIPE.batch_size}{planned})")
    t.add_argument("--steps", type=_positive(int), default=None,
                   help=f"time steps per batch (default: {RECIPE.num_steps}{planned})")
    t.add_argument("--lr", type=_positive(float), default=None,
                   help=f"{RECIPE.optimizer.capitalize()}'s learning rate (default: "
                        f"{RECIPE.lr:g}; the peak planned with --minutes)")
    t.add_argument("--minutes", type=_positive(float), default=None,
                   help="the time budget: plans the run for it (size, batch, dropout, a "
                        "learning rate that warms up, then falls to 0 at the end, validation "
                        "on a slice of the held-out text), everything but the final "
                        "evaluation counted; settings given explicitly are kept")
    t.add_argument("--no-plan", action="store_true",
                   help="with --minutes: the fixed recipe, stopped after that much training "
                        "(validation excluded), as without --minutes")
    t.add_argument("--epochs", type=_positive(int), default=None,
                   help=f"passes over the text; by default {_EPOCHS}, or no limit with "
                        "--minutes --no-plan")
    t.add_argument("--patience", type=_positive(int), default=RECIPE.patience,
                   help="stop after this many epochs without a better validation perplexity; "
                        "the checkpoint keeps the best epoch's weights (without a plan)")
    t.add_argument("--lr-decay", type=float, default=RECIPE.lr_decay,
                   help="multiply the learning rate by this factor after every epoch "
                        "without a better validation perplexity (e.g. 0.5; without a plan)")
    t.add_argument("--clean", choices=["none", "d2l"], default="none",
                   help="none: the text as it is; d2l: letters only, lower case")
    t.add_argument("--seed", type=int, default=RECIPE.seed, help="seeds weights and batch order")
    t.add_argument("--out", type=Path, default=None,
                   help="where to write the checkpoint; by default FILE.rnnlab.pt")
    t.add_argument("--force", action="store_true",
                   help="overwrite an existing checkpoint (otherwise refused)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    s = sub.add_parser("sample", help="generate text from a checkpoint",
                       formatter_class=formatter)
    s.add_argument("checkpoint", type=Path, help="a file written by `train`")
    s.add_argument("--prefix", default=None,
                   help="text to continue; by default the first line of the training text")
    s.add_argument("--chars", type=_positive(int), default=300, help="characters to generate")
    s.add_argument("--temperature", type=float, default=0.8,
                   help="0 = greedy; below 1 sharper, above 1 more random")
    s.add_argument("--seed", type=int, default=None,
                   help="makes sampling reproducible")
    s.add_argument("--plain", action="store_true",
                   help=f"print prefix and continuation without the {_PREFIX_END} between them")
    c = sub.add_parser("student-copy", help="the chapters without solutions, to hand out",
                       formatter_class=formatter)
    c.add_argument("src", type=Path, help="a folder of the course's notebooks (book/)")
    c.add_argument("out", type=Path, help="where to write the student copy")
    g = sub.add_parser("grade", help="grade submitted notebooks into a CSV gradebook",
                       formatter_class=formatter)
    g.add_argument("notebooks", type=Path, nargs="+", help="submitted .ipynb files")
    g.add_argument("--out", type=Path, default=Path("grades.csv"),
                   help="the long CSV (one row per student and exercise); the wide one is "
                        "written beside it, with -wide in its name")
    g.add_argument("--seed", type=int, default=None,
                   help="the grading seed (by default a fresh one, printed)")
    g.add_argument("--timeout", type=_positive(float), default=60.0,
                   help="seconds one exercise of one submission may take")
    g.add_argument("--quiet", action="store_true", help="no line per graded exercise")
    return parser


_SIZES = {"hidden": "hidden_size", "layers": "num_layers", "embed": "embed_size",
          "dropout": "dropout", "io_dropout": "io_dropout", "batch": "batch_size",
          "steps": "num_steps", "lr": "lr"}


def _flags_given(args) -> dict:
    """The sizes given on the command line, by flag name (`make_plan`'s), the rest left out."""
    return {flag: getattr(args, flag) for flag in _SIZES if getattr(args, flag) is not None}


def _given(args) -> dict:
    """The sizes given on the command line, by RunConfig's names."""
    given = {_SIZES[flag]: value for flag, value in _flags_given(args).items()}
    if given.get("embed_size") == 0:
        given["embed_size"] = None                  # one-hot
    return given


def _fixed_config(args) -> RunConfig:
    """The run the flags describe without a plan: RECIPE with the flags given."""
    return dataclasses.replace(RECIPE, cell=args.cell, impl=args.impl, seed=args.seed,
                               epochs=args.epochs or (None if args.minutes else _EPOCHS),
                               max_seconds=args.minutes * 60 if args.minutes else None,
                               patience=args.patience, lr_decay=args.lr_decay,
                               **_given(args))


def _train_command(args) -> int:
    started = time.perf_counter()                   # a plan's budget counts from here
    if args.embed is not None and args.embed < 0:
        raise _CommandError(f"--embed must be >= 0 (0 = one-hot), got {args.embed}")
    planning = args.minutes is not None and not args.no_plan
    if args.no_plan and args.minutes is None:
        raise _CommandError("--no-plan goes with --minutes (without --minutes nothing is "
                            "planned)")
    if planning and (args.epochs or args.lr_decay):
        flag = "--epochs" if args.epochs else "--lr-decay"
        raise _CommandError(f"{flag} does not go with a planned run (--minutes plans the "
                            "learning rate and trains to the end of the budget): add "
                            "--no-plan for the fixed recipe stopped by the clock")
    # Every setting is checked by RunConfig, before the text is read or anything trained.
    cfg = _fixed_config(args)
    if not args.file.is_file():
        raise _CommandError(f"{args.file} " + ("is a directory, not a text file"
                                              if args.file.is_dir() else "does not exist"))
    out = args.out or args.file.with_name(args.file.name + ".rnnlab.pt")
    _require_writable(out, args.force)
    try:
        data = load_text(args.file, cfg.batch_size, cfg.num_steps, clean=args.clean)
    except OSError as exc:
        raise _CommandError(f"cannot read {args.file}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise _CommandError(_with_flags(str(exc))) from None
    if cfg.dropout and cfg.num_layers == 1:
        print(f"note: --dropout {cfg.dropout:g} acts between stacked layers, so with "
              "--layers 1 it does nothing (--io-dropout acts on one layer too)", file=sys.stderr)
    device = get_device()
    if planning:
        plan = make_plan(args.minutes, len(data.train_corpus), len(data.vocab),
                         cell=args.cell, impl=args.impl, seed=args.seed, started=started,
                         device=device, **_flags_given(args))
        cfg, data = plan.cfg, data_for(plan, data)
        print(plan.sentence(), file=sys.stderr)
    settings = {"cell": cfg.cell, "impl": cfg.impl, "hidden": cfg.hidden_size,
                "layers": cfg.num_layers, "embed": cfg.embed_size or 0,
                "dropout": cfg.dropout, "io_dropout": cfg.io_dropout, "clean": args.clean,
                "steps": cfg.num_steps, "vocab_size": len(data.vocab)}
    seed_everything(cfg.seed)
    model = _build_model(settings)
    print(f"{data}\nmodel: {cfg.impl} {cfg.cell}, H={cfg.hidden_size}, L={cfg.num_layers}, "
          f"on {describe_device(device)}", file=sys.stderr)
    if planning:
        history, said = _train_planned(model, data, plan, device, quiet=args.quiet)
    else:
        hist = train(model, data, cfg, device, show_progress=not args.quiet)
        history = {"valid_ppl": hist.valid_ppl, "epochs": hist.epochs,
                   "best_epoch": hist.best_epoch, "lr": hist.lr,
                   "stop_reason": hist.stop_reason, "train_seconds": hist.total_train_seconds}
        said = (f"{hist.stop_sentence(cfg)}; {hist.total_train_seconds:.0f} s of training; "
                f"kept epoch {hist.best_epoch}: validation perplexity "
                f"{min(hist.valid_ppl):.3f}")
    history["test_ppl"] = test_ppl = perplexity(model, data.test_batches(), device)
    _save({"format": _CHECKPOINT_FORMAT, "rnnlab": __version__, "settings": settings,
                "vocab": data.vocab.idx_to_token[1:],
                "state_dict": {k: v.cpu() for k, v in model.state_dict().items()},
                "history": history,
                "first_line": args.file.read_text(encoding="utf-8").split("\n")[0][:80]},
          out)
    print(f"{said}, test {test_ppl:.3f}; wrote {out}")
    return 0


def _train_planned(model, data, plan, device, quiet: bool) -> tuple[dict, str]:
    """Train by `plan`; (the checkpoint's history, the sentence that reports it)."""
    def report(done):
        if not quiet:
            print(f"{done.at_seconds[-1] / 60:6.2f} min: validation slice perplexity "
                  f"{done.valid_slice_ppl[-1]:.3f}, learning rate {done.lr[-1]:.2g}",
                  file=sys.stderr, flush=True)
    done = train_planned(model, data, plan, device, on_validation=report)
    valid = perplexity(model, data.valid_batches(), device)
    why = ("the time budget ran out" if done.stop_reason == "time" else
           f"no better validation slice for {PATIENCE:.0%} of the budget")
    history = {"valid_ppl": [valid], "epochs": done.tokens / len(data.train_corpus),
               "best_epoch": 1, "lr": done.lr, "stop_reason": done.stop_reason,
               "train_seconds": done.train_seconds, "plan": plan.sentence(),
               "valid_slice_ppl": done.valid_slice_ppl, "at_seconds": done.at_seconds}
    kept = done.at_seconds[done.best] / 60
    said = (f"stopped after {done.at_seconds[-1] / 60:.2f} min: {why}; "
            f"{done.train_seconds:.0f} s of training, {history['epochs']:.2f} passes over "
            f"the training text; kept the weights of {kept:.2f} min: validation "
            f"perplexity {valid:.3f}")
    return history, said


def _with_flags(message: str) -> str:
    """A library message with its argument names replaced by the command line's flags."""
    for name, flag in _FLAGS.items():
        message = re.sub(rf"(?<![\w-]){name}=['\"]?([^\s'\"]+)['\"]?", rf"{flag} \1", message)
        message = re.sub(rf"(?<![\w-]){name}\b", flag, message)
    return message


def _require_writable(out: Path, force: bool) -> None:
    """Refuse now, before training, a checkpoint path that could not be written."""
    if out.is_dir():
        raise _CommandError(f"--out {out} is a directory: give a file name, "
                            f"e.g. {out / 'model.pt'}")
    if out.exists() and not force:
        raise _CommandError(f"{out} already exists: pass --force to overwrite it, or choose "
                           "another --out")
    folder = out.parent
    if not folder.is_dir():
        raise _CommandError(f"--out {out}: the folder {folder} does not exist (create it first)")
    if not os.access(folder, os.W_OK):
        raise _CommandError(f"--out {out}: cannot write in {folder} (no permission)")


def _save(checkpoint: dict, out: Path) -> None:
    """Write atomically: a run stopped mid-write leaves the old file (or none), not half."""
    partial = out.with_name(out.name + ".partial")
    torch.save(checkpoint, partial)
    os.replace(partial, out)


def _load_checkpoint(path: Path):
    """(model, vocab, checkpoint dict) from a file written by `train`."""
    if path.is_dir():
        raise _CommandError(f"{path} is a directory, not a checkpoint file")
    if not path.is_file():
        raise _CommandError(f"{path} does not exist")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:     # torch raises many kinds for a damaged or foreign file
        raise _CommandError(f"{path} is not an rnnlab checkpoint: torch.load cannot read it "
                           f"({type(exc).__name__}); write one with `python -m rnnlab train "
                           "FILE`") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != _CHECKPOINT_FORMAT:
        raise _CommandError(f"{path} is not an rnnlab checkpoint (no {_CHECKPOINT_FORMAT!r} "
                           "marker): write one with `python -m rnnlab train FILE`")
    try:
        # Each token once: Vocab keeps first-seen order for equal counts, after <unk>.
        vocab = Vocab([ckpt["vocab"]])
        if vocab.idx_to_token[1:] != list(ckpt["vocab"]):
            raise ValueError("its vocabulary lists a token twice")
        model = _build_model(ckpt["settings"])
        model.load_state_dict(ckpt["state_dict"])
    except (KeyError, TypeError, RuntimeError, ValueError) as exc:
        first = (str(exc).strip().splitlines() or [""])[0]
        raise _CommandError(f"{path} is a damaged rnnlab checkpoint ({type(exc).__name__}"
                           f"{': ' + _clip_words(first) if first else ''})") from None
    return model, vocab, ckpt


def _clip_words(text: str, limit: int = 100) -> str:
    """`text` cut at a word boundary, with an ellipsis, if longer than `limit`."""
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(",;:") + " ..."


def _sample_command(args) -> int:
    if args.temperature < 0:
        raise _CommandError(f"--temperature must be >= 0 (0 = greedy), got {args.temperature}")
    model, vocab, ckpt = _load_checkpoint(args.checkpoint)
    prefix = args.prefix if args.prefix is not None else ckpt.get("first_line") or " "
    if ckpt["settings"]["clean"] == "d2l":
        prefix = " ".join(preprocess(prefix)) or " "
    try:
        text = generate(model, vocab, prefix, args.chars, temperature=args.temperature,
                        seed=args.seed)
    except ValueError as exc:
        raise _CommandError(f"--prefix: {exc}") from None
    print(text if args.plain else prefix + _PREFIX_END + text[len(prefix):])
    return 0


def _student_copy_command(args) -> int:
    from .classroom import student_copy

    for name, removed in student_copy(args.src, args.out):
        print(f"{args.out / name}: {removed} cell(s) with an answer left out")
    return 0


def _grade_command(args) -> int:
    from .grading import grade, summary, write_grades

    missing = [str(p) for p in args.notebooks if not p.is_file()]
    if missing:
        raise _CommandError(f"no such notebook: {', '.join(missing)}")

    def said(row):
        if not args.quiet:
            mark = "pass" if row.passed else "fail"
            flag = f"  [flagged: {row.flagged}]" if row.flagged else ""
            print(f"{row.student}  {row.exercise}  {mark}{flag}", flush=True)
    rows, seed = grade(args.notebooks, seed=args.seed, timeout=args.timeout, progress=said)
    long_path, wide_path = write_grades(rows, args.out)
    print(summary(rows, seed))
    print(f"Gradebook: {long_path} (one row per exercise), {wide_path} (one row per student)")
    return 0


_COMMANDS = {"student-copy": _student_copy_command, "grade": _grade_command}


def main(argv=None) -> int:
    args = _parser().parse_args(argv)         # argparse: usage + one line, exit status 2
    try:
        if args.command in _COMMANDS:
            return _COMMANDS[args.command](args)
        return _train_command(args) if args.command == "train" else _sample_command(args)
    except (_CommandError, ValueError, TypeError) as exc:
        print(f"rnnlab: error: {_with_flags(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rnnlab: interrupted", file=sys.stderr)
        return 130
