"""Checks for chapter 4, "Counting parameters": counts worked out by hand.

Each check compares the student's number with PyTorch's own count of a real module, and
recognises the usual slips (one bias instead of two, a forgotten direction or gate block,
layer 2 fed the input size instead of the hidden size).
"""

from __future__ import annotations

from torch import nn

from ..checks import Verdict, fail, run_check, safe_repr
from ..models import num_params
from ..params import layer_input_sizes, layer_weights


def _expect_count(got, module: nn.Module, what: str, slips: dict[int, str]) -> str:
    if got is None:
        fail("not attempted yet: replace None with your count (an int, or an expression "
             "such as 4 * (3 * 5 + 5 * 5 + 2 * 5)), run that cell, then run this check.")
    if isinstance(got, float) and got.is_integer():
        got = int(got)
    if isinstance(got, bool) or not isinstance(got, int):
        fail(f"your count should be an int, got {type(got).__name__} ({safe_repr(got)}).")
    want = num_params(module)
    if got == want:
        return f"{got:,} parameters, as sum(p.numel()) counts for {what}."
    if got in slips:
        fail(f"{got:,} is not the count for {what}: {slips[got]}")
    fail(f"{what} has a different number of parameters than {got:,} "
         f"({'too many' if got > want else 'too few'}). Count each weight matrix "
         "(rows x columns) and each bias vector, layer by layer.")


def _layer(cell: str, d: int, H: int, layer: int, D: int, biases: int) -> int:
    """Layer `layer` (from 0) of a stack whose input size is `d`."""
    d_l = layer_input_sizes(d, H, layer + 1, D == 2)[layer]
    return layer_weights(cell, d_l, H, biases, D)


def check_count_rnn(count) -> Verdict:
    """Exercise 4.1: one-hot input V=28, nn.RNN(28, 64), then nn.Linear(64, 28)."""
    V, H = 28, 64
    module = nn.ModuleList([nn.RNN(V, H), nn.Linear(H, V)])
    one_bias = V * H + H * H + H + H * V + V
    slips = {one_bias: "that counts one bias vector; nn.RNN has two, bias_ih and bias_hh.",
             one_bias - V: "remember the output layer's bias (Q values).",
             V * H + H * H + 2 * H: "include the output layer, nn.Linear(64, 28).",
             V * H + H * H + 2 * H + H * V: "the output layer has a bias of 28 values too."}
    return run_check("Exercise 4.1 (RNN language model)", lambda: _expect_count(
        count, module, "nn.RNN(28, 64) + nn.Linear(64, 28)", slips))


def check_count_lstm(count) -> Verdict:
    """Exercise 4.2: nn.LSTM(input_size=32, hidden_size=100, num_layers=2)."""
    d, H = 32, 100
    module = nn.LSTM(d, H, num_layers=2)
    slips = {
        sum(_layer("lstm", d, H, l, 1, 1) for l in range(2)):
            "that counts one bias per gate block; PyTorch has two (b_ih and b_hh).",
        sum(_layer("rnn", d, H, l, 1, 2) for l in range(2)):
            "an LSTM has 4 gate blocks (input, forget, cell, output), each with its own "
            "weights and biases: multiply by 4.",
        2 * _layer("lstm", d, H, 0, 1, 2):
            "layer 2 takes layer 1's output (size H = 100) as its input, not the 32 inputs.",
        _layer("lstm", d, H, 0, 1, 2):
            "there are two layers: add the second one (its input size is H).",
    }
    return run_check("Exercise 4.2 (two-layer LSTM)", lambda: _expect_count(
        count, module, "nn.LSTM(32, 100, num_layers=2)", slips))


def check_count_bigru(count) -> Verdict:
    """Exercise 4.3: nn.GRU(10, 20, num_layers=2, bidirectional=True)."""
    d, H = 10, 20
    module = nn.GRU(d, H, num_layers=2, bidirectional=True)
    slips = {
        sum(_layer("gru", d, H, l, 1, 2) for l in range(2)):
            "bidirectional means two independent copies of every layer: one per direction.",
        _layer("gru", d, H, 0, 2, 2) + 2 * 3 * (H * H + H * H + 2 * H):
            "layer 2 reads both directions of layer 1: its input size is 2H = 40, not H.",
        _layer("gru", d, H, 0, 2, 2) + 2 * 3 * (d * H + H * H + 2 * H):
            "layer 2 takes layer 1's output (2H = 40 values) as input, not the 10 inputs.",
        sum(_layer("gru", d, H, l, 2, 1) for l in range(2)):
            "that counts one bias per gate block; PyTorch has two (b_ih and b_hh).",
        sum(_layer("rnn", d, H, l, 2, 2) for l in range(2)):
            "a GRU has 3 gate blocks (reset, update, candidate): multiply by 3.",
    }
    return run_check("Exercise 4.3 (bidirectional GRU)", lambda: _expect_count(
        count, module, "nn.GRU(10, 20, num_layers=2, bidirectional=True)", slips))
