"""The model run again on its graph with listening edges taken out: what the deletion test
and the counterfactual test ask of the model itself."""

from __future__ import annotations

import numpy as np
import torch

from adapters.graph.pyg_builder import HISTORY, LISTENS, take_edges
from adapters.models.gat import _GATRecommender
from adapters.scoring.export import serving_arrays
from adapters.scoring.served import LoadedModel


def graph_keeping(data, keep: torch.Tensor):
    """The graph with only the listening edges ``keep`` marks, in HISTORY's edge order, taken
    out of both directions (each relation is stored in its own destination order, so a pair's
    position in LISTENS is found by the pair)."""
    graph = data.clone()
    songs, users = data[HISTORY].edge_index
    listen_users, listen_songs = data[LISTENS].edge_index
    n_songs = int(data["song"].num_nodes)
    dropped = users[~keep] * n_songs + songs[~keep]
    masks = {HISTORY: keep, LISTENS: ~torch.isin(listen_users * n_songs + listen_songs, dropped)}
    for relation, mask in masks.items():
        take_edges(graph[relation], mask)
    return graph


def exported_keeping(model: _GATRecommender, data, keep: torch.Tensor, user: int) -> LoadedModel:
    """The model exported from the graph with only the listening edges ``keep`` marks, for
    ranking ``user`` (neighbour lists for their songs alone); the model is left on that graph,
    and its caller puts ``data`` back."""
    model.bundle.data = graph_keeping(data, keep)
    return LoadedModel(serving_arrays(model, for_users=np.array([user])), None)
