"""The chapters' exercises (rnnlab.exercises), judged on the notebooks' own cells: every
solution passes its check and every stub fails it; the messages name a stub called from a
solved function, the bugs a stub leaves, devices ignored, and what a pass showed.

(Routes around the checks are refused in tests/test_routes.py; typical wrong answers are
named in tests/test_mistakes.py.)"""

import importlib
import re

import pytest
import torch
import torch.nn.functional as F
from notebooks import CHAPTERS, cells, define, exercise, exercises, source
from test_mistakes import nll as _nll
from torch import nn

import rnnlab
from rnnlab import tags
from rnnlab.checks import call, run_check
from rnnlab.exercises import ch1, ch3, declared
from rnnlab.exercises.ch1 import _perplexity_cases

# ---------------------------------------------------------------------------
# Every exercise in the book: solution passes, stub fails
# ---------------------------------------------------------------------------

ALL_EXERCISES = [(nb, name, parts) for nb in CHAPTERS for name, parts in exercises(nb).items()]


DECLARED = declared()


def _checker(nb, check_name):
    module = importlib.import_module(f"rnnlab.exercises.ch{int(nb.name[:2])}")
    return getattr(module, check_name)


def test_every_exercise_on_a_page_is_declared_once_with_the_check_its_cells_name():
    """The cells' metadata (`rnnlab.exercise`, `rnnlab.check`) and the chapter module's
    declaration name the same exercise and check; every declaration has its cells."""
    on_pages = {name: (nb, parts["check"]) for nb, name, parts in ALL_EXERCISES}
    assert set(on_pages) == set(DECLARED), set(on_pages) ^ set(DECLARED)
    for name, (nb, check_name) in on_pages.items():
        ex = DECLARED[name]
        assert ex.check_function.__name__ == check_name, (name, check_name)
        assert ex.check is _checker(nb, check_name), name
        assert ex.number.split(".")[0] == str(int(nb.name[:2])), (name, ex.number, nb.name)


def test_every_chapter_has_exercises_with_stub_and_solution():
    assert CHAPTERS, "no chapter notebooks found"
    for nb in CHAPTERS:
        found = exercises(nb)
        assert len(found) >= 3, f"{nb.name} has {len(found)} exercises, needs >= 3"
        for name, parts in found.items():
            assert set(parts) == {"stub", "solution", "check"}, f"{nb.name}: {name}"


def _judged(verdict, fragment):
    """`fragment` None: the verdict passes; else it fails with `fragment` in its message."""
    if fragment is None:
        assert verdict.passed, str(verdict)
    else:
        assert not verdict.passed and fragment in verdict.message, str(verdict)
    return verdict


def _headings_and_stubs():
    """{exercise name: (number in the heading above its stub, number in its stub or None)}."""
    out = {}
    for nb in CHAPTERS:
        heading = None
        for c in cells(nb):
            found = re.findall(r"^### Exercise (\d+\.\d+)", source(c), re.M)
            if c["cell_type"] == "markdown" and found:
                heading = found[-1]
            if tags.has(c, tags.EXERCISE):
                in_stub = re.search(r"Exercise (\d+\.\d+)", source(c))
                out[c["metadata"]["rnnlab"]["exercise"]] = (heading,
                                                            in_stub and in_stub.group(1))
    return out


def test_exercise_numbers_are_written_once_and_the_pages_agree():
    """The declaration is the one place a number is written; the heading above each stub,
    the stub's own message and the check's verdict all say that number, and the numbers
    follow the pages' order."""
    pages = _headings_and_stubs()
    numbers = {name: ex.number for name, ex in DECLARED.items()}
    assert set(pages) == set(numbers), set(pages) ^ set(numbers)
    for name, (heading, in_stub) in pages.items():
        assert heading == numbers[name], f"{name}: heading says {heading}"
        assert in_stub in (None, numbers[name]), f"{name}: stub says {in_stub}"
    for nb, name, parts in ALL_EXERCISES:
        verdict = _checker(nb, parts["check"])(define(parts["solution"], f"{name}_solution"))
        assert verdict.exercise.startswith(f"Exercise {numbers[name]} "), verdict.exercise
    assert list(pages) == list(numbers), "the pages' order is the numbers' order"
    assert len(set(numbers.values())) == len(numbers), "a number declared twice"


@pytest.mark.parametrize("nb, name, parts", ALL_EXERCISES,
                         ids=[f"{nb.stem}:{name}" for nb, name, _ in ALL_EXERCISES])
def test_solution_passes_and_stub_fails(nb, name, parts):
    check = _checker(nb, parts["check"])
    solved = check(define(parts["solution"], f"{name}_solution"))
    assert solved.passed, str(solved)
    stub = check(define(parts["stub"], name))
    assert not stub.passed, str(stub)
    if "NotImplementedError" in parts["stub"] or re.search(r"^\w+ = None", parts["stub"], re.M):
        assert "not attempted yet" in stub.message, str(stub)
    else:  # a stub with bugs to fix: the verdict must point at one of them
        assert any(w in stub.message for w in ("raised", "wrong", "cut inside the loop")), \
            str(stub)


# Draws (grading seeds) on which a slip's value came within the checks' tolerance of the
# right answer, found by judging the book's solutions on draws 1000-2999: a right answer
# must pass there too. Before `checks.slipped` each of these failed the book's own solution
# (rnn_step's was told "returned the pre-activation" on draw 1213, where every
# pre-activation is small; lstm_step's "h is o * c" on 10 draws in 2,000).
AGREEING_DRAWS = {"rnn_step": [1213], "gru_step": [2026],
                  "lstm_step": [1028, 1100, 1213, 1412, 1567, 1980, 2148, 2697, 2732, 2950],
                  "coupled_lstm_step": [1196, 1357, 1640, 2108, 2219]}
SLOW_CHECKS = {"step_jacobian", "sample_next"}        # about 1.5 s a check


@pytest.mark.parametrize("name", list(DECLARED))
def test_a_right_answer_passes_whatever_inputs_are_drawn(name):
    """Every check draws fresh inputs; on some draws a typical slip computes nearly the
    right value (tanh(a) ~ a for a small a), and a right answer is never named a mistake.
    The book's solution is judged on fixed draws, and on those where a slip agreed."""
    from rnnlab.guard import grading
    ex = DECLARED[name]
    answer = define(exercise(name)["solution"], f"{name}_solution")
    draws = list(range(2 if name in SLOW_CHECKS else 20)) + AGREEING_DRAWS.get(name, [])
    for draw in draws:
        with grading(draw):
            verdict = ex.check(answer)
        assert verdict.passed, f"draw {draw}: {verdict}"


def test_a_slip_is_named_only_where_the_answer_is_wrong():
    from rnnlab.checks import slipped
    a = torch.tensor([[1e-3, -2e-3]])
    assert not slipped(torch.tanh(a), a, torch.tanh(a))      # right, though it matches a
    assert slipped(a * 1000, a * 1000, torch.tanh(a))        # the slip, and wrong
    assert not slipped(a * 1000, a, torch.tanh(a))           # wrong, but not this slip
    pair = (torch.ones(2), torch.zeros(2))
    assert slipped(pair[::-1], pair[::-1], pair) and not slipped(pair, pair[::-1], pair)
    assert not slipped(None, a, a) and not slipped((a,), (a, a), (a, a))


# ---------------------------------------------------------------------------
# A stub called from a solved function
# ---------------------------------------------------------------------------


def rnn_step(x, h, W_xh, W_hh, b_h):
    """A student's stub, not yet solved."""
    raise NotImplementedError("Exercise 1.1: write rnn_step")


def rnn_forward(X, h0, W_xh, W_hh, b_h):
    """A student's solved loop that calls the stub above."""
    h, states = h0, []
    for t in range(X.shape[1]):
        h = rnn_step(X[:, t], h, W_xh, W_hh, b_h)
        states.append(h)
    return torch.stack(states, dim=1), h


def test_a_stub_called_from_a_solved_function_is_the_one_named():
    v = ch1.check_rnn_forward(rnn_forward)
    assert not v.passed
    assert "`rnn_step` is not attempted yet, and your `rnn_forward` calls it" in v.message
    assert "solve `rnn_step` first" in v.message
    assert "line in `rnn_forward`" not in v.message, v.message


def test_the_stub_itself_is_still_not_attempted():
    assert "not attempted yet: replace the `raise NotImplementedError` line in `rnn_step`" \
        in ch1.check_rnn_step(rnn_step).message
    # a lambda that only forwards to the stub is the stub
    assert "not attempted yet: replace" in ch1.check_rnn_step(lambda *a: rnn_step(*a)).message


class _Model(nn.Module):
    def __init__(self, V, H):
        super().__init__()
        self.rnn = nn.GRU(V, H, batch_first=True)
        self.output = nn.Linear(H, V)

    def begin_state(self, batch_size, device):
        return self.zeros(batch_size, device)

    def zeros(self, batch_size, device):
        raise NotImplementedError


def test_a_stub_method_is_named_too():
    v = ch3.check_gru_model(_Model)
    assert "`_Model.zeros` is not attempted yet, and your `begin_state` calls it" in v.message


def test_a_not_implemented_error_from_pytorch_is_an_error_not_a_stub():
    # nn.Module without forward: PyTorch raises NotImplementedError, in its own code
    msg = run_check("demo", lambda: call(nn.Module(), 1, name="f")).message
    assert "not attempted" not in msg and "raised NotImplementedError" in msg, msg


# ---------------------------------------------------------------------------
# clip_gradients (Exercise 1.5): all-zero gradients
# ---------------------------------------------------------------------------


def _old_clip(grads, max_norm):
    """The notebook's first solution: divides by the norm even when it is 0."""
    norm = torch.sqrt(sum((g**2).sum() for g in grads))
    scale = min(1.0, max_norm / float(norm))
    return [g * scale for g in grads]


def _tensor_clip(grads, max_norm):
    norm = torch.sqrt(sum((g**2).sum() for g in grads))
    return [g / norm * torch.clamp(norm, max=max_norm) for g in grads]   # 0/0 = nan


def test_zero_gradients_come_back_unchanged():
    for answer, fragment in [(_old_clip, "ZeroDivisionError"), (_tensor_clip, "NaN")]:
        v = ch1.check_clip_gradients(answer)
        assert not v.passed and "global norm 0" in v.message and fragment in v.message, v
    fixed = define(exercise("clip_gradients")["solution"], "clip_gradients_solution")
    v = ch1.check_clip_gradients(fixed)
    assert v.passed and "all-zero gradients unchanged" in v.message, str(v)


# ---------------------------------------------------------------------------
# 3.3: `== None` and the state on the wrong device
# ---------------------------------------------------------------------------


class _FixedLayer(nn.Module):
    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.hidden_size = hidden_size
        self.W_ih = nn.Parameter(torch.randn(hidden_size, input_size) * 0.1)
        self.W_hh = nn.Parameter(torch.randn(hidden_size, hidden_size) * 0.1)
        self.b_ih = nn.Parameter(torch.zeros(hidden_size))
        self.b_hh = nn.Parameter(torch.zeros(hidden_size))

    def step(self, x_t, h):
        return torch.tanh(x_t @ self.W_ih.T + self.b_ih + h @ self.W_hh.T + self.b_hh)

    def forward(self, x, h=None):
        if h is None:
            h = torch.zeros(x.shape[0], self.hidden_size, device=x.device)
        else:
            h = h[0]
        return self.run(x, h)

    def run(self, x, h):
        """The loop over time from the state h (B, H)."""
        outputs = []
        for t in range(x.shape[1]):
            h = self.step(x[:, t], h)
            outputs.append(h)
        return torch.stack(outputs, dim=1), h.unsqueeze(0)


class _EqNoneLayer(_FixedLayer):
    def forward(self, x, h=None):
        if h == None:  # noqa: E711  (the bug under test)
            h = torch.zeros(1, x.shape[0], self.hidden_size, device=x.device)
        return super().forward(x, h)


class _NeNoneLayer(_FixedLayer):
    def forward(self, x, h=None):
        h = h[0] if h != None else torch.zeros(  # noqa: E711
            x.shape[0], self.hidden_size, device=x.device)
        return self.run(x, h)


class _CpuStateLayer(_FixedLayer):
    def forward(self, x, h=None):
        if h is None:
            h = torch.zeros(1, x.shape[0], self.hidden_size)      # the device bug
        return super().forward(x, h)


@pytest.mark.parametrize("layer, fragment", [
    (_FixedLayer, None),
    (_EqNoneLayer, "`h == None` (line"),
    (_NeNoneLayer, "`h != None` (line"),
    (_CpuStateLayer, "the 'meta' device"),
])
def test_rnn_layer_catches_none_comparison_and_device(layer, fragment):
    v = _judged(ch3.check_rnn_layer(layer), fragment)
    if fragment is not None:
        assert ("is None" if "None" in fragment else "device=x.device") in v.message


def test_what_the_none_message_says_about_numpy_and_torch_is_true():
    import numpy as np
    with pytest.raises(ValueError, match="truth value of an array"):
        bool(np.zeros(2) == None)  # noqa: E711
    assert (torch.zeros(2) == None) is False  # noqa: E711
    assert "a PyTorch tensor returns False" in ch3.check_rnn_layer(_EqNoneLayer).message


def test_the_notebook_stub_with_only_those_two_bugs_left_fails():
    """Issue 9: the stub passed once its typo and weight/bias bugs were fixed."""
    stub = exercise("RNNLayer")["stub"]
    other_bugs = [("nn.Parmater", "nn.Parameter"), ("+ self.W_ih +", "+ self.b_ih +")]
    for old, _ in other_bugs + [("h == None", ""), ("torch.zeros(B, self.hidden_size)", "")]:
        assert old in stub, f"the notebook's RNNLayer stub no longer has {old!r}: update this test"
    for old, new in other_bugs:
        stub = stub.replace(old, new)
    v = ch3.check_rnn_layer(define(stub, "RNNLayer"))
    assert not v.passed and "`h == None`" in v.message, str(v)
    stub = stub.replace("h == None", "h is None")
    v = ch3.check_rnn_layer(define(stub, "RNNLayer"))
    assert not v.passed and "meta" in v.message, str(v)
    stub = stub.replace("torch.zeros(B, self.hidden_size)",
                        "torch.zeros(B, self.hidden_size, device=x.device)")
    assert ch3.check_rnn_layer(define(stub, "RNNLayer")).passed


# ---------------------------------------------------------------------------
# 3.4 and 3.5: the requested device; 3.5 written, not borrowed
# ---------------------------------------------------------------------------


def test_lstm_begin_state_honours_device():
    def ignores_device(L, B, H, bi, device):
        shape = ((2 if bi else 1) * L, B, H)
        return torch.zeros(shape), torch.zeros(shape)
    v = ch3.check_lstm_begin_state(ignores_device)
    assert not v.passed and "device meta" in v.message and "device=device" in v.message, v


class _GRUModel(nn.Module):
    """A right answer to 3.5."""

    def __init__(self, vocab_size, hidden_size, cpu_state=False):
        super().__init__()
        self.vocab_size, self.hidden_size, self.cpu_state = vocab_size, hidden_size, cpu_state
        self.rnn = nn.GRU(vocab_size, hidden_size, batch_first=True)
        self.output = nn.Linear(hidden_size, vocab_size)

    def begin_state(self, batch_size, device):
        device = "cpu" if self.cpu_state else device
        return torch.zeros(1, batch_size, self.hidden_size, device=device)

    def forward(self, X, state):
        Y, state = self.rnn(F.one_hot(X, self.vocab_size).float(), state)
        return self.output(Y), state


class _SubclassedModel(rnnlab.RNNModel):
    def __init__(self, vocab_size, hidden_size):
        super().__init__(vocab_size, hidden_size, cell="gru")


class _WrappedModel(nn.Module):
    def __init__(self, vocab_size, hidden_size):
        super().__init__()
        self.inner = rnnlab.RNNModel(vocab_size, hidden_size, cell="gru")


PREBUILT = rnnlab.RNNModel(7, 5, cell="gru")    # made before the check: not blocked


@pytest.mark.parametrize("answer, fragment", [
    (_GRUModel, None),
    (lambda V, H: _GRUModel(V, H, cpu_state=True), "device=device"),
    (_SubclassedModel, "subclass of rnnlab's RNNModel"),
    (_WrappedModel, "`rnnlab.models.RNNModel.__init__` ran inside"),
    (lambda V, H: nn.Sequential(PREBUILT), "holds an rnnlab RNNModel"),
])
def test_gru_model(answer, fragment):
    _judged(ch3.check_gru_model(answer), fragment)


# ---------------------------------------------------------------------------
# Perplexity (1.3) and sampling (3.2)
# ---------------------------------------------------------------------------


def _solution(name):
    return define(exercise(name)["solution"], f"{name}_solution")


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
