"""Checks for chapter 5, "Hyperparameter sweeps"."""

from __future__ import annotations

import pandas as pd

from ..audit import forbid
from ..checks import CheckFailed, Verdict, as_scalar, call, fail, run_check, safe_repr, sentence
from ..sweep import RunConfig, expand_grid


def check_my_grid(my_grid, base: RunConfig | None = None) -> Verdict:
    """Exercise 5.1: a grid (dict of lists) for `sweep` that varies `num_layers` or `dropout`."""
    def body():
        if my_grid is None:
            fail("not attempted yet: replace None with a dict such as "
                 "{'num_layers': [...], ...}, run that cell, then run this check.")
        if not isinstance(my_grid, dict):
            fail(f"my_grid should be a dict of lists, got {type(my_grid).__name__}.")
        if not {"num_layers", "dropout"} & set(my_grid):
            fail(f"my_grid varies {sorted(my_grid)}: this exercise asks for a sweep over "
                 "'num_layers' or 'dropout' (or both).")
        try:
            configs = expand_grid(base or RunConfig(), my_grid)
        except ValueError as exc:
            fail(f"sweep() would refuse this grid: {exc}")
        if not any(len(list(v)) >= 2 for v in my_grid.values()):
            fail("every hyperparameter has a single value: give at least two values to one "
                 "of them, or there is nothing to compare.")
        if any(c.dropout > 0 and c.num_layers < 2 for c in configs):
            fail("a configuration has dropout > 0 with num_layers = 1: nn.RNN applies "
                 "dropout *between* layers, so with one layer it does nothing. Use "
                 "num_layers >= 2 wherever dropout > 0.")
        if len(configs) > 12:
            fail(f"the grid has {len(configs)} configurations; keep it to at most 12 so "
                 "that it runs in reasonable time (times the number of seeds).")
        return f"{len(configs)} configurations, ready to sweep."
    return run_check("Exercise 5.1 (my_grid)", body)


def _table(rows):
    return pd.DataFrame(rows, columns=["hidden_size", "seed", "valid_ppl", "train_ppl"])


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

NO_HELPERS = forbid("Exercise 5.2 asks you to choose from the table yourself")


def check_pick_best(pick_best) -> Verdict:
    """Exercise 5.2: `pick_best(table, by)` -> the value of `by` with the lowest mean
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
    return run_check("Exercise 5.2 (pick_best)", body)


_OPTIONS = {
    "A": "Small batches see more text.",
    "B": "Small batches make more parameter updates from the same text.",
    "C": "Small batches use a larger learning rate.",
    "D": "Small batches let the model have more parameters.",
}
_WHY_NOT = {
    "A": "at equal tokens seen, every batch size reads exactly the same amount of text.",
    "C": "every run uses the same learning rate; only the batch size changes.",
    "D": "the model, and its parameter count, is the same for every batch size.",
}


def check_batch_answer(answer) -> Verdict:
    """Exercise 5.3: why can a smaller batch do better at an equal number of tokens seen?"""
    def body():
        if answer is None:
            fail("not attempted yet: set batch_answer to one of 'A', 'B', 'C', 'D', run that "
                 "cell, then run this check.")
        letter = answer.strip().upper() if isinstance(answer, str) else None
        if letter not in _OPTIONS:
            fail(f"answer should be one of 'A', 'B', 'C', 'D', got {safe_repr(answer)}.")
        if letter != "B":
            fail(f"{letter} ({_OPTIONS[letter]}) cannot be it: {_WHY_NOT[letter]}")
        return ("with B = 16 an epoch is 4x as many updates as with B = 64; the price is "
                "noisier gradients and less parallel work per update (slower per token).")
    return run_check("Exercise 5.3 (batch size)", body)
