"""The exercise mechanism: check a student's answer and say precisely what is wrong.

A check never raises. It runs the student's code on inputs drawn afresh for every check
(`rnnlab.guard.generator`), compares with a reference computed independently (usually by
PyTorch itself) after the student's code has returned, and returns a `Verdict` that
prints as one or a few lines:

    ✔ passed | Exercise 1.1 (rnn_step): matches nn.RNNCell on 3 cases.
    ✘ not yet | Exercise 1.1 (rnn_step): ... has the wrong shape: expected (2, 4), got (4, 2).

Writing a check for a new exercise:

    def check_my_thing(fn) -> Verdict:
        def body():
            got = call(fn, x, name="my_thing")          # catches the student's exceptions
            expect_tensor(got, reference(x), "my_thing(x)")
            return "matches the reference"
        return run_check(title("my_thing"), body)    # "Exercise 9.9 (my_thing)"

Inside `body`, `fail("...")` stops with a message; any exception the *student's* code
raises becomes a message too (via `call`), so "Run all" never stops at a check cell.

An exercise that asks the student to write what a library already provides declares
what it forbids; while the student's code runs, the operations it reaches are watched
(`rnnlab.audit`), so using the library's version is a verdict naming the route, not a pass:

    NO_CELL = forbid("this exercise asks you to compute the step yourself",
                     ops=("rnn_tanh_cell", "rnn_tanh"))
    got = call(rnn_step, x, h, ..., name="rnn_step", forbidden=NO_CELL,
               on_error=error_hint(*SHAPES, says="With row vectors x @ W_xh is (B, d) @ (d, H)."))

The check computes its own references *outside* `call`, where nothing is watched; `error_hint`
adds a sentence saying what a raw PyTorch error means for the exercise. The exercise itself
(its number, what it forbids, the slips it names) is declared in `rnnlab.exercises`.

The package's parts: `verdict` (Verdict, run_check, fail), `sandbox` (call: time limit,
errors, the audit), `explain` (messages from what the student's code raised), `expect`
(comparisons: expect_tensor, expect_gradients, close, slipped, as_pair, as_scalar) and
`source` (reading the student's source).
"""

from ..guard import freeze_loaded as _freeze_loaded
from .expect import as_pair, as_scalar, close, expect_tensor, slipped
from .explain import SHAPES, error_hint, safe_repr
from .sandbox import TIME_LIMIT_S, call, exhaust
from .source import none_comparisons
from .verdict import CheckFailed, Verdict, fail, run_check, sentence

__all__ = [
    "CheckFailed", "SHAPES", "TIME_LIMIT_S", "Verdict", "as_pair", "as_scalar", "call", "close",
    "error_hint", "exhaust", "expect_tensor", "fail", "none_comparisons", "run_check", "safe_repr",
    "sentence", "slipped",
]


_freeze_loaded(__name__)   # the checker's names cannot be changed from here on
