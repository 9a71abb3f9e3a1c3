"""Counting parameters, bytes and multiply-adds of recurrent language models by formula.

For one layer `l` and one direction, with `g` gate blocks (RNN 1, GRU 3, LSTM 4), input size
`d_l` and hidden size `H`:

    params = g * (d_l*H + H*H + b*H)      b = 1 bias (textbook) or 2 (PyTorch: b_ih + b_hh)

Layer 1 takes the input (`d_1` = V for one-hot, E for embeddings); layer l >= 2 takes the
layer below's output, `d_l = D*H` (D = 2 directions if bidirectional). Bidirectional layers
have two independent copies. A language model adds an embedding table `V*E` (none for
one-hot input) and an output layer `D*H*Q + Q`.

`tests/test_params.py` checks these formulas against `sum(p.numel())` of real PyTorch modules.

The parameters are only part of what training holds in memory: `memory.training_memory`
measures one real training step.
"""

from __future__ import annotations

from dataclasses import dataclass

from .cells import GATE_BLOCKS as GATES
from .validate import require_choice, require_positive_int

BYTES_PER_PARAM = {"fp32": 4, "bf16": 2, "fp16": 2}


def _require_cell_biases(cell: str, biases: int) -> None:
    require_choice("cell", cell, GATES)
    if biases not in (1, 2):
        raise ValueError(f"biases must be 1 (textbook) or 2 (PyTorch), got {biases!r}")


def layer_weight_count(cell: str, input_size: int, hidden_size: int, biases: int = 2,
                       directions: int = 1) -> int:
    """Numbers in one layer: `directions * g * (d*H + H*H + biases*H)`.

    With `biases=0` this is also the layer's multiply-adds per token: every weight is used
    once per token, in one multiply-add."""
    g, d, H = GATES[cell], input_size, hidden_size
    return directions * g * (d * H + H * H + biases * H)


def layer_input_sizes(input_size: int, hidden_size: int, num_layers: int,
                      bidirectional: bool = False) -> list[int]:
    """`d_l` for each layer: the input for layer 1, the layer below's `D*H` outputs after."""
    D = 2 if bidirectional else 1
    return [input_size] + [D * hidden_size] * (num_layers - 1)


def recurrent_params(cell: str, input_size: int, hidden_size: int, num_layers: int = 1,
                     bidirectional: bool = False, biases: int = 2) -> int:
    """Parameters of a stack of `nn.RNN`/`nn.GRU`/`nn.LSTM` layers (biases=2 is PyTorch's)."""
    _require_cell_biases(cell, biases)
    for name, value in [("input_size", input_size), ("hidden_size", hidden_size),
                        ("num_layers", num_layers)]:
        require_positive_int(name, value)
    D = 2 if bidirectional else 1
    return sum(layer_weight_count(cell, d, hidden_size, biases, D)
               for d in layer_input_sizes(input_size, hidden_size, num_layers, bidirectional))


@dataclass(frozen=True)
class LMSpec:
    """A language model's sizes: what `count_lm` needs (mirrors `RNNModel`'s arguments)."""

    vocab_size: int
    hidden_size: int
    num_layers: int = 1
    cell: str = "rnn"
    embed_size: int | None = None    # None = one-hot input
    bidirectional: bool = False
    output_size: int | None = None   # Q; None = vocab_size (predict the next token)


@dataclass(frozen=True)
class LMCount:
    """Parameters by part, and what they cost."""

    embedding: int
    recurrent: int
    output: int
    macs_per_token: int

    @property
    def total(self) -> int:
        return self.embedding + self.recurrent + self.output

    def bytes(self, dtype: str = "fp32") -> int:
        if dtype not in BYTES_PER_PARAM:
            raise ValueError(f"dtype must be one of {sorted(BYTES_PER_PARAM)}, got {dtype!r}")
        return self.total * BYTES_PER_PARAM[dtype]


def count_lm(spec: LMSpec, biases: int = 2) -> LMCount:
    """Count the parameters of a language model and its multiply-adds per token.

    Multiply-adds (MACs) per token, per layer and direction: `g * (d_l*H + H*H)`, plus
    `D*H*Q` for the output layer. One-hot input is counted as the dense product our models
    compute (`V*H` per token, nearly all of it multiplying zeros); an embedding lookup costs
    no multiply-adds, only the `E*H` product that follows it.
    """
    require_positive_int("vocab_size", spec.vocab_size)
    if spec.embed_size is not None:
        require_positive_int("embed_size", spec.embed_size)
    Q = spec.output_size if spec.output_size is not None else spec.vocab_size
    require_positive_int("output_size", Q)
    D, H = 2 if spec.bidirectional else 1, spec.hidden_size
    d_in = spec.embed_size or spec.vocab_size
    recurrent = recurrent_params(spec.cell, d_in, H, spec.num_layers, spec.bidirectional,
                                 biases)
    embedding = spec.vocab_size * spec.embed_size if spec.embed_size else 0
    output = D * H * Q + Q
    macs = sum(layer_weight_count(spec.cell, d, H, biases=0, directions=D)
               for d in layer_input_sizes(d_in, H, spec.num_layers, spec.bidirectional))
    macs += D * H * Q
    return LMCount(embedding, recurrent, output, macs)
