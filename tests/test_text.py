"""rnnlab.load_text: any text, from a string or a file, with clear errors."""

from pathlib import Path

import pytest
import torch

import rnnlab
from rnnlab.data import TextError, time_machine_text

TEXT = ("It was the best of times, it was the worst of times; 1859.\n" * 40)


def test_a_string_is_the_text_and_clean_none_keeps_every_character():
    data = rnnlab.load_text(TEXT, batch_size=4, num_steps=8, clean="none")
    tokens = set(data.vocab.idx_to_token)
    assert {"I", ",", ";", "1", "\n"} <= tokens
    assert data.vocab.decode(data.train_corpus[:10]) == TEXT[:10]
    lower = rnnlab.load_text(TEXT, batch_size=4, num_steps=8)           # d2l's cleaning
    assert set(lower.vocab.idx_to_token) - {"<unk>"} <= set("abcdefghijklmnopqrstuvwxyz ")


def test_a_path_or_a_file_name_is_read(tmp_path):
    path = tmp_path / "tale.txt"
    path.write_text(TEXT, encoding="utf-8")
    by_path = rnnlab.load_text(path, batch_size=4, num_steps=8, clean="none")
    by_name = rnnlab.load_text(str(path), batch_size=4, num_steps=8, clean="none")
    by_text = rnnlab.load_text(TEXT, batch_size=4, num_steps=8, clean="none")
    assert by_path.train_corpus == by_name.train_corpus == by_text.train_corpus


def test_load_time_machine_is_load_text_of_the_book():
    a = rnnlab.load_time_machine(max_tokens=20_000)
    b = rnnlab.load_text(time_machine_text(), max_tokens=20_000)
    assert a.train_corpus == b.train_corpus and a.vocab.idx_to_token == b.vocab.idx_to_token
    assert len(rnnlab.load_time_machine().vocab) == 28


@pytest.mark.parametrize("content, kw, fragment", [
    ("", {}, "is empty"),
    ("1234 5678 !!!\n" * 100, {}, "empty after cleaning"),
    ("abc", {"clean": "none"}, "too short"),
    (TEXT, {"clean": "upper"}, "clean must be"),
    (TEXT, {"batch_size": 0}, "batch_size"),
])
def test_bad_texts_say_what_is_wrong(content, kw, fragment):
    with pytest.raises(ValueError, match=fragment):
        rnnlab.load_text(content, **{"batch_size": 4, "num_steps": 8, **kw})


def test_binary_and_non_utf8_files_are_refused(tmp_path):
    binary = tmp_path / "model.bin"
    binary.write_bytes(b"\x00\x01\x02" * 100)
    with pytest.raises(TextError, match="binary"):
        rnnlab.load_text(binary)
    latin = tmp_path / "latin1.txt"
    latin.write_bytes("café ".encode("latin-1") * 200)
    with pytest.raises(TextError, match="not UTF-8"):
        rnnlab.load_text(latin)
    with pytest.raises(TypeError, match="needs a str"):
        rnnlab.load_text(b"bytes")


def test_a_mistyped_file_name_is_reported_not_trained_on(tmp_path, monkeypatch):
    """Chapter 7's own-text cell: "my_notes.txt" that is not there is an error naming it,
    not a 12-character text."""
    monkeypatch.chdir(tmp_path)
    for name in ("my_notes.txt", "data/book.md", "texts/poem"):
        with pytest.raises(TextError, match=f"there is no file '{name}'"):
            rnnlab.load_text(name, batch_size=2, num_steps=3)
    with pytest.raises(TextError, match="does not exist"):
        rnnlab.load_text(Path("my_notes.txt"), batch_size=2, num_steps=3)
    with pytest.raises(TextError, match="is a directory"):
        rnnlab.load_text(tmp_path, batch_size=2, num_steps=3)


def test_a_pasted_long_passage_is_the_text():
    """A long line is not a file name: no "File name too long" from the operating system."""
    passage = "It was a dark and stormy night; the rain fell in torrents. " * 40   # one line
    data = rnnlab.load_text(passage, batch_size=2, num_steps=8, clean="none")
    assert len(data.train_corpus) + len(data.valid_corpus) + len(data.test_corpus) == \
        len(passage)


def test_word_tokens_work_end_to_end():
    """load_text(token="word") trains, and encode, decode and generate speak in words."""
    text = " ".join(["the time traveller said the time machine works"] * 60)
    data = rnnlab.load_text(text, batch_size=2, num_steps=4, token="word")
    vocab = data.vocab
    assert vocab.token == "word" and "traveller" in vocab.idx_to_token
    ids = vocab.encode("the time machine")
    assert len(ids) == 3 and vocab.decode(ids) == "the time machine"
    with pytest.raises(ValueError, match="'spaceship'"):
        vocab.encode("the spaceship")
    torch.manual_seed(0)
    model = rnnlab.RNNModel(len(vocab), 8, embed_size=4)
    rnnlab.train(model, data, rnnlab.RunConfig(optimizer="sgd", lr=1.0, epochs=1))
    out = rnnlab.generate(model, vocab, "the time", 5)
    words = out.split(" ")
    assert words[:2] == ["the", "time"] and len(words) == 7
    assert set(words) <= set(vocab.idx_to_token[1:])
    with pytest.raises(ValueError, match="no word token"):
        rnnlab.generate(model, vocab, "   ", 3)
    with pytest.raises(ValueError, match="token must be one of"):
        rnnlab.Vocab(["a"], token="sentence")
