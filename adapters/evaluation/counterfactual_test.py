"""Are the counterfactual explanations true of the model itself?

The served counterfactual (``adapters.explain.counterfactual``) re-scores a song without some
history songs in the attended history. This test takes those listening edges out of the
graph itself, runs the model's forward pass again (the user's embedding and every message
change too) and re-ranks, for each sampled user's top song, in the spirit of the
counterfactual-explanation literature (CountER, PRINCE, ACCENT):

- ``found``: share of songs for which a set of history songs was named at all;
- ``mean_set_size``: songs in a named set;
- ``validity``: share of named sets whose removal from the graph takes the song out of the
  top ``k``;
- ``necessity`` (probability of necessity): the same share over every song explained, a song
  without a named set counting as one whose history was not necessary;
- ``sufficiency`` (probability of sufficiency): share of named sets that, kept as the user's
  only listening edges, keep the song in the top ``k``.
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from adapters.common.user_songs import UserSongs
from adapters.evaluation.graph_edits import exported_keeping
from adapters.explain.counterfactual import counterfactual
from adapters.graph.pyg_builder import HISTORY
from adapters.models.gat import _GATRecommender
from adapters.scoring.served import LoadedModel
from domain.model import CounterfactualTest


def counterfactual_test(model: _GATRecommender, served: LoadedModel, known: UserSongs, users: np.ndarray,
                        targets: np.ndarray, k: int) -> CounterfactualTest:
    data = model.bundle.data
    served = copy.copy(served)
    served.heard = known  # ranked as the evaluation ranks: the songs the user knew left out
    history_songs, history_users = data[HISTORY].edge_index.numpy()
    sizes, valid, sufficient = [], [], []
    for user, target in zip(users.tolist(), targets.tolist(), strict=True):
        what_if = counterfactual(served, user, target, k)
        if what_if is None or what_if.rank > k or what_if.minimal_set is None:
            continue
        named = np.array([served.song_index[s] for s in what_if.minimal_set])
        mine = history_users == user
        in_set = mine & np.isin(history_songs, named)
        sizes.append(len(named))
        valid.append(_rank(model, data, ~in_set, known, user, target) > k)
        sufficient.append(_rank(model, data, ~mine | in_set, known, user, target) <= k)
    model.bundle.data = data
    explained = sum(1 for _ in users)
    return CounterfactualTest(
        users=explained, found=len(sizes) / max(explained, 1),
        mean_set_size=float(np.mean(sizes)) if sizes else None,
        validity=float(np.mean(valid)) if valid else None,
        necessity=float(np.sum(valid)) / max(explained, 1),
        sufficiency=float(np.mean(sufficient)) if sufficient else None)


def _rank(model: _GATRecommender, data, keep: np.ndarray, known: UserSongs, user: int, song: int) -> int:
    """The song's rank for the user (known songs left out) by the model run on the graph
    with only the listening edges ``keep`` marks."""
    changed = exported_keeping(model, data, torch.from_numpy(keep), user)
    return int(changed.list_ranks(user, song, changed.scores(np.array([user])), heard=known)[0])
