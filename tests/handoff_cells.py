"""Cell text for the exercises that issue 9 adds or changes, before the notebooks have it.

The chapter owners paste these cells into the notebooks (stub, check, solution); until
then tests/test_new_checks.py and tests/test_check_shortcuts.py test this exact text, and
tests/test_checks.py tests the notebooks' own cells. Once the cells are in the notebooks,
this file can go.
"""

# {exercise: {"chapter": notebook, "check": check function, "stub": ..., "solution": ...}}
CELLS = {
    "perplexity_from_logits": {
        "chapter": "01_recurrence",
        "check": "check_perplexity",
        "stub": '''\
def perplexity_from_logits(logits, Y):
    """Perplexity of logits (B, T, V) for targets Y (B, T), as a Python float."""
    raise NotImplementedError("Exercise 1.3: write perplexity_from_logits")''',
        "solution": '''\
#@title Solution (click to show)
def perplexity_from_logits_solution(logits, Y):
    """Perplexity of logits (B, T, V) for targets Y (B, T), as a Python float."""
    log_p = torch.log_softmax(logits, dim=-1)               # (B, T, V), no underflow
    nll = -log_p.gather(-1, Y.unsqueeze(-1)).squeeze(-1)    # (B, T): -log p(target)
    return float(torch.exp(nll.mean()))                     # exp(mean over all B*T)


ch1.check_perplexity(perplexity_from_logits_solution)''',
    },
    "sample_next": {
        "chapter": "03_handmade_vs_concise",
        "check": "check_sample_next",
        "stub": '''\
def sample_next(logits, temperature, generator):
    """The next token's index (an int) from logits (V,): greedy at temperature 0."""
    raise NotImplementedError("Exercise 3.2: write sample_next")''',
        "solution": '''\
#@title Solution (click to show)
def sample_next_solution(logits, temperature, generator):
    """The next token's index (an int) from logits (V,): greedy at temperature 0."""
    if temperature == 0:
        return int(logits.argmax())                          # greedy: no division by 0
    probs = torch.softmax(logits / temperature, dim=-1)      # (V,), sums to 1
    return int(torch.multinomial(probs, 1, generator=generator))


ch3.check_sample_next(sample_next_solution)''',
    },
    "sequential_batches": {
        "chapter": "03_handmade_vs_concise",
        "check": "check_sequential_batches",
        "stub": '''\
def sequential_batches(corpus, batch_size, num_steps):
    """(X, Y) pairs, each (B, T) int64; row b of a batch continues row b of the last."""
    raise NotImplementedError("Exercise 3.1: write sequential_batches")''',
        "solution": '''\
#@title Solution (click to show)
def sequential_batches_solution(corpus, batch_size, num_steps):
    """(X, Y) pairs, each (B, T) int64; row b of a batch continues row b of the last."""
    data = torch.tensor(corpus, dtype=torch.long)
    n = (len(corpus) - 1) // batch_size * batch_size   # Y needs one token beyond X
    Xs = data[:n].reshape(batch_size, -1)              # (B, n/B): B long rows
    Ys = data[1:n + 1].reshape(batch_size, -1)         # the same rows, one token ahead
    return [(Xs[:, i:i + num_steps], Ys[:, i:i + num_steps])     # the next T columns
            for i in range(0, Xs.shape[1] - num_steps + 1, num_steps)]


ch3.check_sequential_batches(sequential_batches_solution)''',
    },
}

# Solutions that exist in the notebooks and must change to pass the stricter checks.
CHANGED_SOLUTIONS = {
    "clip_gradients": {
        "chapter": "01_recurrence",
        "check": "check_clip_gradients",
        "solution": '''\
#@title Solution (click to show)
def clip_gradients_solution(grads, max_norm):
    """Rescale a list of gradients so that their global norm is at most max_norm."""
    norm = float(torch.sqrt(sum((g**2).sum() for g in grads)))
    if norm <= max_norm:               # small enough (all-zero gradients too: norm 0)
        return list(grads)
    return [g * (max_norm / norm) for g in grads]      # here norm > max_norm >= 0


ch1.check_clip_gradients(clip_gradients_solution)''',
    },
}
