"""Ranking metrics as the field defines them (binary relevance, full ranking).

The caller ranks every song the user has not interacted with in training; these
functions only score that ranking against the user's held-out songs.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence


def recall_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Hits in the top k divided by the number of relevant items (not min(k, |relevant|))."""
    if not relevant:
        raise ValueError("recall is undefined for a user with no relevant items")
    relevant_set = set(relevant)
    hits = sum(1 for item in ranked[:k] if item in relevant_set)
    return hits / len(relevant_set)


def ndcg_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """DCG with gain 1 per relevant item at 1-based rank r: 1 / log2(r + 1); IDCG likewise."""
    if not relevant:
        raise ValueError("NDCG is undefined for a user with no relevant items")
    relevant_set = set(relevant)
    dcg = sum(1.0 / math.log2(rank + 2) for rank, item in enumerate(ranked[:k])
              if item in relevant_set)
    ideal = sum(1.0 / math.log2(rank + 2) for rank in range(min(k, len(relevant_set))))
    return dcg / ideal
