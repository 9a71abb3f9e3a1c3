import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

from rnnlab import History  # noqa: E402
from rnnlab.plots import plot_histories, plot_metric_vs, plot_sweep_curves  # noqa: E402
from rnnlab.sweep import RunConfig, sweep  # noqa: E402


def test_plot_histories_labels_axes():
    h = History(train_ppl=[3, 2], valid_ppl=[4, 3], tokens_per_s=[1, 1], seconds=[1, 1],
                grad_norm=[1, 1], tokens_seen=[10, 20])
    fig = plot_histories({"a": h})
    assert [ax.get_ylabel() for ax in fig.axes] == ["training perplexity",
                                                     "validation perplexity"]
    with pytest.raises(ValueError, match="unknown metric"):
        plot_histories({"a": h}, metrics=("loss",))
    with pytest.raises(ValueError, match="at least one"):
        plot_histories({})


def test_sweep_plots(tmp_path):
    base = RunConfig(hidden_size=4, embed_size=4, batch_size=4, num_steps=8, epochs=2,
                     max_tokens=2_000)
    table = sweep(base, {"hidden_size": [4, 6]}, seeds=[0, 1], cache_dir=tmp_path,
                  device=torch.device("cpu"), show_progress=False)
    ax = plot_sweep_curves(table, "hidden_size")
    assert len(ax.get_lines()) == 2 and "tokens" in ax.get_xlabel()
    ax = plot_metric_vs(table, "hidden_size")
    assert ax.get_xlabel() == "hidden_size"
    with pytest.raises(ValueError, match="not in the sweep table"):
        plot_metric_vs(table, "layers")


def test_baselines_are_drawn_as_labelled_reference_lines():
    h = History(train_ppl=[3, 2], valid_ppl=[4, 3], tokens_per_s=[1, 1], seconds=[1, 1],
                grad_norm=[1, 1], tokens_seen=[10, 20])
    fig = plot_histories({"a": h}, metrics=("valid_ppl", "grad_norm"),
                         baselines={"uniform": 28.0, "bigram": 12.5})
    ppl_ax, norm_ax = fig.axes
    labels = [line.get_label() for line in ppl_ax.get_lines()]
    assert "bigram baseline (12.50)" in labels and "uniform baseline (28.00)" in labels
    assert len(norm_ax.get_lines()) == 1          # not on a panel that is no perplexity


def test_sweep_curves_take_a_legend_entry_and_a_y_label(tmp_path):
    base = RunConfig(hidden_size=4, embed_size=4, batch_size=4, num_steps=8, epochs=2,
                     max_tokens=2_000)
    table = sweep(base, {"hidden_size": [4, 6]}, seeds=[0], cache_dir=tmp_path,
                  device=torch.device("cpu"), show_progress=False)
    ax = plot_sweep_curves(table, "hidden_size", metric="train_eval_curve", legend="training",
                           ylabel="perplexity")
    plot_sweep_curves(table, "hidden_size", metric="valid_curve", legend="validation", ax=ax)
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels.count("training") == 2 and labels.count("validation") == 2
    assert plot_metric_vs(table, "hidden_size", ylabel="gap").get_ylabel() == "gap"
