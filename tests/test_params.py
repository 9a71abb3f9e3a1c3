"""The parameter formulas (rnnlab.params) agree with PyTorch's own count."""

import itertools

import pytest
from torch import nn

from rnnlab import RNNModel, RNNScratch, num_params
from rnnlab.params import LMSpec, count_lm, recurrent_params

CELLS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}
GRID = list(itertools.product(["rnn", "gru", "lstm"], [1, 7], [3, 16], [1, 2, 3],
                              [False, True]))   # 3 * 2 * 2 * 3 * 2 = 72 layer stacks


@pytest.mark.parametrize("cell, d, H, L, bi", GRID)
def test_recurrent_formula_matches_torch(cell, d, H, L, bi):
    layer = CELLS[cell](d, H, num_layers=L, bidirectional=bi)
    assert recurrent_params(cell, d, H, L, bi) == num_params(layer)


LM_GRID = list(itertools.product(["rnn", "gru", "lstm"], [None, 5], [4, 9], [1, 2],
                                 [False, True]))   # 48 language models


@pytest.mark.parametrize("cell, E, H, L, bi", LM_GRID)
def test_language_model_formula_matches_torch(cell, E, H, L, bi):
    V = 13
    model = RNNModel(V, H, num_layers=L, cell=cell, embed_size=E, bidirectional=bi)
    count = count_lm(LMSpec(V, H, L, cell, E, bi))
    assert count.total == num_params(model)
    assert count.embedding == (num_params(model.encoder) if E else 0)
    assert count.output == num_params(model.output)


@pytest.mark.parametrize("L", [1, 2, 3])
@pytest.mark.parametrize("E", [None, 6])
def test_one_bias_formula_matches_the_hand_made_model(L, E):
    model = RNNScratch(11, 8, num_layers=L, embed_size=E)
    assert count_lm(LMSpec(11, 8, L, "rnn", E), biases=1).total == num_params(model)


def test_seed_002_example_40_by_hand_46_in_pytorch():
    spec = LMSpec(vocab_size=1, hidden_size=3, num_layers=2, output_size=1)
    assert count_lm(spec, biases=1).total == 40
    assert count_lm(spec, biases=2).total == 46
    net = nn.ModuleList([nn.RNN(1, 3, num_layers=2), nn.Linear(3, 1)])
    assert num_params(net) == 46


def test_bytes_and_macs():
    count = count_lm(LMSpec(28, 256, embed_size=32))
    assert count.bytes("fp32") == 4 * count.total and count.bytes("bf16") == 2 * count.total
    assert count.macs_per_token == 32 * 256 + 256 * 256 + 256 * 28
    with pytest.raises(ValueError, match="dtype"):
        count.bytes("int3")


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="cell must be one of"):
        recurrent_params("transformer", 3, 4)
    with pytest.raises(ValueError, match="biases must be 1"):
        recurrent_params("rnn", 3, 4, biases=3)
    with pytest.raises(ValueError, match="hidden_size"):
        recurrent_params("rnn", 3, 0)
    with pytest.raises(ValueError, match="embed_size"):
        count_lm(LMSpec(5, 4, embed_size=0))
