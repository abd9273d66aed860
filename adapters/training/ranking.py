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


def user_song_matrix(users: np.ndarray, songs: np.ndarray, n_users: int, n_songs: int
                     ) -> torch.Tensor:
    """Sparse (users x songs) indicator as a CSR tensor."""
    values = torch.ones(len(users), dtype=torch.bool)
    coo = torch.sparse_coo_tensor(torch.from_numpy(np.stack([users, songs])), values,
                                  (n_users, n_songs)).coalesce()
    return coo.to_sparse_csr()


def _rows(matrix: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    return torch.index_select(matrix.to_sparse_coo(), 0, rows).to_dense()


def rank_metrics(score_users: Callable[[torch.Tensor], torch.Tensor], relevant: torch.Tensor,
                 exclude: torch.Tensor | None, k: int = 10, chunk: int = 1024,
                 users: torch.Tensor | None = None) -> dict[str, float | torch.Tensor]:
    """Mean Recall@k and NDCG@k over users with relevant songs; also per-user values."""
    counts = torch.tensor(np.diff(relevant.crow_indices().numpy()))
    candidates = torch.nonzero(counts > 0).flatten()
    if users is not None:
        candidates = candidates[torch.isin(candidates, users)]
    discounts = 1.0 / torch.log2(torch.arange(2, k + 2, dtype=torch.float64))
    ideal = torch.cumsum(discounts, 0)
    recall, ndcg = [], []
    for start in range(0, len(candidates), chunk):
        batch = candidates[start:start + chunk]
        scores = score_users(batch).double().clone()
        if exclude is not None:
            scores[_rows(exclude, batch)] = -torch.inf
        top = torch.topk(scores, k, dim=1).indices
        hits = torch.gather(_rows(relevant, batch), 1, top).double()
        n_relevant = counts[batch].double()
        recall.append(hits.sum(1) / n_relevant)
        ndcg.append((hits * discounts).sum(1) / ideal[(n_relevant.clamp(max=k) - 1).long()])
    recall_t = torch.cat(recall) if recall else torch.empty(0)
    ndcg_t = torch.cat(ndcg) if ndcg else torch.empty(0)
    return {f"recall@{k}": float(recall_t.mean()) if len(recall_t) else 0.0,
            f"ndcg@{k}": float(ndcg_t.mean()) if len(ndcg_t) else 0.0,
            "users": candidates, "per_user_recall": recall_t, "per_user_ndcg": ndcg_t}
