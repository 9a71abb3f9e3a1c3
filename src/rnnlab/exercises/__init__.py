"""The exercises' checks, one module per chapter (`chN.check_*`), and the one place their
numbers are written: `NUMBERS` maps each exercise (the name the student defines, as in the
notebook cell's metadata `rnnlab.exercise`) to its number. Verdicts and refusals read the
number from here; `tests/test_exercises.py` checks that every notebook's heading and stub
say the same number.
"""

from ..guard import freeze_loaded as _freeze_loaded

NUMBERS = {
    "rnn_step": "1.1",
    "rnn_forward": "1.2",
    "perplexity_from_logits": "1.3",
    "step_jacobian": "1.4",
    "clip_gradients": "1.5",
    "one_hot": "2.1",
    "embed_one_hot": "2.2",
    "input_params": "2.3",
    "sequential_batches": "3.1",
    "sample_next": "3.2",
    "RNNLayer": "3.3",
    "lstm_begin_state": "3.4",
    "GRUModel": "3.5",
    "count_rnn_lm": "4.1",
    "count_lstm": "4.2",
    "count_gru": "4.3",
    "my_grid": "5.1",
    "pick_best": "5.2",
    "batch_answer": "5.3",
    "diagnose": "5.4",
    "rnn_step_backward": "6.1",
    "rnn_backward": "6.2",
    "numerical_grad": "6.3",
    "unroll": "6.4",
    "gru_step": "7.1",
    "lstm_step": "7.2",
    "pass_through": "7.3",
    "coupled_lstm_step": "7.4",
}


def exercise(name: str) -> str:
    """"Exercise N.k" for the exercise whose student-defined name is `name`."""
    return f"Exercise {NUMBERS[name]}"


def title(name: str, label: str | None = None) -> str:
    """A verdict's title: "Exercise N.k (label)", the label defaulting to `name`."""
    return f"{exercise(name)} ({label or name})"


_freeze_loaded(__name__)   # the checker's names cannot be changed from here on
