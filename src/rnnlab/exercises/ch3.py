"""Checks for chapter 3, "Hand-made versus concise models"."""

from __future__ import annotations

import torch
from torch import nn

from ..checks import Verdict, call, expect_tensor, fail, run_check
from ..models import RNNModel


def check_rnn_layer(RNNLayer) -> Verdict:
    """Exercise 3.1: a fixed hand-made `RNNLayer(input_size, hidden_size)`.

    Parameters named as in `nn.RNN`: `W_ih (H, d)`, `W_hh (H, H)`, `b_ih (H,)`, `b_hh (H,)`;
    `forward(x (B, T, d), h=None)` -> `(outputs (B, T, H), h_T (1, B, H))`, like
    `nn.RNN(d, H, batch_first=True)`.
    """
    def body():
        for B, T, d, H, seed in [(2, 5, 3, 4, 0), (3, 1, 4, 4, 1), (4, 7, 5, 3, 2)]:
            torch.manual_seed(seed)
            ref = nn.RNN(d, H, batch_first=True)
            layer = call(RNNLayer, d, H, name="RNNLayer")
            if not isinstance(layer, nn.Module):
                fail(f"RNNLayer({d}, {H}) should be an nn.Module, got {type(layer).__name__}.")
            params = dict(layer.named_parameters())
            for name, ref_name in [("W_ih", "weight_ih_l0"), ("W_hh", "weight_hh_l0"),
                                   ("b_ih", "bias_ih_l0"), ("b_hh", "bias_hh_l0")]:
                if name not in params:
                    have = sorted(params) or "none"
                    fail(f"RNNLayer({d}, {H}) has no parameter `{name}` (it has: {have}). "
                         "Make each weight an nn.Parameter assigned to self.")
                want_shape = tuple(getattr(ref, ref_name).shape)
                if tuple(params[name].shape) != want_shape:
                    fail(f"`{name}` of RNNLayer({d}, {H}) has shape "
                         f"{tuple(params[name].shape)}, expected {want_shape}.")
                with torch.no_grad():
                    params[name].copy_(getattr(ref, ref_name))
            g = torch.Generator().manual_seed(10 + seed)
            x, h0 = torch.randn(B, T, d, generator=g), torch.randn(1, B, H, generator=g)
            with torch.no_grad():
                want_out, want_h = ref(x)
                want_out0, want_h0 = ref(x, h0)
            what = f"RNNLayer({d}, {H})(x {(B, T, d)}"
            for args, out_w, h_w, label in [((x,), want_out, want_h, f"{what})"),
                                            ((x, h0), want_out0, want_h0, f"{what}, h)")]:
                got = call(layer, *args, name="RNNLayer.forward")
                if not isinstance(got, tuple) or len(got) != 2:
                    fail(f"{label} should return (outputs, h_T), got {type(got).__name__}.")
                expect_tensor(got[0], out_w, f"outputs of {label}")
                expect_tensor(got[1], h_w, f"h_T of {label}")
        return "matches nn.RNN, with and without an initial state."
    return run_check("Exercise 3.1 (fix RNNLayer)", body)


def check_lstm_begin_state(lstm_begin_state) -> Verdict:
    """Exercise 3.2: `lstm_begin_state(num_layers, batch_size, hidden_size, bidirectional,
    device)` -> a tuple `(h, c)` of zeros, each `(D*L, B, H)`."""
    def body():
        for L, B, H, bi in [(1, 2, 3, False), (2, 4, 5, False), (3, 1, 2, True)]:
            D = 2 if bi else 1
            got = call(lstm_begin_state, L, B, H, bi, torch.device("cpu"),
                       name="lstm_begin_state")
            what = f"lstm_begin_state(num_layers={L}, batch_size={B}, hidden_size={H}, " \
                   f"bidirectional={bi})"
            if isinstance(got, torch.Tensor):
                fail(f"{what} returned one tensor: an LSTM carries two states, the hidden "
                     "state h and the cell state c. Return the tuple (h, c).")
            if not isinstance(got, tuple) or len(got) != 2:
                fail(f"{what} should return a tuple (h, c), got {type(got).__name__}"
                     f"{' of ' + str(len(got)) if isinstance(got, (tuple, list)) else ''}.")
            for name, t in zip("hc", got):
                expect_tensor(t, torch.zeros(D * L, B, H), f"{name} of {what}",
                              hint_transpose=False)
            lstm = nn.LSTM(4, H, num_layers=L, bidirectional=bi, batch_first=True)
            call(lstm, torch.zeros(B, 3, 4), got, name="nn.LSTM(..., state)")
        return "a tuple of zeros (D*L, B, H) that nn.LSTM accepts."
    return run_check("Exercise 3.2 (lstm_begin_state)", body)


def check_gru_model(GRUModel) -> Verdict:
    """Exercise 3.3: `GRUModel(vocab_size, hidden_size)`: one-hot input, `self.rnn =
    nn.GRU(V, H, batch_first=True)`, `self.output = nn.Linear(H, V)`, `begin_state`."""
    def body():
        V, H, B, T = 7, 5, 3, 4
        torch.manual_seed(0)
        model = call(GRUModel, V, H, name="GRUModel")
        if not isinstance(getattr(model, "rnn", None), nn.GRU):
            fail(f"GRUModel({V}, {H}).rnn should be an nn.GRU, got "
                 f"{type(getattr(model, 'rnn', None)).__name__}.")
        if not getattr(model.rnn, "batch_first", False):
            fail("create the GRU with batch_first=True: inputs arrive as (B, T).")
        if not isinstance(getattr(model, "output", None), nn.Linear):
            fail("GRUModel needs an output layer `self.output = nn.Linear(H, V)`.")
        state = call(model.begin_state, B, torch.device("cpu"), name="begin_state")
        if isinstance(state, tuple):
            fail("begin_state returned a tuple: that is an LSTM's (h, c). A GRU's state is "
                 "one tensor (L, B, H).")
        expect_tensor(state, torch.zeros(1, B, H), f"begin_state({B}, cpu)",
                      hint_transpose=False)
        ref = RNNModel(V, H, cell="gru")
        try:
            ref.load_state_dict(model.state_dict())
        except RuntimeError as exc:
            fail(f"GRUModel's parameters do not match one-hot -> nn.GRU(V, H) -> "
                 f"nn.Linear(H, V): {str(exc).splitlines()[-1].strip()}")
        X = torch.randint(0, V, (B, T), generator=torch.Generator().manual_seed(1))
        got = call(model, X, state, name="GRUModel.forward")
        if not isinstance(got, tuple) or len(got) != 2:
            fail(f"forward should return (logits, state), got {type(got).__name__}.")
        with torch.no_grad():
            want_logits, want_state = ref(X, torch.zeros(1, B, H))
        expect_tensor(got[0], want_logits, f"logits of GRUModel(X {(B, T)})")
        expect_tensor(got[1], want_state, f"state of GRUModel(X {(B, T)})")
        return "one-hot -> nn.GRU -> nn.Linear, with the right state, logits (B, T, V)."
    return run_check("Exercise 3.3 (GRUModel)", body)
