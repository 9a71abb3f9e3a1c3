"""The plain-tensor cells (rnnlab.cells): PyTorch's RNNCell, GRUCell and LSTMCell, step for
step, differentiable by autograd; d2l's GRU variant is a different function."""

import pytest
import torch
from torch import nn

from rnnlab import cells
from rnnlab.cells import gru_step

TORCH_CELLS = {"rnn": nn.RNNCell, "gru": nn.GRUCell, "lstm": nn.LSTMCell}


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_layer_equals_pytorch_cells_and_autograd_differentiates_it(cell):
    torch.manual_seed(0)
    module = TORCH_CELLS[cell](3, 5).double()
    weights = [module.weight_ih.T.detach().clone().requires_grad_(),
               module.weight_hh.T.detach().clone().requires_grad_()]
    if cell == "rnn":
        weights.append((module.bias_ih + module.bias_hh).detach().clone().requires_grad_())
    else:
        weights += [module.bias_ih.detach().clone().requires_grad_(),
                    module.bias_hh.detach().clone().requires_grad_()]
    xs = torch.randn(4, 2, 3, dtype=torch.float64)
    h = torch.zeros(2, 5, dtype=torch.float64)
    state = (h, h.clone()) if cell == "lstm" else h
    hs, last = cells.layer(cell, xs, state, weights)
    expected, s = [], state
    for x_t in xs:
        s = module(x_t, s)
        expected.append(cells.hidden(s))
    torch.testing.assert_close(hs, torch.stack(expected))
    hs.sum().backward()
    assert all(w.grad is not None and w.grad.abs().sum() > 0 for w in weights)
    with pytest.raises(ValueError, match="cell must be one of"):
        cells.step("transformer", xs[0], state, weights)


def test_d2l_reset_before_is_a_different_function():
    g = torch.Generator().manual_seed(0)
    x, h = torch.randn(4, 3, generator=g), torch.randn(4, 5, generator=g)
    W_xh, W_hh = torch.randn(3, 15, generator=g), torch.randn(5, 15, generator=g)
    b_xh, b_hh = torch.randn(15, generator=g), torch.randn(15, generator=g)
    ours = gru_step(x, h, W_xh, W_hh, b_xh, b_hh)
    d2l = gru_step(x, h, W_xh, W_hh, b_xh, b_hh, reset_before=True)
    assert (ours - d2l).abs().max() > 0.01
    same_without_hn_bias = gru_step(x, h, W_xh, W_hh, b_xh, torch.cat([b_hh[:10],
                                                                          torch.zeros(5)]))
    d2l_no_bias = gru_step(x, h, W_xh, W_hh, b_xh, torch.cat([b_hh[:10], torch.zeros(5)]),
                           reset_before=True)
    assert (same_without_hn_bias - d2l_no_bias).abs().max() > 0.01   # not just the bias
