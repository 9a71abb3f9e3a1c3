import importlib
import math
import types

import pytest
import torch
from torch import nn

import rnnlab
from rnnlab import RNNModel, RNNScratch, RunConfig, generate, perplexity, train

CPU = torch.device("cpu")


def _small_data(**kw):
    return rnnlab.load_time_machine(batch_size=8, num_steps=16, max_tokens=12_000, **kw)


class Uniform(nn.Module):
    """Predicts every token with equal probability: perplexity must equal V."""

    def __init__(self, V):
        super().__init__()
        self.V = V
        self.dummy = nn.Parameter(torch.zeros(1))

    def begin_state(self, batch_size, device):
        return torch.zeros(1, batch_size, 1, device=device)

    def forward(self, X, state):
        return torch.zeros(*X.shape, self.V) + self.dummy, state


def test_perplexity_of_a_uniform_guess_is_the_vocabulary_size():
    data = _small_data()
    assert perplexity(Uniform(len(data.vocab)), data.valid_batches(), CPU) == \
        pytest.approx(len(data.vocab), rel=1e-6)


def test_training_lowers_perplexity_and_reports_speed():
    data = _small_data()
    torch.manual_seed(0)
    model = RNNScratch(len(data.vocab), 32)
    before = perplexity(model, data.valid_batches(), CPU)
    hist = train(model, data, RunConfig(optimizer="sgd", epochs=3, lr=1.0), CPU)
    assert hist.epochs == 3 and len(hist.valid_ppl) == 3
    assert hist.valid_ppl[-1] < before - 5
    assert hist.train_ppl[-1] < hist.train_ppl[0]
    assert all(s > 0 for s in hist.tokens_per_s) and all(s > 0 for s in hist.seconds)


@pytest.mark.parametrize("random_iter", [False, True])
def test_training_is_reproducible_from_the_seed(random_iter):
    data = _small_data(random_iter=random_iter)
    runs = []
    for _ in range(2):
        torch.manual_seed(1)
        model = RNNModel(len(data.vocab), 16, cell="gru", embed_size=8, dropout=0.0)
        cfg = RunConfig(epochs=2, lr=0.01, optimizer="adam", seed=5)
        runs.append(train(model, data, cfg, CPU).valid_ppl)
    assert runs[0] == runs[1]


def test_state_is_detached_between_sequential_batches():
    # Without detaching, the second backward would run into the freed graph of batch 1
    # ("Trying to backward through the graph a second time"); with it, training runs.
    data = _small_data()
    model = RNNModel(len(data.vocab), 16, cell="lstm")
    hist = train(model, data, RunConfig(epochs=1, lr=0.01, optimizer="adam"), CPU)
    assert math.isfinite(hist.train_ppl[0])


def test_clipping_caps_the_gradient_norm():
    data = _small_data()
    torch.manual_seed(0)
    model = RNNScratch(len(data.vocab), 16)
    with torch.no_grad():
        model.W_hh[0].mul_(20)                      # exploding regime
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    from rnnlab.train import train_epoch
    stats = train_epoch(model, data.train_batches(), opt, CPU, clip=1.0, carry_state=True)
    post = torch.sqrt(sum((p.grad ** 2).sum() for p in model.parameters()))
    assert stats.grad_norm > 1.0 and post <= 1.0 + 1e-4


def test_tokens_seen_and_time_budget():
    data = _small_data()
    model = RNNScratch(len(data.vocab), 16)
    hist = train(model, data, RunConfig(optimizer="sgd", lr=1.0, epochs=2), CPU)
    per_epoch = sum(X.numel() for X, _ in data.train_batches())
    assert hist.tokens_seen == [per_epoch, 2 * per_epoch]
    # A tiny time budget stops inside the first epoch, after at least one batch.
    hist = train(model, data, RunConfig(optimizer="sgd", lr=1.0, epochs=50, max_seconds=1e-6),
                 CPU)
    assert hist.epochs == 1 and 0 < hist.total_tokens < per_epoch


def test_train_config_rejects_bad_values():
    with pytest.raises(ValueError, match="epochs"):
        RunConfig(optimizer="sgd", lr=1.0, epochs=0)
    with pytest.raises(ValueError, match="optimizer"):
        RunConfig(optimizer="rmsprop")
    with pytest.raises(ValueError, match="clip"):
        RunConfig(optimizer="sgd", lr=1.0, clip=-1)
    with pytest.raises(ValueError, match="lr"):
        RunConfig(optimizer="sgd", lr=0)
    with pytest.raises(ValueError, match="max_seconds"):
        RunConfig(optimizer="sgd", lr=1.0, max_seconds=0)


def test_generate_greedy_is_deterministic_and_sampling_is_seeded():
    data = _small_data()
    torch.manual_seed(0)
    model = RNNScratch(len(data.vocab), 16)
    greedy = generate(model, data.vocab, "time traveller", 20)
    assert greedy.startswith("time traveller") and len(greedy) == len("time traveller") + 20
    assert greedy == generate(model, data.vocab, "time traveller", 20)
    a = generate(model, data.vocab, "the", 30, temperature=1.0, seed=3)
    assert a == generate(model, data.vocab, "the", 30, temperature=1.0, seed=3)
    assert a != generate(model, data.vocab, "the", 30, temperature=1.0, seed=4)


@pytest.mark.parametrize("temperature", [0.0, 1.0, 5.0])
def test_generate_never_writes_unk(temperature):
    data = _small_data()
    torch.manual_seed(0)
    model = RNNModel(len(data.vocab), 8)
    with torch.no_grad():
        model.output.bias[data.vocab.unk] = 50.0      # <unk> is by far the likeliest
    text = generate(model, data.vocab, "the", 200, temperature=temperature, seed=0)
    assert "<unk>" not in text and len(text) == 203
    # the mask is what keeps it out: unmasked, this model's likeliest next token is <unk>
    with torch.no_grad():
        logits, _ = model(torch.tensor([data.vocab.encode("the")]), model.begin_state(1))
    assert int(logits[0, -1].argmax()) == data.vocab.unk


def test_train_says_why_it_stopped():
    data = _small_data()
    cfg = RunConfig(optimizer="sgd", lr=1.0, epochs=2)
    hist = train(RNNScratch(len(data.vocab), 8), data, cfg, torch.device("cpu"))
    assert hist.stop_reason == "epochs"
    assert hist.stop_sentence(cfg) == "stopped after 2 epochs: every epoch asked for is done"
    cfg = RunConfig(optimizer="sgd", epochs=None, patience=1, lr=1e-9)
    hist = train(RNNScratch(len(data.vocab), 8), data, cfg, torch.device("cpu"))
    assert hist.stop_reason == "patience" and hist.epochs >= 2
    assert hist.stop_sentence(cfg).endswith("no better validation perplexity for 1 epoch")
    with pytest.raises(ValueError, match="needs max_seconds or patience"):
        RunConfig(optimizer="sgd", lr=1.0, epochs=None)


def test_generate_explains_bad_prefixes():
    data = _small_data()
    model = RNNScratch(len(data.vocab), 8)
    with pytest.raises(ValueError, match=r"\['T'\].*lower"):
        generate(model, data.vocab, "Time", 5)
    with pytest.raises(ValueError, match="non-empty"):
        generate(model, data.vocab, "", 5)
    with pytest.raises(ValueError, match="temperature"):
        generate(model, data.vocab, "a", 5, temperature=-1)
    with pytest.raises(ValueError, match="num_chars"):
        generate(model, data.vocab, "a", -5)


def test_validation_perplexity_does_not_depend_on_the_training_batch_size():
    # The evaluation protocol (one stream, state carried) ignores B and T of training.
    torch.manual_seed(0)
    model = RNNModel(28, 16)
    values = []
    for B, T in [(4, 8), (16, 35)]:
        data = rnnlab.load_time_machine(batch_size=B, num_steps=T, max_tokens=12_000)
        values.append(perplexity(model, data.valid_batches(), CPU))
    assert values[0] == pytest.approx(values[1], rel=1e-6)
    # ... nor on the chunk length of the stream, since the state is carried exactly.
    chunks = [perplexity(model, rnnlab.seq_data_iter_stream(data.valid_corpus, n), CPU)
              for n in (5, 256, 10_000)]
    assert max(chunks) - min(chunks) < 1e-4 * chunks[0]


def test_eval_mode_training_perplexity_is_measured_on_request():
    data = _small_data()
    torch.manual_seed(0)
    model = RNNModel(len(data.vocab), 16, num_layers=2, cell="lstm", dropout=0.5)
    cfg = RunConfig(epochs=2, lr=0.01, optimizer="adam", eval_train=True)
    hist = train(model, data, cfg, CPU)
    assert len(hist.train_eval_ppl) == 2
    # eval mode: dropout off, so the same model measures the same twice
    again = perplexity(model, data.train_eval_batches(), CPU)
    assert again == pytest.approx(hist.train_eval_ppl[-1], rel=1e-6)
    assert train(RNNModel(len(data.vocab), 8), data,
                 RunConfig(optimizer="sgd", lr=1.0, epochs=1), CPU).train_eval_ppl == []


def test_io_dropout_drops_inputs_and_outputs_in_training_only():
    torch.manual_seed(0)
    plain = RNNModel(12, 16, num_layers=2, cell="lstm", embed_size=8)
    dropped = RNNModel(12, 16, num_layers=2, cell="lstm", embed_size=8, io_dropout=0.5)
    dropped.load_state_dict(plain.state_dict())          # no parameters of its own
    X = torch.randint(0, 12, (3, 10))
    plain.eval(), dropped.eval()
    assert torch.equal(plain(X)[0], dropped(X)[0])       # eval: off
    dropped.train()
    outs = [dropped(X)[0] for _ in range(2)]
    assert not torch.equal(outs[0], outs[1])             # train: a new mask each call
    # At 0 it draws no random numbers: a model without it trains exactly as before.
    model = RNNModel(12, 16, cell="gru", embed_size=8).train()
    rng = torch.get_rng_state()
    model(X)
    assert torch.equal(rng, torch.get_rng_state())
    dropped(X)
    assert not torch.equal(rng, torch.get_rng_state())   # the check can fail


def test_train_refuses_a_bidirectional_model():
    data = _small_data()
    model = RNNModel(len(data.vocab), 8, bidirectional=True)
    with pytest.raises(ValueError, match="bidirectional.*already read"):
        train(model, data, RunConfig(optimizer="sgd", lr=1.0, epochs=1), CPU)


T = importlib.import_module("rnnlab.train")   # the module; rnnlab.train is the function


def _data():
    return rnnlab.load_time_machine(batch_size=4, num_steps=8, max_tokens=3_000)


# --- generate() and the global random generator ------------------------------------


@pytest.mark.parametrize("kw", [dict(temperature=0.0), dict(temperature=1.0, seed=3)])
def test_generate_leaves_the_global_generator_alone(kw):
    data = _data()
    model = RNNModel(len(data.vocab), 8)
    torch.manual_seed(0)
    expected = torch.randn(3)
    torch.manual_seed(0)
    generate(model, data.vocab, "the ", 10, **kw)
    assert torch.equal(torch.randn(3), expected), "generate() moved torch's global RNG"


def test_generate_without_seed_is_reproducible_from_the_global_seed():
    data = _data()
    model = RNNModel(len(data.vocab), 8)
    runs = []
    for _ in range(2):
        torch.manual_seed(7)
        runs.append(generate(model, data.vocab, "the ", 30, temperature=1.0))
    assert runs[0] == runs[1]


# --- max_seconds: training time, validation excluded ---------------------------------


class _Clock:
    """A fake perf_counter: each training forward pass takes 1 s, each evaluation 10 s."""

    def __init__(self):
        self.now = 0.0

    def perf_counter(self):
        return self.now


def test_max_seconds_counts_training_steps_only_and_never_overshoots(monkeypatch):
    clock = _Clock()
    monkeypatch.setattr(T, "time", types.SimpleNamespace(perf_counter=clock.perf_counter))

    def slow_validation(*args, **kwargs):
        clock.now += 10.0
        return 5.0

    monkeypatch.setattr(T, "perplexity", slow_validation)
    data = _data()
    n = sum(1 for _ in data.train_batches())
    model = RNNModel(len(data.vocab), 4)
    forward = model.forward

    def timed_forward(*args, **kwargs):
        clock.now += 1.0
        return forward(*args, **kwargs)

    model.forward = timed_forward
    budget = 2 * n + 0.5            # room for two epochs of n one-second batches, not a third
    hist = train(model, data, RunConfig(optimizer="sgd", lr=1.0, epochs=5, max_seconds=budget),
                 CPU)
    assert hist.total_train_seconds == 2 * n <= budget
    assert hist.epochs == 2 and hist.tokens_seen[-1] == 2 * n * 4 * 8
    assert hist.seconds[0] == n + 10.0          # `seconds` is the epoch, validation included
    assert hist.tokens_per_s[0] == pytest.approx(4 * 8)   # tokens per training second


# --- early stopping: patience and the best epoch's weights -----------------------------


def test_patience_stops_and_restore_best_keeps_the_best_epoch(monkeypatch):
    scores = iter([5.0, 4.0, 6.0, 7.0, 8.0, 9.0])
    snapshots = []

    def fake_validation(model, batches, device=None):
        snapshots.append({k: v.clone() for k, v in model.state_dict().items()})
        return next(scores)

    monkeypatch.setattr(T, "perplexity", fake_validation)
    data = _data()
    model = RNNModel(len(data.vocab), 4)
    cfg = RunConfig(optimizer="sgd", lr=1.0, epochs=6, patience=2, restore_best=True)
    hist = train(model, data, cfg, CPU)
    assert hist.valid_ppl == [5.0, 4.0, 6.0, 7.0] and hist.best_epoch == 2
    for name, value in model.state_dict().items():
        assert torch.equal(value, snapshots[1][name]), name          # epoch 2's weights
    assert not torch.equal(snapshots[1]["output.weight"], snapshots[3]["output.weight"])
    with pytest.raises(ValueError, match="patience"):
        RunConfig(optimizer="sgd", lr=1.0, patience=0)


def test_lr_decay_halves_the_rate_after_each_epoch_without_a_new_best(monkeypatch):
    scores = iter([5.0, 4.0, 4.0, 4.5, 3.0, 3.5])     # a tie is not a new best
    monkeypatch.setattr(T, "perplexity", lambda model, batches, device=None: next(scores))
    data = _data()
    cfg = RunConfig(epochs=6, lr=0.8, optimizer="adam", lr_decay=0.5)
    hist = train(RNNModel(len(data.vocab), 4), data, cfg, CPU)
    assert hist.lr == pytest.approx([0.8, 0.8, 0.8, 0.4, 0.2, 0.2])
    plain = iter([5.0, 6.0, 7.0])
    monkeypatch.setattr(T, "perplexity", lambda model, batches, device=None: next(plain))
    hist = train(RNNModel(len(data.vocab), 4), data,
                 RunConfig(optimizer="sgd", epochs=3, lr=0.8), CPU)
    assert hist.lr == [0.8, 0.8, 0.8]                  # no decay unless asked for
    for bad in (0.0, 1.0, 1.5, -0.5):
        with pytest.raises(ValueError, match="lr_decay"):
            RunConfig(optimizer="sgd", lr=1.0, lr_decay=bad)
