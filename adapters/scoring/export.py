"""The exported model: what scoring needs, read off one eval-mode forward pass, cold-start
rules applied. The trainer's validation and test, `engine evaluate` and the deletion test
score these arrays in memory, and `engine recommend` and `engine explain` load the same
arrays from ``serving.npz`` (numpy only, no torch or PyG), so what is served is what was
evaluated.

Cold-start rules (seed, "Error Handling"):

- a song in the catalogue that training never saw a play of takes the mean embedding of
  its artist's played songs (or the artist's input embedding) plus small noise, so it can be
  recommended;
- a user with fewer than ``SPARSE_USER_PLAYS`` attended songs has their embedding blended
  with the mean of their most similar users' embeddings.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from adapters.common.atomic import atomic_file
from adapters.graph.pyg_builder import PERFORMS
from adapters.models.base import GraphRecommender
from adapters.models.gat import EnhancedGATRecommender, _GATRecommender
from adapters.scoring.cold_start import artist_mean_embeddings
from adapters.scoring.retrieval import item_index, song_neighbours
from adapters.scoring.served import SERVING_FORMAT

SPARSE_USER_PLAYS = 3
SIMILAR_USERS = 10
COLD_SONG_NOISE = 0.01


def serving_arrays(model: GraphRecommender, for_users: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The exported model as named numpy arrays. ``for_users``: only these users will be
    ranked (a validation's sample): neighbour lists are made for their attended songs alone,
    and no FAISS index is built (their first stage is exact), so a validation of a large
    catalogue costs seconds, not an index build."""
    model.eval()
    bundle = model.bundle
    performs = bundle.data[PERFORMS].edge_index.cpu()
    song_artist = np.full(bundle.data["song"].num_nodes, -1, dtype=np.int64)
    song_artist[performs[1].numpy()] = performs[0].numpy()
    arrays: dict[str, np.ndarray] = {
        "popularity": bundle.song_popularity.cpu().numpy().astype(np.float32),
        "user_genre": bundle.user_genre.cpu().numpy().astype(np.float32),
        "song_genre_slots": bundle.song_genre_slots.cpu().numpy(),
        "song_artist": song_artist,
        "user_ids": np.array(bundle.ids["user"], dtype=str),
        "song_ids": np.array(bundle.ids["song"], dtype=str),
        "genre_names": np.array(bundle.genre_names, dtype=str),
    }
    notes: dict[str, int] = {}
    alpha = model.served_alpha() if isinstance(model, EnhancedGATRecommender) else 1.0
    if isinstance(model, _GATRecommender):
        with torch.no_grad():
            z = model()
        arrays.update({
            "user_emb": z["user"].detach().cpu().numpy().copy(),
            "song_emb": z["song"].detach().cpu().numpy().copy(),
            "attended": z["attended"].cpu().numpy(), "attended_mask": z["attended_mask"].cpu().numpy(),
            "sharpness": model.sharpness.detach().cpu().numpy().astype(np.float32),
        })
        if model.context is not None:
            # the week's mean row moved into every user's: a request without a time is then
            # answered for any time by the plain fast path, and an hour adds its difference
            every = model.hours_of_week().detach().cpu().numpy()
            arrays["user_emb"] += every.mean(0)
            arrays["context_emb"] = every - every.mean(0)
        artist_input = model.embeddings["artist"].weight.detach().cpu().numpy()
        notes["cold_songs_from_artist"] = _fill_cold_songs(arrays, artist_input)
        arrays["sparse_users"] = _supplement_sparse_users(arrays)
        notes["sparse_users_supplemented"] = len(arrays["sparse_users"])
        rows = slice(None) if for_users is None else for_users
        attended, mask = arrays["attended"][rows], arrays["attended_mask"][rows]
        arrays["neighbours"] = song_neighbours(arrays["song_emb"], np.unique(attended[mask]))
        if for_users is None:
            arrays.update(item_index(arrays["song_emb"], bundle.song_genres, alpha))
    meta = {"format": SERVING_FORMAT, "kind": model.kind, "alpha": alpha,
            "notes": {name: n for name, n in notes.items() if n}}
    arrays["meta"] = np.array(json.dumps(meta))
    return arrays


def export_serving(model: GraphRecommender, path: Path) -> None:
    write_serving(serving_arrays(model), path)


def write_serving(arrays: dict[str, np.ndarray], path: Path) -> None:
    with atomic_file(path) as tmp, tmp.open("wb") as handle:
        np.savez(handle, **arrays)


def _fill_cold_songs(arrays: dict[str, np.ndarray], artist_input: np.ndarray) -> int:
    """Never-played songs take their artist's mean played-song embedding (or the artist's
    input embedding) plus seeded noise; how many songs were filled."""
    song_emb, song_artist = arrays["song_emb"], arrays["song_artist"]
    played = arrays["popularity"] > 0
    cold = np.flatnonzero(~played & (song_artist >= 0))
    if len(cold) == 0:
        return 0
    artists = song_artist[cold]
    means, has_played = artist_mean_embeddings(song_emb, song_artist, played, artists)
    base = np.where(has_played[:, None], means, artist_input[artists])
    noise = np.random.default_rng(0).standard_normal(base.shape)
    song_emb[cold] = (base + COLD_SONG_NOISE * noise).astype(song_emb.dtype)
    return len(cold)


def _supplement_sparse_users(arrays: dict[str, np.ndarray]) -> np.ndarray:
    """Users with few attended songs blend in the mean of their most similar users; their
    indices."""
    user_emb = arrays["user_emb"]
    sparse = np.flatnonzero(arrays["attended_mask"].sum(1) < SPARSE_USER_PLAYS)
    if len(sparse) == 0 or len(user_emb) <= SIMILAR_USERS:
        return np.empty(0, dtype=np.int64)
    unit = user_emb / np.maximum(np.linalg.norm(user_emb, axis=1, keepdims=True), 1e-12)
    similarity = unit[sparse] @ unit.T
    similarity[np.arange(len(sparse)), sparse] = -np.inf
    neighbours = np.argpartition(-similarity, SIMILAR_USERS, axis=1)[:, :SIMILAR_USERS]
    user_emb[sparse] = 0.5 * user_emb[sparse] + 0.5 * user_emb[neighbours].mean(1)
    return sparse.astype(np.int64)
