"""Small matplotlib helpers: every axis labelled, readable on the website."""

from __future__ import annotations

import matplotlib.pyplot as plt

from .train import History

METRIC_LABELS = {
    "train_ppl": "training perplexity",
    "valid_ppl": "validation perplexity",
    "tokens_per_s": "tokens per second",
    "grad_norm": "mean gradient norm (before clipping)",
}


def plot_histories(histories: dict[str, History], metrics=("train_ppl", "valid_ppl"),
                   logy: bool = False, title: str | None = None):
    """One panel per metric, one line per run, against the epoch number. Returns the figure."""
    if not histories:
        raise ValueError("plot_histories needs at least one History")
    unknown = [m for m in metrics if m not in METRIC_LABELS]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}: choose from {sorted(METRIC_LABELS)}")
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.5 * len(metrics), 3.6), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        for label, hist in histories.items():
            values = getattr(hist, metric)
            ax.plot(range(1, len(values) + 1), values, marker="o", label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel(METRIC_LABELS[metric])
        if logy:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
