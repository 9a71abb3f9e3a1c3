"""Character-level RNN language models: hand-made (`RNNScratch`) and concise (`RNNModel`).

Both compute the same thing, in the course's row-vector notation (as PyTorch computes):

    h_t = tanh(x_t W_xh + h_{t-1} W_hh + b_h)        (one such line per layer)
    o_t = h_t W_hq + b_q

and share one interface, so a chapter can swap one for the other:

    logits, state = model(X, state)     X: (B, T) int64 indices
                                        logits: (B, T, V),  state: (L, B, H)
    state = model.begin_state(batch_size, device)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .bptt import RNNLayerFunction
from .validate import require_positive_int

CELLS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


class OneHot(nn.Module):
    """Indices `(B, T)` -> one-hot float vectors `(B, T, V)`: a frozen identity table.

    The vectors are float because they are multiplied with float weights; an integer
    one-hot cannot enter `x_t @ W_xh`. They take the floating dtype the module was moved to
    (`model.double()` makes them float64), read from an empty buffer, since the module has
    no parameters of its own.
    """

    def __init__(self, vocab_size: int):
        super().__init__()
        self.vocab_size = vocab_size
        self.out_features = vocab_size
        self.register_buffer("_dtype", torch.empty(0), persistent=False)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return F.one_hot(X, self.vocab_size).to(self._dtype.dtype)   # (B, T) -> (B, T, V)


def make_encoder(vocab_size: int, embed_size: int | None) -> nn.Module:
    """The input layer: one-hot when `embed_size` is None, else a learned `nn.Embedding`."""
    if embed_size is None:
        return OneHot(vocab_size)
    require_positive_int("embed_size", embed_size)
    return nn.Embedding(vocab_size, embed_size)


def require_sizes(**sizes) -> None:
    """Every size (vocab_size=..., hidden_size=..., ...) a positive integer, or a ValueError."""
    for name, value in sizes.items():
        require_positive_int(name, value)


def _input_size(encoder: nn.Module) -> int:
    return encoder.out_features if isinstance(encoder, OneHot) else encoder.embedding_dim


def require_indices(X, vocab_size: int, check_range: bool = True) -> None:
    """Raise a clear error unless `X` is a `(B, T)` int64 tensor of indices below `vocab_size`.

    The shape and dtype checks cost nothing. The range check reads `X.min()` and `X.max()`
    back to Python, which on a GPU waits for every queued kernel (a host-device sync), so
    the models run it only for CPU tensors; indices enter a run through the data pipeline,
    `generate`, `train`, `fit` and `predict`, which check the range once, on any device.
    """
    if not isinstance(X, torch.Tensor):
        raise TypeError(f"X must be a torch.Tensor of token indices, got {type(X).__name__}")
    if X.dim() != 2:
        raise ValueError(f"X must have shape (B, T) (batch, time steps), got {tuple(X.shape)}; "
                         "for one sequence use X.unsqueeze(0)")
    if X.dtype != torch.long:
        raise TypeError(f"X must hold int64 indices (torch.long), got {X.dtype}; "
                        "pass indices, not one-hot vectors or embeddings")
    if check_range:
        require_index_range(X, vocab_size)


def require_index_range(X: torch.Tensor, vocab_size: int) -> None:
    """Raise a ValueError unless every index in `X` is in `0..vocab_size - 1`."""
    if X.numel() and (X.min() < 0 or X.max() >= vocab_size):
        raise ValueError(f"X holds indices in [{int(X.min())}, {int(X.max())}] but the vocabulary "
                         f"has {vocab_size} tokens (valid: 0..{vocab_size - 1})")


def _require_state(state: torch.Tensor, expected: tuple[int, ...], name: str = "state") -> None:
    if not isinstance(state, torch.Tensor):
        raise TypeError(f"{name} must be a tensor of shape {expected}, got {type(state).__name__}")
    if tuple(state.shape) != expected:
        raise ValueError(f"{name} must have shape (L, B, H) = {expected}, got "
                         f"{tuple(state.shape)}; make one with model.begin_state(batch_size, "
                         "device)")


@torch.no_grad()
def load_row_weights(module: nn.RNN | nn.RNNCell, W_xh: torch.Tensor, W_hh: torch.Tensor,
                     b_h: torch.Tensor, layer: int = 0):
    """Put row-vector weights (`x W_xh + h W_hh + b_h`) into an `nn.RNN` or `nn.RNNCell`.

    PyTorch computes `x W_ih^T + b_ih + h W_hh^T + b_hh`, so it stores each weight
    transposed, `(H, d)` and `(H, H)`, and has two biases that only ever appear as a sum:
    our `b_h` goes into `b_ih` and `b_hh` becomes zero. Returns `module`.
    """
    suffix = "" if isinstance(module, nn.RNNCell) else f"_l{layer}"
    module_ih = getattr(module, f"weight_ih{suffix}")
    if tuple(W_xh.shape) != tuple(module_ih.T.shape):
        raise ValueError(f"W_xh has shape {tuple(W_xh.shape)}; this module needs "
                         f"{tuple(module_ih.T.shape)} (d, H)")
    module_ih.copy_(W_xh.T)                                     # (d, H) -> (H, d)
    getattr(module, f"weight_hh{suffix}").copy_(W_hh.T)         # (H, H), transposed
    getattr(module, f"bias_ih{suffix}").copy_(b_h)
    getattr(module, f"bias_hh{suffix}").zero_()
    return module


def require_model_state(state, expected: tuple[int, ...], lstm: bool) -> None:
    """A model's state: one tensor of shape `expected`, or for an LSTM a tuple `(h, c)` of
    two; else a clear error that says how to make one."""
    if not lstm:
        _require_state(state, expected)
        return
    if not (isinstance(state, tuple) and len(state) == 2):
        raise TypeError("an LSTM's state is a tuple (h, c); make one with "
                        "model.begin_state(batch_size, device)")
    for k, s in enumerate(state):
        _require_state(s, expected, f"state[{k}] ({'hc'[k]})")


class RNNScratch(nn.Module):
    r"""A hand-made RNN language model: explicit parameters and a Python loop over time.

    (d2l 1.x has a class of the same name, `d2l.RNNScratch`, for the bare recurrent layer
    alone; its language model is `d2l.RNNLMScratch`. This one is the whole language model,
    like d2l 0.17's `RNNModelScratch`: encoder, recurrent layers and output layer.)

    For each layer `l = 1..L` and time step `t = 1..T`:

        h_t^l = tanh(x_t^l W_xh^l + h_{t-1}^l W_hh^l + b_h^l),   x_t^1 = encoder(X)[:, t],
                                                                 x_t^l = h_t^{l-1}
        o_t   = h_t^L W_hq + b_q

    Parameters (row vectors, `d` = V for one-hot input or E for embeddings):
        W_xh[l]: (d, H) for l = 0, else (H, H);   W_hh[l]: (H, H);   b_h[l]: (H,)
        W_hq: (H, V);   b_q: (V,)

    Shapes:
        X       (B, T)     int64 token indices
        state   (L, B, H)  hidden state before step 1 (zeros when None)
        logits  (B, T, V)  o_t for every step
        state   (L, B, H)  h_T of every layer, to carry into the next batch

    `hoist_input=True` computes every layer's `x_t W_xh + b_h` for all steps in one
    matrix product before that layer's loop; the result is the same, only faster.

    `backward="manual"` trains with the hand-written backpropagation through time of
    `rnnlab.bptt.RNNLayerFunction` (chapter 6) instead of autograd's graph of every step:
    the same gradients, with each weight gradient computed from all steps in one product.
    Its forward is hoisted too.
    """

    def __init__(self, vocab_size: int, hidden_size: int, num_layers: int = 1,
                 embed_size: int | None = None, hoist_input: bool = False,
                 backward: str = "autograd"):
        super().__init__()
        require_sizes(vocab_size=vocab_size, hidden_size=hidden_size, num_layers=num_layers)
        self.vocab_size, self.hidden_size, self.num_layers = vocab_size, hidden_size, num_layers
        if backward not in ("autograd", "manual"):
            raise ValueError(f"backward must be 'autograd' or 'manual', got {backward!r}")
        self.hoist_input = hoist_input
        self.backward_mode = backward
        self.encoder = make_encoder(vocab_size, embed_size)
        d, H = _input_size(self.encoder), hidden_size
        bound = 1 / math.sqrt(H)   # nn.RNN's initialisation: U(-1/sqrt(H), 1/sqrt(H))

        def param(*shape):
            return nn.Parameter(torch.empty(*shape).uniform_(-bound, bound))

        self.W_xh = nn.ParameterList([param(d if l == 0 else H, H) for l in range(num_layers)])
        self.W_hh = nn.ParameterList([param(H, H) for _ in range(num_layers)])
        self.b_h = nn.ParameterList([param(H) for _ in range(num_layers)])
        self.W_hq = param(H, vocab_size)
        self.b_q = param(vocab_size)

    def begin_state(self, batch_size: int, device: torch.device | str = "cpu") -> torch.Tensor:
        """Zeros of shape `(L, B, H)`, in the parameters' dtype."""
        require_positive_int("batch_size", batch_size)
        return torch.zeros(self.num_layers, batch_size, self.hidden_size, device=device,
                           dtype=self.W_hq.dtype)

    def forward(self, X: torch.Tensor, state: torch.Tensor | None = None):
        require_indices(X, self.vocab_size, check_range=X.device.type == "cpu")
        B = X.shape[0]
        if state is None:
            state = self.begin_state(B, X.device)
        _require_state(state, (self.num_layers, B, self.hidden_size))
        xs = self.encoder(X).transpose(0, 1)            # (B, T) -> (T, B, d)
        last = []
        for l in range(self.num_layers):
            xs, h = self._layer(l, xs, state[l])        # (T, B, d) -> (T, B, H)
            last.append(h)
        logits = xs @ self.W_hq + self.b_q              # (T, B, H) -> (T, B, V)
        return logits.transpose(0, 1), torch.stack(last)   # (B, T, V), (L, B, H)

    def _layer(self, l: int, xs: torch.Tensor, h: torch.Tensor):
        W_xh, W_hh, b_h = self.W_xh[l], self.W_hh[l], self.b_h[l]
        if self.backward_mode == "manual":
            hs = RNNLayerFunction.apply(xs, h, W_xh, W_hh, b_h)    # (T, B, H)
            return hs, hs[-1]
        outs = []
        if self.hoist_input:
            # x_t W_xh + b_h does not depend on h, so compute it for every step at once:
            # one (T*B, d) @ (d, H) product instead of T small ones inside the loop.
            xw = xs @ W_xh + b_h                         # (T, B, d) -> (T, B, H)
            for xw_t in xw:
                h = torch.tanh(xw_t + h @ W_hh)
                outs.append(h)
        else:
            for x_t in xs:                               # x_t: (B, d)
                h = torch.tanh(x_t @ W_xh + h @ W_hh + b_h)
                outs.append(h)
        return torch.stack(outs), h                      # (T, B, H), (B, H)

    @torch.no_grad()
    def load_rnn_layer(self, rnn: nn.RNN) -> RNNScratch:
        """Copy the weights of a tanh `nn.RNN` into this model's recurrent layers.

        `nn.RNN` stores `weight_ih_l{k}` as (H, d) and computes `x W^T`; we store
        `W_xh = weight_ih^T`. It also has two biases, `b_ih + b_hh`, which always appear
        as a sum: one bias `b_h = b_ih + b_hh` computes the same function.
        """
        if not isinstance(rnn, nn.RNN):
            raise TypeError(f"expected an nn.RNN, got {type(rnn).__name__}")
        if rnn.nonlinearity != "tanh" or rnn.bidirectional or not rnn.bias:
            raise ValueError("only a unidirectional tanh nn.RNN with biases matches RNNScratch")
        if (rnn.hidden_size, rnn.num_layers) != (self.hidden_size, self.num_layers):
            raise ValueError(f"nn.RNN has H={rnn.hidden_size}, L={rnn.num_layers}; this model "
                             f"has H={self.hidden_size}, L={self.num_layers}")
        if rnn.input_size != self.W_xh[0].shape[0]:
            raise ValueError(f"nn.RNN takes inputs of size {rnn.input_size}, this model's "
                             f"input size is {self.W_xh[0].shape[0]}")
        for l in range(self.num_layers):
            self.W_xh[l].copy_(getattr(rnn, f"weight_ih_l{l}").T)
            self.W_hh[l].copy_(getattr(rnn, f"weight_hh_l{l}").T)
            self.b_h[l].copy_(getattr(rnn, f"bias_ih_l{l}") + getattr(rnn, f"bias_hh_l{l}"))
        return self

    def load_concise(self, model: RNNModel) -> RNNScratch:
        """Copy every weight of a concise `RNNModel(cell="rnn")`: encoder, layers, output."""
        return load_concise_into(self, model, self.load_rnn_layer)


@torch.no_grad()
def load_concise_into(scratch: nn.Module, model: RNNModel, load_layers) -> nn.Module:
    """Copy a concise `RNNModel` into a hand-made model with `encoder`, `W_hq` and `b_q`:
    the encoder as it is, the recurrent layers by `load_layers(model.rnn)`, and the output
    layer transposed (`nn.Linear` computes `h W^T`). Returns `scratch`."""
    if type(scratch.encoder) is not type(model.encoder):
        raise ValueError("both models must use the same input (one-hot or embedding)")
    scratch.encoder.load_state_dict(model.encoder.state_dict())
    load_layers(model.rnn)
    scratch.W_hq.copy_(model.output.weight.T)
    scratch.b_q.copy_(model.output.bias)
    return scratch


class RNNModel(nn.Module):
    r"""The concise RNN language model: `nn.RNN`, `nn.GRU` or `nn.LSTM`, then `nn.Linear`.

    With `cell="rnn"` it computes the same function as `RNNScratch`:

        h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)      (PyTorch's notation)
            = tanh(x_t W_xh   + h_{t-1} W_hh + b_h)                (ours: W_xh = W_ih^T,
        o_t = h_t W_hq + b_q                                        b_h = b_ih + b_hh)

    Shapes (`D` = 2 if bidirectional else 1):
        X       (B, T)         int64 token indices
        state   (D*L, B, H)    or a tuple `(h, c)` of two such tensors for an LSTM
        logits  (B, T, V)      from `h_t` (both directions concatenated: `D*H` features)

    Dropout, in training only: `dropout` between stacked layers (PyTorch's own argument);
    `io_dropout` on the layer's input vectors and on the last layer's outputs before the
    linear layer. Both together drop every non-recurrent connection and none of the
    recurrent ones, the scheme of Zaremba, Sutskever & Vinyals (2014).
    """

    def __init__(self, vocab_size: int, hidden_size: int, num_layers: int = 1,
                 cell: str = "rnn", embed_size: int | None = None,
                 bidirectional: bool = False, dropout: float = 0.0, io_dropout: float = 0.0):
        super().__init__()
        require_sizes(vocab_size=vocab_size, hidden_size=hidden_size, num_layers=num_layers)
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {sorted(CELLS)}, got {cell!r}")
        for name, p in (("dropout", dropout), ("io_dropout", io_dropout)):
            if not 0 <= p < 1:
                raise ValueError(f"{name} must be in [0, 1), got {p}")
        self.vocab_size, self.hidden_size, self.num_layers = vocab_size, hidden_size, num_layers
        self.cell = cell
        self.num_directions = 2 if bidirectional else 1
        self.encoder = make_encoder(vocab_size, embed_size)
        self.rnn = CELLS[cell](_input_size(self.encoder), hidden_size, num_layers,
                               batch_first=True, bidirectional=bidirectional, dropout=dropout)
        self.output = nn.Linear(self.num_directions * hidden_size, vocab_size)
        # Identity at 0, so that a model without it draws no random numbers for it.
        self.io_dropout = nn.Dropout(io_dropout) if io_dropout else nn.Identity()

    def begin_state(self, batch_size: int, device: torch.device | str = "cpu"):
        """Zeros of shape `(D*L, B, H)` in the parameters' dtype; for an LSTM a tuple
        `(h, c)` of two of them."""
        require_positive_int("batch_size", batch_size)
        shape = (self.num_directions * self.num_layers, batch_size, self.hidden_size)
        dtype = self.output.weight.dtype
        if self.cell == "lstm":
            return (torch.zeros(shape, device=device, dtype=dtype),
                    torch.zeros(shape, device=device, dtype=dtype))
        return torch.zeros(shape, device=device, dtype=dtype)

    def forward(self, X: torch.Tensor, state=None):
        require_indices(X, self.vocab_size, check_range=X.device.type == "cpu")
        if state is None:
            state = self.begin_state(X.shape[0], X.device)
        expected = (self.num_directions * self.num_layers, X.shape[0], self.hidden_size)
        require_model_state(state, expected, lstm=self.cell == "lstm")
        Y, state = self.rnn(self.io_dropout(self.encoder(X)), state)  # (B, T, D*H)
        return self.output(self.io_dropout(Y)), state                  # (B, T, V)


def detach_state(state):
    """Cut the autograd graph behind a state (a tensor or an LSTM's `(h, c)` tuple)."""
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()


def num_params(model: nn.Module) -> int:
    """Number of trainable scalars in `model`."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
