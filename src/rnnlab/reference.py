"""Bridges to d2l's reference code (d2l 0.17.6), for chapter 3's cross-check, the speed
benchmark's d2l candidate (`bench.run_suite`) and the tests.

d2l's models take `(B, T)` indices too, but return time-major logits `(T*B, V)`, and its
`begin_state` takes `(device, batch_size)`. `D2LModel` presents a d2l model with our
interface; `train_d2l_reference` trains `d2l.RNNModel` with `d2l.train_epoch_ch8` on our
batches and measures it with our validation protocol. d2l itself is imported only when
these are used (it is installed with --no-deps).
"""

from __future__ import annotations

import math
import random
import time
import warnings

import torch
from torch import nn

from .data import LMData
from .train import History, perplexity


class D2LModel(nn.Module):
    """A d2l `RNNModel` seen through our interface: logits `(B, T, V)` instead of `(T*B, V)`."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def begin_state(self, batch_size: int, device):
        return self.net.begin_state(device=device, batch_size=batch_size)

    def forward(self, X: torch.Tensor, state):
        B, T = X.shape
        logits, state = self.net(X, state)                      # (T*B, V), time-major
        return logits.reshape(T, B, -1).transpose(0, 1), state  # (B, T, V)


def train_d2l_reference(data: LMData, hidden_size: int, epochs: int, lr: float = 1.0,
                        device: torch.device | None = None, seed: int = 0
                        ) -> tuple[D2LModel, History]:
    """Train d2l's concise reference model, `d2l.RNNModel(nn.RNN(V, H), V)`, on our data.

    Every line of the model, the epoch loop, the clipping (at 1) and the update is d2l's
    (`train_epoch_ch8` with `torch.optim.SGD`, as its `train_ch8` does); only the batches
    and the validation on our held-out tail are ours. Compare with
    `rnnlab.train(RNNModel(V, H), data, RunConfig(optimizer="sgd", lr=lr, clip=1.0))`.
    """
    from d2l import torch as d2l

    device = device or torch.device("cpu")
    torch.manual_seed(seed)
    rng = random.Random(seed)
    V = len(data.vocab)
    net = d2l.RNNModel(nn.RNN(V, hidden_size), V).to(device)
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    model, history = D2LModel(net), History()
    for _ in range(epochs):
        start = time.perf_counter()
        with warnings.catch_warnings():   # d2l's Accumulator calls float() on a live tensor
            warnings.simplefilter("ignore", UserWarning)
            ppl, speed = d2l.train_epoch_ch8(net, data.train_batches(rng),
                                             nn.CrossEntropyLoss(), optimizer, device,
                                             use_random_iter=data.random_iter)
        history.train_ppl.append(ppl)
        history.tokens_per_s.append(speed)
        history.grad_norm.append(math.nan)            # d2l does not report it
        history.valid_ppl.append(perplexity(model, data.valid_batches(), device))
        history.seconds.append(time.perf_counter() - start)
    return model, history
