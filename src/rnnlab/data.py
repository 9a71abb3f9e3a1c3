"""The data pipeline: The Time Machine (or any text), tokens, a vocabulary, minibatches.

Everything a chapter needs to turn text into `(B, T)` tensors of indices:

    text  --preprocess-->  lines  --tokenize-->  tokens  --Vocab-->  indices
    indices --split_corpus--> train / validation / test --seq_data_iter_*--> (X, Y) batches

The preprocessing, vocabulary order and batch partitioning follow d2l (0.17.6) exactly,
so our results can be checked against the book's reference code (see `tests/test_d2l.py`).
The tiny tasks of chapter 3 (one short sequence each) are `toy.py`'s.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import torch

from .validate import require_positive_int

TIME_MACHINE_SHA1 = "090b5e7e70c295757f55df93cb0a180b9691891a"
UNK = "<unk>"
TOKENS = ("char", "word")   # what a token is: a character or a word (split at white space)


# ---------------------------------------------------------------------------
# The corpus
# ---------------------------------------------------------------------------


class CorpusError(RuntimeError):
    """The shipped text is missing or damaged."""


def time_machine_path() -> Path:
    """Where the copy of The Time Machine that ships with the package lives."""
    return Path(str(resources.files("rnnlab") / "texts" / "timemachine.txt"))


def sha1_of(path: str | Path) -> str:
    """SHA-1 hex digest of a file's bytes."""
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()


def time_machine_text(path: str | Path | None = None) -> str:
    """Return the raw text of The Time Machine, as it is, after checking its SHA-1.

    (d2l's `read_time_machine` returns something else: the cleaned lines, which are
    `preprocess(time_machine_text())` here.)

    Nothing is downloaded: the text ships inside the package. A file whose checksum
    differs from d2l's (`TIME_MACHINE_SHA1`) raises `CorpusError`, because every number
    in the course assumes exactly this text.
    """
    path = Path(path) if path is not None else time_machine_path()
    if not path.is_file():
        raise CorpusError(f"The Time Machine text is missing: {path} does not exist. "
                          "Reinstall rnnlab (pip install -e .) to restore it.")
    digest = sha1_of(path)
    if digest != TIME_MACHINE_SHA1:
        raise CorpusError(
            f"{path} is damaged: its SHA-1 is {digest}, expected {TIME_MACHINE_SHA1}. "
            "Restore the original file (git checkout, or reinstall rnnlab)."
        )
    return path.read_text(encoding="ascii")


def preprocess(text: str) -> list[str]:
    """Split text into lines; in each, runs of non-letters become one space, then lower case.

    This is d2l's `read_time_machine` preprocessing: `"The Time-Traveller!"` becomes
    `"the time traveller"`. Blank lines stay as empty strings.
    """
    if not isinstance(text, str):
        raise TypeError(f"preprocess(text) needs a str, got {type(text).__name__}")
    return [re.sub("[^A-Za-z]+", " ", line).strip().lower() for line in text.splitlines()]


def tokenize(lines: Sequence[str], token: str = "char") -> list[list[str]]:
    """Split each line into tokens: characters (`token="char"`) or words (`token="word"`)."""
    if token == "char":
        return [list(line) for line in lines]
    if token == "word":
        return [line.split() for line in lines]
    raise ValueError(f"token must be 'char' or 'word', got {token!r}")


# ---------------------------------------------------------------------------
# The vocabulary
# ---------------------------------------------------------------------------


class Vocab:
    """A two-way map between tokens and indices.

    Index 0 is `<unk>`, the stand-in for any token the vocabulary lacks; then come
    `reserved_tokens`, then the tokens seen at least `min_freq` times, most frequent
    first (ties keep first-seen order, as in d2l). `token` says what a token is,
    `"char"` or `"word"`: `encode` splits a string into those, `decode` joins them
    (words with a space).

    >>> v = Vocab(list("hello"))
    >>> v.idx_to_token            # ['<unk>', 'l', 'h', 'e', 'o']
    >>> v["l"], v.to_tokens(2)     # (1, 'h')
    """

    def __init__(self, tokens: Iterable = (), min_freq: int = 0,
                 reserved_tokens: Sequence[str] = (), token: str = "char"):
        if min_freq < 0:
            raise ValueError(f"min_freq must be >= 0, got {min_freq}")
        if token not in TOKENS:
            raise ValueError(f"token must be one of {TOKENS}, got {token!r}")
        self.token = token
        self.token_freqs = sorted(Counter(_flatten(tokens)).items(),
                                  key=lambda kv: kv[1], reverse=True)
        self.idx_to_token = [UNK, *reserved_tokens]
        self.token_to_idx = {tok: i for i, tok in enumerate(self.idx_to_token)}
        for tok, freq in self.token_freqs:
            if freq < min_freq:
                break
            if tok not in self.token_to_idx:
                self.token_to_idx[tok] = len(self.idx_to_token)
                self.idx_to_token.append(tok)

    def __len__(self) -> int:
        return len(self.idx_to_token)

    @property
    def unk(self) -> int:
        return 0

    def __getitem__(self, tokens):
        """Token -> index (unknown tokens -> 0, `<unk>`); a list of tokens -> a list."""
        if isinstance(tokens, (list, tuple)):
            return [self[t] for t in tokens]
        return self.token_to_idx.get(tokens, self.unk)

    def to_tokens(self, indices):
        """Index -> token; a list (or 1-D tensor) of indices -> a list of tokens."""
        if isinstance(indices, torch.Tensor):
            indices = indices.tolist()
        if isinstance(indices, (list, tuple)):
            return [self.to_tokens(i) for i in indices]
        if not 0 <= indices < len(self):
            raise IndexError(f"index {indices} is outside the vocabulary (0..{len(self) - 1})")
        return self.idx_to_token[indices]

    def encode(self, text: str | Sequence[str]) -> list[int]:
        """A string (split into characters, or into words at white space for a word
        vocabulary) or a list of tokens -> indices, refusing tokens the vocabulary lacks.

        Unlike `vocab[...]`, which silently maps unknown tokens to `<unk>`, this raises a
        `ValueError` that names them: use it for text a student types, such as a prefix.
        """
        tokens = text.split() if isinstance(text, str) and self.token == "word" else list(text)
        missing = sorted({t for t in tokens if t not in self.token_to_idx})
        if missing:
            hint = ""
            if any(t.isalpha() and t.lower() in self.token_to_idx for t in missing):
                hint = " Its lower-case form is known: try text.lower()."
            known = self.idx_to_token[1:]
            shown = f"{known[:50]} and {len(known) - 50:,} more" if len(known) > 50 else known
            raise ValueError(f"{self._join(tokens)!r} contains tokens the vocabulary lacks: "
                             f"{missing}. Known tokens: {shown}.{hint}")
        return [self.token_to_idx[t] for t in tokens]

    def decode(self, indices) -> str:
        """Indices -> a string: characters joined as they are, words with a space."""
        return self._join(self.to_tokens(list(indices) if not isinstance(indices, torch.Tensor)
                                         else indices.tolist()))

    def _join(self, tokens: Sequence[str]) -> str:
        return (" " if self.token == "word" else "").join(tokens)

    def __repr__(self) -> str:
        head = ", ".join(repr(t) for t in self.idx_to_token[:8])
        return f"Vocab(size={len(self)}: {head}{', ...' if len(self) > 8 else ''})"


def _flatten(tokens: Iterable) -> Iterator:
    for item in tokens:
        if isinstance(item, (list, tuple)):
            yield from item
        else:
            yield item


def load_corpus_time_machine(token: str = "char", max_tokens: int | None = None,
                             min_freq: int = 0) -> tuple[list[int], Vocab]:
    """The whole Time Machine as a list of indices, and its vocabulary.

    As in d2l, the preprocessed lines are concatenated without separators, so the
    character corpus has 170,580 tokens and a vocabulary of 28 (26 letters, space, `<unk>`).
    """
    return corpus_from_text(time_machine_text(), token, "d2l", min_freq, max_tokens)


def split_corpus(corpus: Sequence[int], valid_frac: float = 0.1, test_frac: float = 0.1
                 ) -> tuple[list[int], list[int], list[int]]:
    """Split into (train, validation, test): validation and test are held-out *tails*.

    The text is cut in order: the first `1 - valid_frac - test_frac` is for training, then
    comes the validation text, then the test text (empty when `test_frac=0`). Tails (not
    random positions) keep the held-out text unseen: no training window can overlap it.
    Validation is for choosing (epochs, hyperparameters); test is used once, at the end.
    """
    if not 0 < valid_frac < 1:
        raise ValueError(f"valid_frac must be between 0 and 1 (exclusive), got {valid_frac}")
    if not 0 <= test_frac < 1 or valid_frac + test_frac >= 1:
        raise ValueError(f"test_frac must be >= 0 and valid_frac + test_frac < 1, got "
                         f"valid_frac={valid_frac}, test_frac={test_frac}")
    n = len(corpus)
    cut_test = n - int(round(n * test_frac))
    cut_valid = cut_test - int(round(n * valid_frac))
    too_short = cut_valid < 2 or cut_test - cut_valid < 2 or (test_frac and n - cut_test < 2)
    if too_short:
        raise ValueError(f"a corpus of {n} tokens is too short to split with "
                         f"valid_frac={valid_frac}, test_frac={test_frac}")
    return list(corpus[:cut_valid]), list(corpus[cut_valid:cut_test]), list(corpus[cut_test:])


# ---------------------------------------------------------------------------
# Minibatches: (X, Y) pairs of shape (B, T), Y = X shifted by one token
# ---------------------------------------------------------------------------


def _require_fits(corpus: Sequence[int], batch_size: int, num_steps: int, need: int,
                  what: str = "the corpus") -> None:
    require_positive_int("batch_size", batch_size)
    require_positive_int("num_steps", num_steps)
    if need > len(corpus):
        raise ValueError(
            f"batch_size={batch_size} x num_steps={num_steps} needs at least {need:,} tokens, "
            f"but {what} has {len(corpus):,}: use a smaller batch_size or num_steps.")


def seq_data_iter_random(corpus: Sequence[int], batch_size: int, num_steps: int,
                         rng: random.Random | None = None
                         ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Random partitioning: each minibatch holds `batch_size` windows from random places.

    The corpus is cut, after a random offset in `[0, num_steps - 1]`, into consecutive
    non-overlapping windows of `num_steps` tokens; the windows are shuffled and dealt out
    `batch_size` at a time. Neighbouring rows of consecutive batches are *not* adjacent in
    the text, so the hidden state must be reset for every batch.

    Yields `X, Y` of shape `(B, T)` (int64), with `Y[b, t] = corpus[start_b + t + 1]`.
    """
    _require_fits(corpus, batch_size, num_steps, batch_size * num_steps + num_steps)
    rng = rng or random.Random()
    corpus = corpus[rng.randint(0, num_steps - 1):]
    num_windows = (len(corpus) - 1) // num_steps
    starts = list(range(0, num_windows * num_steps, num_steps))
    rng.shuffle(starts)
    data = torch.as_tensor(corpus, dtype=torch.long)
    offsets = torch.arange(num_steps)
    for i in range(0, (num_windows // batch_size) * batch_size, batch_size):
        idx = torch.tensor(starts[i:i + batch_size]).unsqueeze(1) + offsets  # (B, T)
        yield data[idx], data[idx + 1]


def seq_data_iter_sequential(corpus: Sequence[int], batch_size: int, num_steps: int,
                             rng: random.Random | None = None, offset: int | None = None
                             ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Sequential partitioning: row `b` of batch `i+1` continues row `b` of batch `i`.

    After an offset (random in `[0, num_steps]` unless given), the corpus is laid out as
    `batch_size` long rows; each minibatch is the next `num_steps` columns. Because the text
    continues across batches, the hidden state can be carried over (detached) between them.

    Yields `X, Y` of shape `(B, T)` (int64), with `Y` = `X` shifted one token ahead.
    """
    _require_fits(corpus, batch_size, num_steps, batch_size * num_steps + num_steps + 1)
    if offset is None:
        offset = (rng or random.Random()).randint(0, num_steps)
    elif not 0 <= offset <= num_steps:
        raise ValueError(f"offset must be in [0, num_steps={num_steps}], got {offset}")
    num_tokens = ((len(corpus) - offset - 1) // batch_size) * batch_size
    data = torch.as_tensor(corpus, dtype=torch.long)
    Xs = data[offset:offset + num_tokens].reshape(batch_size, -1)          # (B, N/B)
    Ys = data[offset + 1:offset + 1 + num_tokens].reshape(batch_size, -1)  # (B, N/B)
    for i in range(0, (Xs.shape[1] // num_steps) * num_steps, num_steps):
        yield Xs[:, i:i + num_steps], Ys[:, i:i + num_steps]


EVAL_STEPS = 256   # chunk length of the evaluation stream; the result does not depend on it


def seq_data_iter_stream(corpus: Sequence[int], num_steps: int = EVAL_STEPS
                         ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The whole corpus as ONE sequence (a batch of 1), cut into chunks of `num_steps`.

    This is the course's evaluation protocol: every token after the first is predicted
    exactly once, with the state carried from chunk to chunk, so the perplexity depends
    neither on the training batch size nor on `num_steps` (only on the text and the model).

    Yields `X, Y` of shape `(1, t)` with `t <= num_steps` (the last chunk may be shorter).
    """
    require_positive_int("num_steps", num_steps)
    if len(corpus) < 2:
        raise ValueError(f"a stream needs at least 2 tokens, got {len(corpus)}")
    data = torch.as_tensor(corpus, dtype=torch.long)
    for i in range(0, len(corpus) - 1, num_steps):
        j = min(i + num_steps, len(corpus) - 1)
        yield data[i:j].unsqueeze(0), data[i + 1:j + 1].unsqueeze(0)


@dataclass
class LMData:
    """A language-modelling data set: a vocabulary, and training, validation, test corpora.

    `train_batches()` gives fresh `(X, Y)` minibatches of shape `(B, T)` for one epoch
    (random or sequential partitioning). `valid_batches()` and `test_batches()` give the
    held-out text as one stream (see `seq_data_iter_stream`): a fixed protocol, so
    validation perplexity is deterministic and the same whatever `batch_size` training
    uses. `train_eval_batches()` streams the last `len(valid_corpus)` training tokens the
    same way, for a training perplexity measured like the validation one.
    """

    vocab: Vocab
    train_corpus: list[int]
    valid_corpus: list[int]
    batch_size: int
    num_steps: int
    random_iter: bool = False
    token: str = "char"
    test_corpus: list[int] = field(default_factory=list)

    def __post_init__(self):
        # Fail now, with a message that says what to change, not in the middle of training.
        _require_fits(self.train_corpus, self.batch_size, self.num_steps,
                      self.batch_size * self.num_steps + self.num_steps + 1,
                      what="the training text (the first part of the text)")
        if len(self.valid_corpus) < 2:
            raise ValueError(f"the validation text needs at least 2 tokens, "
                             f"got {len(self.valid_corpus)}")

    def train_batches(self, rng: random.Random | None = None):
        make = seq_data_iter_random if self.random_iter else seq_data_iter_sequential
        return make(self.train_corpus, self.batch_size, self.num_steps, rng=rng)

    def valid_batches(self):
        return seq_data_iter_stream(self.valid_corpus)

    def test_batches(self):
        if len(self.test_corpus) < 2:
            raise ValueError("this data set has no test text: load it with test_frac > 0")
        return seq_data_iter_stream(self.test_corpus)

    def train_eval_batches(self):
        n = min(len(self.valid_corpus), len(self.train_corpus))
        return seq_data_iter_stream(self.train_corpus[-n:])

    def __repr__(self) -> str:
        test = f", test={len(self.test_corpus):,}" if self.test_corpus else ""
        return (f"LMData({self.token}s: vocab={len(self.vocab)}, train={len(self.train_corpus):,} "
                f"tokens, valid={len(self.valid_corpus):,}{test} tokens, B={self.batch_size}, "
                f"T={self.num_steps}, {'random' if self.random_iter else 'sequential'})")


_CLEANINGS = ("d2l", "none")


class TextError(ValueError):
    """A text given to `load_text` cannot be used: empty, binary, or too short."""


def read_text(text_or_path: str | Path) -> tuple[str, str]:
    """`(text, where)`: the text itself, or a file's contents (UTF-8), and a label for messages.

    A `Path` is always a file. A `str` is a file name if it has no line break and names an
    existing file; otherwise it is the text itself, except that a short string that looks
    like a file name ("notes.txt", "data/book.md") but names no file raises a `TextError`
    (a mistyped name would otherwise be trained on as an 8-character text).
    """
    if isinstance(text_or_path, str) and not isinstance(text_or_path, Path):
        if _names_a_file(text_or_path):
            text_or_path = Path(text_or_path)
        elif _looks_like_a_file_name(text_or_path):
            raise TextError(f"there is no file {text_or_path!r} (the name looks like a file's, "
                            f"so it is not taken as the text itself): check the name and "
                            f"the folder (the current folder is {Path.cwd()})")
    if isinstance(text_or_path, Path):
        path = text_or_path
        if not path.is_file():
            raise TextError(f"{path} " + ("is a directory, not a text file" if path.is_dir()
                                          else "does not exist"))
        data = path.read_bytes()
        if b"\x00" in data:
            raise TextError(f"{path} looks binary (it holds NUL bytes): give a text file")
        try:
            return data.decode("utf-8"), str(path)
        except UnicodeDecodeError as exc:
            raise TextError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start}): "
                            "save it as UTF-8, or give a text file") from None
    if not isinstance(text_or_path, str):
        raise TypeError(f"load_text needs a str (the text, or a file name) or a Path, got "
                        f"{type(text_or_path).__name__}")
    return text_or_path, "the text"


def _names_a_file(text: str) -> bool:
    if "\n" in text or len(text) > 4096:
        return False
    try:
        return Path(text).is_file()
    except (OSError, ValueError):      # a pasted passage: "File name too long", NUL bytes
        return False


_FILE_NAME = re.compile(r"^[~\w\-./\\:]{1,255}\.[A-Za-z0-9]{1,5}$|^[~\w\-.]*[/\\][^\s]*$")


def _looks_like_a_file_name(text: str) -> bool:
    """No spaces, and an extension ("notes.txt") or a folder ("data/book")."""
    return bool(_FILE_NAME.match(text.strip())) and text.strip() == text


def corpus_from_text(text: str, token: str = "char", clean: str = "d2l", min_freq: int = 0,
                     max_tokens: int | None = None) -> tuple[list[int], Vocab]:
    """Token indices of a whole text, and its vocabulary.

    `clean="d2l"`: d2l's preprocessing (`preprocess`: letters only, lower case), lines
    concatenated without separators, as for The Time Machine. `clean="none"`: the text as it
    is, every character kept (case, digits, punctuation, line breaks); words split on white
    space.
    """
    if clean not in _CLEANINGS:
        raise ValueError(f"clean must be one of {_CLEANINGS}, got {clean!r}")
    lines = preprocess(text) if clean == "d2l" else [text]
    tokens = tokenize(lines, token)
    vocab = Vocab(tokens, min_freq=min_freq, token=token)
    corpus = [vocab[tok] for line in tokens for tok in line]
    if max_tokens is not None:
        require_positive_int("max_tokens", max_tokens)
        corpus = corpus[:max_tokens]
    return corpus, vocab


def load_text(text_or_path: str | Path, batch_size: int = 32, num_steps: int = 35,
              token: str = "char", valid_frac: float = 0.1, random_iter: bool = False,
              max_tokens: int | None = None, min_freq: int = 0, test_frac: float = 0.1,
              clean: str = "d2l") -> LMData:
    """Any text, ready to train on, with the options of `load_time_machine`.

    `text_or_path` is the text itself or a UTF-8 text file (see `read_text`); `clean`
    chooses d2l's letters-only lower case (`"d2l"`) or the text as it is (`"none"`), see
    `corpus_from_text`. The text is cut in order into training, validation and test text.
    Empty, binary and too short texts raise a `TextError` that says which and why.
    """
    require_positive_int("batch_size", batch_size)
    require_positive_int("num_steps", num_steps)
    text, where = read_text(text_or_path)
    corpus, vocab = corpus_from_text(text, token, clean, min_freq, max_tokens)
    if not corpus:
        kept = " after cleaning (clean='d2l' keeps letters only)" if text.strip() else ""
        raise TextError(f"{where} is empty{kept}: there is nothing to train on")
    try:
        train, valid, test = split_corpus(corpus, valid_frac, test_frac)
        return LMData(vocab, train, valid, batch_size, num_steps, random_iter, token, test)
    except ValueError as exc:
        if "too short" not in str(exc) and "needs at least" not in str(exc):
            raise                         # a bad option (valid_frac, ...), not the text
        raise TextError(f"{where} is too short: it has {len(corpus):,} {token} tokens; "
                        f"{exc}") from None


def load_time_machine(batch_size: int = 32, num_steps: int = 35, token: str = "char",
                      valid_frac: float = 0.1, random_iter: bool = False,
                      max_tokens: int | None = None, min_freq: int = 0,
                      test_frac: float = 0.1) -> LMData:
    """The Time Machine, ready to train on: vocabulary, training text, held-out tails.

    The text is cut in order: training (the first 80 % by default), validation (the next
    10 %), test (the last 10 %). The vocabulary is built from the whole text (so held-out
    text has no unknown characters); the model only ever *trains* on the first part.
    A thin call of `load_text` with d2l's cleaning.
    """
    return load_text(time_machine_text(), batch_size, num_steps, token, valid_frac,
                     random_iter, max_tokens, min_freq, test_frac, clean="d2l")
