"""One run description (`RunConfig`) and one training step (`train_step`): every caller uses
them, one set of defaults, one place that validates."""

import dataclasses
import importlib
import random

import pytest
import torch

import rnnlab
from rnnlab import bench, cli, memory, sweep
from rnnlab.config import RunConfig
from rnnlab.models import RNNModel
from rnnlab.scratch import ScratchLM

train_module = importlib.import_module("rnnlab.train")   # rnnlab.train is the function


@pytest.mark.parametrize("field, bad, message", [
    ("cell", "transformer", "cell must be one of"),
    ("impl", "cuda", "impl must be one of"),
    ("hidden_size", 0, "hidden_size must be a positive integer"),
    ("num_layers", 1.5, "num_layers must be a positive integer"),
    ("embed_size", 0, "embed_size must be a positive integer"),
    ("dropout", 1.0, r"dropout must be in \[0, 1\)"),
    ("io_dropout", -0.1, r"io_dropout must be in \[0, 1\)"),
    ("batch_size", 0, "batch_size must be a positive integer"),
    ("num_steps", True, "num_steps must be a positive integer"),
    ("max_tokens", -5, "max_tokens must be a positive integer"),
    ("epochs", 0, "epochs must be a positive integer"),
    ("lr", 0, "lr must be positive"),
    ("optimizer", "rmsprop", "optimizer must be one of"),
    ("clip", -1, "clip must be positive or None"),
    ("weight_decay", -1, "weight_decay must be >= 0"),
    ("seed", 1.5, "seed must be an int"),
    ("max_seconds", 0, "max_seconds must be positive"),
    ("patience", 0, "patience must be a positive integer"),
    ("lr_decay", 1.0, r"lr_decay must be in \(0, 1\)"),
])
def test_every_field_is_checked_when_the_run_is_described(field, bad, message):
    with pytest.raises(ValueError, match=message):
        RunConfig(**{field: bad})
    with pytest.raises(ValueError, match=message):      # replace() checks too
        dataclasses.replace(RunConfig(), **{field: bad})


def test_combinations_are_checked():
    with pytest.raises(ValueError, match="needs max_seconds or patience"):
        RunConfig(epochs=None)
    with pytest.raises(ValueError, match="dropout needs impl='concise'"):
        RunConfig(impl="scratch", num_layers=2, dropout=0.2)
    RunConfig(epochs=None, max_seconds=1.0)              # a time budget alone is fine


def test_the_description_builds_its_model():
    assert isinstance(RunConfig(cell="gru").model(10), RNNModel)
    scratch = RunConfig(cell="lstm", impl="scratch", num_layers=2).model(10)
    assert isinstance(scratch, ScratchLM) and scratch.num_layers == 2
    # What each scratch cell trains with: the gated cells their hand backward, the RNN its
    # hoisted input and autograd's graph.
    assert scratch.backward_mode == "manual" and not scratch.hoist_input
    rnn = RunConfig(cell="rnn", impl="scratch").model(10)
    assert (rnn.backward_mode, rnn.hoist_input) == ("autograd", True)
    assert RunConfig(cell="gru", impl="scratch").model(10).backward_mode == "manual"
    assert RunConfig(embed_size=None).model(10).encoder.__class__.__name__ == "OneHot"


def test_one_set_of_defaults_everywhere():
    # The sweep describes its runs with the same class (no second set of defaults) ...
    assert sweep.RunConfig is RunConfig and rnnlab.RunConfig is RunConfig
    assert not hasattr(rnnlab, "TrainConfig") and not hasattr(train_module, "TrainConfig")
    # ... and the command line's flags default to its recipe, a RunConfig.
    assert isinstance(cli.RECIPE, RunConfig)
    args = cli._parser().parse_args(["train", "x.txt"])
    fixed = cli._fixed_config(args)
    assert fixed == dataclasses.replace(cli.RECIPE, epochs=cli._EPOCHS)
    # A flag given replaces its field, and only that one.
    args = cli._parser().parse_args(["train", "x.txt", "--hidden", "64", "--embed", "0"])
    assert cli._fixed_config(args) == dataclasses.replace(fixed, hidden_size=64,
                                                          embed_size=None)


def test_the_command_line_reports_runconfig_problems_with_its_flags():
    assert (cli._with_flags("dropout needs impl='concise' (x)")
            == "--dropout needs --impl concise (x)")
    assert cli._with_flags("io_dropout must be in [0, 1)") == "--io-dropout must be in [0, 1)"
    assert cli._with_flags("dropout must be in [0, 1)") == "--dropout must be in [0, 1)"


def test_every_loop_runs_the_one_training_step(monkeypatch):
    """train, fit, the speed benchmark and the memory measurement all call train_step."""
    calls = []
    real = train_module.train_step

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(train_module, "train_step", counting)
    monkeypatch.setattr(memory, "train_step", counting)
    assert memory.train_step is counting            # memory calls the name it imported
    torch.manual_seed(0)
    X = torch.randint(0, 6, (2, 5))
    data = rnnlab.load_text("abcde " * 400, batch_size=4, num_steps=8)
    model = RNNModel(len(data.vocab), 8)
    hist = rnnlab.train(model, data, RunConfig(epochs=1), show_progress=False)
    assert len(calls) == len(list(data.train_batches(random.Random(0)))) > 0
    calls.clear()
    rnnlab.fit(RNNModel(6, 4), X, X, steps=3)
    assert len(calls) == 3
    calls.clear()
    bench.compare_training_speed({"m": RNNModel(6, 4)}, X, X, repeats=2, warmup=1)
    assert len(calls) == 3
    calls.clear()
    m = RNNModel(6, 4)
    memory.training_memory(m, X, X, torch.optim.SGD(m.parameters(), lr=0.1))
    assert len(calls) == 1 and hist.epochs == 1


def test_the_step_clips_and_reports_the_norm_before_clipping():
    torch.manual_seed(0)
    model = RNNModel(6, 4)
    X = torch.randint(0, 6, (2, 5))
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    loss, norm, state = train_module.train_step(model, X, X, opt, clip=1e-3)
    grads = torch.cat([p.grad.flatten() for p in model.parameters()])
    assert norm.item() > 1e-3 and grads.norm().item() == pytest.approx(1e-3, rel=1e-4)
    assert loss.requires_grad is False and state.shape == (1, 2, 4)
