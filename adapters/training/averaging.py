"""Exponential moving average of a model's weights (Polyak averaging).

Adam at a fixed learning rate keeps the weights jittering around a good point; their
running average sits closer to it. Validation, checkpoints and the saved model use the
average, while the optimizer keeps stepping the live weights.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn
from torch.optim.swa_utils import get_ema_multi_avg_fn


class WeightAverage:
    """Averages ``model``'s parameters after every step of ``optimizer``:
    ``average = decay * average + (1 - decay) * live``."""

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, decay: float) -> None:
        self.live = [p for p in model.parameters() if p.requires_grad]
        self.average = [p.detach().clone() for p in self.live]
        update = get_ema_multi_avg_fn(decay)
        optimizer.register_step_post_hook(lambda *_: update(self.average, self.live, None))

    @contextmanager
    def applied(self) -> Iterator[None]:
        """The model holds the averaged weights inside the block, its live ones again after."""
        self._swap()
        try:
            yield
        finally:
            self._swap()

    @torch.no_grad()
    def keep(self) -> None:
        """The model holds the averaged weights from now on."""
        for live, average in zip(self.live, self.average, strict=True):
            live.copy_(average)

    @torch.no_grad()
    def _swap(self) -> None:
        for live, average in zip(self.live, self.average, strict=True):
            scratch = live.clone()
            live.copy_(average)
            average.copy_(scratch)
