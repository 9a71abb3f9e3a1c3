"""Our pipeline agrees with d2l's reference code (d2l 0.17.6, the API of the student notes
the course was designed from).

d2l looks for `../data/timemachine.txt` relative to the working directory and accepts a
file whose SHA-1 matches, so we place our copy there and everything runs offline (the
network guard in conftest.py would turn any download into an error).
"""

import os
import random
import shutil

import pytest
import torch
from environment import D2L_MISSING, HAVE_D2L, needs
from torch import nn

import rnnlab
from rnnlab import data as D

needs(HAVE_D2L, D2L_MISSING, module=True)
from d2l import torch as d2l_torch  # noqa: E402  (installed by `make test`, --no-deps)


@pytest.fixture(scope="module")
def d2l(tmp_path_factory):
    root = tmp_path_factory.mktemp("d2l")
    (root / "data").mkdir()
    (root / "work").mkdir()
    shutil.copy(D.time_machine_path(), root / "data" / "timemachine.txt")
    cwd = os.getcwd()
    os.chdir(root / "work")
    try:
        yield d2l_torch
    finally:
        os.chdir(cwd)


def test_preprocessing_matches(d2l):
    assert d2l.read_time_machine() == D.preprocess(D.time_machine_text())


@pytest.mark.parametrize("token", ["char", "word"])
def test_vocabulary_matches(d2l, token):
    lines = d2l.read_time_machine()
    theirs = d2l.Vocab(d2l.tokenize(lines, token))
    ours = D.Vocab(D.tokenize(D.preprocess(D.time_machine_text()), token))
    assert ours.idx_to_token == theirs.idx_to_token
    assert ours.token_to_idx == theirs.token_to_idx


def test_corpus_matches(d2l):
    corpus, vocab = d2l.load_corpus_time_machine()
    ours, our_vocab = D.load_corpus_time_machine()
    assert ours == corpus and our_vocab.idx_to_token == vocab.idx_to_token


@pytest.mark.parametrize("name", ["seq_data_iter_random", "seq_data_iter_sequential"])
@pytest.mark.parametrize("B, T, seed", [(32, 35, 0), (5, 7, 1), (2, 50, 2)])
def test_batch_partitioning_matches(d2l, name, B, T, seed):
    corpus, _ = D.load_corpus_time_machine(max_tokens=20_000)
    random.seed(seed)
    theirs = list(getattr(d2l, name)(corpus, B, T))
    ours = list(getattr(D, name)(corpus, B, T, rng=random.Random(seed)))
    assert len(ours) == len(theirs) > 0
    for (X, Y), (Xd, Yd) in zip(ours, theirs):
        assert torch.equal(X, Xd) and torch.equal(Y, Yd)


class _D2LView(nn.Module):
    """Our model seen through d2l's conventions: logits (T*B, V), time-major rows."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def begin_state(self, batch_size, device):
        return self.model.begin_state(batch_size, device)

    def forward(self, X, state):
        logits, state = self.model(X, state)                       # (B, T, V)
        return logits.transpose(0, 1).reshape(-1, logits.shape[-1]), state


def test_perplexity_matches_d2l_epoch_perplexity(d2l):
    corpus, vocab = D.load_corpus_time_machine(max_tokens=10_000)
    torch.manual_seed(0)
    model = rnnlab.RNNScratch(len(vocab), 32)
    random.seed(4)
    batches = list(d2l.seq_data_iter_sequential(corpus, 8, 20))
    # d2l's training epoch with an updater that changes nothing = its perplexity measure
    theirs, _ = d2l.train_epoch_ch8(_D2LView(model), batches, nn.CrossEntropyLoss(),
                                    lambda batch_size: None, torch.device("cpu"),
                                    use_random_iter=False)
    ours = rnnlab.perplexity(model, batches, torch.device("cpu"))
    assert ours == pytest.approx(theirs, rel=1e-5)
