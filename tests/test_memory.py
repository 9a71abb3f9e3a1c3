"""Training memory (rnnlab.memory) is measured by kind: parameters, gradients, optimizer
state and the activations autograd saves."""

import torch

from rnnlab import RNNModel, RNNScratch, num_params
from rnnlab.memory import SavedTensors, training_memory


def test_saved_tensors_counts_each_storage_once_and_skips_excluded():
    w = torch.randn(100, requires_grad=True)
    x = torch.randn(1000, requires_grad=True)
    with SavedTensors(exclude=[w]) as saved:
        y = x * x              # saves x twice: one storage
        z = (y[:500] * w.repeat(5)).sum()   # saves a view of y and the repeated w
    z.backward()
    # x (4000 B) + y (4000 B, its view counts as the whole storage) + w.repeat (2000 B)
    assert saved.nbytes == 4000 + 4000 + 2000


def _step(model, T, optimizer_cls=torch.optim.Adam, B=4, V=11):
    torch.manual_seed(0)
    X, Y = torch.randint(0, V, (B, T)), torch.randint(0, V, (B, T))
    return training_memory(model, X, Y, optimizer_cls(model.parameters(), lr=0.01))


def test_training_memory_parameters_gradients_and_adam_state():
    model = RNNModel(11, 8, num_layers=2, cell="lstm", embed_size=5)
    before = [p.detach().clone() for p in model.parameters()]
    mem = _step(model, T=6)
    n = num_params(model)
    assert mem.parameters == 4 * n and mem.gradients == 4 * n
    n_tensors = len(before)                      # Adam: exp_avg, exp_avg_sq, step each
    assert mem.optimizer_state == 2 * 4 * n + 4 * n_tensors
    assert any(not torch.equal(a, p) for a, p in zip(before, model.parameters()))
    assert mem.total == sum(mem.as_dict().values())
    assert _step(RNNModel(11, 8), T=6, optimizer_cls=torch.optim.SGD).optimizer_state == 0


def test_training_memory_activations_grow_with_the_sequence():
    B, H = 4, 16
    short = _step(RNNScratch(11, H), T=10, B=B).activations
    long = _step(RNNScratch(11, H), T=20, B=B).activations
    assert short >= B * 10 * H * 4               # at least every h_t, kept for tanh'
    assert 1.8 < long / short < 2.2              # BPTT keeps every step: linear in T
