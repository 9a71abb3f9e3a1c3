"""Checks for chapter 7, "Gated cells": a GRU step, an LSTM step, and a question on gates.

References come from `nn.GRUCell` / `nn.LSTMCell` with the same weights, computed outside
the student's call; while it runs, PyTorch's recurrent cells (by any entry point) and the
package's own steps and models are refused.
"""

from __future__ import annotations

import torch
from torch import nn

from ..audit import RECURRENT_OPS, forbid
from ..cells import gru_step
from ..checks.expect import as_pair, as_scalar, expect_gradients, expect_tensor, slipped
from ..checks.explain import SHAPES, error_hint
from ..checks.sandbox import call
from ..checks.verdict import Verdict, fail, run_check
from ..guard import freeze_loaded as _freeze_loaded
from ..guard import generator as _generator
from . import Exercise, declare, edit, title

NO_GRU = forbid("this exercise asks you to compute the GRU step yourself", ops=RECURRENT_OPS)
NO_LSTM = forbid("this exercise asks you to compute the LSTM step yourself", ops=RECURRENT_OPS)


def _weights(d: int, H: int, g: int, gen: torch.Generator):
    return (0.5 * torch.randn(d, g * H, generator=gen), 0.5 * torch.randn(H, g * H, generator=gen),
            0.5 * torch.randn(g * H, generator=gen), 0.5 * torch.randn(g * H, generator=gen))


def _cell(cls, W_xh, W_hh, b_xh, b_hh):
    d, H = W_xh.shape[0], W_hh.shape[0]
    cell = cls(d, H)
    with torch.no_grad():
        cell.weight_ih.copy_(W_xh.T)
        cell.weight_hh.copy_(W_hh.T)
        cell.bias_ih.copy_(b_xh)
        cell.bias_hh.copy_(b_hh)
    return cell


def _gru_slip(x, h, W_xh, W_hh, b_xh, b_hh, slip: str):
    """A GRU step with one slip: "activations swapped" (tanh for the gates, sigmoid for the
    candidate), "b_hn outside r", or "no b_hh"."""
    H = h.shape[1]
    gx, gh = x @ W_xh + b_xh, h @ W_hh + (0 if slip == "no b_hh" else b_hh)
    gate, cand = (torch.tanh, torch.sigmoid) if slip == "activations swapped" else \
        (torch.sigmoid, torch.tanh)
    r = gate(gx[:, :H] + gh[:, :H])
    z = gate(gx[:, H:2 * H] + gh[:, H:2 * H])
    if slip == "b_hn outside r":
        n = cand(gx[:, 2 * H:] + r * (h @ W_hh[:, 2 * H:]) + b_hh[2 * H:])
    else:
        n = cand(gx[:, 2 * H:] + r * gh[:, 2 * H:])
    return (1 - z) * n + z * h


_GRU_SLIPS = {
    "activations swapped": "swaps the activations: the gates r and z go through a sigmoid "
                           "(values in (0, 1)), the candidate n through tanh.",
    "b_hn outside r": "adds b_hn outside the reset gate: PyTorch's GRU multiplies r with "
                      "the whole of (h W_hn + b_hn), bias included, n = tanh(x W_in + b_in "
                      "+ r * (h W_hn + b_hn)). This is the point where it differs from the "
                      "textbook GRU.",
    "no b_hh": "leaves out b_hh: PyTorch's GRU adds both biases, b_ih (here b_xh) and b_hh, "
               "to every block.",
}


def _lstm_slip(x, h, c, W_xh, W_hh, b_xh, b_hh, slip: str):
    """An LSTM step with one slip: "g through sigmoid", "no b_hh", "h from the old c"."""
    H = h.shape[1]
    a = x @ W_xh + b_xh + h @ W_hh + (0 if slip == "no b_hh" else b_hh)
    i, f, o = torch.sigmoid(a[:, :H]), torch.sigmoid(a[:, H:2 * H]), torch.sigmoid(a[:, 3 * H:])
    g = (torch.sigmoid if slip == "g through sigmoid" else torch.tanh)(a[:, 2 * H:3 * H])
    new_c = f * c + i * g
    return o * torch.tanh(c if slip == "h from the old c" else new_c), new_c


_LSTM_SLIPS = {
    "g through sigmoid": "puts the candidate g through a sigmoid: g is new content, in "
                         "(-1, 1), so it goes through tanh; only the gates i, f, o use a "
                         "sigmoid.",
    "no b_hh": "leaves out b_hh: PyTorch's LSTM adds both biases, b_ih (here b_xh) and "
               "b_hh, to every block.",
    "h from the old c": "computes h from the old cell state: first c' = f * c + i * g, then "
                        "h' = o * tanh(c'), with the new c'.",
}


def _blocks_hint(blocks: int):
    """What a product whose shapes do not fit means for a cell with `blocks` gate blocks."""
    return error_hint(*SHAPES, "mismatch", says=(
        f"W_xh is (d, {blocks}H) and W_hh (H, {blocks}H): x @ W_xh and h @ W_hh give every "
        f"block at once, (B, {blocks}H), and block k is the columns [:, k*H:(k+1)*H]. Slice "
        "the blocks after the product, not the inputs."))


def _swap_blocks(weights, H: int, order):
    """The weights with their gate blocks (each H columns) put in another `order`."""
    def blocks(w):
        return torch.cat([w[..., k * H:(k + 1) * H] for k in order], -1)
    return tuple(blocks(w) for w in weights)


def check_gru_step(gru_step_fn) -> Verdict:
    """Checks `gru_step(x, h, W_xh, W_hh, b_xh, b_hh)` -> h' (B, H), PyTorch's GRU."""
    def body():
        cases = [(1, 3, 2, 0), (4, 3, 5, 1), (2, 6, 4, 2)]       # (B, d, H, seed)
        for B, d, H, seed in cases:
            gen = _generator(700 + seed)
            weights = _weights(d, H, 3, gen)
            x, h = torch.randn(B, d, generator=gen), torch.randn(B, H, generator=gen)
            got = call(gru_step_fn, x.clone(), h.clone(), *(w.clone() for w in weights),
                       name="gru_step", forbidden=NO_GRU, on_error=_blocks_hint(3))
            with torch.no_grad():                              # the references, after it
                want = _cell(nn.GRUCell, *weights)(x, h)
                d2l = gru_step(x, h, *weights, reset_before=True)
            what = f"gru_step(x ({B}, {d}), h ({B}, {H}), ...)"
            with torch.no_grad():
                wrong_order = _cell(nn.GRUCell, *_swap_blocks(weights, H, (1, 0, 2)))(x, h)
                candidate_first = _cell(nn.GRUCell, *_swap_blocks(weights, H, (1, 2, 0)))(x, h)
            z = torch.sigmoid(x @ weights[0][:, H:2 * H] + weights[2][H:2 * H]
                              + h @ weights[1][:, H:2 * H] + weights[3][H:2 * H])
            n = (want - z * h) / (1 - z)
            slips = [(wrong_order, "takes the gates in the order (z, r, n): PyTorch stacks the "
                                   "GRU's blocks as (r, z, n), reset first, so W[:, :H] is "
                                   "the reset gate's."),
                     (candidate_first, "takes the candidate's block first, (n, r, z): PyTorch "
                                       "stacks the GRU's blocks as (r, z, n), the candidate "
                                       "last, so W[:, 2H:] is the candidate's."),
                     *[(_gru_slip(x, h, *weights, slip), hint)
                       for slip, hint in _GRU_SLIPS.items()],
                     (torch.tanh(x @ weights[0][:, 2 * H:] + weights[2][2 * H:]
                                 + h @ weights[1][:, 2 * H:] + weights[3][2 * H:]),
                      "returns the candidate n only: mix it with the old state, h' = "
                         "(1 - z) * n + z * h."),
                     (d2l, "applies the reset gate before the product, (r * h) W_hn, as d2l "
                           "does; PyTorch's GRU multiplies r with (h W_hn + b_hn)."),
                     (z * n + (1 - z) * h, "swaps the roles of z: PyTorch's GRU keeps z of "
                                           "the old state, h' = (1 - z) * n + z * h.")]
            named = [hint for slip, hint in slips if slipped(got, slip, want)]
            if len(named) == 1:
                fail(f"{what} {named[0]}")
            if named:           # two slips that give the same values on these inputs
                fail(f"{what} has what either of two slips gives on these inputs: it "
                     f"{named[0]} Or it {named[1]}")
            expect_tensor(got, want, what)
        return f"matches nn.GRUCell on {len(cases)} cases."
    return run_check(title("gru_step"), body)


def _plain_sum(x, h, c, weights, H: int):
    """c + i * g: the cell update with the forget gate left out."""
    W_xh, W_hh, b_xh, b_hh = weights
    a = x @ W_xh + b_xh + h @ W_hh + b_hh
    i, g = torch.sigmoid(a[:, :H]), torch.tanh(a[:, 2 * H:3 * H])
    return c + i * g


def check_lstm_step(lstm_step_fn) -> Verdict:
    """Checks `lstm_step(x, h, c, W_xh, W_hh, b_xh, b_hh)` -> (h', c')."""
    def body():
        cases = [(1, 3, 2, 0), (4, 3, 5, 1), (2, 6, 4, 2)]
        for B, d, H, seed in cases:
            gen = _generator(720 + seed)
            weights = _weights(d, H, 4, gen)
            x = torch.randn(B, d, generator=gen)
            h, c = torch.randn(B, H, generator=gen), torch.randn(B, H, generator=gen)
            got = call(lstm_step_fn, x.clone(), h.clone(), c.clone(),
                       *(w.clone() for w in weights), name="lstm_step", forbidden=NO_LSTM,
                       on_error=_blocks_hint(4))
            with torch.no_grad():                              # the reference, after it
                want_h, want_c = _cell(nn.LSTMCell, *weights)(x, (h, c))
            what = f"lstm_step(x ({B}, {d}), h ({B}, {H}), c ({B}, {H}), ...)"
            got_h, got_c = as_pair(got, what, "(h, c)")
            for slip, hint in _LSTM_SLIPS.items():
                slip_h, slip_c = _lstm_slip(x, h, c, *weights, slip)
                if slipped((got_h, got_c), (slip_h, slip_c), (want_h, want_c)):
                    fail(f"{what} {hint}")
            for order, named in [((0, 1, 3, 2), "(i, f, o, g)"), ((1, 0, 2, 3), "(f, i, g, o)"),
                                 ((0, 2, 1, 3), "(i, g, f, o)")]:
                with torch.no_grad():
                    wrong_h, wrong_c = _cell(nn.LSTMCell, *_swap_blocks(weights, H, order))(
                        x, (h, c))
                if slipped(got_c, wrong_c, want_c) or slipped(got_h, wrong_h, want_h):
                    fail(f"{what} takes the gates in the order {named}: PyTorch stacks the "
                         "LSTM's blocks as (i, f, g, o): input, forget, cell candidate, "
                         "output.")
            if slipped(got_c, _plain_sum(x, h, c, weights, H), want_c):
                fail(f"c of {what} adds i * g to c without the forget gate: c' = f * c + "
                     "i * g.")
            if slipped(got_h, want_c, want_h):
                fail(f"{what} returns (c, h): the order is (h, c).")
            expect_tensor(got_c, want_c, f"c of {what}")
            o = want_h / torch.tanh(want_c)
            if slipped(got_h, o * want_c, want_h):
                fail(f"h of {what} is o * c: the output gate multiplies tanh(c).")
            expect_tensor(got_h, want_h, f"h of {what}")
        return f"matches nn.LSTMCell on {len(cases)} cases (h and c)."
    return run_check(title("lstm_step"), body)


def check_pass_through(answer) -> Verdict:
    """Checks `(forget, input)` gate values that carry the cell state unchanged."""
    def body():
        if answer is None:
            fail("not attempted yet: set `pass_through = (forget, input)`, two numbers, run "
                 "that cell, then run this check.")
        if not isinstance(answer, (tuple, list)) or len(answer) != 2:
            fail(f"give a pair (forget, input), got {type(answer).__name__}.")
        f = as_scalar(answer[0], "the forget gate value")
        i = as_scalar(answer[1], "the input gate value")
        if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in (f, i)):
            fail(f"give two numbers (forget, input), got {type(f).__name__} and "
                 f"{type(i).__name__}.")
        c, g = torch.tensor([0.7, -1.3, 2.0]), torch.tensor([0.9, 0.1, -0.5])
        new_c = f * c + i * g
        if not 0 <= f <= 1 or not 0 <= i <= 1:
            fail("gate values come out of a sigmoid: each lies between 0 and 1.")
        if torch.allclose(new_c, c):
            return ("c_t = c_{t-1} exactly: the cell state passes through unchanged, and "
                    "the gradient dc_t/dc_{t-1}, the forget gate itself, neither shrinks nor "
                    "grows.")
        if f == 0 and i == 1:
            fail("that replaces the cell state by the candidate g: c_t = g_t. To keep c, "
                 "the forget gate must keep it and the input gate add nothing.")
        fail(f"with forget = {f:g} and input = {i:g}, c_t = {f:g} c + {i:g} g, which changes c "
             "(e.g. c = 0.7 becomes " + f"{float(new_c[0]):.3g}" + ").")
    return run_check(title("pass_through"), body)


# ---------------------------------------------------------------------------
# coupled_lstm_step: a coupled-gate LSTM step (a new cell from the parts of the LSTM)
# ---------------------------------------------------------------------------

NO_CELLS = forbid("this exercise asks you to compute the coupled step yourself",
                  ops=RECURRENT_OPS)


def _coupled_reference(x, h, c, W_xh, W_hh, b_xh, b_hh):
    """nn.LSTMCell with the input gate's weights set to minus the forget gate's:
    sigmoid(-a) = 1 - sigmoid(a), so PyTorch's own cell computes i = 1 - f exactly."""
    H = h.shape[1]

    def four(w):      # (f, g, o) -> PyTorch's (i, f, g, o) with i's block = -f's
        f, g, o = w[..., :H], w[..., H:2 * H], w[..., 2 * H:]
        return torch.cat([-f, f, g, o], -1)
    with torch.no_grad():
        return _cell(nn.LSTMCell, four(W_xh), four(W_hh), four(b_xh), four(b_hh))(x, (h, c))


def check_coupled_lstm_step(coupled_lstm_step) -> Verdict:
    """Checks `coupled_lstm_step(x, h, c, W_xh, W_hh, b_xh, b_hh)` -> `(h, c)` for an
    LSTM whose input gate is tied to its forget gate, i = 1 - f: three blocks (f, g, o) of
    H columns each, `W_xh (d, 3H)`, `W_hh (H, 3H)`, biases `(3H,)`."""
    def body():
        for B, d, H, seed in [(1, 3, 2, 0), (4, 3, 5, 1), (2, 6, 4, 2)]:
            gen = _generator(740 + seed)
            weights = _weights(d, H, 3, gen)
            x = torch.randn(B, d, generator=gen)
            h, c = torch.randn(B, H, generator=gen), torch.randn(B, H, generator=gen)
            got = call(coupled_lstm_step, x.clone(), h.clone(), c.clone(),
                       *(w.clone() for w in weights), name="coupled_lstm_step",
                       forbidden=NO_CELLS, on_error=_blocks_hint(3))
            want_h, want_c = _coupled_reference(x, h, c, *weights)    # after the call
            what = f"coupled_lstm_step(x ({B}, {d}), h ({B}, {H}), c ({B}, {H}), ...)"
            got_h, got_c = as_pair(got, what, "(h, c)")
            W_xh, W_hh, b_xh, b_hh = weights
            a = x @ W_xh + b_xh + h @ W_hh + b_hh
            f, g, o = (torch.sigmoid(a[:, :H]), torch.tanh(a[:, H:2 * H]),
                       torch.sigmoid(a[:, 2 * H:]))
            for order, named in [((1, 0, 2), "(g, f, o)"), ((0, 2, 1), "(f, o, g)"),
                                 ((2, 0, 1), "(o, f, g)")]:
                wrong_h, wrong_c = _coupled_reference(x, h, c, *_swap_blocks(weights, H, order))
                if slipped(got_c, wrong_c, want_c):
                    fail(f"{what} takes the blocks in the order {named}: this exercise "
                         "stacks them as (f, g, o), forget first, candidate in the middle.")
            slips = [(f * c + (1 - f) * torch.sigmoid(a[:, H:2 * H]),
                      "puts the candidate g through a sigmoid: g is new content, in (-1, 1), "
                      "so it goes through tanh; the gates f and o use a sigmoid."),
                     (f * c + f * g, "uses the forget gate as the input gate too (i = f): "
                                     "coupling means i = 1 - f, so what is forgotten is "
                                     "what is let in."),
                     (f * c + g, "adds all of g (i = 1): the input gate is 1 - f."),
                     ((1 - f) * c + f * g, "swaps the roles: f multiplies the old cell "
                                           "state, 1 - f the candidate g.")]
            if slipped(got_c, c, want_c):
                fail(f"c of {what} is the cell state it was given: compute the step, "
                     "c' = f * c + (1 - f) * g.")
            for slip, hint in slips:
                if slipped(got_c, slip, want_c):
                    fail(f"c of {what} {hint}")
            if slipped((got_h, got_c), (want_c, want_h), (want_h, want_c)):
                fail(f"{what} returns (c, h): the order is (h, c).")
            expect_tensor(got_c, want_c, f"c of {what}")
            if slipped(got_h, o * want_c, want_h):
                fail(f"h of {what} is o * c: the output gate multiplies tanh(c).")
            expect_tensor(got_h, want_h, f"h of {what}")
        return ("matches nn.LSTMCell with its input gate tied to 1 - forget, on 3 cases: a "
                "cell with a quarter fewer gate weights.")
    return run_check(title("coupled_lstm_step"), body)


# ---------------------------------------------------------------------------
# The chapter's exercises (see rnnlab.exercises)
# ---------------------------------------------------------------------------

# ---------------------------------------------------------------------------
# lstm_step_backward: one LSTM step's gradients by hand
# ---------------------------------------------------------------------------

NO_AUTOGRAD_LSTM = forbid("this exercise asks you to derive the LSTM step's gradients by hand",
                          autograd=True, ops=("*_backward*",))
_BACKWARD_NAMES = ("dx", "dh_prev", "dc_prev", "dW_xh", "dW_hh", "db")
_F64 = torch.float64


def _lstm_backward(dh, dc, x, h, c, W_xh, W_hh, b_xh, b_hh, slip: str | None = None):
    """The six gradients of one LSTM step, right (`slip=None`) or with one typical slip."""
    H = h.shape[1]
    a = x @ W_xh + h @ W_hh + b_xh + b_hh
    i, f = torch.sigmoid(a[:, :H]), torch.sigmoid(a[:, H:2 * H])
    g, o = torch.tanh(a[:, 2 * H:3 * H]), torch.sigmoid(a[:, 3 * H:])
    c_new = f * c + i * g
    tc = torch.tanh(c_new)
    dc_total = {"no path through h": dc, "no tanh'": dc + dh * o}.get(
        slip, dc + dh * o * (1 - tc * tc))
    df = dc_total * (c_new if slip == "df from c'" else c)
    do = dh * (c_new if slip == "o times c'" else tc)
    sig = (lambda s: 1 - s * s) if slip == "sigmoid' as tanh'" else (lambda s: s * (1 - s))
    da = torch.cat([dc_total * g * sig(i), df * sig(f), dc_total * i * (1 - g * g),
                    do * sig(o)], dim=1)
    dc_prev = dc_total if slip == "no f" else dc_total * f
    db = da.sum(0) / 2 if slip == "bias halved" else da.sum(0)
    return (da @ W_xh.T, da @ W_hh.T, dc_prev, x.T @ da, h.T @ da, db)


_LSTM_BACKWARD_SLIPS = {
    "no path through h": "the gradient reaching c' has two parts: dc from the next step, and "
                         "the path through h' = o * tanh(c'), which adds dh * o * (1 - "
                         "tanh(c')**2).",
    "no tanh'": "the path from h' to c' goes through tanh: it adds dh * o * (1 - "
                "tanh(c')**2), with tanh' = 1 - tanh(c')**2.",
    "df from c'": "the forget gate multiplies the old cell state c, so df = dc_total * c, "
                  "not the new c'.",
    "o times c'": "h' = o * tanh(c'), so do = dh * tanh(c'), not dh * c'.",
    "sigmoid' as tanh'": "a gate's derivative is sigmoid' = s * (1 - s) for s = sigmoid(a), "
                         "not 1 - s**2 (that is tanh's).",
    "no f": "the cell-state path is scaled by the forget gate: dc_prev = dc_total * f.",
    "bias halved": "each bias gets the whole of da summed over the batch: both only add, so "
                   "neither shares its gradient with the other.",
}

_BACKWARD_SHAPE_HINT = error_hint("cannot be multiplied", "must match", "size of tensor",
                                  says=(
    "Each gradient has its tensor's shape: with da (B, 4H), dx = da @ W_xh.T is (B, 4H) @ "
    "(4H, d) and dW_xh = x.T @ da is (d, B) @ (B, 4H)."))


def check_lstm_step_backward(lstm_step_backward) -> Verdict:
    """Checks `lstm_step_backward(dh, dc, x, h, c, W_xh, W_hh, b_xh, b_hh)` ->
    `(dx, dh_prev, dc_prev, dW_xh, dW_hh, db)`: the gradients of one LSTM step (gates i, f,
    g, o) given dL/dh' and dL/dc'; `db` is either bias's gradient."""
    def body():
        cases = [(1, 3, 2, 0), (4, 3, 5, 1), (3, 6, 4, 2)]     # (B, d, H, seed)
        for B, d, H, seed in cases:
            gen = _generator(760 + seed)
            weights = tuple(w.to(_F64) for w in _weights(d, H, 4, gen))
            x, h, c, dh, dc = (torch.randn(B, n, generator=gen, dtype=_F64)
                               for n in (d, H, H, H, H))
            got = call(lstm_step_backward, dh.clone(), dc.clone(), x.clone(), h.clone(),
                       c.clone(), *(w.clone() for w in weights), name="lstm_step_backward",
                       forbidden=NO_AUTOGRAD_LSTM, on_error=_BACKWARD_SHAPE_HINT)
            leaves = [t.clone().requires_grad_() for t in (x, h, c, *weights)]   # after it
            with torch.enable_grad():                              # PyTorch's LSTM cell
                h_new, c_new = torch.lstm_cell(leaves[0], [leaves[1], leaves[2]],
                                               leaves[3].T, leaves[4].T, leaves[5], leaves[6])
                want = torch.autograd.grad((h_new * dh).sum() + (c_new * dc).sum(),
                                           leaves[:6])
            slips: dict = {name: [] for name in _BACKWARD_NAMES}
            for slip, hint in _LSTM_BACKWARD_SLIPS.items():
                for name, value in zip(_BACKWARD_NAMES,
                                       _lstm_backward(dh, dc, x, h, c, *weights, slip=slip)):
                    slips[name].append((value, hint))
            what = f"lstm_step_backward(dh ({B}, {H}), dc ({B}, {H}), x ({B}, {d}), ...)"
            expect_gradients(got, want, _BACKWARD_NAMES, what, slips)
        return f"all six gradients match autograd on {len(cases)} cases (float64)."
    return run_check(title("lstm_step_backward"), body)


_GRU_OUT = "return (1 - z) * n + z * h"
_LSTM_OUT = ("    c = f * c + i * g  # keep some of c, add some of g\n"
             "    return o * torch.tanh(c), c")
_COUPLED = ("    a = x @ W_xh + b_xh + h @ W_hh + b_hh            # (B, 3H): the three blocks "
            "at once\n    f = torch.sigmoid(a[:, :H])\n    g = torch.tanh(a[:, H:2 * H])\n"
            "    o = torch.sigmoid(a[:, 2 * H:])\n    c = f * c + (1 - f) * g                   "
            "        # what is forgotten is replaced\n    return o * torch.tanh(c), c")
_TIED = ("    def tied(w):    # the input gate's block is minus the forget gate's: i = 1 - f\n"
         "        return torch.cat([-w[..., :H], w], -1)\n"
         "    return tuple(torch.lstm_cell(x, [h, c], tied(W_xh).T, tied(W_hh).T, tied(b_xh),"
         "\n                                 tied(b_hh)))")

_STEPS = ("rnnlab.cells.gru_step", "rnnlab.cells.lstm_step", "rnnlab.cells.step",
          "rnnlab.cells.layer", "rnnlab.scratch.ScratchLM", "rnnlab.models.RNNModel")

EXERCISES = declare(
    Exercise("7.1", "gru_step", check_gru_step, forbids=NO_GRU, answered_by=_STEPS, slips=(
        edit("r * gh[:, 2 * H :]", "(r * h) @ W_hh[:, 2 * H :] + b_hh[2 * H :]",
             says="as d2l does"),
        edit(_GRU_OUT, "return z * n + (1 - z) * h", says="swaps the roles of z"),
        edit({"r = torch.sigmoid": "z = torch.sigmoid",
              "z = torch.sigmoid(gx[:, H": "r = torch.sigmoid(gx[:, H"}, says="(z, r, n)"),
        edit(_GRU_OUT, "return torch.tanh(gx[:, 2 * H :] + gh[:, 2 * H :])",
             says="the candidate n only"),
        edit(_GRU_OUT, f"return ({_GRU_OUT[7:]}).double()",
             says="but the inputs are torch.float32"),
        edit({"torch.sigmoid": "torch.SWAP", "torch.tanh": "torch.sigmoid",
              "torch.SWAP": "torch.tanh"}, says="swaps the activations"),
        edit("r * gh[:, 2 * H :]", "r * (h @ W_hh[:, 2 * H :]) + b_hh[2 * H :]",
             says="adds b_hn outside the reset gate"),
        edit("gh = h @ W_hh + b_hh", "gh = h @ W_hh", says="leaves out b_hh"),
        edit({"[:, :H]": "[:, B1]", "[:, H : 2 * H]": "[:, B2]", "[:, 2 * H :]": "[:, B0]",
              "B1": "H : 2 * H", "B2": "2 * H :", "B0": ":H"},
             says="takes the candidate's block first"),
    ), routes=(
        edit(_GRU_OUT, "return torch.gru_cell(x, h, W_xh.T, W_hh.T, b_xh, b_hh)",
             says="gru_cell"),
    )),
    Exercise("7.2", "lstm_step", check_lstm_step, forbids=NO_LSTM, answered_by=_STEPS, slips=(
        edit("return o * torch.tanh(c), c", "return c, o * torch.tanh(c)",
             says="the order is (h, c)"),
        edit("o * torch.tanh(c)", "o * c", says="multiplies tanh(c)"),
        edit({"gates[:, 2 * H : 3 * H]": "gates[:, G]",
              "gates[:, 3 * H :]": "gates[:, 2 * H : 3 * H]", "gates[:, G]": "gates[:, 3 * H :]"},
             says="(i, f, o, g)"),
        edit("c = f * c + i * g", "c = c + i * g", says="without the forget gate"),
        edit("g = torch.tanh(", "g = torch.sigmoid(",
             says="puts the candidate g through a sigmoid"),
        edit(" + b_hh  #", "  #", says="leaves out b_hh"),
        edit({"gates[:, H : 2 * H]": "gates[:, F]",
              "gates[:, 2 * H : 3 * H]": "gates[:, H : 2 * H]",
              "gates[:, F]": "gates[:, 2 * H : 3 * H]"},
             says="(i, g, f, o)"),
        edit(_LSTM_OUT, "    c_new = f * c + i * g\n    return o * torch.tanh(c), c_new",
             says="computes h from the old cell state"),
    ), routes=(
        edit(_LSTM_OUT, "    return tuple(torch.lstm_cell(x, [h, c], W_xh.T, W_hh.T, b_xh, "
                        "b_hh))", says="lstm_cell"),
    )),
    Exercise("7.3", "pass_through", check_pass_through, slips=(
        edit("(1.0, 0.0)", "(0, 1)", says="replaces the cell state"),
        edit("(1.0, 0.0)", "(0.9, 0.1)", says="changes c"),
        edit("(1.0, 0.0)", "(2, 0)", says="between 0 and 1"),
        edit("(1.0, 0.0)", "None", says="not attempted"),
    )),
    Exercise("7.4", "coupled_lstm_step", check_coupled_lstm_step, forbids=NO_CELLS,
             answered_by=_STEPS, slips=(
        edit("(1 - f) * g", "f * g", says="(i = f)"),
        edit("(1 - f) * g", "g", says="adds all of g"),
        edit("c = f * c + (1 - f) * g", "c = (1 - f) * c + f * g", says="swaps the roles"),
        edit("o * torch.tanh(c)", "o * c", says="multiplies tanh(c)"),
        edit("return o * torch.tanh(c), c", "return c, o * torch.tanh(c)",
             says="the order is (h, c)"),
        edit("g = torch.tanh(", "g = torch.sigmoid(",
             says="puts the candidate g through a sigmoid"),
        edit({"a[:, :H]": "a[:, F]", "a[:, H:2 * H]": "a[:, :H]", "a[:, F]": "a[:, H:2 * H]"},
             says="takes the blocks in the order (g, f, o)"),
        edit(_COUPLED, "    return h, c", says="the cell state it was given"),
    ), routes=(
        edit(_COUPLED, _TIED, says="lstm_cell"),
    )),
    Exercise("7.5", "lstm_step_backward", check_lstm_step_backward, forbids=NO_AUTOGRAD_LSTM,
             answered_by=("rnnlab.byhand.lstm_step_backward", "rnnlab.bptt.lstm_layer_backward",
                          "rnnlab.bptt.LSTMLayerFunction"), slips=(
        edit("dc_total = dc + dh * o * (1 - tc**2)", "dc_total = dc", says="has two parts"),
        edit("dh * o * (1 - tc**2)", "dh * o", says="goes through tanh"),
        edit("dc_total * c,", "dc_total * (f * c + i * g),", says="not the new c'"),
        edit("dh * tc\n", "dh * (f * c + i * g)\n", says="not dh * c'"),
        edit({"i * (1 - i)": "(1 - i**2)", "f * (1 - f)": "(1 - f**2)",
              "o * (1 - o)": "(1 - o**2)"}, says="that is tanh's"),
        edit("dc_prev = dc_total * f", "dc_prev = dc_total", says="scaled by the forget gate"),
        edit("da.sum(0)", "da.sum(0) / 2", says="neither shares its gradient"),
        edit("da @ W_xh.T, da @ W_hh.T", "da @ W_xh, da @ W_hh", says="(4H, d)"),
        edit("h.T @ da, da.sum(0)", "h.T @ da", says="tuple of 6"),
    ), routes=(
        edit("    return da @ W_xh.T,", "    leaf = x.detach().requires_grad_()\n"
                                        "    dx = torch.autograd.grad(leaf @ W_xh, leaf, da)[0]\n"
                                        "    return dx,", says="autograd"),
    )),
)

_freeze_loaded(__name__)   # the checker's names cannot be changed from here on
