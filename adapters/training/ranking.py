"""Full-ranking evaluation, vectorised: every song is ranked, known songs excluded.

Recall@k = hits / number of the user's held-out songs; NDCG@k with binary
relevance; both averaged over users with at least one held-out song. These are
the definitions of ``domain.metrics``, computed on tensors (a test keeps the two
in agreement).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from adapters.common.user_songs import UserSongs
from adapters.scoring.served import LoadedModel


def rank_metrics(score_users: Callable[[torch.Tensor], torch.Tensor], relevant: UserSongs,
                 exclude: UserSongs | None, k: int = 10, chunk: int = 256) -> dict[str, object]:
    """Mean Recall@k and NDCG@k over users with relevant songs, the per-user values and each
    user's top k (song indices, best first)."""
    candidates = np.flatnonzero(relevant.counts() > 0)
    discounts = 1.0 / torch.log2(torch.arange(2, k + 2, dtype=torch.float64))
    ideal = torch.cumsum(discounts, 0)
    recall, ndcg, tops = [], [], []
    for start in range(0, len(candidates), chunk):
        batch = candidates[start:start + chunk]
        scores = score_users(torch.from_numpy(batch)).float().clone()
        if exclude is not None:
            scores[torch.from_numpy(exclude.dense(batch))] = -torch.inf
        top = torch.topk(scores, k, dim=1).indices
        tops.append(top)
        hits = torch.gather(torch.from_numpy(relevant.dense(batch)), 1, top).double()
        n_relevant = torch.from_numpy(relevant.counts()[batch]).double()
        recall.append(hits.sum(1) / n_relevant)
        ndcg.append((hits * discounts).sum(1) / ideal[(n_relevant.clamp(max=k) - 1).long()])
    recall_t = torch.cat(recall) if recall else torch.empty(0)
    ndcg_t = torch.cat(ndcg) if ndcg else torch.empty(0)
    return {f"recall@{k}": float(recall_t.mean()) if len(recall_t) else 0.0,
            f"ndcg@{k}": float(ndcg_t.mean()) if len(ndcg_t) else 0.0,
            "users": candidates, "per_user_recall": recall_t, "per_user_ndcg": ndcg_t,
            "top": torch.cat(tops).numpy() if tops else np.empty((0, k), np.int64)}


def rank_served(served: LoadedModel, relevant: UserSongs, exclude: UserSongs | None, k: int = 10,
                backend: str = "numpy") -> dict[str, object]:
    """``rank_metrics`` of an exported model's scores, computed with ``backend``'s arrays."""
    def score(users: torch.Tensor) -> torch.Tensor:
        scores = served.scores(users.numpy(), backend)
        return scores if backend == "torch" else torch.from_numpy(np.array(scores, np.float32))

    return rank_metrics(score, relevant, exclude, k)
