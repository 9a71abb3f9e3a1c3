"""Checks for chapter 4, "Counting parameters": counts worked out by formula.

Each exercise asks for a function of the sizes; the check calls it on configurations the
page never shows and compares with PyTorch's own count of the real module, built here
(outside the student's call). While the student's function runs, every torch operation is
refused: building a module and summing `p.numel()` is what the exercise replaces. The usual
slips (one bias instead of two, a forgotten direction or gate block, layer 2 fed the input
size instead of the hidden size) get a message of their own.
"""

from __future__ import annotations

from torch import nn

from ..audit import forbid
from ..checks.explain import safe_repr
from ..checks.sandbox import call
from ..checks.verdict import Verdict, fail, run_check
from ..guard import freeze_loaded as _freeze_loaded
from ..models import num_params
from ..params import layer_input_sizes, layer_weight_count
from . import Exercise, declare, edit, title

NO_MODULES = forbid("this exercise asks for the count by formula, from the sizes alone "
                    "(building the module to count it is what it replaces)", any_op=True)


def _as_count(got, what: str) -> int:
    if got is None:
        fail(f"{what} returned None: did you forget `return`?")
    if isinstance(got, float) and got.is_integer():
        got = int(got)
    if isinstance(got, bool) or not isinstance(got, int):
        fail(f"{what} should return an int, got {type(got).__name__} ({safe_repr(got)}).")
    return got


def _expect_counts(fn, name: str, cases, build, slips, describe=None) -> str:
    """`fn(*sizes)` equals `num_params(build(*sizes))` for every case in `cases`;
    `describe(*sizes)` names the modules in a message (default: the module's repr)."""
    for sizes in cases:
        what = f"{name}({', '.join(map(repr, sizes))})"
        got = _as_count(call(fn, *sizes, name=name, forbidden=NO_MODULES), what)
        want = num_params(build(*sizes))
        if got == want:
            continue
        built = describe(*sizes) if describe else repr(build(*sizes))
        for slip, hint in slips(*sizes):
            if got == slip and slip != want:
                fail(f"{what} returned {got:,}, but {built} has {want:,}: {hint}")
        fail(f"{what} returned {got:,}, but {built} has {want:,} parameters "
             f"({'too many' if got > want else 'too few'}). Count each weight matrix "
             "(rows x columns) and each bias vector, layer by layer.")
    shown = ", ".join(f"{name}{sizes}" for sizes in cases)
    return f"matches sum(p.numel()) of the real modules for {shown}."


def _layers(cell: str, d: int, H: int, L: int, D: int = 1, biases: int = 2,
            feed_input: bool = False) -> int:
    sizes = [d] * L if feed_input else layer_input_sizes(d, H, L, D == 2)
    return sum(layer_weight_count(cell, d_l, H, biases, D) for d_l in sizes)


def check_count_rnn_lm(count_rnn_lm) -> Verdict:
    """Checks `count_rnn_lm(V, H)`: one-hot input over V tokens, `nn.RNN(V, H)`,
    then `nn.Linear(H, V)`."""
    def build(V, H):
        return nn.ModuleList([nn.RNN(V, H), nn.Linear(H, V)])

    def slips(V, H):
        rnn = V * H + H * H + 2 * H
        return [(V * H + H * H + H + H * V + V,
                 "that counts one bias vector; nn.RNN has two, bias_ih and bias_hh."),
                (rnn + H * V, "remember the output layer's bias (V values)."),
                (rnn, "include the output layer, nn.Linear(H, V)."),
                (V * V + rnn + H * V + V, "a one-hot input is fixed, not learned: there is "
                                          "no V x V table to count."),
                (rnn + H * H + H, "the output layer maps the H hidden units to V token "
                                  "scores: nn.Linear(H, V) has H*V weights and V biases, "
                                  "not H*H and H.")]

    def describe(V, H):
        return f"nn.RNN({V}, {H}) with nn.Linear({H}, {V})"
    return run_check(title("count_rnn_lm"), lambda: _expect_counts(
        count_rnn_lm, "count_rnn_lm", [(31, 17), (7, 90), (100, 3)], build, slips,
        describe))


def check_count_lstm(count_lstm) -> Verdict:
    """Checks `count_lstm(d, H, num_layers)`: `nn.LSTM(d, H, num_layers)`."""
    def build(d, H, L):
        return nn.LSTM(d, H, num_layers=L)

    def slips(d, H, L):
        return [(_layers("lstm", d, H, L, biases=1),
                 "that counts one bias per gate block; PyTorch has two (b_ih and b_hh)."),
                (_layers("rnn", d, H, L),
                 "an LSTM has 4 gate blocks (input, forget, cell, output), each with its "
                 "own weights and biases: multiply by 4."),
                (_layers("gru", d, H, L), "that is a GRU's count (3 gate blocks); an LSTM "
                                          "has 4."),
                (_layers("lstm", d, H, L, feed_input=True),
                 "layers 2 and up take the layer below's output (size H) as their input, "
                 "not the d inputs."),
                (_layers("lstm", d, H, 1),
                 f"there are {L} layers: count every one (layers 2 and up read size H)."),
                (_layers("lstm", d, H, L, biases=0) + L * H,
                 "that counts one bias vector of H per layer: each layer has two, b_ih and "
                 "b_hh, of 4H values each (one H-vector per gate block)."),
                (_layers("lstm", d, H, L, biases=0) + 2 * L * H,
                 "that counts two bias vectors of H per layer: b_ih and b_hh hold 4H values "
                 "each, one H-vector per gate block.")]
    return run_check(title("count_lstm"), lambda: _expect_counts(
        count_lstm, "count_lstm", [(13, 21, 2), (5, 8, 3), (40, 7, 1)], build, slips))


def check_count_gru(count_gru) -> Verdict:
    """Checks `count_gru(d, H, num_layers, bidirectional)`:
    `nn.GRU(d, H, num_layers, bidirectional=bidirectional)`."""
    def build(d, H, L, bi):
        return nn.GRU(d, H, num_layers=L, bidirectional=bi)

    def slips(d, H, L, bi):
        D = 2 if bi else 1
        return [(_layers("gru", d, H, L, 1),
                 "bidirectional means two independent copies of every layer: one per "
                 "direction (D = 2)."),
                (sum(layer_weight_count("gru", d_l, H, 2, D)
                     for d_l in layer_input_sizes(d, H, L, False)),
                 "layers 2 and up read both directions of the layer below: their input "
                 "size is D*H = 2H, not H."),
                (_layers("gru", d, H, L, D, feed_input=True),
                 "layers 2 and up take the layer below's output (D*H values) as input, not "
                 "the d inputs."),
                (_layers("gru", d, H, L, D, biases=1),
                 "that counts one bias per gate block; PyTorch has two (b_ih and b_hh)."),
                (_layers("rnn", d, H, L, D),
                 "a GRU has 3 gate blocks (reset, update, candidate): multiply by 3."),
                (_layers("lstm", d, H, L, D), "that is an LSTM's count (4 gate blocks); a "
                                              "GRU has 3."),
                (_layers("gru", d, D * H, L),
                 "bidirectional does not double the hidden size: it runs two copies of each "
                 "layer with H units, one per direction (D = 2), and layers 2 and up read "
                 "both, 2H inputs.")]
    return run_check(title("count_gru"), lambda: _expect_counts(
        count_gru, "count_gru", [(11, 19, 2, True), (6, 4, 3, True), (9, 14, 2, False)],
        build, slips))


# ---------------------------------------------------------------------------
# The chapter's exercises (see rnnlab.exercises)
# ---------------------------------------------------------------------------

_LM = "return rnn + output"

EXERCISES = declare(
    Exercise("4.1", "count_rnn_lm", check_count_rnn_lm, forbids=NO_MODULES,
             answered_by=("rnnlab.params", "rnnlab.models.num_params"), slips=(
        edit("+ 2 * H ", "+ H ", says="two, bias_ih and bias_hh"),
        edit(_LM, "return rnn", says="include the output layer"),
        edit("output = H * V + V ", "output = H * V ", says="output layer's bias"),
        edit("rnn = V * H ", "rnn = V * V + V * H ", says="no V x V table"),
        edit(_LM, "return str(rnn + output)", says="should return an int"),
        edit("output = H * V + V ", "output = H * H + H ", says="not H*H and H"),
        edit(_LM, f"{_LM} + 1", says="nn.RNN(31, 17) with nn.Linear(17, 31) has"),
    ), routes=(
        edit(_LM, "return sum(p.numel() for m in (nn.RNN(V, H), nn.Linear(H, V))\n"
                  "               for p in m.parameters())", says="a torch operation"),
    )),
    Exercise("4.2", "count_lstm", check_count_lstm, forbids=NO_MODULES,
             answered_by=("rnnlab.params", "rnnlab.models.num_params"), slips=(
        edit("+ 2 * H)", "+ H)", says="PyTorch has two (b_ih and b_hh)"),
        edit("total += 4 * ", "total += ", says="4 gate blocks"),
        edit("total += 4 * ", "total += 3 * ", says="that is a GRU's count"),
        edit("d_l = d if layer == 0 else H", "d_l = d", says="not the d inputs"),
        edit("range(num_layers)", "range(1)", says="count every one"),
        edit({"+ 2 * H)": ")", "    return total": "        total += H\n    return total"},
             says="one bias vector of H per layer"),
        edit({"+ 2 * H)": ")", "    return total": "        total += 2 * H\n    return total"},
             says="two bias vectors of H per layer"),
    ), routes=(
        edit("    return total", "    return sum(p.numel() for p in nn.LSTM(d, H, num_layers)"
                                   ".parameters())", says="a torch operation"),
    )),
    Exercise("4.3", "count_gru", check_count_gru, forbids=NO_MODULES,
             answered_by=("rnnlab.params", "rnnlab.models.num_params"), slips=(
        edit("D = 2 if bidirectional else 1", "D = 1", says="one per direction"),
        edit("else D * H", "else H", says="not H"),
        edit("d_l = d if layer == 0 else D * H", "d_l = d", says="not the d inputs"),
        edit("+ 2 * H)", "+ H)", says="PyTorch has two (b_ih and b_hh)"),
        edit("D * 3 * ", "D * ", says="3 gate blocks"),
        edit({"D = 2 if bidirectional else 1": "D = 2 if bidirectional else 1\n    H = D * H",
              "total += D * 3": "total += 3", "else D * H": "else H"},
             says="does not double the hidden size"),
        edit("    return total", "    return total + 0.5", says="should return an int"),
    ), routes=(
        edit("    return total", "    return sum(p.numel() for p in nn.GRU(\n        d, H, "
                                   "num_layers, bidirectional=bidirectional).parameters())",
             says="a torch operation"),
    )),
)

_freeze_loaded(__name__)   # the checker's names cannot be changed from here on
