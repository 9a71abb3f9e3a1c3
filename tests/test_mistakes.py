"""Every common mistake gets a message that names it (issues 20 and 31).

The slips are declared with their exercises (`rnnlab.exercises.chN`, `Exercise(slips=...)`):
each is the notebook's own solution cell with one thing changed (or a value written out),
and the phrase its message must hold. This file derives the tests from the declarations:
at least three named slips per exercise (a generic "wrong values" does not count), each
slip's edit finds its text in the solution and changes it, and each slip fails with its
phrase. The right answer the slips start from is the solution cell itself, which
tests/test_exercises.py passes.
"""

import pytest
import torch
from notebooks import define, exercise, slip_answer

from rnnlab.checks import Verdict
from rnnlab.exercises import declared
from rnnlab.guard import grading

# Phrases that say something is wrong without saying what: not counted as naming a mistake.
GENERIC = {"wrong values", "wrong shape", "too many", "too few"}
DECLARED = declared()
SLIP_DRAW = 7        # the grading seed the slips are judged on
SLIPS = [(ex, slip) for ex in DECLARED.values() for slip in ex.slips]


def test_every_exercise_names_at_least_three_typical_mistakes():
    assert len(DECLARED) >= 28
    for ex in DECLARED.values():
        named = {slip.says for slip in ex.slips if slip.says not in GENERIC}
        assert len(named) >= 3, f"exercise {ex.number} names only {named}"


@pytest.mark.parametrize("ex, slip", SLIPS, ids=[f"{ex.number}:{slip.says[:40]}"
                                                 for ex, slip in SLIPS])
def test_each_mistake_gets_its_message(ex, slip):
    if slip.is_edit:      # an edit that changes nothing would test the solution itself
        src = exercise(ex.name)["solution"]
        edited = src
        for old, new in slip.edits:
            edited = edited.replace(old, new)
        assert edited != src, f"{ex.number}: the edit {slip.edits} changes nothing"
    with grading(SLIP_DRAW):            # the same inputs every run (a check draws afresh)
        v = ex.check(slip_answer(ex, slip))
    assert isinstance(v, Verdict) and not v.passed, f"{ex.number}: {v}"
    assert slip.says in v.message, f"{ex.number}: {v.message}"


def test_two_slips_that_agree_on_the_inputs_are_both_named():
    """On draw 5013, gru_step's first case makes d2l's reset-before variant and b_hn outside
    r give the same values (the two reset gates nearly equal): the verdict names both."""
    ex = DECLARED["gru_step"]
    d2l = next(s for s in ex.slips if "as d2l does" in s.says)
    with grading(5013):
        v = ex.check(slip_answer(ex, d2l))
    assert not v.passed and "as d2l does" in v.message and "outside the reset gate" in \
        v.message, v.message
    assert "could not judge" not in v.message


def test_an_edit_that_finds_no_text_is_named():
    """A declaration whose edit no longer matches the notebook fails loudly, not quietly."""
    from rnnlab.exercises import edit
    ex = DECLARED["rnn_step"]
    with pytest.raises(AssertionError, match="has no 'no such text' to edit"):
        slip_answer(ex, edit("no such text", "x", says="-"))


def _solved(name: str, *edits: tuple[str, str]):
    """Exercise `name`'s solution cell with `edits` made: answers that must still pass."""
    src = exercise(name)["solution"]
    for old, new in edits:
        assert old in src, (name, old)
        src = src.replace(old, new)
    return define(src, f"{name}_solution")


# ---------------------------------------------------------------------------
# One rule for accepted types: a pair is a tuple or a list, a scalar a number or 0-d tensor
# ---------------------------------------------------------------------------

ACCEPTED = [
    ("rnn_forward", ("return torch.stack(states, dim=1), h ",
                     "return [torch.stack(states, dim=1), h] ")),
    ("input_params", ("return one_hot, embedding", "return [one_hot, embedding]")),
    ("lstm_begin_state", ("return torch.zeros(shape, device=device), torch.zeros(shape, "
                          "device=device)", "return [torch.zeros(shape, device=device), "
                          "torch.zeros(shape, device=device)]")),
    ("rnn_step_backward", ("return (dA @ W_xh.T,", "return [dA @ W_xh.T,"),
                          ("dA.sum(0))", "dA.sum(0)]")),
    ("lstm_step", ("return o * torch.tanh(c), c", "return [o * torch.tanh(c), c]")),
    ("pass_through", ("(1.0, 0.0)", "[1, 0]")),
    ("pass_through", ("(1.0, 0.0)", "(torch.tensor(1.0), torch.tensor(0.0))")),
    ("perplexity_from_logits", ("math.exp(nll.mean().item())", "torch.exp(nll.mean())")),
    ("sample_next", ("int(torch.multinomial(probs, 1, generator=generator))",
                     "torch.multinomial(probs, 1, generator=generator)")),     # shape (1,)
    ("pick_best", ('table.groupby(by)["valid_ppl"].mean().idxmin()',
                   'torch.tensor(table.groupby(by)["valid_ppl"].mean().idxmin())')),
]


@pytest.mark.parametrize("row", ACCEPTED, ids=[f"{row[0]}-{i}" for i, row in enumerate(ACCEPTED)])
def test_a_pair_is_a_tuple_or_a_list_and_a_scalar_a_number_or_0d_tensor(row):
    name, *edits = row
    ex = DECLARED[name]
    v = ex.check(_solved(name, *edits))
    assert v.passed, str(v)


def test_a_wrong_answer_leaks_no_warning():
    """A layer that requires grad and is wrong: the message, and nothing else (issue 31)."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        v = DECLARED["RNNLayer"].check(_solved("RNNLayer", (" + self.b_ih +", " +")))
    assert not v.passed


@pytest.mark.parametrize("name, edit", [
    ("step_jacobian", ("return torch.diag(1 - h**2) @ W_hh.T", "return W_xh @ x")),
    ("gru_step", ("gx = x @ W_xh", "gx = W_xh @ x")),
    ("lstm_step", ("gates = x @ W_xh", "gates = W_xh @ x")),
    ("coupled_lstm_step", ("a = x @ W_xh", "a = W_xh @ x")),
], ids=["1.4", "7.1", "7.2", "7.4"])
def test_a_raw_shape_error_gets_a_line_about_the_exercise(name, edit):
    """PyTorch's own message stays (it names the shapes) and a sentence follows it."""
    v = DECLARED[name].check(_solved(name, edit))
    assert not v.passed and "raised RuntimeError" in v.message, v.message
    tail = v.message.split("shapes cannot be multiplied")[-1]
    assert any(p in tail for p in ("one example, not a batch", "Slice the blocks")), v.message


def test_a_grad_mode_switched_off_inside_the_call_does_not_outlive_it():
    """A slip like `torch.set_grad_enabled(False)` in 6.4 gets its verdict, and the checks
    and cells after it run with autograd on, as before."""
    v = DECLARED["unroll"].check(_solved("unroll", ("    outputs = []\n",
                                                    "    outputs = []\n"
                                                    "    torch.set_grad_enabled(False)\n")))
    assert not v.passed and "hold no graph" in v.message, v.message
    assert torch.is_grad_enabled()
    assert DECLARED["unroll"].check(_solved("unroll")).passed


def nll(logits, Y, dim=-1):
    """The per-position negative log-likelihood (a helper for tests/test_exercises.py)."""
    return -torch.log_softmax(logits, dim=dim).gather(-1, Y.unsqueeze(-1)).squeeze(-1)
