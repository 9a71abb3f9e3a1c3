"""Checks for chapter 2, "One-hot versus embeddings"."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..checks import Verdict, call, expect_tensor, fail, run_check, unavailable
from ..models import num_params

NO_ONE_HOT = unavailable("Exercise 2.1 asks you to build the one-hot vectors yourself",
                         "torch.nn.functional.one_hot", "rnnlab.OneHot")


def check_one_hot(one_hot) -> Verdict:
    """Exercise 2.1: `one_hot(indices, V)` -> float32 tensor of shape `indices.shape + (V,)`."""
    def body():
        g = torch.Generator().manual_seed(21)
        cases = [torch.tensor([3]), torch.tensor([[0, 2, 1]]),
                 torch.randint(0, 28, (4, 7), generator=g)]
        for X, V in zip(cases, [5, 3, 28]):
            got = call(one_hot, X.clone(), V, name="one_hot", blocked=NO_ONE_HOT)
            what = f"one_hot(<indices {tuple(X.shape)}>, V={V})"
            if isinstance(got, torch.Tensor) and got.dtype in (torch.int64, torch.int32,
                                                                torch.bool):
                fail(f"{what} has dtype {got.dtype}: one-hot vectors are multiplied with "
                     "float weights, so they must be float32 (use .float() or "
                     "dtype=torch.float32).")
            expect_tensor(got, F.one_hot(X, V).float(), what)
        return "float32 one-hot vectors of the right shape for 1-D and 2-D indices."
    return run_check("Exercise 2.1 (one_hot)", body)


def check_embed_one_hot(embed_one_hot) -> Verdict:
    """Exercise 2.2: `embed_one_hot(X_onehot, W)`: one-hot `(B, T, V)` times `W (V, E)`."""
    def body():
        g = torch.Generator().manual_seed(22)
        for B, T, V, E in [(1, 1, 4, 2), (2, 5, 28, 8), (3, 4, 10, 16)]:
            idx = torch.randint(0, V, (B, T), generator=g)
            X, W = F.one_hot(idx, V).float(), torch.randn(V, E, generator=g)
            got = call(embed_one_hot, X.clone(), W.clone(), name="embed_one_hot")
            expect_tensor(got, W[idx], f"embed_one_hot(<one-hot {(B, T, V)}>, W {(V, E)})")
        return "one_hot(i) @ W picks row i of W: the same as the lookup W[i]."
    return run_check("Exercise 2.2 (embed_one_hot)", body)


def check_input_params(input_params) -> Verdict:
    """Exercise 2.3: `input_params(V, E, H)` -> `(one_hot, embedding)` parameter counts.

    Parameters between a token and the first layer's pre-activation `x_t W_xh`:
    one-hot input needs `W_xh (V, H)`; an embedding needs the table `(V, E)` and `W_xh (E, H)`.
    """
    def body():
        for V, E, H in [(28, 32, 256), (4580, 64, 128), (10, 10, 10)]:
            want_oh = num_params(nn.Linear(V, H, bias=False))
            want_emb = num_params(nn.Embedding(V, E)) + num_params(nn.Linear(E, H, bias=False))
            got = call(input_params, V, E, H, name="input_params")
            what = f"input_params(V={V}, E={E}, H={H})"
            if got is None:
                fail(f"{what} returned None: did you forget `return`?")
            if not isinstance(got, tuple) or len(got) != 2:
                fail(f"{what} should return a pair (one_hot_count, embedding_count), got "
                     f"{type(got).__name__}.")
            oh, emb = (int(x) if isinstance(x, torch.Tensor) else x for x in got)
            if oh != want_oh:
                hint = (" A one-hot vector is fixed, not learned: only W_xh counts."
                        if oh == V * V + V * H else
                        f" Which matrix maps a {V}-dimensional one-hot vector to {H} "
                        "hidden units?")
                fail(f"{what}: the one-hot count is wrong, got {oh}.{hint}")
            if emb != want_emb:
                hint = (" Add the embedding table itself, V x E." if emb == E * H else
                        " Add W_xh, which now maps E (not V) inputs to H units."
                        if emb == V * E else "")
                fail(f"{what}: the embedding count is wrong, got {emb}.{hint}")
        return "one-hot: V*H; embedding: V*E + E*H."
    return run_check("Exercise 2.3 (input_params)", body)
