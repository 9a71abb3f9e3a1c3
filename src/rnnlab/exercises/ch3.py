"""Checks for chapter 3, "Hand-made versus concise models"."""

from __future__ import annotations

import inspect
import math

import torch
from torch import nn

from ..audit import RECURRENT_OPS, forbid
from ..checks.expect import as_pair, as_scalar, expect_tensor, slipped
from ..checks.explain import SHAPES, error_hint, safe_repr
from ..checks.sandbox import call, exhaust, observe
from ..checks.source import none_comparisons
from ..checks.verdict import CheckFailed, Verdict, fail, run_check, sentence
from ..data import seq_data_iter_sequential
from ..guard import freeze_loaded as _freeze_loaded
from ..guard import generator as _generator
from ..guard import seed as _seed
from ..models import RNNModel
from ..scratch import ScratchLM
from . import Exercise, declare, edit, title

NO_FUSED_RNN = forbid("this exercise asks you to fix the hand-made loop, not to replace it",
                      ops=RECURRENT_OPS)
NO_RNN_MODEL = forbid("this exercise asks you to write the model yourself")
NO_STATE = forbid("this exercise asks you to build the state yourself")
NO_GENERATE = forbid("this exercise asks you to write the sampling step yourself")
NO_ITERATOR = forbid("this exercise asks you to write the sequential iterator yourself")
NO_MASKED = forbid("this exercise asks you to write the masked mean yourself",
                   code=("torch.masked",))


def check_rnn_layer(RNNLayer) -> Verdict:
    """Checks a fixed hand-made `RNNLayer(input_size, hidden_size)`.

    Parameters named as in `nn.RNN`: `W_ih (H, d)`, `W_hh (H, H)`, `b_ih (H,)`, `b_hh (H,)`;
    `forward(x (B, T, d), h=None)` -> `(outputs (B, T, H), h_T (1, B, H))`, like
    `nn.RNN(d, H, batch_first=True)`.
    """
    def body():
        for B, T, d, H, seed in [(2, 5, 3, 4, 0), (3, 1, 4, 4, 1), (4, 7, 5, 3, 2)]:
            torch.manual_seed(_seed(seed))
            ref = nn.RNN(d, H, batch_first=True)
            layer = call(RNNLayer, d, H, name="RNNLayer")
            found = observe(_parameters_of, layer, name="RNNLayer's parameters")
            if not found["module"]:
                fail(f"RNNLayer({d}, {H}) should be an nn.Module, got {found['type']}.")
            params = found["params"]
            for name, ref_name in _LAYER_NAMES:
                if name not in params:
                    have = sorted(params) or "none"
                    fail(f"RNNLayer({d}, {H}) has no parameter `{name}` (it has: {have}). "
                         "Make each weight an nn.Parameter assigned to self.")
                want_shape = tuple(getattr(ref, ref_name).shape)
                if tuple(params[name]) != want_shape:
                    fail(f"`{name}` of RNNLayer({d}, {H}) has shape "
                         f"{tuple(params[name])}, expected {want_shape}.")
            observe(_load_reference, layer, ref, name="RNNLayer's weights")
            g = _generator(10 + seed)
            x, h0 = torch.randn(B, T, d, generator=g), torch.randn(1, B, H, generator=g)
            what = f"RNNLayer({d}, {H})(x {(B, T, d)}"
            for args, label in [((x,), f"{what})"), ((x, h0), f"{what}, h)")]:
                got = as_pair(call(layer, *args, name="RNNLayer.forward",
                                   forbidden=NO_FUSED_RNN, on_error=_TERM_HINT),
                              label, "(outputs, h_T)")
                with torch.no_grad():                          # the reference, after it
                    out_w, h_w = ref(*args)
                _layer_slips(got, ref, args, out_w, label)
                expect_tensor(got[0], out_w, f"outputs of {label}")
                expect_tensor(got[1], h_w, f"h_T of {label}")
        message = observe(_none_comparison, layer, name="RNNLayer's source")
        if message:
            fail(message)
        _runs_on_meta(layer, B, T, d, H)
        return ("matches nn.RNN, with and without an initial state, tests `h is None`, and "
                "runs on another device (meta) with the state created there.")
    return run_check(title("RNNLayer", "fix RNNLayer"), body)


_TERM_HINT = error_hint("must match the size", says=(
    "A term of the pre-activation has the wrong shape: each product is (B, H) and each bias "
    "(H,). Is a weight matrix added where a bias belongs (`+ self.W_ih` for `+ self.b_ih`)?"))


def _layer_slips(got, ref: nn.RNN, args, want: torch.Tensor, label: str) -> None:
    """Name the typical slips of a hand-made RNN layer, from what it returned."""
    outputs, h_T = got
    x = args[0]
    h0 = args[1][0] if len(args) > 1 else torch.zeros(x.shape[0], ref.hidden_size)
    W_ih, W_hh, b_ih, b_hh = (p.detach() for p in (ref.weight_ih_l0, ref.weight_hh_l0,
                                                   ref.bias_ih_l0, ref.bias_hh_l0))

    def run(step):
        h, outs = h0, []
        for t in range(x.shape[1]):
            h = step(x[:, t], h)
            outs.append(h)
        return torch.stack(outs, 1)
    with torch.no_grad():
        slips = [(run(lambda xt, h: torch.tanh(xt @ W_ih.T + b_ih + h @ W_hh.T)),
                  "leaves out b_hh: nn.RNN adds both biases, b_ih and b_hh."),
                 (run(lambda xt, h: torch.tanh(xt @ W_ih.T + h @ W_hh.T + b_hh)),
                  "leaves out b_ih: nn.RNN adds both biases, b_ih and b_hh (is a weight "
                  "added where self.b_ih belongs?)."),
                 (run(lambda xt, h: torch.tanh(xt @ W_ih.T + b_ih + h0 @ W_hh.T + b_hh)),
                  "uses the initial state at every step: carry h from step to step."),
                 (run(lambda xt, h: torch.tanh(xt @ W_ih.T + b_ih + h @ W_hh + b_hh)),
                  "uses W_hh untransposed: nn.RNN stores (H, H) weights to be used as "
                  "h @ W_hh.T.")]
    for slip, hint in slips:
        if slipped(outputs, slip, want):
            fail(f"outputs of {label} {hint}")
    B, H = x.shape[0], ref.hidden_size
    if isinstance(h_T, torch.Tensor) and tuple(h_T.shape) == (B, H):
        fail(f"h_T of {label} has shape (B, H) = {(B, H)}: like nn.RNN, return it with a "
             f"leading layer axis, (1, B, H) = {(1, B, H)} (h.unsqueeze(0)).")


def _parameters_of(layer) -> dict:
    """What the check needs to know of the student's layer: is it a module, and its
    parameters' names and shapes (plain values: when grading, only these come back)."""
    if not isinstance(layer, nn.Module):
        return {"module": False, "type": type(layer).__name__}
    return {"module": True, "params": {name: tuple(p.shape)
                                       for name, p in layer.named_parameters()}}


# The layer's parameters, as the exercise names them and as nn.RNN does.
_LAYER_NAMES = [("W_ih", "weight_ih_l0"), ("W_hh", "weight_hh_l0"), ("b_ih", "bias_ih_l0"),
                ("b_hh", "bias_hh_l0")]


def _load_reference(layer: nn.Module, ref: nn.RNN) -> None:
    """The reference's weights into the student's layer, so that both compute alike."""
    params = dict(layer.named_parameters())
    with torch.no_grad():
        for name, ref_name in _LAYER_NAMES:
            params[name].copy_(getattr(ref, ref_name))


def _none_comparison(layer) -> str | None:
    found = none_comparisons(type(layer))
    if not found:
        return None
    where, line_no, text = found[0]
    return (f"`{text}` (line {line_no}, in {where}) compares with None using `==` or `!=`: "
            "write `h is None` (or `is not None`). `==` lets the object decide what "
            "equality means: a NumPy array compares element by element, so `if a == None:` "
            "raises \"The truth value of an array ... is ambiguous\"; a PyTorch tensor "
            "returns False, so it works here by accident. `is None` asks the one question "
            "meant here: was a state passed in?")


def _runs_on_meta(layer: nn.Module, B: int, T: int, d: int, H: int) -> None:
    """Run the layer on the `meta` device: a state created on the CPU shows up there."""
    hint = ("A state made by torch.zeros(B, H) lives on the CPU, wherever x is: create it on "
            "x's device, torch.zeros(..., device=x.device).")
    try:
        call(layer.to, "meta", name="RNNLayer.to")
        x, h0 = torch.empty(B, T, d, device="meta"), torch.empty(1, B, H, device="meta")
        for args, label in [((x,), "x"), ((x, h0), "x, h")]:
            what = f"RNNLayer({d}, {H})({label} on meta)"
            got = as_pair(call(layer, *args, name="RNNLayer.forward", forbidden=NO_FUSED_RNN),
                          what, "(outputs, h_T)")
            for t, name, shape in zip(got, ("outputs", "h_T"), [(B, T, H), (1, B, H)]):
                if not isinstance(t, torch.Tensor):
                    fail(f"{name} of {what} should be a tensor, got {type(t).__name__}.")
                if t.device.type != "meta":
                    fail(f"{name} of {what} is on device {t.device}, expected meta.")
                if tuple(t.shape) != shape:
                    fail(f"{name} of {what} has shape {tuple(t.shape)}, expected {shape}.")
    except CheckFailed as exc:
        fail("RNNLayer computes the right values on the CPU, but not on another device. "
             "With the layer and x moved to the 'meta' device (PyTorch's device for shapes "
             f"without data, standing in here for a GPU): {sentence(exc)} {hint}")


def check_lstm_begin_state(lstm_begin_state) -> Verdict:
    """Checks `lstm_begin_state(num_layers, batch_size, hidden_size, bidirectional,
    device)` -> a tuple `(h, c)` of zeros, each `(D*L, B, H)`."""
    def body():
        for L, B, H, bi in [(1, 2, 3, False), (2, 4, 5, False), (3, 1, 2, True)]:
            D = 2 if bi else 1
            got = call(lstm_begin_state, L, B, H, bi, torch.device("cpu"),
                       name="lstm_begin_state", forbidden=NO_STATE)
            what = f"lstm_begin_state(num_layers={L}, batch_size={B}, hidden_size={H}, " \
                   f"bidirectional={bi})"
            if isinstance(got, torch.Tensor):
                fail(f"{what} returned one tensor: an LSTM carries two states, the hidden "
                     "state h and the cell state c. Return the tuple (h, c).")
            got = as_pair(got, what, "(h, c)")
            for name, t in zip("hc", got):
                if isinstance(t, torch.Tensor) and bi and tuple(t.shape) == (L, B, H):
                    fail(f"{name} of {what} has shape (L, B, H) = {(L, B, H)}: a "
                         "bidirectional LSTM keeps a state per layer *and direction*, "
                         f"(D*L, B, H) with D = 2: {(D * L, B, H)}.")
                if isinstance(t, torch.Tensor) and tuple(t.shape) == (B, D * L, H) and B != D * L:
                    fail(f"{name} of {what} has shape (B, D*L, H) = {(B, D * L, H)}: "
                         "PyTorch's recurrent state puts layers first, (D*L, B, H), even "
                         "with batch_first=True.")
                if isinstance(t, torch.Tensor) and tuple(t.shape) == (D * L, B, H) and \
                        t.is_floating_point() and bool((t != 0).any()):
                    fail(f"{name} of {what} is not all zeros: a fresh state starts at zero "
                         "(torch.zeros, not torch.empty or torch.randn).")
                expect_tensor(t, torch.zeros(D * L, B, H), f"{name} of {what}",
                              hint_transpose=False)
            got = tuple(got)
            lstm = nn.LSTM(4, H, num_layers=L, bidirectional=bi, batch_first=True)
            call(lstm, torch.zeros(B, 3, 4), got, name="nn.LSTM(..., state)")
        L, B, H = 2, 3, 4
        what = f"lstm_begin_state({L}, {B}, {H}, False, device=torch.device('meta'))"
        got = as_pair(call(lstm_begin_state, L, B, H, False, torch.device("meta"),
                           name="lstm_begin_state", forbidden=NO_STATE), what, "(h, c)")
        for name, t in zip("hc", got):
            if not isinstance(t, torch.Tensor):
                fail(f"{name} of {what} should be a tensor, got {type(t).__name__}.")
            if t.device.type != "meta":
                fail(f"{name} of {what} is on device {t.device}, but the caller asked for "
                     "device meta: create the zeros there, torch.zeros(..., device=device). "
                     "(A model on a GPU needs its state on that GPU.)")
            if tuple(t.shape) != (L, B, H):
                fail(f"{name} of {what} has shape {tuple(t.shape)}, expected {(L, B, H)}.")
        return "a tuple of zeros (D*L, B, H) on the requested device, that nn.LSTM accepts."
    return run_check(title("lstm_begin_state"), body)


_MODEL_HINT = error_hint(*SHAPES, "input.size", "expected", "dtype", "scalar type", says=(
    "X is (B, T) token indices: one-hot them to (B, T, V) floats for nn.GRU(V, H, "
    "batch_first=True); the state is (1, B, H), and the output layer maps H to V."))


def _rnnlab_parent(cls) -> str | None:
    """The rnnlab model class `cls` subclasses, if it does."""
    if inspect.isclass(cls) and issubclass(cls, (RNNModel, ScratchLM)):
        return "RNNModel" if issubclass(cls, RNNModel) else "ScratchLM"
    return None


def _model_parts(model) -> dict:
    """What the check needs to know of the student's model, as plain values."""
    is_module = isinstance(model, nn.Module)
    rnn = getattr(model, "rnn", None)
    return {"holds_rnnlab": is_module and any(isinstance(m, (RNNModel, ScratchLM))
                                              for m in model.modules()),
            "rnn": "GRU" if isinstance(rnn, nn.GRU) else type(rnn).__name__,
            "batch_first": bool(getattr(rnn, "batch_first", False)),
            "output": isinstance(getattr(model, "output", None), nn.Linear),
            "state_dict": dict(model.state_dict()) if is_module else {}}


def check_gru_model(GRUModel) -> Verdict:
    """Checks `GRUModel(vocab_size, hidden_size)`: one-hot input, `self.rnn =
    nn.GRU(V, H, batch_first=True)`, `self.output = nn.Linear(H, V)`, `begin_state`."""
    def body():
        V, H, B, T = 7, 5, 3, 4
        write_it = ("the exercise is to write the model: a subclass of nn.Module with an "
                    "nn.GRU, an nn.Linear, begin_state and forward.")
        parent = observe(_rnnlab_parent, GRUModel, name="GRUModel's class")
        if parent:
            fail(f"GRUModel is a subclass of rnnlab's {parent}: {write_it}")
        torch.manual_seed(_seed(0))
        model = call(GRUModel, V, H, name="GRUModel", forbidden=NO_RNN_MODEL)
        parts = observe(_model_parts, model, name="GRUModel's parts")
        if parts["holds_rnnlab"]:
            fail(f"GRUModel({V}, {H}) holds an rnnlab RNNModel: {write_it}")
        if parts["rnn"] != "GRU":
            fail(f"GRUModel({V}, {H}).rnn should be an nn.GRU, got {parts['rnn']}.")
        if not parts["batch_first"]:
            fail("create the GRU with batch_first=True: inputs arrive as (B, T).")
        if not parts["output"]:
            fail("GRUModel needs an output layer `self.output = nn.Linear(H, V)`.")
        state = call(model.begin_state, B, torch.device("cpu"), name="begin_state",
                     forbidden=NO_RNN_MODEL)
        if isinstance(state, tuple):
            fail("begin_state returned a tuple: that is an LSTM's (h, c). A GRU's state is "
                 "one tensor (L, B, H).")
        expect_tensor(state, torch.zeros(1, B, H), f"begin_state({B}, cpu)",
                      hint_transpose=False)
        ref = RNNModel(V, H, cell="gru")
        try:
            ref.load_state_dict(parts["state_dict"])
        except RuntimeError as exc:
            fail(f"GRUModel's parameters do not match one-hot -> nn.GRU(V, H) -> "
                 f"nn.Linear(H, V): {str(exc).splitlines()[-1].strip()}")
        X = torch.randint(0, V, (B, T), generator=_generator(1))
        got = as_pair(call(model, X, state, name="GRUModel.forward", forbidden=NO_RNN_MODEL,
                           on_error=_MODEL_HINT),
                      f"GRUModel(X {(B, T)})", "(logits, state)")
        with torch.no_grad():
            want_logits, want_state = ref(X, torch.zeros(1, B, H))
        expect_tensor(got[0], want_logits, f"logits of GRUModel(X {(B, T)})")
        expect_tensor(got[1], want_state, f"state of GRUModel(X {(B, T)})")
        meta = call(model.begin_state, B, torch.device("meta"), name="begin_state",
                    forbidden=NO_RNN_MODEL)
        if not isinstance(meta, torch.Tensor) or meta.device.type != "meta":
            where = meta.device if isinstance(meta, torch.Tensor) else type(meta).__name__
            fail(f"begin_state({B}, device=torch.device('meta')) returned {where}, not a "
                 "tensor on the meta device: create the zeros on the device asked for, "
                 "torch.zeros(..., device=device).")
        return ("one-hot -> nn.GRU -> nn.Linear, with the right state on the requested device, "
                "logits (B, T, V).")
    return run_check(title("GRUModel"), body)


# ---------------------------------------------------------------------------
# sample_next: one sampling step with a temperature
# ---------------------------------------------------------------------------

_SAMPLE_LOGITS = torch.tensor([3.0, 2.0, 1.5, 1.0, 0.2])   # positive: raw-logit sampling runs
_DRAWS = 2000                                                # per temperature
_Z = 5.0     # tolerance in binomial standard deviations: a right answer fails ~never


def _as_index(got, V: int, what: str) -> int:
    if got is None:
        fail(f"{what} returned None: did you forget `return`?")
    if isinstance(got, torch.Tensor):     # one rule for every check: a one-element tensor
        if got.numel() != 1 or got.is_floating_point() or got.dtype == torch.bool:
            fail(f"{what} returned a {got.dtype} tensor of shape {tuple(got.shape)} "
                 f"({safe_repr(got)}); a token index is one integer: return int(...) of "
                 "the index you drew.")
        got = int(got.item())
    if isinstance(got, bool) or not isinstance(got, int):
        fail(f"{what} should return an int (a token index), got {safe_repr(got)} of type "
             f"{type(got).__name__}: convert with int(...).")
    if not 0 <= got < V:
        fail(f"{what} returned {got}, which is not a token index: expected 0 <= index < {V}.")
    return got


def _draw(sample_next, logits, temperature, n, seed, what):
    generator = _generator(seed)
    V = logits.shape[0]
    return [_as_index(call(sample_next, logits.clone(), temperature, generator,
                           name="sample_next", forbidden=NO_GENERATE), V, what)
            for _ in range(n)]


def _fits(counts: list[int], probs: list[float], n: int) -> bool:
    """Every count within `_Z` binomial standard deviations (+1) of n * p."""
    return all(abs(c - n * p) <= _Z * math.sqrt(n * p * (1 - p)) + 1
               for c, p in zip(counts, probs))


def check_sample_next(sample_next) -> Verdict:
    """Checks `sample_next(logits, temperature, generator)` -> an int token index.

    logits `(V,)` float32; temperature 0 -> the argmax (greedy); temperature > 0 -> a sample
    from softmax(logits / temperature), drawn with `generator` (a seeded `torch.Generator`).
    A one-element integer tensor counts as that int; a float or a longer tensor is refused.
    """
    def body():
        g = _generator(34)
        for logits in [torch.tensor([0.1, 2.0, -1.0, 0.5]), torch.randn(9, generator=g),
                       _SAMPLE_LOGITS.flip(0)]:
            what = f"sample_next(<logits ({logits.shape[0]},)>, temperature=0.0, generator)"
            want = int(logits.argmax())
            try:
                got = _draw(sample_next, logits, 0.0, 1, 0, what)[0]
            except CheckFailed as exc:
                if " raised " not in str(exc):
                    raise
                fail(f"{sentence(exc)} Temperature 0 means greedy: return "
                     "int(logits.argmax()), without dividing by the temperature.")
            if got != want:
                fail(f"{what} returned {got}: with temperature 0 it must return the index of "
                     f"the largest logit (greedy), {want}.")
        logits = _SAMPLE_LOGITS
        V = logits.shape[0]
        for temperature in (0.5, 2.0):
            what = f"sample_next(<logits ({V},)>, temperature={temperature}, generator)"
            draws = _draw(sample_next, logits, temperature, _DRAWS, 340, what)
            counts = [draws.count(k) for k in range(V)]
            want = torch.softmax(logits.double() / temperature, -1).tolist()
            if _fits(counts, want, _DRAWS):
                continue
            top = int(logits.argmax())
            wrongs = [
                (torch.softmax(logits.double() * temperature, -1).tolist(),
                 "they follow softmax(logits * temperature): divide by the temperature, "
                 "softmax(logits / temperature)."),
                (torch.softmax(logits.double(), -1).tolist(),
                 "they follow softmax(logits), as if the temperature were 1: divide the logits "
                 "by the temperature before the softmax."),
                ((logits.double() / logits.double().sum()).tolist(),
                 "they are proportional to the raw logits, which are not probabilities "
                 "(they can be negative, and torch.multinomial refuses negative weights): "
                 "sample from softmax(logits / temperature)."),
                ([1.0 if k == top else 0.0 for k in range(V)],
                 "you returned the most likely token every time: a positive temperature "
                 "means sampling, torch.multinomial(probs, 1, generator=generator), with the "
                 "generator passed in (it advances with every draw)."),
            ]
            said = (f"{what}, called {_DRAWS} times, gave the tokens 0..{V - 1} "
                    f"{counts} times")
            for probs, message in wrongs:
                if _fits(counts, probs, _DRAWS):
                    fail(f"{said}: {message}")
            if max(counts) == _DRAWS:
                fail(f"{said}: always the same token. Sample from softmax(logits / "
                     "temperature) with the generator passed in: it advances with every draw.")
            expected = [round(_DRAWS * p) for p in want]
            fail(f"{said}; softmax(logits / temperature) expects about {expected}. Sample "
                 "with torch.multinomial(torch.softmax(logits / temperature, -1), 1, "
                 "generator=generator).")
        what = f"sample_next(<logits ({V},)>, temperature=2.0, generator)"
        first = _draw(sample_next, logits, 2.0, 30, 7, what)
        again = _draw(sample_next, logits, 2.0, 30, 7, what)
        if first != again:
            fail("the samples have the right frequencies, but two generators seeded alike "
                 "gave different samples: draw with the generator passed in, "
                 "torch.multinomial(probs, 1, generator=generator), so a seed reproduces "
                 "a generated text.")
        return (f"greedy at temperature 0; at temperatures 0.5 and 2.0, {_DRAWS} draws each "
                "follow softmax(logits / temperature); a seeded generator reproduces them.")
    return run_check(title("sample_next"), body)


# ---------------------------------------------------------------------------
# sequential_batches: sequential minibatches
# ---------------------------------------------------------------------------


def _batch_cases():
    """(corpus, batch_size, num_steps): token values that reveal their position, and one
    corpus with repeated tokens."""
    g = _generator(35)
    return [(list(range(100, 137)), 3, 4),      # 36 usable tokens: 3 rows of 12, 3 batches
            (list(range(200, 250)), 2, 5),      # rows of 24: 4 batches, 4 columns dropped
            (list(range(300, 330)), 1, 7),      # one row
            (torch.randint(0, 6, (60,), generator=g).tolist(), 4, 3)]


def _as_batches(got, what: str) -> list:
    if got is None:
        fail(f"{what} returned None: did you forget `return` (or `yield`)?")
    if not isinstance(got, (list, tuple)):
        fail(f"{what} should return a list of (X, Y) pairs (or yield them), got "
             f"{type(got).__name__}.")
    for i, pair in enumerate(got):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            fail(f"batch {i} of {what} should be a pair (X, Y), got {safe_repr(pair)}.")
    return list(got)


def _diagnose_layout(got: list, corpus: list[int], B: int, T: int, what: str) -> None:
    """Name the typical wrong layouts, read from the first batch (tokens = positions + base)."""
    X, Y = got[0]
    if not (isinstance(X, torch.Tensor) and isinstance(Y, torch.Tensor)):
        return
    if tuple(X.shape) == (T, B) and B != T:
        fail(f"X of batch 0 of {what} has shape (T, B) = {(T, B)}: a batch is (B, T), one "
             "row per sequence. Cut the columns of the (B, N/B) layout, do not transpose.")
    if tuple(X.shape) != (B, T):
        return
    data = torch.as_tensor(corpus, dtype=X.dtype)
    windows = data[:B * T].reshape(B, T)          # row b + 1 continues row b
    if B > 1 and torch.equal(X, windows):
        fail(f"in batch 0 of {what}, row 1 continues row 0 (consecutive windows stacked in a "
             "batch): that is the random iterator's layout. Here row b of batch i + 1 must "
             "continue row b of batch i: lay the corpus out as B long rows "
             "(reshape(B, -1)) and cut T columns at a time.")
    if torch.equal(Y, X):
        fail(f"Y of batch 0 of {what} equals X: Y must be X shifted one token ahead, "
             "Y[b, t] = the token after X[b, t].")


_TAIL_HINT = error_hint("invalid for input of size", "split", "must match", says=(
    "The corpus need not split into B equal rows: first drop the tail that does not fill them "
    "(X keeps (len(corpus) - 1) // B * B tokens, Y the same number starting one token "
    "later), then reshape to (B, -1)."))


def check_sequential_batches(sequential_batches) -> Verdict:
    """Checks `sequential_batches(corpus, batch_size, num_steps)` -> (X, Y) pairs.

    The same batches as `seq_data_iter_sequential(corpus, batch_size, num_steps, offset=0)`:
    the corpus (minus the tail that does not fill B rows) as B long rows, each batch the
    next T columns, Y = X shifted one token ahead; X and Y `(B, T)` int64.
    """
    def body():
        cases = _batch_cases()
        for corpus, B, T in cases:
            what = f"sequential_batches(<corpus of {len(corpus)}>, batch_size={B}, num_steps={T})"
            got = call(sequential_batches, list(corpus), B, T, name="sequential_batches",
                       forbidden=NO_ITERATOR, after=exhaust, on_error=_TAIL_HINT)
            want = list(seq_data_iter_sequential(corpus, B, T, offset=0))    # after the call
            got = _as_batches(got, what)
            if got:
                _diagnose_layout(got, corpus, B, T, what)
            if len(got) != len(want):
                row = (len(corpus) - 1) // B
                extra = ""
                if len(got) > len(want) and isinstance(got[-1][0], torch.Tensor) \
                        and got[-1][0].dim() == 2 and got[-1][0].shape[-1] < T:
                    extra = (f" Your last batch has only {got[-1][0].shape[-1]} columns: "
                             "drop the incomplete end.")
                fail(f"{what} gave {len(got)} batches, expected {len(want)}: the {len(corpus)} "
                     f"tokens make {B} rows of {row} (Y needs one token beyond X; the tail "
                     f"that does not fill {B} rows is dropped), and each batch takes {T} "
                     f"columns: {row} // {T} = {len(want)} full batches.{extra}")
            for i, ((X, Y), (want_X, want_Y)) in enumerate(zip(got, want)):
                expect_tensor(X, want_X, f"X of batch {i} of {what}", hint_transpose=False)
                expect_tensor(Y, want_Y, f"Y of batch {i} of {what}", hint_transpose=False)
        return (f"matches rnnlab.seq_data_iter_sequential(offset=0) on {len(cases)} corpora: "
                "row b of each batch continues row b of the batch before, so the hidden "
                "state can be carried from batch to batch.")
    return run_check(title("sequential_batches"), body)


# ---------------------------------------------------------------------------
# The chapter's exercises (see rnnlab.exercises)
# ---------------------------------------------------------------------------

_PAIRS = "(Xs[:, i:i + num_steps], Ys[:, i:i + num_steps])"
_BATCHES = ("    return [(Xs[:, i:i + num_steps], Ys[:, i:i + num_steps])     # the next T "
            "columns\n            for i in range(0, Xs.shape[1] - num_steps + 1, num_steps)]")
_WINDOWS = ("    rows = [torch.arange(i, i + batch_size)[:, None] * num_steps + "
            "torch.arange(num_steps)\n            for i in range(0, (len(corpus) - 1) // "
            "num_steps // batch_size * batch_size,\n                           batch_size)]\n"
            "    return [(data[r], data[r + 1]) for r in rows]")
_DRAW = "int(torch.multinomial(probs, 1, generator=generator))"
_GREEDY = ("    if temperature == 0:\n        return int(logits.argmax())                    "
           "      # greedy: no division by 0\n")
_STATE = "return torch.zeros(shape, device=device), torch.zeros(shape, device=device)"
_GRU = ("self.rnn = nn.GRU(vocab_size, hidden_size, batch_first=True)\n"
        "        self.output = nn.Linear(hidden_size, vocab_size)")

# ---------------------------------------------------------------------------
# masked_mean: the mean over the real positions of a padded batch
# ---------------------------------------------------------------------------

_MASK_HINT = error_hint("does not match the shape", "must match", "size of tensor", says=(
    "The mask is (B, T), like the losses: position t of sequence b is real when t < "
    "lengths[b], so compare torch.arange(T) as a row, (1, T), with lengths as a column, "
    "(B, 1)."))


def _real(T: int, lengths: torch.Tensor) -> torch.Tensor:
    """(B, T): True where position t of sequence b is real, t < lengths[b]."""
    return torch.arange(T)[None, :] < lengths[:, None]


def _masked_cases():
    """(losses (B, T) float64, lengths (B,)): padding holds large values, and in the last
    case inf, as a padded position's loss may."""
    g = _generator(360)
    cases = []
    for B, T, lengths in [(3, 5, [5, 2, 3]), (1, 4, [4]), (4, 7, [1, 7, 3, 6]),
                          (2, 3, [3, 1])]:
        lengths = torch.tensor(lengths)
        losses = 3 * torch.rand(B, T, generator=g, dtype=torch.float64)
        padding = ~_real(T, lengths)
        losses[padding] = 50 + torch.rand(int(padding.sum()), generator=g,
                                          dtype=torch.float64)
        cases.append((losses, lengths))
    losses, lengths = cases[-1]
    losses[~_real(losses.shape[1], lengths)] = math.inf
    return cases


def check_masked_mean(masked_mean) -> Verdict:
    """Checks `masked_mean(losses, lengths)` -> the mean of `losses (B, T)` over the
    positions `t < lengths[b]` (a number, or a one-element tensor)."""
    def body():
        for losses, lengths in _masked_cases():
            B, T = losses.shape
            got = call(masked_mean, losses.clone(), lengths.clone(), name="masked_mean",
                       forbidden=NO_MASKED, on_error=_MASK_HINT)
            what = f"masked_mean(<losses {(B, T)}>, lengths {lengths.tolist()})"
            if got is None:
                fail(f"{what} returned None: did you forget `return`?")
            if isinstance(got, torch.Tensor) and got.numel() == B and B > 1:
                fail(f"{what} returned one value per sequence, shape {tuple(got.shape)}: "
                     "return a single value, the mean over every real position of the "
                     "batch.")
            value = as_scalar(got, what)
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                fail(f"{what} should return a number, got {type(value).__name__}.")
            real = _real(T, lengths)
            kept = torch.where(real, losses, 0.0)
            want = float(kept.sum() / real.sum())
            if math.isclose(value, want, rel_tol=1e-9):
                continue
            if math.isnan(value) and not torch.isfinite(losses).all():
                fail(f"{what} is NaN: the padding here holds inf, and a product with the mask "
                     "gives inf * 0 = NaN. Select the real positions instead, "
                     "losses[mask] or torch.where(mask, losses, 0).")
            one_more = _real(T, lengths + 1)
            slips = [
                (float(losses.mean()), "averages over every position, padding included: "
                                       "only the real positions t < lengths[b] count."),
                (float(kept.sum()) / (B * T), "divides by B*T: the padding adds nothing to "
                                              "the sum, so it must not count in the divisor "
                                              "either; divide by the number of real "
                                              "positions."),
                (float((kept.sum(1) / lengths).mean()),
                 "averages each sequence first, then the sequences: a short sequence then "
                 "weighs as much as a long one. Every real position should count once."),
                (float(torch.where(one_more, losses, 0.0).sum() / one_more.sum()),
                 "counts one padding position per short sequence: positions start at 0, so "
                 "t is real when t < lengths[b]."),
                (float(kept.sum()), "returns the sum: divide by the number of real "
                                    "positions."),
                (float(kept.sum()) / B, "divides by the number of sequences: divide by the "
                                        "number of real positions, lengths.sum()."),
            ]
            for slip, hint in slips:
                if math.isfinite(slip) and math.isclose(value, slip, rel_tol=1e-9):
                    fail(f"{what} {hint}")
            fail(f"{what} returned {value:.6g}, expected {want:.6g}, the mean over the "
                 f"{int(real.sum())} real positions.")
        return ("the mean over the real positions on 4 padded batches, one of them with inf "
                "in its padding.")
    return run_check(title("masked_mean"), body)


EXERCISES = declare(
    Exercise("3.1", "sequential_batches", check_sequential_batches, forbids=NO_ITERATOR,
             answered_by=("rnnlab.data.seq_data_iter_sequential",), slips=(
        edit(_BATCHES, _WINDOWS, says="random iterator's layout"),
        edit("Ys = data[1:n + 1]", "Ys = data[:n]", says="Y must be X shifted"),
        edit(_PAIRS, "(Xs[:, i:i + num_steps].T, Ys[:, i:i + num_steps].T)", says="(T, B)"),
        edit("num_steps)]", "num_steps)][:-1]", says="full batches"),
        edit("Xs.shape[1] - num_steps + 1", "Xs.shape[1]", says="drop the incomplete end"),
        edit("dtype=torch.long", "dtype=torch.int32", says="dtype torch.int32"),
        edit(_PAIRS, "(Xs[:, i:i + num_steps].tolist(), Ys[:, i:i + num_steps].tolist())",
             says="torch.Tensor, got list"),
        edit(_BATCHES, "    return data", says="list of (X, Y) pairs"),
        edit(_PAIRS, "Xs[:, i:i + num_steps]", says="should be a pair (X, Y)"),
        edit({"data[:n]": "data[:-1]", "data[1:n + 1]": "data[1:]"},
             says="drop the tail that does not fill them"),
    ), routes=(
        edit(_BATCHES, "    return list(rnnlab.seq_data_iter_sequential(corpus, batch_size, "
                       "num_steps, offset=0))", says="rnnlab.data.seq_data_iter_sequential"),
    )),
    Exercise("3.2", "sample_next", check_sample_next, forbids=NO_GENERATE,
             answered_by=("rnnlab.train.generate",), slips=(
        edit("logits / temperature", "logits * temperature", says="divide by the temperature"),
        edit("logits / temperature", "logits", says="as if the temperature were 1"),
        edit("torch.softmax(logits / temperature, dim=-1)", "logits / temperature",
             says="proportional to the raw logits"),
        edit("if temperature == 0:", "if True:", says="the most likely token every time"),
        edit(_GREEDY, "", says="Temperature 0 means"),
        edit(", generator=generator)", ")", says="generator passed in"),
        edit(_DRAW, "probs.max()", says="a token index is one integer"),
        edit(_DRAW, f"float({_DRAW})", says="should return an int"),
        edit(_DRAW, "len(logits)", says="not a token index"),
        edit("logits.argmax()", "logits.argmin()", says="largest logit (greedy)"),
    )),
    Exercise("3.3", "RNNLayer", check_rnn_layer, forbids=NO_FUSED_RNN,
             answered_by=("rnnlab.scratch.ScratchLM", "rnnlab.models.RNNModel"), slips=(
        edit(" + self.b_hh\n", "\n", says="leaves out b_hh"),
        edit({"h = torch.tanh(pre)": "h_new = torch.tanh(pre)",
              "outputs.append(h)": "outputs.append(h_new)",
              "h.unsqueeze(0)": "h_new.unsqueeze(0)"},
             says="uses the initial state at every step"),
        edit("h @ self.W_hh.T", "h @ self.W_hh", says="uses W_hh untransposed"),
        edit("h.unsqueeze(0)", "h", says="with a leading layer axis"),
        edit("self.b_ih", "self.b", says="no parameter `b_ih`"),
        edit("class RNNLayer_solution(nn.Module):", "class RNNLayer_solution:",
             says="should be an nn.Module"),
        edit(" + self.b_ih +", " +", says="leaves out b_ih"),
        edit("+ self.b_ih +", "+ self.W_ih +", says="`+ self.W_ih` for `+ self.b_ih`"),
    ), routes=(
        edit("h = torch.tanh(pre)", "h = torch.rnn_tanh_cell(x[:, t], h, self.W_ih, self.W_hh, "
                                    "self.b_ih, self.b_hh)", says="rnn_tanh_cell"),
    )),
    Exercise("3.4", "lstm_begin_state", check_lstm_begin_state, forbids=NO_STATE,
             answered_by=("rnnlab.models.RNNModel",), slips=(
        edit(_STATE, "return torch.zeros(shape, device=device)", says="returned one tensor"),
        edit("D = 2 if bidirectional else 1", "D = 1", says="per layer *and direction*"),
        edit("(D * num_layers, batch_size, hidden_size)",
             "(batch_size, D * num_layers, hidden_size)", says="layers first"),
        edit("torch.zeros", "torch.ones", says="not all zeros"),
        edit(", device=device", "", says="device=device"),
    ), routes=(
        edit(_STATE, "return rnnlab.RNNModel(5, hidden_size, cell='lstm', num_layers=num_layers,"
                     "\n        bidirectional=bidirectional).begin_state(batch_size, device)",
             says="rnnlab.models.RNNModel"),
    )),
    Exercise("3.5", "GRUModel", check_gru_model, forbids=NO_RNN_MODEL,
             answered_by=("rnnlab.models.RNNModel", "rnnlab.scratch.ScratchLM"), slips=(
        edit("nn.GRU(", "nn.LSTM(", says="should be an nn.GRU"),
        edit(", batch_first=True", "", says="batch_first=True"),
        edit("return torch.zeros(1, batch_size, self.hidden_size, device=device)",
             "h = torch.zeros(1, batch_size, self.hidden_size, device=device)\n"
             "        return h, h", says="that is an LSTM's"),
        edit("super().__init__()\n", "super().__init__()\n"
             "        self.embedding = nn.Embedding(vocab_size, vocab_size)\n",
             says="do not match"),
    ), routes=(
        edit(_GRU, "inner = rnnlab.RNNModel(vocab_size, hidden_size, cell='gru')\n"
                   "        self.rnn, self.output = inner.rnn, inner.output",
             says="rnnlab.models.RNNModel"),
    )),
    Exercise("3.6", "masked_mean", check_masked_mean, forbids=NO_MASKED, slips=(
        edit("losses[mask].mean()", "losses.mean()", says="padding included"),
        edit("losses[mask].mean()", "losses[mask].sum() / losses.numel()",
             says="divides by B*T"),
        edit("losses[mask].mean()", "(torch.where(mask, losses, 0).sum(1) / lengths).mean()",
             says="weighs as much as a long one"),
        edit("< lengths[:, None]", "<= lengths[:, None]", says="one padding position"),
        edit("losses[mask].mean()", "(losses * mask).sum() / mask.sum()", says="inf * 0"),
        edit("losses[mask].mean()", "losses[mask].sum()", says="returns the sum"),
        edit("losses[mask].mean()", "losses[mask].sum() / len(lengths)",
             says="number of sequences"),
        edit("losses[mask].mean()", "(torch.where(mask, losses, 0).sum(1) / lengths)",
             says="one value per sequence"),
        edit("[None, :] < lengths[:, None]", "[:, None] < lengths[None, :]",
             says="The mask is (B, T)"),
    ), routes=(
        edit("losses[mask].mean()", "torch.masked.mean(losses, mask=mask)",
             says="torch.masked"),
    )),
)

_freeze_loaded(__name__)   # the checker's names cannot be changed from here on
