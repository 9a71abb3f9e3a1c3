"""Bad input to the package's public functions is refused with a message that names the
argument and says what to change (the tests of each module cover more)."""

import pytest
import torch

import rnnlab
from rnnlab import RNNModel, RNNScratch
from rnnlab import data as D

CASES = [
    (lambda: D.load_corpus_time_machine(max_tokens=0), "max_tokens must be a positive"),
    (lambda: D.load_corpus_time_machine(token="byte"), "'char' or 'word'"),
    (lambda: D.Vocab(["a"], min_freq=-1), "min_freq must be >= 0"),
    (lambda: D.split_corpus([1, 2, 3], 0.5), "too short to split"),
    (lambda: next(D.seq_data_iter_sequential(list(range(500)), 2, 5, offset=9)),
     r"offset must be in \[0, num_steps=5\]"),
    (lambda: D.load_time_machine(batch_size=64, num_steps=64, max_tokens=4_000),
     "smaller batch_size or num_steps"),
    (lambda: D.load_time_machine(batch_size=2.5), "batch_size must be a positive integer"),
    (lambda: RNNModel(10, 8, dropout=1.5), r"dropout must be in \[0, 1\)"),
    (lambda: RNNModel(10, 8, io_dropout=-0.1), r"io_dropout must be in \[0, 1\)"),
    (lambda: RNNModel(10, 8, embed_size=0), "embed_size must be a positive integer"),
    (lambda: RNNScratch(10, 8).begin_state(0), "batch_size must be a positive integer"),
    (lambda: RNNScratch(10, 8, num_layers=0), "num_layers must be a positive integer"),
    (lambda: rnnlab.RunConfig(weight_decay=-1), "weight_decay must be >= 0"),
    (lambda: rnnlab.fit(RNNScratch(5, 4), torch.zeros(1, 3, dtype=torch.long),
                        torch.zeros(1, 3, dtype=torch.long), steps=0), "steps must be"),
    (lambda: rnnlab.fit(RNNScratch(5, 4), torch.zeros(3, dtype=torch.long),
                        torch.zeros(3, dtype=torch.long)), r"shape \(B, T\)"),
    (lambda: rnnlab.predict(RNNScratch(5, 4), torch.tensor([[7]])), "vocabulary has 5"),
    (lambda: rnnlab.get_budget("medium"), "choose one of"),
    (lambda: rnnlab.seed_everything(1.5), "seed must be an int"),
]


@pytest.mark.parametrize("call, message", CASES, ids=[m for _, m in CASES])
def test_bad_input_gets_a_message_that_says_what_to_change(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()
