"""validate.py's argument checks, and where they run: indices are checked once where they
enter a run (training, generation, fit, predict), and a model's forward never syncs with
the GPU to check them."""

import pytest
import torch

import rnnlab
from rnnlab import RNNModel, RNNScratch, RunConfig, generate, train, validate

CPU = torch.device("cpu")


def _data():
    return rnnlab.load_time_machine(batch_size=4, num_steps=8, max_tokens=3_000)


# --- index range checks: once where indices enter, never a sync per forward ----------


def test_forward_checks_the_range_only_on_the_cpu(monkeypatch):
    seen = []
    monkeypatch.setattr(validate, "require_index_range",
                        lambda X, V: seen.append(X.device.type))
    X = torch.randint(0, 5, (2, 3))
    RNNScratch(5, 4)(X)
    RNNModel(5, 4)(X)
    assert seen == ["cpu", "cpu"]
    with pytest.raises(ValueError, match="shape"):       # shape checks stay per call
        RNNModel(5, 4)(X[0])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("make", [lambda: RNNScratch(5, 4), lambda: RNNModel(5, 4)])
def test_forward_on_cuda_does_not_sync(make):
    model = make().cuda()
    X = torch.randint(0, 5, (2, 3), device="cuda")
    model(X)                                                # warm-up
    torch.cuda.set_sync_debug_mode("error")
    try:
        model(X)
    finally:
        torch.cuda.set_sync_debug_mode("default")


def test_indices_are_checked_where_they_enter():
    data = _data()
    V = len(data.vocab)
    small = RNNModel(V - 1, 8)                     # one token short of the data's vocabulary
    with pytest.raises(ValueError, match="vocab_size"):
        train(small, data, RunConfig(optimizer="sgd", lr=1.0, epochs=1), CPU)
    last = data.vocab.idx_to_token[V - 1]
    with pytest.raises(ValueError, match="indices in"):
        generate(small, data.vocab, last, 3)
    bad = torch.tensor([[0, 1, 9]])
    with pytest.raises(ValueError, match="indices in"):
        rnnlab.fit(RNNModel(5, 4), bad, bad, steps=1)
    with pytest.raises(ValueError, match="indices in"):
        rnnlab.predict(RNNModel(5, 4), bad)


def test_require_checks_name_the_argument():
    with pytest.raises(ValueError, match="hidden_size must be a positive integer, got 0"):
        validate.require_sizes(vocab_size=3, hidden_size=0)
    with pytest.raises(ValueError, match="seed must be an int"):
        validate.require_int("seed", 1.5, minimum=None)
    with pytest.raises(TypeError, match="int64"):
        validate.require_indices(torch.zeros(2, 3), 5)
    with pytest.raises(ValueError, match=r"X.unsqueeze\(0\)"):
        validate.require_indices(torch.zeros(3, dtype=torch.long), 5)
    with pytest.raises(TypeError, match=r"tuple \(h, c\)"):
        validate.require_model_state(torch.zeros(1, 2, 4), (1, 2, 4), lstm=True)
    with pytest.raises(ValueError, match=r"state\[1\] \(c\)"):
        validate.require_model_state((torch.zeros(1, 2, 4), torch.zeros(2, 2, 4)), (1, 2, 4),
                                     lstm=True)
    validate.require_model_state(torch.zeros(1, 2, 4), (1, 2, 4), lstm=False)
