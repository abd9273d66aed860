"""What every recommender model offers the trainers and the recommend path.

Shaped after RecBole's contract: ``calculate_loss`` (BPR on sampled triples),
``full_sort_predict`` (scores of every song for some users) and
``pair_scores``. The graph is bound at construction, so a model is
self-contained and a checkpoint can rebuild it.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from adapters.graph.pyg_builder import GraphBundle


class GraphRecommender(nn.Module):
    kind: str = ""

    def __init__(self, bundle: GraphBundle) -> None:
        super().__init__()
        self.bundle = bundle

    def hyper_parameters(self) -> dict[str, Any]:
        return {}

    def parameter_counts(self) -> dict[str, int]:
        total = sum(p.numel() for p in self.parameters())
        embedding = sum(m.weight.numel() for m in self.modules() if isinstance(m, nn.Embedding))
        return {"total": total, "embedding": embedding, "other": total - embedding}

    @property
    def trainable(self) -> bool:
        return any(p.requires_grad for p in self.parameters())

    def pair_scores(self, users: torch.Tensor, songs: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def embed(self) -> Any:
        """What scoring needs from one forward pass (None for models without one); pass it to
        ``full_sort_predict`` to score many user batches from a single pass."""
        return None

    def full_sort_predict(self, users: torch.Tensor, z: Any = None) -> torch.Tensor:
        raise NotImplementedError

    def calculate_loss(self, users: torch.Tensor, positives: torch.Tensor, negatives: torch.Tensor,
                       l2: float = 0.0, hardest: bool = False, z: Any = None,
                       hours: torch.Tensor | None = None) -> torch.Tensor:
        """BPR: -log sigmoid(score(u, pos) - score(u, neg)) averaged over every negative of
        every positive, plus L2 on the input embeddings. ``hardest`` is dynamic negative
        sampling (Zhang et al., SIGIR 2013): only the negative the model ranks highest counts,
        the one that most misorders the list once the easy ones are learnt. ``negatives`` is
        (len(users),) or (len(users), n): n sampled songs per positive. ``z`` is ``embed()``'s
        output to score from; by default the model runs its own forward pass. ``hours``: each
        positive's listening context (hour of the week, -1 for none), read by a model that
        learns context."""
        raise NotImplementedError

    @staticmethod
    def bpr(positive: torch.Tensor, negative: torch.Tensor) -> torch.Tensor:
        return F.softplus(negative - positive).mean()

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.hyper_parameters().items())
