"""Reference perplexities that need no neural network: what a model must beat.

    baseline_perplexities(data)   # {"uniform": 28.0, "unigram": ..., "bigram": ...}

Each baseline predicts the validation text by the course's evaluation protocol (one
stream: every token after the first is predicted once) from counts of the training text:

    uniform   p(y) = 1 / V                           (no knowledge at all: perplexity V)
    unigram   p(y) = (n(y) + 1) / (N + V)            (how frequent each token is)
    bigram    p(y | x) = (n(x, y) + 1) / (n(x) + V)  (which token follows which)

The `+ 1` (add-one smoothing) gives tokens or pairs never seen in training a small
probability instead of zero, which would make the perplexity infinite.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from .data import LMData


def ngram_perplexity(train: Sequence[int], held_out: Sequence[int], vocab_size: int,
                     order: int) -> float:
    """Perplexity on `held_out[1:]` of an add-one-smoothed n-gram model of `train`.

    `order` 0 is uniform, 1 unigram, 2 bigram. The targets are `held_out[1:]` for every
    order, the same tokens a neural model is scored on, so the numbers are comparable.
    """
    if order not in (0, 1, 2):
        raise ValueError(f"order must be 0 (uniform), 1 (unigram) or 2 (bigram), got {order}")
    if len(held_out) < 2:
        raise ValueError("the held-out text needs at least 2 tokens")
    V = vocab_size
    x = torch.as_tensor(held_out[:-1], dtype=torch.long)   # contexts
    y = torch.as_tensor(held_out[1:], dtype=torch.long)    # targets
    t = torch.as_tensor(train, dtype=torch.long)
    if max(int(t.max()), int(x.max()), int(y.max())) >= V:
        raise ValueError(f"the corpora hold indices >= vocab_size={V}")
    if order == 0:
        return float(V)
    if order == 1:
        counts = torch.bincount(t, minlength=V).double()       # (V,)
        log_p = torch.log((counts[y] + 1) / (len(t) + V))
    else:
        pairs = torch.zeros(V, V, dtype=torch.float64)          # [x, y] = n(x, y)
        pairs.index_put_((t[:-1], t[1:]), torch.ones(len(t) - 1, dtype=torch.float64),
                         accumulate=True)
        log_p = torch.log((pairs[x, y] + 1) / (pairs.sum(1)[x] + V))
    return math.exp(-float(log_p.mean()))


def baseline_perplexities(data: LMData, split: str = "valid") -> dict[str, float]:
    """Uniform, unigram and bigram perplexity of `data`'s validation (or test) text."""
    held_out = {"valid": data.valid_corpus, "test": data.test_corpus}.get(split)
    if held_out is None:
        raise ValueError(f"split must be 'valid' or 'test', got {split!r}")
    V = len(data.vocab)
    return {name: ngram_perplexity(data.train_corpus, held_out, V, order)
            for order, name in enumerate(["uniform", "unigram", "bigram"])}
