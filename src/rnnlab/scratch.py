"""Hand-made language models: one class, `ScratchLM`, for the RNN, the GRU and the LSTM.

For each layer `l = 1..L` and time step `t = 1..T`, with the cell's step from `rnnlab.cells`:

    state_t^l = step(cell, x_t^l, state_{t-1}^l, weights^l),   x_t^1 = encoder(X)[:, t],
                                                              x_t^l = h_t^{l-1}
    o_t       = h_t^L W_hq + b_q

One interface for every cell, and the same as the concise `RNNModel`'s, so a chapter can
swap one model for another:

    logits, state = model(X, state)     X: (B, T) int64 indices, logits: (B, T, V)
                                        state: (L, B, H), or a tuple (h, c) for an LSTM
    state = model.begin_state(batch_size, device)
    state = model.step(x_t, state_l, l)  one step of layer l, x_t: (B, d)
    model.load(source)                  copy an nn.RNN/nn.GRU/nn.LSTM, or a whole RNNModel

`RNNScratch(...)` is `ScratchLM(..., cell="rnn")`, the model of chapters 1, 3 and 6.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .bptt import GRULayerFunction, LSTMLayerFunction, RNNLayerFunction
from .cells import GATE_BLOCKS
from .cells import layer as cell_layer
from .cells import step as cell_step
from .models import CELLS, RNNModel, input_size, make_encoder
from .validate import (
    require_choice,
    require_indices,
    require_model_state,
    require_positive_int,
    require_sizes,
)


class ScratchLM(nn.Module):
    r"""A hand-made RNN, GRU or LSTM language model: explicit parameters and a Python loop
    over time.

    (d2l 1.x has `d2l.RNNScratch` for the bare recurrent layer and `d2l.RNNLMScratch` for its
    language model; this one is the whole language model, like d2l 0.17's
    `RNNModelScratch`: encoder, recurrent layers and output layer.)

    Parameters (row vectors; `d` = V for one-hot input or E for embeddings; `g` gate blocks:
    1 for an RNN, 3 for a GRU, 4 for an LSTM, in PyTorch's order):
        W_xh[l]: (d, gH) for l = 0, else (H, gH);   W_hh[l]: (H, gH)
        RNN: b_h[l]: (H,), PyTorch's two biases summed (they only ever appear as a sum);
        GRU, LSTM: b_xh[l], b_hh[l]: (gH,), PyTorch's two biases as they are
        W_hq: (H, V);   b_q: (V,)

    Shapes:
        X       (B, T)     int64 token indices
        state   (L, B, H)  (a tuple (h, c) of two for an LSTM) before step 1; zeros if None
        logits  (B, T, V)  o_t for every step

    Options: `hoist_input=True` (RNN only) computes every layer's `x_t W_xh + b_h` for all
    steps in one matrix product before that layer's loop (the same result, faster);
    `backward="manual"` trains with the hand-written backpropagation through time of
    `rnnlab.bptt`'s `RNNLayerFunction` (chapter 6), `GRULayerFunction` or
    `LSTMLayerFunction` (chapter 7) instead of autograd's graph of every step (its forward is
    hoisted too); `backward="autograd"` with autograd's graph. The default, None, is
    "manual" for the GRU and the LSTM (the same gradients, about 1.3x as fast on a CPU:
    `benchmarks/gated_backward.py`) and "autograd" for the RNN (the graph chapters 1-6
    differentiate). The hand backward is itself not differentiable: for gradients of
    gradients (`create_graph=True`) or `torch.func` transforms, use `backward="autograd"`.
    For the GRU only: `reset_before=True` is d2l's variant (autograd only).
    """

    def __init__(self, vocab_size: int, hidden_size: int, num_layers: int = 1,
                 cell: str = "rnn", embed_size: int | None = None, *,
                 hoist_input: bool = False, backward: str | None = None,
                 reset_before: bool = False):
        super().__init__()
        require_sizes(vocab_size=vocab_size, hidden_size=hidden_size, num_layers=num_layers)
        require_choice("cell", cell, GATE_BLOCKS)
        if reset_before and cell != "gru":
            raise ValueError("reset_before is a GRU variant (d2l's); only a GRU has a reset gate")
        if backward is None:    # the hand backward where the cell has one (see the docstring)
            backward = "autograd" if cell == "rnn" or reset_before else "manual"
        if backward not in ("autograd", "manual"):
            raise ValueError(f"backward must be 'autograd' or 'manual', got {backward!r}")
        if cell != "rnn" and hoist_input:
            raise ValueError("hoist_input is an option of the RNN only")
        if reset_before and backward != "autograd":
            raise ValueError("backward='manual' is PyTorch's GRU's; d2l's (reset_before=True) "
                             "trains with autograd")
        self.vocab_size, self.hidden_size, self.num_layers = vocab_size, hidden_size, num_layers
        self.cell, self.reset_before = cell, reset_before
        self.hoist_input, self.backward_mode = hoist_input, backward
        self.encoder = make_encoder(vocab_size, embed_size)
        d, H, g = input_size(self.encoder), hidden_size, GATE_BLOCKS[cell]
        bound = 1 / math.sqrt(H)   # PyTorch's initialisation: U(-1/sqrt(H), 1/sqrt(H))

        def param(*shape):
            return nn.Parameter(torch.empty(*shape).uniform_(-bound, bound))

        def per_layer(*shape):
            return nn.ParameterList([param(*shape) for _ in range(num_layers)])

        self.W_xh = nn.ParameterList([param(d if l == 0 else H, g * H)
                                      for l in range(num_layers)])
        self.W_hh = per_layer(H, g * H)
        if cell == "rnn":
            self.b_h = per_layer(H)
        else:
            self.b_xh, self.b_hh = per_layer(g * H), per_layer(g * H)
        self.W_hq = param(H, vocab_size)
        self.b_q = param(vocab_size)

    def weights(self, l: int) -> tuple[torch.Tensor, ...]:
        """Layer `l`'s weights, in the order its cell's step takes them."""
        if self.cell == "rnn":
            return self.W_xh[l], self.W_hh[l], self.b_h[l]
        return self.W_xh[l], self.W_hh[l], self.b_xh[l], self.b_hh[l]

    def begin_state(self, batch_size: int, device: torch.device | str = "cpu"):
        """Zeros of shape `(L, B, H)` in the parameters' dtype; for an LSTM a tuple `(h, c)`
        of two of them."""
        require_positive_int("batch_size", batch_size)
        zeros = torch.zeros(self.num_layers, batch_size, self.hidden_size, device=device,
                            dtype=self.W_hq.dtype)
        return (zeros, zeros.clone()) if self.cell == "lstm" else zeros

    def step(self, x: torch.Tensor, state, l: int = 0):
        """One step of layer `l`: x (B, d), its state (B, H) or `(h, c)` -> the new state."""
        return cell_step(self.cell, x, state, self.weights(l), self.reset_before)

    def forward(self, X: torch.Tensor, state=None):
        require_indices(X, self.vocab_size, check_range=X.device.type == "cpu")
        B = X.shape[0]
        if state is None:
            state = self.begin_state(B, X.device)
        lstm = self.cell == "lstm"
        require_model_state(state, (self.num_layers, B, self.hidden_size), lstm=lstm)
        xs = self.encoder(X).transpose(0, 1)            # (B, T) -> (T, B, d)
        last = []
        for l in range(self.num_layers):
            state_l = (state[0][l], state[1][l]) if lstm else state[l]
            xs, state_l = self._layer(l, xs, state_l)  # (T, B, d) -> (T, B, H)
            last.append(state_l)
        logits = xs @ self.W_hq + self.b_q              # (T, B, H) -> (T, B, V)
        if lstm:
            new_state = tuple(torch.stack(part) for part in zip(*last))
        else:
            new_state = torch.stack(last)
        return logits.transpose(0, 1), new_state       # (B, T, V), as the input state

    def _layer(self, l: int, xs: torch.Tensor, state):
        if self.backward_mode == "manual" and self.cell == "lstm":
            h0, c0 = state
            hs, c_T = LSTMLayerFunction.apply(xs, h0, c0, *self.weights(l))
            return hs, (hs[-1], c_T)
        if self.backward_mode == "manual" and self.cell == "gru":
            hs = GRULayerFunction.apply(xs, state, *self.weights(l))   # (T, B, H)
            return hs, hs[-1]
        if self.backward_mode == "manual":
            hs = RNNLayerFunction.apply(xs, state, *self.weights(l))   # (T, B, H)
            return hs, hs[-1]
        if self.hoist_input:
            W_xh, W_hh, b_h = self.weights(l)
            # x_t W_xh + b_h does not depend on h, so compute it for every step at once:
            # one (T*B, d) @ (d, H) product instead of T small ones inside the loop.
            h, outs = state, []
            for xw_t in xs @ W_xh + b_h:                 # (T, B, d) -> (T, B, H)
                h = torch.tanh(xw_t + h @ W_hh)
                outs.append(h)
            return torch.stack(outs), h
        return cell_layer(self.cell, xs, state, self.weights(l), self.reset_before)

    @torch.no_grad()
    def load(self, source: nn.RNN | nn.GRU | nn.LSTM | RNNModel) -> ScratchLM:
        """Copy PyTorch's weights into this model and return it: from an `nn.RNN`, `nn.GRU`
        or `nn.LSTM` (the recurrent layers), or from a concise `RNNModel` (everything).

        PyTorch stores `weight_ih_l{k}` as `(gH, d)` and computes `x W^T`; we store
        `W_xh = weight_ih^T` (and likewise `W_hh`, and `W_hq` from `nn.Linear`). The RNN's
        two biases always appear as a sum, so `b_h = b_ih + b_hh` computes the same function;
        a GRU's and an LSTM's are kept as they are.
        """
        if isinstance(source, RNNModel):
            if type(self.encoder) is not type(source.encoder):
                raise ValueError("both models must use the same input (one-hot or embedding)")
            self.encoder.load_state_dict(source.encoder.state_dict())
            self.load(source.rnn)
            self.W_hq.copy_(source.output.weight.T)
            self.b_q.copy_(source.output.bias)
            return self
        if type(source) is not CELLS[self.cell]:
            raise TypeError(f"expected an nn.{CELLS[self.cell].__name__} or an "
                            f"RNNModel(cell={self.cell!r}), got {type(source).__name__}")
        if source.bidirectional or not source.bias or getattr(source, "proj_size", 0) or (
                self.cell == "rnn" and source.nonlinearity != "tanh"):
            raise ValueError("only a unidirectional module with biases (a tanh one for an RNN, "
                             "no projection for an LSTM) matches this model")
        if (source.hidden_size, source.num_layers, source.input_size) != (
                self.hidden_size, self.num_layers, self.W_xh[0].shape[0]):
            raise ValueError(f"sizes differ: the module has H={source.hidden_size}, "
                             f"L={source.num_layers}, d={source.input_size}; this model has "
                             f"H={self.hidden_size}, L={self.num_layers}, "
                             f"d={self.W_xh[0].shape[0]}")
        for l in range(self.num_layers):
            self.W_xh[l].copy_(getattr(source, f"weight_ih_l{l}").T)
            self.W_hh[l].copy_(getattr(source, f"weight_hh_l{l}").T)
            b_ih, b_hh = getattr(source, f"bias_ih_l{l}"), getattr(source, f"bias_hh_l{l}")
            if self.cell == "rnn":
                self.b_h[l].copy_(b_ih + b_hh)
            else:
                self.b_xh[l].copy_(b_ih)
                self.b_hh[l].copy_(b_hh)
        return self


class RNNScratch(ScratchLM):
    """`ScratchLM` with a tanh RNN cell: the hand-made model of chapters 1, 3 and 6."""

    def __init__(self, vocab_size: int, hidden_size: int, num_layers: int = 1,
                 embed_size: int | None = None, hoist_input: bool = False,
                 backward: str = "autograd"):
        super().__init__(vocab_size, hidden_size, num_layers, "rnn", embed_size,
                         hoist_input=hoist_input, backward=backward)
