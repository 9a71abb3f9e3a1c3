"""Checks for chapter 2, "One-hot versus embeddings"."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..audit import forbid
from ..checks.expect import as_pair, close, expect_tensor, slipped
from ..checks.explain import SHAPES, error_hint, safe_repr
from ..checks.sandbox import call
from ..checks.verdict import Verdict, fail, run_check
from ..guard import freeze_loaded as _freeze_loaded
from ..guard import generator as _generator
from ..models import num_params
from . import Exercise, declare, edit, title

NO_ONE_HOT = forbid("this exercise asks you to build the one-hot vectors yourself",
                    ops=("one_hot",))
NO_LOOKUP = forbid("this exercise asks for the matrix product, not a lookup",
                   ops=("embedding*",))
NO_TENSORS = forbid("this exercise asks for the counts from the sizes alone, by formula "
                    "(building modules to count them is what it replaces)", any_op=True)


def check_one_hot(one_hot) -> Verdict:
    """Checks `one_hot(indices, V)` -> float32 tensor of shape `indices.shape + (V,)`."""
    def body():
        g = _generator(21)
        cases = [torch.tensor([3]), torch.tensor([[0, 2, 1]]),
                 torch.randint(0, 28, (4, 7), generator=g)]
        for X, V in zip(cases, [5, 3, 28]):
            got = call(one_hot, X.clone(), V, name="one_hot", forbidden=NO_ONE_HOT)
            what = f"one_hot(<indices {tuple(X.shape)}>, V={V})"
            if isinstance(got, torch.Tensor) and got.dtype in (torch.int64, torch.int32,
                                                                torch.bool):
                fail(f"{what} has dtype {got.dtype}: one-hot vectors are multiplied with "
                     "float weights, so they must be float32 (use .float() or "
                     "dtype=torch.float32).")
            want = F.one_hot(X, V).float()
            if isinstance(got, torch.Tensor) and got.dim() == want.dim() and \
                    tuple(got.shape) == (V,) + tuple(X.shape) and got.shape != want.shape:
                fail(f"{what} has shape {tuple(got.shape)}: the one-hot axis goes last, "
                     f"indices.shape + (V,) = {tuple(want.shape)}.")
            if isinstance(got, torch.Tensor) and got.shape[:-1] == X.shape and \
                    got.dim() == X.dim() + 1 and got.shape[-1] in (V - 1, V + 1):
                fail(f"{what} has {got.shape[-1]} columns: there is one column per token "
                     f"index 0..V-1, that is V = {V}.")
            shifted = F.one_hot((X + 1) % V, V).float()
            back = F.one_hot((X - 1) % V, V).float()
            if slipped(got, shifted, want) or slipped(got, back, want):
                fail(f"{what} puts the 1 one column off: index i goes to column i "
                     "(indices start at 0).")
            if isinstance(got, torch.Tensor) and got.shape == want.shape and \
                    got.is_floating_point() and bool((got.sum(-1) == got.shape[-1]).all()):
                fail(f"{what} is all ones: each vector has a single 1, in column i, and "
                     "zeros elsewhere.")
            expect_tensor(got, want, what)
        return "float32 one-hot vectors of the right shape for 1-D and 2-D indices."
    return run_check(title("one_hot"), body)


def _rows(B: int, T: int, V: int, g: torch.Generator) -> torch.Tensor:
    """Rows of a (B, T, V) input: one-hot ones, and rows that are not (a mix of two tokens,
    a label-smoothed row), on which the product and a row lookup differ."""
    idx = torch.randint(0, V, (B, T), generator=g)
    X = F.one_hot(idx, V).float()
    if T > 1:
        X[0, 1] = 0.5 * X[0, 1] + 0.5 * F.one_hot((idx[0, 1] + 1) % V, V).float()
        X[-1, -1] = 0.9 * X[-1, -1] + 0.1 / V
    return X


_ORDER_HINT = error_hint(*SHAPES, "expected size", says=(
    "The rows come first and the table on the right: X (B, T, V) @ W (V, E) contracts the V "
    "axis; W @ X and X @ W.T do not fit."))


def check_embed_one_hot(embed_one_hot) -> Verdict:
    """Checks `embed_one_hot(X, W)`: rows `X (B, T, V)` times `W (V, E)` -> (B, T, E).

    For one-hot rows the product picks row i of W (the lookup); the check also passes rows
    that are not one-hot, where only the product gives the asked result.
    """
    def body():
        g = _generator(22)
        for B, T, V, E in [(1, 1, 4, 2), (2, 5, 28, 8), (3, 4, 10, 16)]:
            X, W = _rows(B, T, V, g), torch.randn(V, E, generator=g)
            got = call(embed_one_hot, X.clone(), W.clone(), name="embed_one_hot",
                       forbidden=NO_LOOKUP, on_error=_ORDER_HINT)
            what = f"embed_one_hot(<X {(B, T, V)}>, W {(V, E)})"
            if close(got, W[X.argmax(-1)]) and not close(got, X @ W):
                fail(f"{what} picks one row of W per position (a lookup by argmax): that "
                     "equals the product only when every row of X is one-hot. Some rows "
                     "here mix two tokens: compute the product X @ W, which is what the "
                     "lookup shortcuts.")
            if isinstance(got, torch.Tensor) and tuple(got.shape) == (B, T, V) and E != V:
                fail(f"{what} has shape (B, T, V) = {(B, T, V)}: the product with W (V, E) "
                     f"has E = {E} columns, X @ W.")
            if isinstance(got, torch.Tensor) and tuple(got.shape) == (B, T, V, E):
                fail(f"{what} has shape {(B, T, V, E)}: an elementwise product broadcast "
                     "X against W. Use the matrix product, X @ W.")
            expect_tensor(got, X @ W, what)
        return ("computes X @ W: for a one-hot row that is row i of W (the lookup an "
                "embedding does), and it also holds for rows that are not one-hot.")
    return run_check(title("embed_one_hot"), body)


def _count(value, what: str) -> int:
    """A parameter count: an int, or a float with an integer value."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        fail(f"{what} should return two ints, got {safe_repr(value)} of type "
             f"{type(value).__name__}.")
    return value


def check_input_params(input_params) -> Verdict:
    """Checks `input_params(V, E, H)` -> `(one_hot, embedding)` parameter counts.

    Parameters between a token and the first layer's pre-activation `x_t W_xh`:
    one-hot input needs `W_xh (V, H)`; an embedding needs the table `(V, E)` and `W_xh (E, H)`.
    """
    def body():
        for V, E, H in [(31, 17, 130), (4583, 63, 127), (11, 9, 13)]:
            got = call(input_params, V, E, H, name="input_params", forbidden=NO_TENSORS)
            want_oh = num_params(nn.Linear(V, H, bias=False))          # after the call
            want_emb = num_params(nn.Embedding(V, E)) + num_params(nn.Linear(E, H, bias=False))
            what = f"input_params(V={V}, E={E}, H={H})"
            oh, emb = (_count(x, what) for x in as_pair(
                got, what, "(one_hot_count, embedding_count)"))
            if oh != want_oh:
                hint = {V * V + V * H: " A one-hot vector is fixed, not learned: only W_xh "
                                       "counts.",
                        V * H + H: " The question counts the weights between a token and "
                                   "x_t W_xh: no bias.",
                        E * H: " That is the embedding's W_xh: one-hot input is V "
                               "numbers wide."}.get(oh, f" Which matrix maps a {V}-"
                                                    f"dimensional one-hot vector to {H} "
                                                    "hidden units?")
                fail(f"{what}: the one-hot count is wrong, got {oh}.{hint}")
            if emb != want_emb:
                hint = {E * H: " Add the embedding table itself, V x E.",
                        V * E: " Add W_xh, which now maps E (not V) inputs to H units.",
                        V * E + V * H: " W_xh now maps the E-dimensional embedding, not "
                                       "the V-dimensional one-hot vector: E x H.",
                        V * E + E * H + H: " The question counts weights only: no bias."
                        }.get(emb, "")
                fail(f"{what}: the embedding count is wrong, got {emb}.{hint}")
        return ("one-hot: V*H; embedding: V*E + E*H, on sizes the page never used "
                "(computed from the sizes, without building a module).")
    return run_check(title("input_params"), body)


# ---------------------------------------------------------------------------
# The chapter's exercises (see rnnlab.exercises)
# ---------------------------------------------------------------------------

_ONE_HOT = "(indices.unsqueeze(-1) == torch.arange(V, device=indices.device)).float()"

EXERCISES = declare(
    Exercise("2.1", "one_hot", check_one_hot, forbids=NO_ONE_HOT,
             answered_by=("rnnlab.models.OneHot",), slips=(
        edit(".float()", ".long()", says="must be float32"),
        edit("torch.arange(V, ", "torch.arange(V + 1, ", says="one column per token"),
        edit(".float()", ".float().movedim(-1, 0)", says="the one-hot axis goes last"),
        edit("indices.unsqueeze(-1) ==", "(indices.unsqueeze(-1) + 1) % V ==",
             says="one column off"),
        edit(_ONE_HOT, "torch.ones(*indices.shape, V)", says="all ones"),
    ), routes=(
        edit(_ONE_HOT, "F.one_hot(indices, V).float()", says="one_hot"),
    )),
    Exercise("2.2", "embed_one_hot", check_embed_one_hot, forbids=NO_LOOKUP, slips=(
        edit("X @ W ", "W[X.argmax(-1)] ", says="a lookup by argmax"),
        edit("X @ W ", "X.unsqueeze(-1) * W ", says="an elementwise product"),
        edit("X @ W ", "X ", says="has E = "),
        edit("X @ W ", "W @ X ", says="W @ X and X @ W.T do not fit"),
        edit("X @ W ", "X @ W.T ", says="W @ X and X @ W.T do not fit"),
    ), routes=(
        edit("X @ W ", "F.embedding_bag(\n        torch.arange(W.shape[0]).expand(X[..., 0]."
                       "numel(), -1), W, mode='sum',\n        per_sample_weights=X.reshape("
                       "X[..., 0].numel(), -1)).reshape(*X.shape[:-1], -1) ",
             says="embedding_bag"),
    )),
    Exercise("2.3", "input_params", check_input_params, forbids=NO_TENSORS,
             answered_by=("rnnlab.models.num_params", "rnnlab.params"), slips=(
        edit("one_hot = V * H ", "one_hot = V * V + V * H ", says="fixed, not learned"),
        edit("V * E + E * H ", "E * H ", says="Add the embedding table"),
        edit("V * E + E * H ", "V * E ", says="Add W_xh"),
        edit("one_hot = V * H ", "one_hot = V * H + H ", says="no bias"),
        edit("V * E + E * H ", "V * E + V * H ", says="not the V-dimensional one-hot vector"),
        edit("return one_hot, embedding", "return one_hot", says="should return a pair"),
        edit("return one_hot, embedding", "return str(one_hot), embedding",
             says="should return two ints"),
    ), routes=(
        edit("one_hot = V * H ", "one_hot = nn.Linear(V, H, bias=False).weight.numel() ",
             says="a torch operation"),
    )),
)

_freeze_loaded(__name__)   # the checker's names cannot be changed from here on
