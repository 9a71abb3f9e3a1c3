"""Checks for chapter 5, "Hyperparameter sweeps"."""

from __future__ import annotations

import pandas as pd
import torch

from ..audit import forbid
from ..checks.expect import as_scalar
from ..checks.explain import safe_repr
from ..checks.sandbox import call
from ..checks.verdict import CheckFailed, Verdict, fail, run_check, sentence
from ..config import RunConfig
from ..guard import freeze_loaded as _freeze_loaded
from ..guard import generator as _generator
from ..models import num_params
from ..sweep import expand_grid
from . import Exercise, declare, edit, given, title

GRID_BASE = RunConfig(cell="lstm")     # the model family 5.1 compares (embeddings of 32)
_GRID_VOCAB = 28                        # The Time Machine's characters


def _params(cfg: RunConfig) -> int:
    return num_params(cfg.model(_GRID_VOCAB))


def check_my_grid(my_grid) -> Verdict:
    """Checks a fair comparison of depth: `my_grid`, a list of configurations for
    `sweep` (dicts of overrides of an LSTM with embeddings of 32 over 28 characters) with
    at least two values of `num_layers`, each with a `hidden_size` chosen so that every
    configuration has the same number of parameters within 10 %, nothing else varied."""
    def body():
        if my_grid is None:
            fail("not attempted yet: replace None with a list of configurations such as "
                 "[{'num_layers': 1, 'hidden_size': ...}, ...], run that cell, then run this "
                 "check.")
        if isinstance(my_grid, dict):
            fail("my_grid is a dict of lists, so sweep() runs every combination of its values: "
                 "each depth would also run with the other depths' hidden sizes, at unequal "
                 "parameter counts. Give a list of configurations instead, one dict per "
                 "depth: [{'num_layers': 1, 'hidden_size': ...}, {'num_layers': 2, ...}].")
        if not isinstance(my_grid, (list, tuple)) or not all(isinstance(p, dict)
                                                             for p in my_grid):
            fail(f"my_grid should be a list of dicts, got {safe_repr(my_grid)}.")
        varied = {k for point in my_grid for k in point}
        if varied - {"num_layers", "hidden_size"}:
            fail(f"my_grid also sets {sorted(varied - {'num_layers', 'hidden_size'})}: a fair "
                 "comparison of depth changes only num_layers and the hidden_size that keeps "
                 "the parameter count equal.")
        try:
            configs = expand_grid(GRID_BASE, my_grid)
        except ValueError as exc:
            fail(f"sweep() would refuse this grid: {exc}")
        depths = sorted({c.num_layers for c in configs})
        if len(depths) < 2:
            fail(f"every configuration has num_layers = {depths[0]}: compare at least two "
                 "depths.")
        if len(configs) > 12:
            fail(f"the grid has {len(configs)} configurations; keep it to at most 12 so that "
                 "it runs in reasonable time (times the number of seeds).")
        counts = {(c.num_layers, c.hidden_size): _params(c) for c in configs}
        low, high = min(counts.values()), max(counts.values())
        if high > 1.1 * low:
            (small, n_small), (big, n_big) = (min(counts.items(), key=lambda kv: kv[1]),
                                              max(counts.items(), key=lambda kv: kv[1]))
            same_h = len({c.hidden_size for c in configs}) == 1
            hint = (" At one hidden size a deeper model is also a bigger one, so depth and "
                    "size would be confounded." if same_h else "")
            fail(f"num_layers={big[0]}, hidden_size={big[1]} has {n_big:,} parameters, "
                 f"{n_big / n_small:.2f} times the {n_small:,} of num_layers={small[0]}, "
                 f"hidden_size={small[1]}: not an equal budget.{hint} Choose each depth's "
                 "hidden_size so that all counts are within 10 % (count them with "
                 "rnnlab.params or num_params(config.model(28))).")
        depths = sorted({L for L, _ in counts})
        return (f"{len(configs)} configurations, {len(depths)} depths, of equal size within "
                f"{100 * (high / low - 1):.0f} % ({low:,} to {high:,} parameters): depth is "
                "the one thing that differs.")
    return run_check(title("my_grid"), body)


def _table(rows):
    return pd.DataFrame(rows, columns=["hidden_size", "seed", "valid_ppl", "train_eval_ppl"])


# Best mean validation perplexity: 200. Best training perplexity: 300. Best single run:
# 128 (seed 1, a lucky 4.90; 128's mean is worse than 200's). Worst run and worst mean: 64.
_CASE = _table([
    (64, 0, 5.90, 5.6), (64, 1, 6.10, 5.7), (64, 2, 6.00, 5.6),
    (128, 0, 5.60, 5.0), (128, 1, 4.90, 4.9), (128, 2, 5.70, 5.1),
    (200, 0, 5.05, 4.6), (200, 1, 5.00, 4.5), (200, 2, 5.10, 4.6),
    (300, 0, 5.30, 3.9), (300, 1, 5.35, 3.8), (300, 2, 5.25, 3.9),
])


# A second table whose answer is 300, to catch an answer typed in rather than computed.
_CASE2 = _CASE.assign(valid_ppl=[6.0, 6.1, 6.2, 5.6, 5.5, 5.7, 5.3, 5.2, 5.4, 5.0, 4.95, 5.05])

NO_HELPERS = forbid("this exercise asks you to choose from the table yourself")


def check_pick_best(pick_best) -> Verdict:
    """Checks `pick_best(table, by)` -> the value of `by` with the lowest mean
    validation perplexity over seeds."""
    def body():
        got = as_scalar(call(pick_best, _CASE.copy(), "hidden_size", name="pick_best",
                             forbidden=NO_HELPERS), "what pick_best returned")
        explain = {300: "300 has the lowest *training* perplexity, but the question is how "
                        "well a model does on text it has not seen: use valid_ppl.",
                   128: "128 owns the single best run (seed 1, 4.90), but its other seeds "
                        "are much worse: average over seeds before choosing.",
                   64: "64 has the *highest* validation perplexity: lower is better (did "
                       "you use max or idxmax?)."}
        if isinstance(got, (int, float)) and not isinstance(got, bool) and got in explain:
            fail(f"pick_best chose {got}. {explain[got]}")
        if isinstance(got, (int, float)) and got in set(_CASE.index) - set(_CASE.hidden_size):
            fail(f"pick_best returned {got}, a row label of the table (idxmin of a column "
                 "gives a row label): return the value of the 'hidden_size' column, e.g. "
                 "group by it, average valid_ppl over seeds, then idxmin of that.")
        if got != 200:
            fail(f"pick_best chose {safe_repr(got)}; expected a value of the 'hidden_size' "
                 "column (group by it, average valid_ppl over seeds, take the lowest).")
        got2 = as_scalar(call(pick_best, _CASE2.copy(), "hidden_size", name="pick_best",
                              forbidden=NO_HELPERS), "what pick_best returned")
        if got2 != 300:
            fail(f"on a second table pick_best chose {safe_repr(got2)}, expected 300: is "
                 "the answer computed from the table, or written in?")
        try:
            got3 = as_scalar(call(pick_best, _CASE.rename(columns={"hidden_size": "lr"}),
                                  "lr", name="pick_best", forbidden=NO_HELPERS),
                             "what pick_best returned")
        except CheckFailed as exc:
            if "KeyError" not in str(exc):
                raise
            fail(f"with the column named 'lr' and by='lr', {sentence(exc)} Group by the "
                 "column named in `by`, not by 'hidden_size' written in.")
        if got3 != 200:
            fail(f"with the column named 'lr' and by='lr', pick_best chose {safe_repr(got3)}: "
                 "group by the column named in `by`, not by 'hidden_size' written in.")
        return "chooses by mean validation perplexity over seeds, grouping by the column `by`."
    return run_check(title("pick_best"), body)


_OPTIONS = {
    "A": "Small batches see more text.",
    "B": "Small batches make more parameter updates from the same text.",
    "C": "Small batches use a larger learning rate.",
    "D": "Small batches let the model have more parameters.",
}
_WHY_NOT = {
    "A": "at an equal number of epochs every batch size reads the text once per epoch; a "
         "larger batch even reads slightly less (the tail that does not fill its last batch "
         "is dropped), so more text cannot be why the smaller batch did better.",
    "C": "every run uses the same learning rate; only the batch size changes.",
    "D": "the model, and its parameter count, is the same for every batch size.",
}


def check_batch_answer(answer) -> Verdict:
    """Checks the answer to: why can a smaller batch do better at an equal number of tokens
    seen?"""
    def body():
        if answer is None:
            fail("not attempted yet: set batch_answer to one of 'A', 'B', 'C', 'D', run that "
                 "cell, then run this check.")
        letter = answer.strip().upper() if isinstance(answer, str) else None
        if letter not in _OPTIONS:
            fail(f"answer should be one of 'A', 'B', 'C', 'D', got {safe_repr(answer)}.")
        if letter != "B":
            fail(f"{letter} ({_OPTIONS[letter]}) cannot be it: {_WHY_NOT[letter]}")
        return ("that is the reason; its price is noisier gradients and less parallel "
                "work per update (slower per token).")
    return run_check(title("batch_answer", "batch size"), body)


# ---------------------------------------------------------------------------
# diagnose: diagnose a run from its history
# ---------------------------------------------------------------------------

DIAGNOSES = ("overfitting", "learning rate too high", "too little capacity")


def _history(kind: str, seed: int) -> tuple[list[float], list[float]]:
    """(train_ppl, valid_ppl) over 10 epochs that clearly show `kind`; numbers vary by seed."""
    g = _generator(seed)

    def noise(n, scale):
        return (torch.randn(n, generator=g) * scale).tolist()
    start = 12 + 4 * float(torch.rand(1, generator=g))
    epochs = range(10)
    if kind == "overfitting":           # training keeps falling; validation turns upward
        low = 3 + float(torch.rand(1, generator=g))
        turn = 3 + int(torch.randint(0, 3, (1,), generator=g))
        train = [low + (start - low) * 0.6 ** e for e in epochs]
        best = low + 2.5
        valid = [best + (start - best) * 0.5 ** e if e <= turn else best + 0.45 * (e - turn)
                 for e in epochs]
    elif kind == "learning rate too high":   # training itself jumps up and down, or blows up
        train, valid = [start], [start + 0.5]
        for e in epochs[1:]:
            jump = 1.8 if e % 2 else 0.55
            train.append(train[-1] * jump * (1 + 0.1 * float(torch.rand(1, generator=g))))
            valid.append(train[-1] * 1.05)
        if seed % 2:
            train[-2:] = [float("nan")] * 2
            valid[-2:] = [float("nan")] * 2
    else:                               # both stop early, high, and close together
        plateau = 9 + 2 * float(torch.rand(1, generator=g))
        train = [plateau + (start - plateau) * 0.3 ** e for e in epochs]
        valid = [t + 0.15 for t in train]
    return ([round(t + n, 3) for t, n in zip(train, noise(10, 0.02))],
            [round(v + n, 3) for v, n in zip(valid, noise(10, 0.02))])


def _cases():
    kinds = [kind for kind in DIAGNOSES for _ in range(3)]
    # A fixed order (so that a given slip meets the same kind first); fresh numbers.
    order = torch.randperm(len(kinds), generator=torch.Generator().manual_seed(54)).tolist()
    return [(kinds[i], _history(kinds[i], 540 + j)) for j, i in enumerate(order)]


_WHY = {
    "overfitting": "training perplexity kept falling while validation perplexity reached its "
                   "lowest value and then rose: the gap between them widened. That is "
                   "overfitting: the model memorises the training text.",
    "learning rate too high": "training perplexity itself went up from one epoch to the next "
                              "(or became NaN): the steps overshoot. Capacity or "
                              "overfitting would leave the training curve falling or flat.",
    "too little capacity": "training and validation perplexity stopped falling early, stayed "
                           "high, and stayed close together: the model cannot fit even the "
                           "training text. Validation never turned upward, so it is not "
                           "overfitting.",
}


def check_diagnose(diagnose) -> Verdict:
    """Checks `diagnose(train_ppl, valid_ppl)` -> one of `DIAGNOSES`, for a run's
    per-epoch training and validation perplexities; checked on nine histories the page
    never shows, three of each kind, in mixed order."""
    def body():
        said = []
        for number, (kind, (train, valid)) in enumerate(_cases(), 1):
            got = call(diagnose, list(train), list(valid), name="diagnose")
            if not isinstance(got, str) or got.strip().lower() not in DIAGNOSES:
                fail(f"diagnose returned {safe_repr(got)}: return one of "
                     f"{', '.join(repr(d) for d in DIAGNOSES)}.")
            said.append(got.strip().lower())
            if said[-1] != kind:
                shown = ", ".join("nan" if v != v else f"{v:.2f}" for v in train)
                shown_v = ", ".join("nan" if v != v else f"{v:.2f}" for v in valid)
                fail(f"history {number} (train_ppl [{shown}], valid_ppl [{shown_v}]): "
                     f"diagnose said {said[-1]!r}, but {_WHY[kind]}")
        return ("named all nine histories right: overfitting (validation turns up), a "
                "learning rate too high (training goes up or NaN), too little capacity "
                "(both flat and high together).")

    def guarded():
        try:
            return body()
        except CheckFailed as exc:
            answers = _constant_answer(diagnose)
            if answers is not None:
                fail(f"diagnose returns {answers} whatever the history: read the two curves "
                     f"(does validation turn upward? does training go up? do both stay high "
                     f"together?). {sentence(exc)}")
            raise
    return run_check(title("diagnose"), guarded)


def _constant_answer(diagnose):
    """The one answer `diagnose` gives for every history, or None."""
    try:
        answers = {safe_repr(call(diagnose, list(t), list(v), name="diagnose"))
                   for _, (t, v) in _cases()}
    except CheckFailed:
        return None
    return answers.pop() if len(answers) == 1 else None


# ---------------------------------------------------------------------------
# The chapter's exercises (see rnnlab.exercises)
# ---------------------------------------------------------------------------

_PICK = 'table.groupby(by)["valid_ppl"].mean().idxmin()'

EXERCISES = declare(
    Exercise("5.1", "my_grid", check_my_grid, slips=(
        given({"num_layers": [1, 2]}, says="dict of lists, so sweep() runs every combination"),
        given([{"num_layers": 1}, {"num_layers": 2}], says="a deeper model is also a bigger one"),
        given([{"num_layers": 1, "hidden_size": 128}, {"num_layers": 2, "hidden_size": 100}],
              says="not an equal budget"),
        given([{"num_layers": 1, "hidden_size": 128, "dropout": 0.2},
               {"num_layers": 2, "hidden_size": 78}], says="changes only num_layers"),
        edit("for L in (1, 2, 3)", "for L in (2,)", says="compare at least two depths"),
        given([{"num_layers": 0, "hidden_size": 64}, {"num_layers": 1}], says="would refuse"),
        given("num_layers", says="should be a list of dicts"),
    )),
    Exercise("5.2", "pick_best", check_pick_best, forbids=NO_HELPERS, slips=(
        edit('["valid_ppl"]', '["train_eval_ppl"]', says="*training* perplexity"),
        edit(_PICK, 'table.loc[table["valid_ppl"].idxmin(), by]', says="single best run"),
        edit(".idxmin()", ".idxmax()", says="*highest* validation perplexity"),
        edit(_PICK, 'table["valid_ppl"].idxmin()', says="a row label"),
        edit(_PICK, "200", says="written in"),
        edit("groupby(by)", 'groupby("hidden_size")', says="Group by the column named in `by`"),
        edit(_PICK, "by", says="expected a value"),
    )),
    Exercise("5.3", "batch_answer", check_batch_answer, slips=(
        edit('= "B"', '= "A"', says="more text cannot be why"),
        edit('= "B"', '= "c"', says="uses the same learning rate"),
        edit('= "B"', '= "D"', says="the same for every batch size"),
        edit('= "B"', '= "E"', says="one of"),
    )),
    Exercise("5.4", "diagnose", check_diagnose, slips=(
        edit({'return "learning rate too high"': 'return "overfitting"',
              'return "too little capacity"': 'return "overfitting"'},
             says="whatever the history"),
        edit("b > 1.1 * a", "b > a", says="stayed high, and stayed close together"),
        edit("any(p != p for p in train_ppl) or any(rises)", "False",
             says="training perplexity itself went up"),
        edit("valid_ppl[-1] > 1.1 * valid_ppl[best]", "False",
             says="validation perplexity reached its lowest value"),
        edit('"overfitting"', '"Overfit"', says="return one of"),
    )),
)

_freeze_loaded(__name__)   # the checker's names cannot be changed from here on
