from __future__ import annotations

import torch
from torch import nn

from adapters.training.averaging import WeightAverage


def _train(decay: float, steps: int) -> tuple[nn.Linear, WeightAverage, list[torch.Tensor]]:
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    average = WeightAverage(model, optimizer, decay)
    seen = [model.weight.detach().clone()]
    for _ in range(steps):
        optimizer.zero_grad()
        model(torch.randn(8, 3)).pow(2).mean().backward()
        optimizer.step()
        seen.append(model.weight.detach().clone())
    return model, average, seen


def test_the_average_follows_every_step_and_the_live_weights_come_back():
    model, average, seen = _train(decay=0.5, steps=3)
    expected = seen[0]
    for weight in seen[1:]:
        expected = 0.5 * expected + 0.5 * weight
    with average.applied():
        assert torch.allclose(model.weight, expected)
    assert torch.equal(model.weight, seen[-1])
    average.keep()
    assert torch.allclose(model.weight, expected)


def test_decay_zero_averages_nothing():
    model, average, seen = _train(decay=0.0, steps=2)
    with average.applied():
        assert torch.equal(model.weight, seen[-1])
