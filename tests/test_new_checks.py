"""The three new exercises of issue 9 (perplexity, temperature sampling, sequential
batches): the solution passes, the stub is "not attempted", typical wrong answers get
their own message, and the library shortcut is refused.

Until the notebooks have these exercises, the cells come from tests/handoff_cells.py;
tests/test_checks.py tests the notebooks' cells once they are there."""

import linecache

import pytest
import torch
import torch.nn.functional as F
from handoff_cells import CELLS
from torch import nn

import rnnlab
from rnnlab.checks import Verdict
from rnnlab.exercises import ch1, ch3
from rnnlab.exercises.ch1 import _perplexity_cases

NAMESPACE = {"torch": torch, "nn": nn, "F": F, "ch1": ch1, "ch3": ch3}


def _define(src: str, name: str):
    """Run a cell's source as a notebook would (readable by inspect), minus the check call."""
    code = "\n".join(line for line in src.splitlines() if not line.startswith("ch")) + "\n"
    filename = f"<cell defining {name}>"
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    ns = dict(NAMESPACE)
    exec(compile(code, filename, "exec"), ns)
    return ns[name]


def _check(name):
    return getattr(ch1 if CELLS[name]["chapter"].startswith("01") else ch3, CELLS[name]["check"])


def _solution(name):
    return _define(CELLS[name]["solution"], f"{name}_solution")


@pytest.mark.parametrize("name", list(CELLS))
def test_solution_passes_and_stub_is_not_attempted(name):
    solved = _check(name)(_solution(name))
    assert solved.passed, str(solved)
    stub = _check(name)(_define(CELLS[name]["stub"], name))
    assert not stub.passed and "not attempted yet" in stub.message, str(stub)


@pytest.mark.parametrize("name", list(CELLS))
def test_cells_follow_the_notebook_conventions(name):
    cells = CELLS[name]
    assert cells["solution"].startswith("#@title Solution (click to show)\n")
    chapter = int(cells["chapter"][:2])
    assert cells["solution"].endswith(f"ch{chapter}.{cells['check']}({name}_solution)")
    assert "raise NotImplementedError" in cells["stub"]
    for text in (cells["stub"], cells["solution"]):
        assert max(len(line) for line in text.splitlines()) <= 88


def test_pass_messages_say_what_was_shown():
    assert "uniform logits give exactly V = 11" in ch1.check_perplexity(
        _solution("perplexity_from_logits")).message
    assert "0.5 and 2.0" in ch3.check_sample_next(_solution("sample_next")).message


def test_bits_with_base_2_is_the_same_perplexity():
    """log2 with 2 ** is right (the same number); only mixing bases is wrong."""
    def in_bits(logits, Y):
        bits = _nll(logits, Y) / torch.log(torch.tensor(2.0))
        return float(2 ** bits.mean())
    assert ch1.check_perplexity(in_bits).passed


def test_multinomial_refuses_negative_weights():
    """As the message for sampling from raw logits says."""
    with pytest.raises(RuntimeError):
        torch.multinomial(torch.tensor([-1.0, 2.0]), 1)


def test_the_large_logit_case_breaks_log_of_softmax():
    """The case meant to catch torch.log(torch.softmax(...)) does give -inf there."""
    label, logits, Y = _perplexity_cases()[-1]
    assert label == "large"
    naive = torch.log(torch.softmax(logits, -1)).gather(-1, Y.unsqueeze(-1))
    assert torch.isinf(naive).any()
    assert torch.isfinite(torch.log_softmax(logits, -1)).all()


# ---------------------------------------------------------------------------
# Typical wrong answers
# ---------------------------------------------------------------------------


def _nll(logits, Y, dim=-1):
    return -torch.log_softmax(logits, dim=dim).gather(-1, Y.unsqueeze(-1)).squeeze(-1)


def _sample(transform, greedy=True, generator=True):
    def sample_next(logits, temperature, g):
        if greedy and temperature == 0:
            return int(logits.argmax())
        weights = transform(logits, temperature)
        return int(torch.multinomial(weights, 1, generator=g if generator else None))
    return sample_next


def _layout(corpus, B, T):
    """Correct (B, N/B) rows, as the solution builds them."""
    data = torch.tensor(corpus)
    n = (len(corpus) - 1) // B * B
    return data[:n].reshape(B, -1), data[1:n + 1].reshape(B, -1)


def _batches(corpus, B, T, full_only=True):
    Xs, Ys = _layout(corpus, B, T)
    stop = Xs.shape[1] - T + 1 if full_only else Xs.shape[1]
    return [(Xs[:, i:i + T], Ys[:, i:i + T]) for i in range(0, stop, T)]


def _windows(corpus, B, T):
    """The random iterator's layout, in order: row b + 1 continues row b."""
    data, n = torch.tensor(corpus), (len(corpus) - 1) // T
    out = []
    for i in range(0, n // B * B, B):
        idx = torch.arange(i, i + B).unsqueeze(1) * T + torch.arange(T)
        out.append((data[idx], data[idx + 1]))
    return out


WRONG = {
    ch1.check_perplexity: [
        (lambda lg, Y: float(_nll(lg, Y).mean()), "that is the loss"),
        (lambda lg, Y: float(torch.exp(_nll(lg, Y).sum())), "exp of the *sum*"),
        (lambda lg, Y: float(torch.exp(-_nll(lg, Y)).mean()), "mean probability of the target"),
        (lambda lg, Y: float(torch.exp(-_nll(lg, Y).mean())), "1 / perplexity"),
        (lambda lg, Y: float(torch.exp((_nll(lg, Y) / torch.log(torch.tensor(2.0))).mean())),
         "log base 2"),
        (lambda lg, Y: float(torch.exp((_nll(lg, Y) / torch.log(torch.tensor(10.0))).mean())),
         "log base 10"),
        (lambda lg, Y: float(2 ** _nll(lg, Y).mean()), "2 ** (loss in nats)"),
        (lambda lg, Y: float(torch.exp(-torch.log(torch.softmax(lg, -1))
                                       .gather(-1, Y.unsqueeze(-1)).mean())),
         "log_softmax(logits, dim=-1) computes"),
        (lambda lg, Y: float(torch.exp(-torch.log(torch.softmax(lg, -1).clamp_min(1e-12))
                                       .gather(-1, Y.unsqueeze(-1)).mean())),
         "large (scale 100)"),
        (lambda lg, Y: torch.exp(_nll(lg, Y).mean(dim=1)), "averaged over the time axis only"),
        (lambda lg, Y: torch.exp(_nll(lg, Y).mean(dim=0)), "averaged over the batch axis only"),
        (lambda lg, Y: torch.exp(_nll(lg, Y)), "one value per position"),
        (lambda lg, Y: float(torch.exp(_nll(lg, Y).mean(dim=1)).mean()),
         "mean of per-sequence perplexities"),
        (lambda lg, Y: float(torch.exp(_nll(lg, Y, dim=1).mean())), "over the time axis (dim=1)"),
        (lambda lg, Y: None, "forget `return`"),
        (lambda lg, Y: "7.3", "should be a number"),
        (lambda lg, Y: float(torch.exp(-lg.gather(-1, Y.unsqueeze(-1)).mean())),
         "log_softmax(logits, dim=-1)"),
    ],
    ch3.check_sample_next: [
        (_sample(lambda lg, t: torch.softmax(lg * t, -1)), "divide by the temperature"),
        (_sample(lambda lg, t: torch.softmax(lg, -1)), "as if the temperature were 1"),
        (_sample(lambda lg, t: lg / t), "proportional to the raw logits"),
        (lambda lg, t, g: int(lg.argmax()), "the most likely token every time"),
        (_sample(lambda lg, t: torch.softmax(lg / t, -1), greedy=False), "Temperature 0 means"),
        (_sample(lambda lg, t: torch.softmax(lg / t, -1), generator=False),
         "generator passed in"),
        (lambda lg, t, g: torch.multinomial(torch.softmax(lg / max(t, 1e-6), -1), 1,
                                            generator=g), "returned a tensor"),
        (lambda lg, t, g: torch.softmax(lg, -1).argmax(), "returned a tensor"),
        (lambda lg, t, g: 2.0, "should return an int"),
        (lambda lg, t, g: len(lg), "not a token index"),
        (lambda lg, t, g: int(lg.argmin()), "largest logit (greedy)"),
    ],
    ch3.check_sequential_batches: [
        (_windows, "random iterator's layout"),
        (lambda c, B, T: [(X, X) for X, _ in _batches(c, B, T)], "Y must be X shifted"),
        (lambda c, B, T: [(X.T, Y.T) for X, Y in _batches(c, B, T)], "(T, B)"),
        (lambda c, B, T: _batches(c, B, T)[:-1], "full batches"),
        (lambda c, B, T: _batches(c, B, T, full_only=False), "drop the incomplete end"),
        (lambda c, B, T: [(X.int(), Y.int()) for X, Y in _batches(c, B, T)], "dtype torch.int32"),
        (lambda c, B, T: [(X, X + 1) for X, _ in _batches(c, B, T)], "wrong values"),
        (lambda c, B, T: [(X.tolist(), Y.tolist()) for X, Y in _batches(c, B, T)],
         "torch.Tensor, got list"),
        (lambda c, B, T: torch.tensor(c), "list of (X, Y) pairs"),
        (lambda c, B, T: [X for X, _ in _batches(c, B, T)], "should be a pair (X, Y)"),
        (lambda c, B, T: iter(_batches(c, B, T)[1:]), "full batches"),
    ],
}


@pytest.mark.parametrize("check, answer, fragment",
                         [(c, a, f) for c, answers in WRONG.items() for a, f in answers])
def test_typical_wrong_answers_fail_with_a_helpful_message(check, answer, fragment):
    v = check(answer)
    assert isinstance(v, Verdict) and not v.passed
    assert fragment in v.message, v.message


# ---------------------------------------------------------------------------
# The shortcuts are refused; without the block they would pass
# ---------------------------------------------------------------------------


def _flat(logits, Y):
    return logits.reshape(-1, logits.shape[-1]), Y.reshape(-1)


def _generate_answer(logits, temperature, generator):
    model = rnnlab.RNNModel(5, 4)
    vocab = rnnlab.Vocab(list("abcde"))
    return rnnlab.generate(model, vocab, "a", 1, temperature=temperature)


SHORTCUTS = [
    (ch1.check_perplexity, "NO_LOSS",
     lambda lg, Y: float(torch.exp(F.cross_entropy(*_flat(lg, Y)))), "F.cross_entropy"),
    (ch1.check_perplexity, "NO_LOSS",
     lambda lg, Y: float(torch.exp(nn.CrossEntropyLoss()(*_flat(lg, Y)))), "nn.CrossEntropyLoss"),
    (ch1.check_perplexity, "NO_LOSS",
     lambda lg, Y: float(torch.exp(F.nll_loss(torch.log_softmax(lg, -1).transpose(1, 2), Y))),
     "F.nll_loss"),
    (ch1.check_perplexity, "NO_LOSS",
     lambda lg, Y: float(torch.exp(rnnlab.sequence_loss(lg, Y))), "rnnlab.sequence_loss"),
    (ch3.check_sequential_batches, "NO_ITERATOR",
     lambda c, B, T: list(rnnlab.seq_data_iter_sequential(c, B, T, offset=0)),
     "rnnlab.seq_data_iter_sequential"),
    (ch3.check_sequential_batches, "NO_ITERATOR",
     lambda c, B, T: rnnlab.data.seq_data_iter_sequential(c, B, T, offset=0),
     "rnnlab.seq_data_iter_sequential"),
    (ch3.check_sample_next, "NO_GENERATE", _generate_answer, "rnnlab.generate"),
]


@pytest.mark.parametrize("check, block, answer, shown", SHORTCUTS,
                         ids=[s[3] for s in SHORTCUTS])
def test_shortcuts_are_refused(check, block, answer, shown, monkeypatch):
    v = check(answer)
    assert not v.passed and f"{shown} is unavailable during this check" in v.message, str(v)
    if block != "NO_GENERATE":    # generate() is not a right answer anyway
        module = ch1 if check is ch1.check_perplexity else ch3
        monkeypatch.setattr(module, block, rnnlab.checks.unavailable("nothing"))
        assert check(answer).passed, "without the block the shortcut would pass"
