"""Every common mistake gets a message that names it (issue 20, item 2).

The table below lists, for every exercise, typical wrong answers and the phrase its message
must contain: at least three per exercise that name the mistake and where to look (a
generic "wrong values" does not count). Messages that once misled are pinned here too:
`(grads, norm)` in 1.5, chapter 6's gradients in the table's order, `idxmax` in 5.2, a
float64 answer in 1.1 and 7.1, `range(T - 1)` in 1.2.
"""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from rnnlab.checks import Verdict
from rnnlab.exercises import ch1, ch2, ch3, ch4, ch5, ch6, ch7

# Phrases that say something is wrong without saying what: not counted as naming a mistake.
GENERIC = {"wrong values", "wrong shape", "too many", "too few"}


# ---------------------------------------------------------------------------
# Wrong answers, built from one right answer with one thing changed
# ---------------------------------------------------------------------------


def _rnn(x, h, W_xh, W_hh, b_h):
    return torch.tanh(x @ W_xh + h @ W_hh + b_h)


def _loop(X, h0, W_xh, W_hh, b_h, carry=True, shifted=False, steps=None, time_major=False):
    h, out = h0, []
    for t in range(X.shape[1] if steps is None else steps(X.shape[1])):
        if shifted:
            out.append(h)
        h = _rnn(X[:, t], h if carry else h0, W_xh, W_hh, b_h)
        if not shifted:
            out.append(h)
    return torch.stack(out, 0 if time_major else 1), h


def _jacobian(h_prev, x, W_xh, W_hh, b_h, variant="right"):
    h = torch.tanh(x @ W_xh + h_prev @ W_hh + b_h)
    a = x @ W_xh + h_prev @ W_hh + b_h
    return {"right": lambda: (1 - h ** 2)[:, None] * W_hh.T,
            "transpose": lambda: (1 - h ** 2)[:, None] * W_hh,
            "columns": lambda: W_hh.T * (1 - h ** 2)[None, :],
            "no tanh'": lambda: W_hh.T,
            "pre-activation": lambda: (1 - a ** 2)[:, None] * W_hh.T,
            "h_prev": lambda: (1 - h_prev ** 2)[:, None] * W_hh.T,
            "float32": lambda: torch.diag(1 - h ** 2).float() @ W_hh.T}[variant]()


def _norm(grads):
    return float(torch.sqrt(sum((g ** 2).sum() for g in grads)))


def _clip(grads, max_norm, variant="right"):
    norm = _norm(grads)
    if variant == "each":
        return [g * min(1.0, max_norm / float(g.norm())) for g in grads]
    if variant == "always" and norm > 0:
        return [g * (max_norm / norm) for g in grads]
    if variant == "inverted" and norm > max_norm:
        return [g * (norm / max_norm) for g in grads]
    if variant == "squares" and norm > max_norm:
        return [g * (max_norm / norm ** 2) for g in grads]
    out = [g * (max_norm / norm) if norm > max_norm else g.clone() for g in grads]
    return (out, norm) if variant == "with norm" else out


def _batch_axis_loop(X, h0, W_xh, W_hh, b_h):
    """The loop over the batch axis: X[t] is sequence t, (T, d), not step t."""
    h, out = h0, []
    for t in range(X.shape[0]):
        h = _rnn(X[t], h, W_xh, W_hh, b_h)
        out.append(h)
    return torch.stack(out, 1), h


def _untrimmed_batches(corpus, B, T):
    """The corpus reshaped into B rows without dropping the tail first."""
    data = torch.tensor(corpus)
    Xs, Ys = data[:-1].reshape(B, -1), data[1:].reshape(B, -1)
    return [(Xs[:, i:i + T], Ys[:, i:i + T]) for i in range(0, Xs.shape[1] - T + 1, T)]


def _divide_by_norm(grads, max_norm):
    norm = _norm(grads)
    return [g * min(1.0, max_norm / norm) for g in grads]      # ZeroDivisionError at 0


class _Layer(nn.Module):
    """Versions of exercise 3.3's RNNLayer, each with one slip."""

    def __init__(self, d, H, bias_name="b_ih", squeeze=False, b_hh=True, carry=True,
                 transpose=True, b_ih=True, weight_for_bias=False):
        super().__init__()
        self.use_b_ih, self.weight_for_bias = b_ih, weight_for_bias
        self.W_ih, self.W_hh = nn.Parameter(torch.zeros(H, d)), nn.Parameter(torch.zeros(H, H))
        setattr(self, bias_name, nn.Parameter(torch.zeros(H)))
        self.b_hh = nn.Parameter(torch.zeros(H))
        self.H, self.squeeze, self.use_b_hh = H, squeeze, b_hh
        self.carry, self.transpose = carry, transpose

    def forward(self, x, h=None):
        h0 = torch.zeros(x.shape[0], self.H, device=x.device) if h is None else h[0]
        h, out = h0, []
        W_hh = self.W_hh.T if self.transpose else self.W_hh
        for t in range(x.shape[1]):
            b_ih = self.W_ih if self.weight_for_bias else (self.b_ih if self.use_b_ih else 0)
            h = torch.tanh(x[:, t] @ self.W_ih.T + b_ih + (h if self.carry else h0) @ W_hh
                           + (self.b_hh if self.use_b_hh else 0))
            out.append(h)
        return torch.stack(out, 1), (h if self.squeeze else h.unsqueeze(0))


class _GRU(nn.Module):
    """Versions of exercise 3.5's GRUModel, each with one slip."""

    def __init__(self, V, H, cell=nn.GRU, batch_first=True, tuple_state=False, embed=False):
        super().__init__()
        self.V, self.H, self.tuple_state = V, H, tuple_state
        self.embedding = nn.Embedding(V, V) if embed else None
        self.rnn = cell(V, H, batch_first=batch_first)
        self.output = nn.Linear(H, V)

    def begin_state(self, B, device):
        h = torch.zeros(1, B, self.H, device=device)
        return (h, h) if self.tuple_state else h

    def forward(self, X, state):
        Y, state = self.rnn(F.one_hot(X, self.V).float(), state)
        return self.output(Y), state


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


def _state(L, B, H, bi, device, D=None, layout="right", fill=torch.zeros):
    D = (2 if bi else 1) if D is None else D
    shape = {"right": (D * L, B, H), "batch first": (B, D * L, H)}[layout]
    return fill(shape, device=device), fill(shape, device=device)


def _lm(V, H, biases=2, output=True, output_bias=True, table=False):
    return (V * V if table else 0) + V * H + H * H + biases * H + \
        ((H * V + (V if output_bias else 0)) if output else 0)


def _stack(g, d, H, L, D=1, biases=2, feed_input=False, upper=None):
    total = 0
    for layer in range(L):
        d_l = d if layer == 0 or feed_input else (upper or D * H)
        total += D * g * (d_l * H + H * H + biases * H)
    return total


def _pick(kind):
    def pick_best(table, by):
        if kind == "train":
            return table.groupby(by)["train_eval_ppl"].mean().idxmin()
        if kind == "single":
            return table.loc[table["valid_ppl"].idxmin(), by]
        if kind == "idxmax":
            return table.groupby(by)["valid_ppl"].mean().idxmax()
        if kind == "row":
            return table["valid_ppl"].idxmin()
        if kind == "written column":
            return table.groupby("hidden_size")["valid_ppl"].mean().idxmin()
        return 200
    return pick_best


def _step_backward(dh, h, h_prev, x, W_xh, W_hh, tanh=True, transpose=True, bias_sum=True,
                   order="right", state="h_prev", derivative="1 - h**2", mean=False,
                   dx_transpose=True):
    tanh_grad = {"1 - h**2": 1 - h ** 2, "(1 - h)**2": (1 - h) ** 2,
                 "tanh twice": 1 - torch.tanh(h) ** 2}[derivative]
    dA = dh * tanh_grad if tanh else dh
    grads = {"dx": dA @ (W_xh.T if dx_transpose else W_xh),
             "dh_prev": dA @ (W_hh.T if transpose else W_hh),
             "dW_xh": x.T @ dA, "dW_hh": (h_prev if state == "h_prev" else h).T @ dA,
             "db_h": (dA.mean(0) if mean else dA.sum(0)) if bias_sum else dA}
    names = {"right": ["dx", "dh_prev", "dW_xh", "dW_hh", "db_h"],
             "table": ["dW_xh", "dW_hh", "db_h", "dx", "dh_prev"]}[order]
    return tuple(grads[n] for n in names)


def _sequence(dhs, hs, h0, X, W_xh, W_hh, carry=True, accumulate=True, off_by_one=False,
              wrap=False, forward=False, dh0_is_dA=False):
    T = hs.shape[1]
    dX, dh_next = torch.zeros_like(X), torch.zeros_like(h0)
    sums = [torch.zeros_like(W_xh), torch.zeros_like(W_hh), torch.zeros_like(W_hh[0])]
    for t in (range(T) if forward else reversed(range(T))):
        h_prev = hs[:, t] if off_by_one else (hs[:, t - 1] if t > 0 or wrap else h0)
        dh = dhs[:, t] + (dh_next if carry else 0)
        dX[:, t], dh_next, *terms = _step_backward(dh, hs[:, t], h_prev, X[:, t], W_xh, W_hh)
        dA = dh * (1 - hs[:, t] ** 2)
        sums = [s + g for s, g in zip(sums, terms)] if accumulate else terms
    return (dX, dA if dh0_is_dA else dh_next, *sums)


def _carry_skips_tanh(dhs, hs, h0, X, W_xh, W_hh):
    """The term carried back from step t+1 added after tanh' instead of before it."""
    dX, dh_next = torch.zeros_like(X), torch.zeros_like(h0)
    dW_xh, dW_hh, db = torch.zeros_like(W_xh), torch.zeros_like(W_hh), torch.zeros_like(h0[0])
    for t in reversed(range(hs.shape[1])):
        dA = dhs[:, t] * (1 - hs[:, t] ** 2) + dh_next
        h_prev = hs[:, t - 1] if t > 0 else h0
        dX[:, t] = dA @ W_xh.T
        dW_xh, dW_hh, db = dW_xh + X[:, t].T @ dA, dW_hh + h_prev.T @ dA, db + dA.sum(0)
        dh_next = dA @ W_hh.T
    return dX, dh_next, dW_xh, dW_hh, db


def _differences(f, x, eps, kind="central", restore=True):
    grad, flat = torch.zeros_like(x), x.view(-1)
    for i in range(flat.numel()):
        old = flat[i].item()
        flat[i] = old + eps
        up = f(x).item()
        flat[i] = old - eps if kind != "forward" else old
        down = f(x).item()
        flat[i] = old
        if kind == "no minus step":
            flat[i] = old
            down = f(x).item()
        if kind == "whole tensor":
            flat[i] = old
            up, down = f(x + eps).item(), f(x - eps).item()
        if kind == "precedence":
            grad.view(-1)[i] = (up - down) / 2 * eps
            continue
        grad.view(-1)[i] = (up - down) / {"central": 2 * eps, "forward": eps, "whole tensor":
                                          2 * eps, "no minus step": 2 * eps,
                                          "one eps": eps, "four eps": 4 * eps}[kind]
    if not restore:
        x.view(-1)[0] += 1.0
    return grad


def _gru(x, h, W_xh, W_hh, b_xh, b_hh, variant="pytorch"):
    H = h.shape[1]
    if variant in ("z first", "n first"):
        def swap(w):
            k = [w[..., :H], w[..., H:2 * H], w[..., 2 * H:]]
            return torch.cat([k[1], k[0], k[2]] if variant == "z first" else
                             [k[1], k[2], k[0]], -1)     # the student reads (n, r, z)
        W_xh, W_hh, b_xh, b_hh = swap(W_xh), swap(W_hh), swap(b_xh), swap(b_hh)
    gx, gh = x @ W_xh + b_xh, h @ W_hh + (0 if variant == "no b_hh" else b_hh)
    gate, cand = (torch.tanh, torch.sigmoid) if variant == "acts" else \
        (torch.sigmoid, torch.tanh)
    r = gate(gx[:, :H] + gh[:, :H])
    z = gate(gx[:, H:2 * H] + gh[:, H:2 * H])
    if variant == "d2l":
        n = torch.tanh(gx[:, 2 * H:] + (r * h) @ W_hh[:, 2 * H:] + b_hh[2 * H:])
    elif variant == "b_hn outside":
        n = torch.tanh(gx[:, 2 * H:] + r * (h @ W_hh[:, 2 * H:]) + b_hh[2 * H:])
    else:
        n = cand(gx[:, 2 * H:] + r * gh[:, 2 * H:])
    if variant == "candidate":
        return torch.tanh(gx[:, 2 * H:] + gh[:, 2 * H:])
    out = z * n + (1 - z) * h if variant == "swapped" else (1 - z) * n + z * h
    return out.double() if variant == "float64" else out


def _lstm(x, h, c, W_xh, W_hh, b_xh, b_hh, variant="pytorch"):
    H = h.shape[1]
    gates = x @ W_xh + h @ W_hh + b_xh + (0 if variant == "no b_hh" else b_hh)
    blocks = [gates[:, k * H:(k + 1) * H] for k in range(4)]
    if variant == "ifog":
        blocks = [blocks[0], blocks[1], blocks[3], blocks[2]]
    if variant == "igfo":          # the student reads (i, g, f, o)
        blocks = [blocks[0], blocks[2], blocks[1], blocks[3]]
    i, f = torch.sigmoid(blocks[0]), torch.sigmoid(blocks[1])
    g = (torch.sigmoid if variant == "g sigmoid" else torch.tanh)(blocks[2])
    o = torch.sigmoid(blocks[3])
    old = c
    c = (c if variant == "no forget" else f * c) + i * g
    h = o * c if variant == "no tanh" else o * torch.tanh(old if variant == "old c" else c)
    return (c, h) if variant == "swapped" else (h, c)


def _unroll(step, X, h, detach=False, no_grad=False, detach_last=False, carry=True,
            every_other=False):
    h0, outs = h, []
    with torch.no_grad() if no_grad else torch.enable_grad():
        for t in range(X.shape[1]):
            cut = detach or (every_other and t % 2 == 1)
            h = step(X[:, t], (h.detach() if cut else h) if carry else h0)
            outs.append(h)
    return torch.stack(outs, 1), (h.detach() if detach_last else h)


def _coupled(x, h, c, W_xh, W_hh, b_xh, b_hh, variant="right"):
    H = h.shape[1]
    a = x @ W_xh + b_xh + h @ W_hh + b_hh
    if variant == "gfo":           # the student reads (g, f, o)
        a = torch.cat([a[:, H:2 * H], a[:, :H], a[:, 2 * H:]], -1)
    f, g, o = torch.sigmoid(a[:, :H]), torch.tanh(a[:, H:2 * H]), torch.sigmoid(a[:, 2 * H:])
    if variant == "g sigmoid":
        g = torch.sigmoid(a[:, H:2 * H])
    i = {"i = f": f, "i = 1": torch.ones_like(f)}.get(variant, 1 - f)
    c = (1 - f) * c + f * g if variant == "swapped" else f * c + i * g
    h = o * c if variant == "no tanh" else o * torch.tanh(c)
    return (c, h) if variant == "c, h" else (h, c)


def _diagnose(train_ppl, valid_ppl):
    rises = [b > 1.1 * a for a, b in zip(train_ppl, train_ppl[1:])]
    if any(p != p for p in train_ppl) or any(rises):
        return "learning rate too high"
    if valid_ppl[-1] > 1.1 * min(valid_ppl):
        return "overfitting"
    return "too little capacity"


# ---------------------------------------------------------------------------
# The table: exercise -> (check, [(wrong answer, phrase the message must hold)])
# ---------------------------------------------------------------------------

def _variants(wrong, fragments: dict) -> list:
    """(answer, fragment) rows for the variants of one wrong-answer builder:
    `wrong(*args, variant=v)` must get a message holding `fragments[v]`."""
    return [(lambda *a, v=v: wrong(*a, variant=v), fragment)
            for v, fragment in fragments.items()]


MISTAKES = {
    "1.1": (ch1.check_rnn_step, [
        (lambda x, h, W_xh, W_hh, b_h: x @ W_xh + h @ W_hh + b_h, "apply torch.tanh"),
        (lambda x, h, W_xh, W_hh, b_h: _rnn(x, h, W_xh, W_hh.T, b_h), "uses W_hh transposed"),
        (lambda x, h, W_xh, W_hh, b_h: _rnn(x, h, W_xh, W_hh, 0), "leaves out the bias"),
        (lambda x, h, W_xh, W_hh, b_h: torch.sigmoid(x @ W_xh + h @ W_hh + b_h),
         "applies a sigmoid"),
        (lambda x, h, W_xh, W_hh, b_h: torch.tanh(x @ W_xh + b_h), "ignores the previous state"),
        (lambda *a: _rnn(*a).double(), "but the inputs are torch.float32"),
        (lambda *a: _rnn(*a).numpy(), "NumPy"),
        (lambda *a: None, "forget `return`"),
        (lambda x, h, W_xh, W_hh, b_h: torch.tanh(W_hh @ h + b_h), "raised RuntimeError"),
        # issue 31: each of these got a generic or a raw message before
        (lambda x, h, W_xh, W_hh, b_h: torch.tanh(x @ W_xh + h @ W_hh) + b_h,
         "adds b_h after the tanh"),
        (lambda x, h, W_xh, W_hh, b_h: h, "returns h unchanged"),
        (lambda x, h, W_xh, W_hh, b_h: torch.tanh(W_xh @ x + h @ W_hh + b_h),
         "W_xh @ x does not fit"),
    ]),
    "1.2": (ch1.check_rnn_forward, [
        (lambda X, h0, W_xh, W_hh, b_h: torch.tanh(X @ W_xh + b_h), "pair (outputs, h_T)"),
        (lambda *a: _loop(*a, carry=False), "uses h0 at every step"),
        (lambda *a: _loop(*a, shifted=True), "holds the state *before* each step"),
        (lambda *a: _loop(*a, steps=lambda T: T - 1), "range(T - 1) does when T = 1"),
        (lambda *a: _loop(*a, time_major=True), "stack the steps along dim=1"),
        (lambda *a: (_loop(*a)[0], a[1]), "the state you started from"),
        (lambda *a: (_loop(*a)[0], _loop(*a)[0][:, 0]), "the state after the first step"),
        (lambda X, h0, *w: _loop(X, torch.zeros_like(h0), *w), "ignores h0"),
        (lambda X, h0, W_xh, W_hh, b_h: _batch_axis_loop(X, h0, W_xh, W_hh, b_h),
         "X[t] is sequence t"),
    ]),
    "1.3": (ch1.check_perplexity, [
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
        (lambda lg, Y: float(torch.exp(-torch.log_softmax(lg, -1).gather(
            1, Y.unsqueeze(-1)).mean())), "the vocabulary, the last axis"),
    ]),
    "1.4": (ch1.check_step_jacobian, [
        *_variants(_jacobian, {
            "transpose": "is the transpose of the Jacobian",
            "columns": "into the columns",
            "no tanh'": "leaves out tanh'",
            "pre-activation": "the pre-activation",
            "h_prev": "uses 1 - h_prev**2",
            "float32": "dtype=x.dtype",
        }),
    ]),
    "1.5": (ch1.check_clip_gradients, [
        (lambda g, m: _clip(g, m, "each"), "clips each gradient by its own norm"),
        (lambda g, m: _clip(g, m, "with norm"), "returned a pair (gradients, something)"),
        (lambda g, m: _clip(g, m, "always"), "already below max_norm"),
        (lambda g, m: _clip(g, m, "inverted"), "the factor is max_norm / norm"),
        (lambda g, m: _clip(g, m, "squares"), "divides by the sum of squares"),
        (_divide_by_norm, "global norm 0"),
        (lambda g, m: g[0], "list of"),
        (lambda g, m: None, "return the list of gradients too"),
    ]),
    "2.1": (ch2.check_one_hot, [
        (lambda X, V: (X.unsqueeze(-1) == torch.arange(V)).long(), "must be float32"),
        (lambda X, V: torch.eye(V + 1)[X], "one column per token"),
        (lambda X, V: torch.eye(V)[X].movedim(-1, 0), "the one-hot axis goes last"),
        (lambda X, V: torch.eye(V)[(X + 1) % V], "one column off"),
        (lambda X, V: torch.ones(*X.shape, V), "all ones"),
    ]),
    "2.2": (ch2.check_embed_one_hot, [
        (lambda X, W: W[X.argmax(-1)], "a lookup by argmax"),
        (lambda X, W: X.unsqueeze(-1) * W, "an elementwise product"),
        (lambda X, W: X, "has E = "),
        (lambda X, W: X @ W.T, "raised RuntimeError"),
        (lambda X, W: W @ X, "W @ X and X @ W.T do not fit"),
        (lambda X, W: X @ W.T, "W @ X and X @ W.T do not fit"),
    ]),
    "2.3": (ch2.check_input_params, [
        (lambda V, E, H: (V * V + V * H, V * E + E * H), "fixed, not learned"),
        (lambda V, E, H: (V * H, E * H), "Add the embedding table"),
        (lambda V, E, H: (V * H, V * E), "Add W_xh"),
        (lambda V, E, H: (V * H + H, V * E + E * H), "no bias"),
        (lambda V, E, H: (V * H, V * E + V * H), "not the V-dimensional one-hot vector"),
        (lambda V, E, H: V * H, "should return a pair"),
        (lambda V, E, H: (str(V * H), V * E + E * H), "should return two ints"),
    ]),
    "3.1": (ch3.check_sequential_batches, [
        (_windows, "random iterator's layout"),
        (lambda c, B, T: [(X, X) for X, _ in _batches(c, B, T)], "Y must be X shifted"),
        (lambda c, B, T: [(X.T, Y.T) for X, Y in _batches(c, B, T)], "(T, B)"),
        (lambda c, B, T: _batches(c, B, T)[:-1], "full batches"),
        (lambda c, B, T: _batches(c, B, T, full_only=False), "drop the incomplete end"),
        (lambda c, B, T: [(X.int(), Y.int()) for X, Y in _batches(c, B, T)], "dtype torch.int32"),
        (lambda c, B, T: [(X.tolist(), Y.tolist()) for X, Y in _batches(c, B, T)],
         "torch.Tensor, got list"),
        (lambda c, B, T: torch.tensor(c), "list of (X, Y) pairs"),
        (lambda c, B, T: [X for X, _ in _batches(c, B, T)], "should be a pair (X, Y)"),
        (_untrimmed_batches, "drop the tail that does not fill them"),
    ]),
    "3.2": (ch3.check_sample_next, [
        (_sample(lambda lg, t: torch.softmax(lg * t, -1)), "divide by the temperature"),
        (_sample(lambda lg, t: torch.softmax(lg, -1)), "as if the temperature were 1"),
        (_sample(lambda lg, t: lg / t), "proportional to the raw logits"),
        (lambda lg, t, g: int(lg.argmax()), "the most likely token every time"),
        (_sample(lambda lg, t: torch.softmax(lg / t, -1), greedy=False), "Temperature 0 means"),
        (_sample(lambda lg, t: torch.softmax(lg / t, -1), generator=False),
         "generator passed in"),
        (lambda lg, t, g: torch.softmax(lg, -1).max(), "a token index is one integer"),
        (lambda lg, t, g: 2.0, "should return an int"),
        (lambda lg, t, g: len(lg), "not a token index"),
        (lambda lg, t, g: int(lg.argmin()), "largest logit (greedy)"),
    ]),
    "3.3": (ch3.check_rnn_layer, [
        (lambda d, H: _Layer(d, H, b_hh=False), "leaves out b_hh"),
        (lambda d, H: _Layer(d, H, carry=False), "uses the initial state at every step"),
        (lambda d, H: _Layer(d, H, transpose=False), "uses W_hh untransposed"),
        (lambda d, H: _Layer(d, H, squeeze=True), "with a leading layer axis"),
        (lambda d, H: _Layer(d, H, bias_name="b"), "no parameter `b_ih`"),
        (lambda d, H: "layer", "should be an nn.Module"),
        (lambda d, H: _Layer(d, H, b_ih=False), "leaves out b_ih"),
        (lambda d, H: _Layer(d, H, weight_for_bias=True), "`+ self.W_ih` for `+ self.b_ih`"),
    ]),
    "3.4": (ch3.check_lstm_begin_state, [
        (lambda L, B, H, bi, dev: torch.zeros(L, B, H), "returned one tensor"),
        (lambda L, B, H, bi, dev: _state(L, B, H, bi, dev, D=1), "per layer *and direction*"),
        (lambda L, B, H, bi, dev: _state(L, B, H, bi, dev, layout="batch first"),
         "layers first"),
        (lambda L, B, H, bi, dev: _state(L, B, H, bi, dev, fill=torch.ones), "not all zeros"),
        (lambda L, B, H, bi, dev: _state(L, B, H, bi, "cpu"), "device=device"),
    ]),
    "3.5": (ch3.check_gru_model, [
        (lambda V, H: _GRU(V, H, cell=nn.LSTM), "should be an nn.GRU"),
        (lambda V, H: _GRU(V, H, batch_first=False), "batch_first=True"),
        (lambda V, H: _GRU(V, H, tuple_state=True), "that is an LSTM's"),
        (lambda V, H: _GRU(V, H, embed=True), "do not match"),
    ]),
    "4.1": (ch4.check_count_rnn_lm, [
        (lambda V, H: _lm(V, H, biases=1), "two, bias_ih and bias_hh"),
        (lambda V, H: _lm(V, H, output=False), "include the output layer"),
        (lambda V, H: _lm(V, H, output_bias=False), "output layer's bias"),
        (lambda V, H: _lm(V, H, table=True), "no V x V table"),
        (lambda V, H: str(_lm(V, H)), "should return an int"),
        (lambda V, H: V * H + H * H + 2 * H + H * H + H, "not H*H and H"),
        (lambda V, H: _lm(V, H) + 1, "nn.RNN(31, 17) with nn.Linear(17, 31) has"),
    ]),
    "4.2": (ch4.check_count_lstm, [
        (lambda d, H, L: _stack(4, d, H, L, biases=1), "PyTorch has two (b_ih and b_hh)"),
        (lambda d, H, L: _stack(1, d, H, L), "4 gate blocks"),
        (lambda d, H, L: _stack(3, d, H, L), "that is a GRU's count"),
        (lambda d, H, L: _stack(4, d, H, L, feed_input=True), "not the d inputs"),
        (lambda d, H, L: _stack(4, d, H, 1), "count every one"),
        (lambda d, H, L: _stack(4, d, H, L, biases=0) + L * H, "one bias vector of H per layer"),
        (lambda d, H, L: _stack(4, d, H, L, biases=0) + 2 * L * H,
         "two bias vectors of H per layer"),
    ]),
    "4.3": (ch4.check_count_gru, [
        (lambda d, H, L, bi: _stack(3, d, H, L), "one per direction"),
        (lambda d, H, L, bi: _stack(3, d, H, L, 2 if bi else 1, upper=H),
         "not H"),
        (lambda d, H, L, bi: _stack(3, d, H, L, 2 if bi else 1, feed_input=True),
         "not the d inputs"),
        (lambda d, H, L, bi: _stack(3, d, H, L, 2 if bi else 1, biases=1),
         "PyTorch has two (b_ih and b_hh)"),
        (lambda d, H, L, bi: _stack(1, d, H, L, 2 if bi else 1), "3 gate blocks"),
        (lambda d, H, L, bi: _stack(3, d, (2 if bi else 1) * H, L),
         "does not double the hidden size"),
        (lambda d, H, L, bi: 1.5, "should return an int"),
    ]),
    "5.1": (ch5.check_my_grid, [
        ({"num_layers": [1, 2]}, "dict of lists, so sweep() runs every combination"),
        ([{"num_layers": 1}, {"num_layers": 2}], "a deeper model is also a bigger one"),
        ([{"num_layers": 1, "hidden_size": 128}, {"num_layers": 2, "hidden_size": 100}],
         "not an equal budget"),
        ([{"num_layers": 1, "hidden_size": 128, "dropout": 0.2},
          {"num_layers": 2, "hidden_size": 78}], "changes only num_layers"),
        ([{"num_layers": 2, "hidden_size": 64}], "compare at least two depths"),
        ([{"num_layers": 0, "hidden_size": 64}, {"num_layers": 1}], "would refuse"),
        ("num_layers", "should be a list of dicts"),
    ]),
    "5.2": (ch5.check_pick_best, [
        (_pick("train"), "*training* perplexity"),
        (_pick("single"), "single best run"),
        (_pick("idxmax"), "*highest* validation perplexity"),
        (_pick("row"), "a row label"),
        (_pick("typed"), "written in"),
        (_pick("written column"), "Group by the column named in `by`"),
        (lambda t, by: by, "expected a value"),
    ]),
    "5.3": (ch5.check_batch_answer, [
        ("A", "more text cannot be why"),
        ("c", "uses the same learning rate"),
        ("D", "the same for every batch size"),
        ("E", "one of"),
    ]),
    "5.4": (ch5.check_diagnose, [
        (lambda t, v: "overfitting", "whatever the history"),
        (lambda t, v: "learning rate too high" if any(b > a for a, b in zip(t, t[1:]))
         else "overfitting" if v[-1] > min(v) * 1.1 else "too little capacity",
         "stayed high, and stayed close together"),   # any wobble read as a rising curve
        (lambda t, v: "overfitting" if v[-1] > v[0] * 0.9 else "too little capacity",
         "training perplexity itself went up"),
        (lambda t, v: "too little capacity" if t[-1] == t[-1] and t[-1] > 5 and v[-1] < 12
         else "learning rate too high", "validation perplexity reached its lowest value"),
        (lambda t, v: "Overfit", "return one of"),
    ]),
    "6.1": (ch6.check_rnn_step_backward, [
        (lambda *a: _step_backward(*a, tanh=False), "skips tanh"),
        (lambda *a: _step_backward(*a, transpose=False), "needs its transpose"),
        (lambda *a: _step_backward(*a, bias_sum=False), "sums dA over the batch"),
        (lambda *a: _step_backward(*a, order="table"), "in another order"),
        (lambda *a: _step_backward(*a, state="h"), "it uses h, the new state"),
        (lambda *a: _step_backward(*a)[:4], "tuple of 5"),
        (lambda *a: _step_backward(*a, derivative="(1 - h)**2"), "not (1 - h)**2"),
        (lambda *a: _step_backward(*a, derivative="tanh twice"), "with no second tanh"),
        (lambda *a: _step_backward(*a, mean=True), "it averages dA over the batch"),
        (lambda *a: _step_backward(*a, dx_transpose=False), "dx = dA @ W_xh.T is (B, H)"),
    ]),
    "6.2": (ch6.check_rnn_backward, [
        (lambda *a: _sequence(*a, accumulate=False), "+= ..."),
        (lambda *a: _sequence(*a, carry=False), "from step t+1"),
        (lambda *a: _sequence(*a, off_by_one=True), "pairs dA_t with h_t"),
        (lambda *a: _sequence(*a)[:3], "tuple of 5"),
        (_carry_skips_tanh, "must also pass through tanh'"),
        (lambda *a: _sequence(*a, forward=True), "the loop ran forward in time"),
        (lambda *a: _sequence(*a, dh0_is_dA=True), "not dA_1 itself"),
        (lambda *a: _sequence(*a, wrap=True), "wrap around to the last state"),
    ]),
    "6.3": (ch6.check_numerical_grad, [
        (lambda f, x, eps: _differences(f, x, eps, "forward"), "Use central differences"),
        (lambda f, x, eps: _differences(f, x, eps, "one eps"), "divide by 2 * eps"),
        (lambda f, x, eps: _differences(f, x, eps, "four eps"), "half the gradient"),
        (lambda f, x, eps: _differences(f, x, eps, restore=False), "left x changed"),
        (lambda f, x, eps: _differences(f, x, eps, "precedence"), "write / (2 * eps)"),
        (lambda f, x, eps: _differences(f, x, eps, "no minus step"), "not f(x - eps)"),
        (lambda f, x, eps: _differences(f, x, eps, "whole tensor"), "one entry at a time"),
        (lambda f, x, eps: _differences(f, x, eps).float(), "needs every digit"),
    ]),
    "6.4": (ch6.check_unroll, [
        (lambda step, X, h: _unroll(step, X, h, detach=True), "the graph is cut inside the loop"),
        (lambda step, X, h: _unroll(step, X, h, no_grad=True), "hold no graph"),
        (lambda step, X, h: _unroll(step, X, h, detach_last=True), "h_T of"),
        (lambda step, X, h: _unroll(step, X, h, carry=False), "wrong values"),
        (lambda step, X, h: _unroll(step, X, h)[0], "should return a pair (outputs, h_T)"),
        (lambda step, X, h: _unroll(step, X, h, every_other=True), "at every step or at some"),
    ]),
    "7.1": (ch7.check_gru_step, [
        *_variants(_gru, {
            "d2l": "as d2l does",
            "swapped": "swaps the roles of z",
            "z first": "(z, r, n)",
            "candidate": "the candidate n only",
            "float64": "but the inputs are torch.float32",
            "acts": "swaps the activations",
            "b_hn outside": "adds b_hn outside the reset gate",
            "no b_hh": "leaves out b_hh",
            "n first": "takes the candidate's block first",
        }),
    ]),
    "7.2": (ch7.check_lstm_step, [
        *_variants(_lstm, {
            "swapped": "the order is (h, c)",
            "no tanh": "multiplies tanh(c)",
            "ifog": "(i, f, o, g)",
            "no forget": "without the forget gate",
            "g sigmoid": "puts the candidate g through a sigmoid",
            "no b_hh": "leaves out b_hh",
            "igfo": "(i, g, f, o)",
            "old c": "computes h from the old cell state",
        }),
    ]),
    "7.4": (ch7.check_coupled_lstm_step, [
        *_variants(_coupled, {
            "i = f": "(i = f)",
            "i = 1": "adds all of g",
            "swapped": "swaps the roles",
            "no tanh": "multiplies tanh(c)",
            "c, h": "the order is (h, c)",
            "g sigmoid": "puts the candidate g through a sigmoid",
            "gfo": "takes the blocks in the order (g, f, o)",
        }),
        (lambda x, h, c, *w: (h, c), "the cell state it was given"),
    ]),
    "7.3": (ch7.check_pass_through, [
        ((0, 1), "replaces the cell state"),
        ((0.9, 0.1), "changes c"),
        ((2, 0), "between 0 and 1"),
        (None, "not attempted"),
    ]),
}

RIGHT = {   # a right answer per exercise, so that the table's answers differ from it by one slip
    "1.1": _rnn, "1.2": _loop, "1.4": _jacobian, "1.5": _clip, "3.3": _Layer,
    "4.1": _lm, "4.2": lambda d, H, L: _stack(4, d, H, L),
    "4.3": lambda d, H, L, bi: _stack(3, d, H, L, 2 if bi else 1), "5.2": lambda t, by:
        t.groupby(by)["valid_ppl"].mean().idxmin(),
    "6.1": _step_backward, "6.2": _sequence, "6.3": _differences, "7.1": _gru, "7.2": _lstm,
    "5.1": [{"num_layers": 1, "hidden_size": 128}, {"num_layers": 2, "hidden_size": 78}],
    "5.4": _diagnose, "6.4": _unroll, "7.4": _coupled,
}


def test_every_exercise_names_at_least_three_typical_mistakes():
    exercises = {v.exercise.split()[1] for v in (check(None) for check, _ in MISTAKES.values())}
    assert len(exercises) == len(MISTAKES) >= 25
    for number, (_, wrongs) in MISTAKES.items():
        named = {phrase for _, phrase in wrongs if phrase not in GENERIC}
        assert len(named) >= 3, f"exercise {number} names only {named}"


@pytest.mark.parametrize("number", list(RIGHT))
def test_the_right_answer_the_slips_start_from_passes(number):
    check, _ = MISTAKES[number]
    assert check(RIGHT[number]).passed, str(check(RIGHT[number]))


@pytest.mark.parametrize("number, answer, phrase", [
    (n, a, p) for n, (_, wrongs) in MISTAKES.items() for a, p in wrongs])
def test_each_mistake_gets_its_message(number, answer, phrase):
    check, _ = MISTAKES[number]
    v = check(answer)
    assert isinstance(v, Verdict) and not v.passed, f"{number}: {v}"
    assert phrase in v.message, f"{number}: {v.message}"
    assert "could not judge" not in v.message


# ---------------------------------------------------------------------------
# One rule for accepted types
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("check, answer", [
    (ch1.check_rnn_forward, lambda *a: list(_loop(*a))),
    (ch2.check_input_params, lambda V, E, H: [V * H, V * E + E * H]),
    (ch3.check_lstm_begin_state, lambda *a: list(_state(*a))),
    (ch6.check_rnn_step_backward, lambda *a: list(_step_backward(*a))),
    (ch7.check_lstm_step, lambda *a: list(_lstm(*a))),
    (ch7.check_pass_through, [1, 0]),
    (ch7.check_pass_through, (torch.tensor(1.0), torch.tensor(0.0))),
    (ch1.check_perplexity, lambda lg, Y: torch.exp(_nll(lg, Y).mean())),     # a 0-d tensor
    (ch3.check_sample_next, lambda lg, t, g: torch.multinomial(                # shape (1,)
        torch.softmax(lg / t, -1), 1, generator=g) if t > 0 else lg.argmax()),
    (ch5.check_pick_best, lambda t, by: torch.tensor(
        t.groupby(by)["valid_ppl"].mean().idxmin())),
])
def test_a_pair_is_a_tuple_or_a_list_and_a_scalar_a_number_or_0d_tensor(check, answer):
    assert check(answer).passed, str(check(answer))


def test_a_wrong_answer_leaks_no_warning():
    """A layer that requires grad and is wrong: the message, and nothing else (issue 31)."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        v = ch3.check_rnn_layer(lambda d, H: _Layer(d, H, b_ih=False))
    assert not v.passed


@pytest.mark.parametrize("check, answer", [
    (ch1.check_step_jacobian, lambda h_prev, x, W_xh, W_hh, b_h: W_xh @ x),
    (ch7.check_gru_step, lambda x, h, W_xh, *w: W_xh @ x),
    (ch7.check_lstm_step, lambda x, h, c, W_xh, *w: (W_xh @ x, c)),
    (ch7.check_coupled_lstm_step, lambda x, h, c, W_xh, *w: (W_xh @ x, c)),
], ids=["1.4", "7.1", "7.2", "7.4"])
def test_a_raw_shape_error_gets_a_line_about_the_exercise(check, answer):
    """PyTorch's own message stays (it names the shapes) and a sentence follows it."""
    v = check(answer)
    assert not v.passed and "raised RuntimeError" in v.message, v.message
    tail = v.message.split("shapes cannot be multiplied")[-1]
    assert any(p in tail for p in ("one example, not a batch", "Slice the blocks")), v.message
