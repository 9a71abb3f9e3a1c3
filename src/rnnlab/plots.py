"""Small matplotlib helpers: every axis labelled, readable on the website."""

from __future__ import annotations

import matplotlib.pyplot as plt

from .train import History

_METRIC_LABELS = {
    "train_ppl": "training perplexity",
    "train_eval_ppl": "training perplexity (eval mode)",
    "valid_ppl": "validation perplexity",
    "tokens_per_s": "tokens per second",
    "grad_norm": "mean gradient norm (before clipping)",
}


_BASELINE_STYLES = {"uniform": ":", "unigram": "-.", "bigram": "--"}


def _draw_baselines(ax, baselines: dict[str, float] | None) -> None:
    """Horizontal reference lines, e.g. `rnnlab.baseline_perplexities(data)`, labelled."""
    for name, value in (baselines or {}).items():
        ax.axhline(value, color="grey", lw=1, ls=_BASELINE_STYLES.get(name, "--"),
                   label=f"{name} baseline ({value:.2f})")


def plot_histories(histories: dict[str, History], metrics=("train_ppl", "valid_ppl"),
                   logy: bool = False, title: str | None = None,
                   baselines: dict[str, float] | None = None):
    """One panel per metric, one line per run, against the epoch number. Returns the figure.

    `baselines` (e.g. `rnnlab.baseline_perplexities(data)`) are drawn as grey lines on the
    perplexity panels.
    """
    if not histories:
        raise ValueError("plot_histories needs at least one History")
    unknown = [m for m in metrics if m not in _METRIC_LABELS]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}: choose from {sorted(_METRIC_LABELS)}")
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.5 * len(metrics), 3.6), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        for label, hist in histories.items():
            values = getattr(hist, metric)
            ax.plot(range(1, len(values) + 1), values, marker="o", label=label)
        if metric.endswith("_ppl"):
            _draw_baselines(ax, baselines)
        ax.set_xlabel("epoch")
        ax.set_ylabel(_METRIC_LABELS[metric])
        if logy:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_sweep_curves(table, by: str, ax=None, metric: str = "valid_curve",
                      ylabel: str = "validation perplexity",
                      baselines: dict[str, float] | None = None, legend: str | None = None):
    """Mean curve per value of `by` against tokens seen, with a band from min to max
    over seeds. `table` is `rnnlab.sweep.sweep`'s output. Each line's legend entry is
    `legend` if given (e.g. "training", to draw two metrics on one axes), else
    `"<by>=<value>"`. Returns the axes."""
    import numpy as np

    if by not in table.columns:
        raise ValueError(f"column {by!r} is not in the sweep table")
    ax = ax or plt.subplots(figsize=(6, 3.8))[1]
    for value, group in table.groupby(by, sort=True):
        n = min(len(c) for c in group[metric])           # equal-time runs may differ
        curves = np.array([c[:n] for c in group[metric]])
        tokens = np.array(group["tokens_curve"].iloc[0][:n]) / 1e3
        name = legend if legend is not None else f"{by}={value}"
        line, = ax.plot(tokens, curves.mean(0), marker="o", ms=3, label=name)
        ax.fill_between(tokens, curves.min(0), curves.max(0), color=line.get_color(),
                        alpha=0.2)
    _draw_baselines(ax, baselines)
    ax.set_xlabel("training tokens seen (thousands)")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return ax


def plot_metric_vs(table, x: str, hue: str | None = None, metric: str = "valid_ppl",
                   ax=None, ylabel: str = "final validation perplexity",
                   baselines: dict[str, float] | None = None):
    """Mean of `metric` over seeds against hyperparameter `x` (one line per `hue`), with
    error bars of one standard deviation. Returns the axes."""
    for col in [x, metric] + ([hue] if hue else []):
        if col not in table.columns:
            raise ValueError(f"column {col!r} is not in the sweep table")
    ax = ax or plt.subplots(figsize=(6, 3.8))[1]
    groups = table.groupby(hue) if hue else [(None, table)]
    for value, group in groups:
        stats = group.groupby(x)[metric].agg(["mean", "std"]).reset_index()
        ax.errorbar(stats[x], stats["mean"], yerr=stats["std"].fillna(0), marker="o",
                    capsize=3, label=None if hue is None else f"{hue}={value}")
    _draw_baselines(ax, baselines)
    ax.set_xlabel(x)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if hue or baselines:
        ax.legend(fontsize=8)
    return ax
