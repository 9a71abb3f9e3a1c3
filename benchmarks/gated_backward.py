"""The gated layers' hand backward (`rnnlab.bptt.LSTMLayerFunction`, `GRULayerFunction`)
against autograd through the same hand-made layer (`rnnlab.cells.layer`) and PyTorch's fused
`nn.LSTM` / `nn.GRU`: seconds for one forward and backward pass, in interleaved rounds in
one process, at chapter 7's full-profile sizes (B = 32, T = 35, d = 32, H = 256), float32,
on the CPU; then one whole training step (`rnnlab.train_step`, Adam) of `ScratchLM(cell=...)`
with autograd's graph of every step (`backward="autograd"`) and with the hand backward
(`backward="manual"`, its default for the gated cells and what `RunConfig(impl="scratch")`
trains), the same model and weights, on a batch of The Time Machine.

    .venv/bin/python benchmarks/gated_backward.py [--rounds 30] [--hidden 256] [--cells lstm gru]

Prints the medians, each ratio with its range, and the noise rule's verdict.
"""

from __future__ import annotations

import argparse
import statistics

import torch
from torch import nn

import rnnlab
from rnnlab.bptt import GRULayerFunction, LSTMLayerFunction
from rnnlab.cells import layer
from rnnlab.noise import speed_ratio
from rnnlab.timing import interleaved_times

FUSED = {"lstm": nn.LSTM, "gru": nn.GRU}


def _report(times: dict, pairs) -> None:
    for name, ts in times.items():
        print(f"  {name:9s} median {statistics.median(ts) * 1e3:7.2f} ms")
    for a, b in pairs:
        r = speed_ratio(times[a], times[b])
        print(f"  {a} is {r} as fast as {b}: {r.verdict(above='faster', below='slower')}")


def layer_pass(cell: str, B: int, T: int, d: int, H: int, rounds: int) -> None:
    """One layer's forward and backward: autograd, by hand, PyTorch's fused module."""
    torch.manual_seed(0)
    fused = FUSED[cell](d, H)
    weights = [fused.weight_ih_l0.T.detach().clone(), fused.weight_hh_l0.T.detach().clone(),
               fused.bias_ih_l0.detach().clone(), fused.bias_hh_l0.detach().clone()]
    weights = [w.requires_grad_() for w in weights]
    xs = torch.randn(T, B, d, requires_grad=True)
    h0 = torch.zeros(B, H)
    state = (h0, torch.zeros(B, H)) if cell == "lstm" else h0
    G = torch.randn(T, B, H)

    def autograd_loop():
        hs, _ = layer(cell, xs, state, tuple(weights))
        (hs * G).sum().backward()

    def by_hand():
        if cell == "lstm":
            hs, _ = LSTMLayerFunction.apply(xs, *state, *weights)
        else:
            hs = GRULayerFunction.apply(xs, state, *weights)
        (hs * G).sum().backward()

    def pytorch_fused():
        hs, _ = fused(xs, tuple(s[None] for s in state) if cell == "lstm" else state[None])
        (hs * G).sum().backward()

    name = f"nn.{FUSED[cell].__name__}"
    times = interleaved_times({"autograd": autograd_loop, "by hand": by_hand,
                               name: pytorch_fused}, repeats=rounds)
    print(f"{cell}: one layer's forward + backward, B={B} T={T} d={d} H={H}, "
          f"{torch.get_num_threads()} threads, {rounds} interleaved rounds:")
    _report(times, (("by hand", "autograd"), (name, "by hand")))


def training_step(cell: str, B: int, T: int, d: int, H: int, rounds: int) -> None:
    """One Adam step of the language model: `backward="autograd"` and `"manual"`."""
    data = rnnlab.load_time_machine(B, T)
    X, Y = next(iter(data.train_batches()))
    V = len(data.vocab)
    rnnlab.seed_everything(0)
    models = {how: rnnlab.ScratchLM(V, H, 1, cell, embed_size=d, backward=backward)
              for how, backward in (("autograd", "autograd"), ("by hand", "manual"))}
    models["by hand"].load_state_dict(models["autograd"].state_dict())
    optimizers = {name: torch.optim.Adam(m.parameters(), lr=1e-3) for name, m in models.items()}

    def stepper(name):
        return lambda: rnnlab.train_step(models[name], X, Y, optimizers[name], clip=1.0)

    times = interleaved_times({name: stepper(name) for name in models}, repeats=rounds)
    print(f"{cell}: one training step of the language model (V={V}, E={d}, H={H}):")
    _report(times, (("by hand", "autograd"),))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--cells", nargs="+", choices=sorted(FUSED), default=["lstm", "gru"])
    args = parser.parse_args()
    B, T, d, H = 32, 35, 32, args.hidden
    for cell in args.cells:
        layer_pass(cell, B, T, d, H, args.rounds)
        training_step(cell, B, T, d, H, args.rounds)


if __name__ == "__main__":
    main()
