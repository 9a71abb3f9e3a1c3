import math

import pytest
import torch

import rnnlab
from rnnlab.baselines import baseline_perplexities, ngram_perplexity


def test_uniform_is_the_vocabulary_size():
    assert ngram_perplexity([0, 1, 2], [1, 2, 1], 5, order=0) == 5.0


def test_unigram_and_bigram_by_hand():
    train, held_out, V = [0, 0, 1], [0, 1, 0], 3
    # unigram: counts (2, 1, 0) + 1 over N + V = 6 -> p(1) = 2/6, p(0) = 3/6
    want = math.exp(-(math.log(2 / 6) + math.log(3 / 6)) / 2)
    assert ngram_perplexity(train, held_out, V, 1) == pytest.approx(want)
    # bigram: pairs (0,0), (0,1); p(1|0) = (1+1)/(2+3), p(0|1) = (0+1)/(0+3)
    want = math.exp(-(math.log(2 / 5) + math.log(1 / 3)) / 2)
    assert ngram_perplexity(train, held_out, V, 2) == pytest.approx(want)


def test_bigram_baseline_equals_a_bigram_table_as_a_model():
    # The baseline is what a model holding log p(y | x) as logits scores under perplexity().
    data = rnnlab.load_time_machine(batch_size=8, num_steps=16, max_tokens=20_000)
    V = len(data.vocab)
    t = torch.tensor(data.train_corpus)
    counts = torch.zeros(V, V, dtype=torch.float64)
    counts.index_put_((t[:-1], t[1:]), torch.ones(len(t) - 1, dtype=torch.float64),
                      accumulate=True)
    table = torch.log((counts + 1) / (counts.sum(1, keepdim=True) + V)).float()

    class Bigram(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.table = torch.nn.Parameter(table)

        def begin_state(self, batch_size, device):
            return torch.zeros(1, batch_size, 1, device=device)

        def forward(self, X, state):
            return self.table[X], state

    got = rnnlab.perplexity(Bigram(), data.valid_batches())
    base = baseline_perplexities(data)
    assert got == pytest.approx(base["bigram"], rel=1e-4)
    assert base["uniform"] == V > base["unigram"] > base["bigram"] > 1


def test_baselines_reject_bad_input():
    with pytest.raises(ValueError, match="order"):
        ngram_perplexity([0, 1], [0, 1], 2, order=3)
    with pytest.raises(ValueError, match="at least 2"):
        ngram_perplexity([0, 1], [0], 2, order=1)
    with pytest.raises(ValueError, match="vocab_size"):
        ngram_perplexity([0, 5], [0, 1], 2, order=1)
    data = rnnlab.load_time_machine(batch_size=8, num_steps=16, max_tokens=20_000)
    with pytest.raises(ValueError, match="split"):
        baseline_perplexities(data, split="train")
