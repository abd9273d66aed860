"""Which history songs pull a recommended song up: the rule explanations and the deletion
test share, so the test checks exactly what explanations claim."""

from __future__ import annotations

import numpy as np


def history_pull(attention: np.ndarray, history_embeddings: np.ndarray,
                 target_embedding: np.ndarray) -> np.ndarray:
    """Attention of each history song times how far it points the target's way (>= 0).

    The user's embedding is an attention-weighted aggregate of their history, so a
    history song counts for a target by its weight and its alignment with the target.
    """
    return attention * np.maximum(history_embeddings @ target_embedding, 0.0)
