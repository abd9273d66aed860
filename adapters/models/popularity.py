"""Popularity: every user gets the songs most listened to in training. The baseline
each model must beat and the cold-start fallback."""

from __future__ import annotations

import torch

from adapters.graph.pyg_builder import GraphBundle
from adapters.models.base import GraphRecommender


class PopularityRecommender(GraphRecommender):
    kind = "popularity"

    def __init__(self, bundle: GraphBundle) -> None:
        super().__init__(bundle)
        # log1p keeps scores on a readable scale; ties are broken by index (stable sort).
        self.register_buffer("song_scores", torch.log1p(bundle.song_popularity.float()))

    def pair_scores(self, users: torch.Tensor, songs: torch.Tensor) -> torch.Tensor:
        return self.song_scores[songs]

    def full_sort_predict(self, users: torch.Tensor, z: None = None) -> torch.Tensor:
        return self.song_scores.unsqueeze(0).expand(len(users), -1)
