"""Toy tasks for chapter 3: one short sequence each, small enough to memorise in seconds,
from the student notes the course was designed from.

    vocab, X, Y = alphabet_task()     next letter: a..y -> b..z, (1, 25)
    vocab, X, Y = hello_task()        rotate a word: "hello" -> "elloh", (1, 5)
"""

from __future__ import annotations

import torch

from .data import Vocab


def alphabet_task(letters: str = "abcdefghijklmnopqrstuvwxyz"
                  ) -> tuple[Vocab, torch.Tensor, torch.Tensor]:
    """Next letter of the alphabet: `a -> b, b -> c, ..., y -> z` (25 transitions).

    Returns `(vocab, X, Y)` with `X`, `Y` of shape `(1, 25)`: one sequence whose target is
    the input shifted by one. Every transition is deterministic and appears exactly once,
    which is why a held-out split of it has nothing to generalise from (chapter 3).
    """
    if len(letters) < 2 or len(set(letters)) != len(letters):
        raise ValueError("letters must hold at least two distinct characters")
    vocab = Vocab([list(letters)])
    ids = torch.tensor([vocab.encode(letters)])          # (1, 26)
    return vocab, ids[:, :-1], ids[:, 1:]


def hello_task(word: str = "hello") -> tuple[Vocab, torch.Tensor, torch.Tensor]:
    """Rotate a word by one: `"hello" -> "elloh"`.

    Returns `(vocab, X, Y)` with `X`, `Y` of shape `(1, len(word))`.
    """
    if len(word) < 2:
        raise ValueError(f"word must have at least 2 characters, got {word!r}")
    vocab = Vocab([list(word)])
    target = word[1:] + word[0]
    return vocab, torch.tensor([vocab.encode(word)]), torch.tensor([vocab.encode(target)])
