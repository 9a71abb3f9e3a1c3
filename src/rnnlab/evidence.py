"""The reference results: the full profile's experiments, run once by `make reference`
(`benchmarks/reference.py`) and shipped with the package, so that a page can show them
beside the reader's own quick run and state its verdicts from runs long enough to carry them.

    ref = load("hidden-batch")          # None until the reference run is committed
    ref.rows                            # one row per run: settings, curves, provenance
    ref.describe()                      # what was run, where, when, by which code
    ref.stale                           # True when the training code has changed since

A reference result is *stale* when the code that trains a run (`sweep.code_fingerprint`)
is no longer the code that produced it: the page says so, and `make reference` trains it
again. `recheck_first_epoch(row)` retrains a committed run's first epoch and returns the
committed and the new validation perplexity (a test compares them).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

# The model variants of benchmarks/variants.py (part of `make reference`), each a reference
# result of its own that a page reads: chapter 7's forget-gate bias, chapter 1's ReLU, no
# clipping and U(0, 1) biases, chapter 5's ten layers.
VARIANTS = ("forget-bias", "activations", "depth")


def results_dir() -> Path:
    """Where the committed reference results live: inside the package, which ships them
    (the environment variable RNNLAB_RESULTS points elsewhere, e.g. to try a page
    against other results)."""
    import os

    return Path(os.environ.get("RNNLAB_RESULTS") or resources.files("rnnlab") / "results")


@dataclass(frozen=True)
class Reference:
    """One committed reference sweep: its runs and where they came from."""

    name: str
    info: dict          # the file's fields: grid, seeds, seconds, provenance
    rows: object        # pandas DataFrame, one row per run

    @property
    def codes(self) -> set[str]:
        return set(self.rows["code"])

    @property
    def stale(self) -> bool:
        """The training code has changed since these runs were made."""
        from .sweep import code_fingerprint

        return self.codes != {code_fingerprint()}

    @property
    def cpu_minutes(self) -> float:
        return self.info["cpu_seconds"] / 60

    def describe(self) -> str:
        """One Markdown sentence: what was run, on what, when, by which commit; and a
        warning when the results are stale."""
        p = self.info["provenance"]
        n_cfg = len(self.rows) // max(1, len(self.info["seeds"]))
        text = (f"reference run `{self.name}`: {len(self.rows)} runs ({n_cfg} configurations "
                f"× {len(self.info['seeds'])} seeds) of the full profile, "
                f"{_minutes(self.cpu_minutes)} of training on {p['device_name']}, "
                f"{p['cpu']}; rnnlab {p['rnnlab']}, commit {p['commit'][:10]}, training "
                f"code {p['code']}, {p['date'][:10]}")
        if self.stale:
            text += (". **These results are stale**: the training code has changed since "
                     "they were made; `make reference` makes them again")
        return text


def _minutes(minutes: float) -> str:
    return "under a minute" if minutes < 1 else (
        "1 minute" if round(minutes) == 1 else f"{minutes:.0f} minutes")


def load(name: str, folder: Path | None = None) -> Reference | None:
    """The committed reference sweep `name`, or None if it has not been committed."""
    import pandas as pd

    path = (folder or results_dir()) / f"{name}.json"
    if not path.exists():
        return None
    info = json.loads(path.read_text(encoding="utf-8"))
    rows = pd.DataFrame(info.pop("rows"))
    return Reference(name, info, rows)


def load_report(name: str, device: str = "cpu", folder: Path | None = None) -> dict | None:
    """A committed benchmark report (`speed`, `target`) measured on `device`, or None."""
    path = (folder or results_dir()) / f"{name}-{device}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def not_yet(name: str, instead: str = "this page can only show the quick run's own "
                                       "verdict") -> str:
    """The sentence a page shows while a reference result is missing."""
    return (f"The reference run `{name}` has not been committed yet (`make reference` "
            f"makes it), so {instead}.")


def recheck_first_epoch(row: dict, device=None) -> tuple[float, float]:
    """Retrain the first epoch of a committed run (its settings, seed and thread count)
    and return `(committed, now)`: the validation perplexity after epoch 1 then and now.
    Equal (up to float rounding) while the training code is the one that made the run."""
    import torch

    from .config import FIELDS, RunConfig
    from .data import load_time_machine
    from .runtime import get_device, seed_everything
    from .train import train

    if row.get("max_seconds") is not None:
        raise ValueError("an equal-time run's first epoch depends on the machine's speed: "
                         "recheck a run stopped by epochs")
    cfg = RunConfig(**{k: row[k] for k in FIELDS if k in row})
    cfg = dataclasses.replace(cfg, seed=int(row["seed"]), epochs=1, eval_train=False,
                              patience=None)
    threads = torch.get_num_threads()
    torch.set_num_threads(int(row.get("threads", threads)))
    try:
        data = load_time_machine(cfg.batch_size, cfg.num_steps, max_tokens=cfg.max_tokens)
        seed_everything(cfg.seed)
        model = cfg.model(len(data.vocab))
        hist = train(model, data, cfg, device or get_device(), show_progress=False)
    finally:
        torch.set_num_threads(threads)
    return float(row["valid_curve"][0]), hist.valid_ppl[0]


def agreement(quick: dict, reference: dict, label=str, words=None) -> str:
    """Where the quick run's verdicts and the reference run's differ, as a sentence.

    `quick`, `reference`: `{key: noise.Comparison}` of the same comparisons; `label(key)`
    names a key in the sentence; `words` maps a direction (-1, 0, +1) to its word (by
    default "lower", "within noise", "higher")."""
    words = words or {-1: "lower", 0: "within noise", 1: "higher"}
    shared = [k for k in quick if k in reference]
    if not shared:
        return ("Your quick run and the reference run compare different settings here, so "
                "their verdicts cannot be set side by side.")
    differ = [k for k in shared if quick[k].direction != reference[k].direction]
    if not differ:
        return ("Where both compare the same settings, your quick run's verdicts agree with "
                "the reference run's.")
    parts = [f"{label(k)} (quick run: {words[quick[k].direction]}; reference: "
             f"{words[reference[k].direction]})" for k in differ]
    return ("Your quick run's verdict differs from the reference run's at "
            + "; ".join(parts) + ": the reference trains longer, on the whole book, "
            "so where they differ the reference is the one to believe.")


def speed_said(report: dict, ratios: list[str], target: float = 1.0) -> str:
    """The committed speed suite's ratios `ratios` (names of `bench.suite_ratios`) at every
    hidden size it measured, with the speed rule's verdict against `target`, as Markdown."""
    from .bench import suite_ratios

    found = [q for q in suite_ratios(report["rows"]) if q["ratio"] in ratios]
    by_H: dict[int, list[str]] = {}
    for q in found:
        r = q["speed_ratio"]
        words = r.verdict(target, above="faster in 9 of 10 rounds or more",
                          below="slower in 9 of 10 rounds or more")
        by_H.setdefault(q["H"], []).append(f"{q['ratio']} {r} — {words}")
    return "; ".join(f"at $H$ = {H}: " + ", ".join(parts) for H, parts in sorted(by_H.items()))


def report_describe(report: dict, what: str) -> str:
    """`what`, followed by where and when a committed benchmark report was measured."""
    p = report["provenance"]
    return (f"{what} measured on {p['device_name']}, {p['cpu']}; commit "
            f"{p['commit'][:10]}, {p['date'][:10]}")


def headlines(name: str, table) -> dict:
    """The verdicts a page draws from sweep `name`, computed by the course's rule from
    `table` (one row per run): `{label: noise.Comparison}`. The same labels for a quick
    table and a reference table, so that `agreement` can set them side by side."""
    import pandas as pd

    from .noise import compare, compare_runs

    def at(column, value):
        return table[table[column] == value]

    def per_seed(rows, metric):
        return dict(zip(rows["seed"], rows[metric]))

    if name == "hidden-batch":
        return {f"batch 16 against 64 at H = {H}":
                compare_runs(at("hidden_size", H), "batch_size", 16, 64)
                for H in sorted(table["hidden_size"].unique())}
    if name in ("batch-time", "lr", "steps"):
        by = {"batch-time": "batch_size", "lr": "lr", "steps": "num_steps"}[name]
        metric = "best_valid_ppl" if name == "batch-time" else "valid_ppl"
        values = sorted(table[by].unique())
        return {f"{by} = {v} against {by} = {values[0]}":
                compare_runs(table, by, v, values[0], metric) for v in values[1:]}
    if name == "overfit":
        return {f"final against best epoch, H = {H}, {L} layer(s)":
                compare(per_seed(g, "valid_ppl"), per_seed(g, "best_valid_ppl"))
                for (H, L), g in table.groupby(["hidden_size", "num_layers"])}
    if name == "dropout":
        return {f"dropout {d} against none":
                compare_runs(table, "dropout", d, 0.0, "best_valid_ppl")
                for d in sorted(table["dropout"].unique()) if d > 0}
    if name in ("ch7-cells-tokens", "ch7-cells-time"):
        return {f"{cell.upper()} against RNN":
                compare_runs(table, "cell", cell, "rnn", "best_valid_ppl")
                for cell in ("gru", "lstm")}
    if name == "ch2-inputs":
        one_hot = per_seed(table[table["embed_size"].isna()], "best_valid_ppl")
        return {f"embedding E = {int(e)} against one-hot":
                compare(per_seed(g, "best_valid_ppl"), one_hot)
                for e, g in table.groupby("embed_size") if not pd.isna(e)}
    raise ValueError(f"no headline verdicts are defined for the sweep {name!r}")


def cached_table(plan, seeds, device: str = "cpu", cache_dir=None):
    """The table of sweep `plan` as this machine's sweep cache holds it (what a page that
    ran `sweep(plan.base, plan.grid, seeds, name=plan.name)` left there), or None if any
    of its runs is missing. Trains nothing."""
    import pandas as pd

    from .sweep import _DEFAULT_CACHE, _run_key, code_fingerprint

    folder = Path(cache_dir or _DEFAULT_CACHE) / plan.name
    code, rows = code_fingerprint(), []
    for cfg in plan.configs():
        for seed in seeds:
            path = folder / f"{_run_key(cfg, seed, device, False, code)}.json"
            if not path.exists():
                return None
            rows.append(json.loads(path.read_text(encoding="utf-8")))
    return pd.DataFrame(rows)
