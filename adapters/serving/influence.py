"""Which history songs pull a recommended song up: the rule explanations and the deletion
test share, so the test checks exactly what explanations claim."""

from __future__ import annotations

import numpy as np


def history_pull(contribution: np.ndarray, attention: np.ndarray, user_gate: np.ndarray,
                 projection: np.ndarray, target_embedding: np.ndarray) -> np.ndarray:
    """First-order fall of the target's collaborative score if each history edge were removed.

    ``contribution`` (edges x dims) is what each edge adds to the user's last-layer output
    relative to the attention-weighted mean (``GATRecommender.history_contributions``); the
    user's embedding is that output through ``projection`` and a ReLU (``user_gate`` marks
    its open units) plus a skip, and the score is its dot product with the target.
    """
    direction = projection.T @ (user_gate * target_embedding)
    return (contribution @ direction) / np.maximum(1.0 - attention, 1e-6)
