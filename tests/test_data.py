import random
import shutil

import pytest
import torch

import rnnlab
from rnnlab import data as D


def test_shipped_text_has_the_d2l_checksum():
    assert D.sha1_of(D.time_machine_path()) == D.TIME_MACHINE_SHA1
    assert D.time_machine_text().startswith("The Time Machine, by H. G. Wells")


def test_damaged_text_is_refused(tmp_path):
    bad = tmp_path / "timemachine.txt"
    shutil.copy(D.time_machine_path(), bad)
    raw = bytearray(bad.read_bytes())
    raw[1000] ^= 1                                       # flip one bit
    bad.write_bytes(bytes(raw))
    with pytest.raises(D.CorpusError, match="damaged.*SHA-1"):
        D.time_machine_text(bad)
    with pytest.raises(D.CorpusError, match="missing"):
        D.time_machine_text(tmp_path / "nope.txt")


def test_preprocess_and_tokenize():
    assert D.preprocess("The Time-Traveller!\n\n  42 ok") == ["the time traveller", "", "ok"]
    assert D.tokenize(["ab c"], "char") == [["a", "b", " ", "c"]]
    assert D.tokenize(["ab c"], "word") == [["ab", "c"]]
    with pytest.raises(ValueError, match="'char' or 'word'"):
        D.tokenize(["x"], "byte")
    with pytest.raises(TypeError):
        D.preprocess(b"bytes")


def test_vocab_order_unk_and_round_trip():
    v = D.Vocab([list("hello"), list("ho")])
    # <unk> first, then by frequency (ties keep first-seen order)
    assert v.idx_to_token == ["<unk>", "h", "l", "o", "e"]
    assert v["h"] == 1 and v["z"] == 0 and v[["l", "z"]] == [2, 0]
    assert v.to_tokens([1, 2]) == ["h", "l"]
    assert v.decode(v.encode("hello")) == "hello"
    assert len(D.Vocab(list("aab"), min_freq=2)) == 2          # <unk>, a
    with pytest.raises(IndexError, match="outside the vocabulary"):
        v.to_tokens(99)


def test_encode_names_unknown_characters_and_hints_at_lower_case():
    _, vocab = D.load_corpus_time_machine()
    with pytest.raises(ValueError, match=r"\['T'\].*lower"):
        vocab.encode("Time")
    with pytest.raises(ValueError, match="'!'"):
        vocab.encode("time!")


def test_corpus_sizes_match_d2l():
    corpus, vocab = D.load_corpus_time_machine()
    assert len(corpus) == 170580 and len(vocab) == 28
    words, wvocab = D.load_corpus_time_machine("word")
    assert len(words) == 32775 and len(wvocab) == 4580


def test_split_is_a_held_out_tail():
    corpus = list(range(100))
    train, valid, test = D.split_corpus(corpus, 0.2, test_frac=0)
    assert train == list(range(80)) and valid == list(range(80, 100)) and test == []
    train, valid, test = D.split_corpus(corpus, 0.1, 0.2)
    assert train == list(range(70)) and valid == list(range(70, 80))
    assert test == list(range(80, 100))
    with pytest.raises(ValueError, match="between 0 and 1"):
        D.split_corpus(corpus, 1.5)
    with pytest.raises(ValueError, match="valid_frac \\+ test_frac < 1"):
        D.split_corpus(corpus, 0.5, 0.5)


def _windows(batches):
    """All (X row, Y row) pairs as tuples."""
    return [(tuple(x.tolist()), tuple(y.tolist())) for X, Y in batches for x, y in zip(X, Y)]


def test_random_iterator_covers_each_window_once():
    corpus = list(range(1000))
    B, T = 4, 7
    rng = random.Random(3)
    offset = random.Random(3).randint(0, T - 1)
    pairs = _windows(D.seq_data_iter_random(corpus, B, T, rng=rng))
    for X, Y in D.seq_data_iter_random(corpus, B, T, rng=random.Random(3)):
        assert X.shape == Y.shape == (B, T) and X.dtype == torch.long
    starts = sorted(x[0] for x, _ in pairs)
    num_windows = (len(corpus) - offset - 1) // T
    # every window begins at offset + k*T, none repeats, and all full batches are used
    assert len(set(starts)) == len(starts) == (num_windows // B) * B
    assert set(starts) <= {offset + k * T for k in range(num_windows)}
    for x, y in pairs:                        # consecutive tokens; Y is X shifted by one
        assert list(x) == list(range(x[0], x[0] + T)) and list(y) == [t + 1 for t in x]


def test_sequential_iterator_rows_continue_across_batches():
    corpus = list(range(1000))
    B, T = 4, 7
    batches = list(D.seq_data_iter_sequential(corpus, B, T, offset=2))
    row_len = (len(corpus) - 2 - 1) // B
    assert len(batches) == row_len // T
    for (X0, _), (X1, _) in zip(batches, batches[1:]):
        assert torch.equal(X1[:, 0], X0[:, -1] + 1)      # row b continues where it stopped
    X, Y = batches[0]
    assert X[:, 0].tolist() == [2 + b * row_len for b in range(B)]
    assert torch.equal(Y, X + 1)
    covered = torch.cat([X for X, _ in batches], dim=1).flatten().tolist()
    assert len(set(covered)) == len(covered) == len(batches) * B * T


@pytest.mark.parametrize("make", [D.seq_data_iter_random, D.seq_data_iter_sequential])
def test_iterators_reject_bad_sizes(make):
    with pytest.raises(ValueError, match="corpus has 50.*smaller batch_size"):
        next(make(list(range(50)), 8, 10))
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        next(make(list(range(50)), 0, 10))
    with pytest.raises(ValueError, match="num_steps must be a positive integer"):
        next(make(list(range(50)), 2, -1))


def test_stream_predicts_every_held_out_token_once():
    corpus = list(range(1000))
    for T in (7, 256, 5000):
        batches = list(D.seq_data_iter_stream(corpus, T))
        assert all(X.shape[0] == 1 and X.shape == Y.shape for X, Y in batches)
        X = torch.cat([X for X, _ in batches], dim=1)[0].tolist()
        Y = torch.cat([Y for _, Y in batches], dim=1)[0].tolist()
        assert X == corpus[:-1] and Y == corpus[1:]
    with pytest.raises(ValueError, match="at least 2 tokens"):
        next(D.seq_data_iter_stream([3], 5))


def test_load_time_machine_checks_sizes_up_front():
    data = D.load_time_machine(batch_size=8, num_steps=20)
    n = len(data.train_corpus), len(data.valid_corpus), len(data.test_corpus)
    assert sum(n) == 170580 and n[1] == n[2] == 17058          # 80 % / 10 % / 10 %
    X, Y = next(iter(data.valid_batches()))
    assert X.shape == (1, D.EVAL_STEPS) and X[0, 0].item() == data.valid_corpus[0]
    X, _ = next(iter(data.test_batches()))
    assert X[0, 0].item() == data.test_corpus[0]
    corpus, _ = D.load_corpus_time_machine()
    assert data.train_corpus + data.valid_corpus + data.test_corpus == corpus
    no_test = D.load_time_machine(batch_size=8, num_steps=20, test_frac=0)
    with pytest.raises(ValueError, match="no test text"):
        no_test.test_batches()
    with pytest.raises(ValueError, match="smaller batch_size or num_steps"):
        D.load_time_machine(batch_size=512, num_steps=100, max_tokens=20_000)


def test_toy_tasks():
    vocab, X, Y = rnnlab.alphabet_task()
    assert X.shape == Y.shape == (1, 25)
    assert vocab.decode(X[0]) == "abcdefghijklmnopqrstuvwxy"
    assert vocab.decode(Y[0]) == "bcdefghijklmnopqrstuvwxyz"
    vocab, X, Y = rnnlab.hello_task()
    assert vocab.decode(X[0]) == "hello" and vocab.decode(Y[0]) == "elloh"
    with pytest.raises(ValueError):
        rnnlab.alphabet_task("aa")
    with pytest.raises(ValueError):
        rnnlab.hello_task("h")
