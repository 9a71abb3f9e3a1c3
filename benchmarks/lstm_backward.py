"""The LSTM layer's hand backward (`rnnlab.bptt.LSTMLayerFunction`) against autograd
through the same hand-made layer (`rnnlab.cells.layer("lstm", ...)`, what
`ScratchLM(cell="lstm")` trains with) and PyTorch's fused `nn.LSTM`: seconds for one
forward and backward pass, in interleaved rounds in one process, at chapter 7's full-profile
sizes (B = 32, T = 35, d = 32, H = 256), float32, on the CPU; then one whole training step
(`rnnlab.train_step`, Adam) of `ScratchLM(cell="lstm")` with autograd's graph of every step
and with the hand backward (`backward="manual"`, its default and what `RunConfig` trains),
the same model and weights, on a batch of The Time Machine.

    .venv/bin/python benchmarks/lstm_backward.py [--rounds 30] [--hidden 256]

Prints the medians, each ratio with its range, and the noise rule's verdict.
"""

from __future__ import annotations

import argparse
import statistics

import torch
from torch import nn

import rnnlab
from rnnlab.bptt import LSTMLayerFunction
from rnnlab.cells import layer
from rnnlab.noise import speed_ratio
from rnnlab.timing import interleaved_times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--hidden", type=int, default=256)
    args = parser.parse_args()
    B, T, d, H = 32, 35, 32, args.hidden
    torch.manual_seed(0)
    fused = nn.LSTM(d, H)
    weights = [fused.weight_ih_l0.T.detach().clone(), fused.weight_hh_l0.T.detach().clone(),
               fused.bias_ih_l0.detach().clone(), fused.bias_hh_l0.detach().clone()]
    weights = [w.requires_grad_() for w in weights]
    xs = torch.randn(T, B, d, requires_grad=True)
    h0, c0 = torch.zeros(B, H), torch.zeros(B, H)
    G = torch.randn(T, B, H)

    def autograd_loop():
        hs, _ = layer("lstm", xs, (h0, c0), tuple(weights))
        (hs * G).sum().backward()

    def by_hand():
        hs, _ = LSTMLayerFunction.apply(xs, h0, c0, *weights)
        (hs * G).sum().backward()

    def pytorch_fused():
        hs, _ = fused(xs, (h0[None], c0[None]))
        (hs * G).sum().backward()

    times = interleaved_times({"autograd": autograd_loop, "by hand": by_hand,
                               "nn.LSTM": pytorch_fused}, repeats=args.rounds)
    print(f"one forward + backward, B={B} T={T} d={d} H={H}, {torch.get_num_threads()} "
          f"threads, {args.rounds} interleaved rounds:")
    for name, ts in times.items():
        print(f"  {name:9s} median {statistics.median(ts) * 1e3:7.2f} ms")
    for a, b in (("by hand", "autograd"), ("nn.LSTM", "by hand")):
        r = speed_ratio(times[a], times[b])
        print(f"  {a} is {r} as fast as {b}: "
              f"{r.verdict(above='faster', below='slower')}")

    data = rnnlab.load_time_machine(B, T)
    X, Y = next(iter(data.train_batches()))
    V = len(data.vocab)
    rnnlab.seed_everything(0)
    models = {"autograd": rnnlab.ScratchLM(V, H, 1, "lstm", embed_size=d, backward="autograd")}
    models["by hand"] = rnnlab.ScratchLM(V, H, 1, "lstm", embed_size=d, backward="manual")
    models["by hand"].load_state_dict(models["autograd"].state_dict())
    optimizers = {name: torch.optim.Adam(m.parameters(), lr=1e-3) for name, m in models.items()}

    def stepper(name):
        return lambda: rnnlab.train_step(models[name], X, Y, optimizers[name], clip=1.0)

    steps = {name: stepper(name) for name in models}
    step_times = interleaved_times(steps, repeats=args.rounds)
    print(f"one training step of the language model (V={V}, E={d}, H={H}):")
    for name, ts in step_times.items():
        print(f"  {name:9s} median {statistics.median(ts) * 1e3:7.2f} ms")
    r = speed_ratio(step_times["by hand"], step_times["autograd"])
    print(f"  by hand is {r} as fast as autograd: {r.verdict(above='faster', below='slower')}")


if __name__ == "__main__":
    main()
