"""Folding listeners into an exported model without a retrain (``POST /v1/plays``, a
listener ingested after training).

From a listener's stored listening, by the rules training and export use:

- attended history: their ``width`` heaviest songs the model can place (edge weight, then
  song index: ``adapters.models.gat.attended_history``), the songs the history attention
  reads when it scores;
- genre profile: ``adapters.common.song_genres.listening_profile`` of their plays;
- heard songs: every song of theirs the model holds (left out of their lists);
- user embedding, for a listener new to the model: the model's user embeddings regressed on
  the mean embedding of each trained user's attended history (least squares, fitted once
  per model), applied to the new listener's attended history. A known listener keeps the
  embedding training gave them.

A song new to the model whose artist it knows joins the catalogue with the artist's
cold-start embedding (``adapters.scoring.cold_start``); songs of artists it does not know
wait for the next training. Nothing is changed in place: the result is a new model, so
requests in flight finish on the one they started with.
"""

from __future__ import annotations

import copy

import numpy as np
import pyarrow as pa

from adapters.common.song_genres import SongGenres, listening_profile
from adapters.common.tables import positions
from adapters.scoring.cold_start import artist_mean_embeddings
from adapters.scoring.retrieval import song_neighbours
from adapters.scoring.served import LoadedModel
from domain.ports import Listening


def folded(model: LoadedModel, listening: Listening) -> tuple[LoadedModel, list[str]]:
    """``model`` answering for ``listening``'s users as it says; the ids folded in."""
    interactions = listening.interactions
    if interactions.num_rows == 0:
        return model, []
    if model.is_gat and model.user_mapping is None:
        model.user_mapping = _user_mapping(model)
    result = copy.copy(model)
    _add_songs(result, listening.songs, interactions)
    users = interactions.column("user_id").to_pylist()
    songs = positions(interactions.column("song_id"), list(result.song_ids))
    weights = interactions.column("edge_weight").to_numpy(zero_copy_only=False).astype(np.float64)
    placed = songs >= 0
    ids = list(dict.fromkeys(u for u, ok in zip(users, placed.tolist(), strict=True) if ok))
    if not ids:
        return model, []
    new = [u for u in ids if u not in result.user_index]
    if new:
        _add_users(result, new)
    rows = np.array([result.user_index.get(u, -1) for u in users], dtype=np.int64)
    rows, songs, weights = rows[placed], songs[placed], weights[placed]
    folded_rows = np.array([result.user_index[u] for u in ids], dtype=np.int64)
    result.heard = result.heard.with_rows(folded_rows, rows, songs, len(result.user_ids))
    _set_genre_profiles(result, folded_rows, rows, songs, weights)
    if result.is_gat:
        _set_attended(result, folded_rows, rows, songs, weights)
        if new:
            fresh = np.array([result.user_index[u] for u in new], dtype=np.int64)
            design = _with_intercept(_history_means(result, fresh))
            result.user_emb[fresh] = (design @ result.user_mapping).astype(result.user_emb.dtype)
    result.folded_users = model.folded_users | set(ids)
    result.refresh_derived()
    return result, ids


def _add_songs(model: LoadedModel, catalogue: pa.Table, interactions: pa.Table) -> None:
    """Songs of ``interactions`` new to the model, by an artist it knows, join its catalogue."""
    if not model.is_gat:
        return
    played = set(interactions.column("song_id").to_pylist())
    rows = [r for r in catalogue.to_pylist() if r["song_id"] in played
            and r["song_id"] not in model.song_index and r["artist_id"] in model.artist_index]
    if not rows:
        return
    artists = np.array([model.artist_index[r["artist_id"]] for r in rows], dtype=np.int64)
    embedding, _ = artist_mean_embeddings(model.song_emb, model.song_artist, model.popularity > 0, artists)
    name_of_artist = dict(zip(model.song_artist.tolist(), model.artist_names.tolist(), strict=True))
    n_old, n_new = len(model.song_ids), len(rows)
    model.song_index = {**model.song_index, **{r["song_id"]: n_old + i for i, r in enumerate(rows)}}
    model.song_ids = _appended(model.song_ids, np.array([r["song_id"] for r in rows], dtype=object))
    model.song_names = _appended(model.song_names, np.array([r["song_name"] for r in rows], dtype=object))
    model.artist_names = _appended(model.artist_names, np.array(
        [name_of_artist.get(a) for a in artists.tolist()], dtype=object))
    model.song_emb = _appended(model.song_emb, embedding)
    model.song_artist = _appended(model.song_artist, artists)
    model.popularity = _appended(model.popularity, np.zeros(n_new))
    genres = model.song_genres
    model.song_genres = SongGenres(_appended(genres.slots, np.full((n_new, genres.slots.shape[1]),
                                                                   genres.n_genres)), genres.n_genres)
    model.neighbours = _appended(model.neighbours, np.full((n_new, model.neighbours.shape[1]), -1))
    model.heard = model.heard.widened(len(model.song_ids))


def _appended(array: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``array`` with ``rows`` after its own, in its dtype (a new array: the old one stays)."""
    return np.concatenate([array, rows.astype(array.dtype)])


def _add_users(model: LoadedModel, ids: list[str]) -> None:
    n_old, n_new = len(model.user_ids), len(ids)
    model.user_ids = _appended(model.user_ids, np.array(ids, dtype=object))
    model.user_index = {**model.user_index, **{u: n_old + i for i, u in enumerate(ids)}}
    model.user_genre = _appended(model.user_genre, np.zeros((n_new, model.user_genre.shape[1])))
    if model.is_gat:
        model.user_emb = _appended(model.user_emb, np.zeros((n_new, model.user_emb.shape[1])))
        model.attended = _appended(model.attended, np.zeros((n_new, model.attended.shape[1])))
        model.attended_mask = _appended(model.attended_mask, np.zeros((n_new, model.attended.shape[1])))


def _set_genre_profiles(model: LoadedModel, users: np.ndarray, rows: np.ndarray, songs: np.ndarray,
                        weights: np.ndarray) -> None:
    order = np.argsort(users)
    position = order[np.searchsorted(users, rows, sorter=order)]  # each play's listener among ``users``
    profile = listening_profile(position, songs, weights, model.song_genres, len(users))
    user_genre = model.user_genre.copy()
    user_genre[users] = profile
    model.user_genre = user_genre.astype(model.user_genre.dtype)


def _set_attended(model: LoadedModel, users: np.ndarray, rows: np.ndarray, songs: np.ndarray,
                  weights: np.ndarray) -> None:
    width = model.attended.shape[1]
    attended, mask = model.attended.copy(), model.attended_mask.copy()
    attended[users], mask[users] = 0, False
    order = np.lexsort((songs, -weights, rows))
    rows, songs = rows[order], songs[order]
    starts = np.searchsorted(rows, rows, side="left")
    rank = np.arange(len(rows)) - starts
    keep = rank < width
    attended[rows[keep], rank[keep]] = songs[keep]
    mask[rows[keep], rank[keep]] = True
    model.attended, model.attended_mask = attended, mask
    missing = np.unique(songs[keep][(model.neighbours[songs[keep]] < 0).all(axis=1)])
    if len(missing):
        neighbours = model.neighbours.copy()
        neighbours[missing] = song_neighbours(model.song_emb, missing)[missing]
        model.neighbours = neighbours


def _user_mapping(model: LoadedModel) -> np.ndarray:
    """The least-squares map (with an intercept) from the mean embedding of a trained user's
    attended history to the embedding training gave them."""
    known = np.flatnonzero(model.attended_mask.any(axis=1))
    design = _with_intercept(_history_means(model, known))
    mapping, *_ = np.linalg.lstsq(design, model.user_emb[known].astype(np.float64), rcond=None)
    return mapping


def _with_intercept(x: np.ndarray) -> np.ndarray:
    return np.concatenate([x, np.ones((len(x), 1))], axis=1)


def _history_means(model: LoadedModel, users: np.ndarray) -> np.ndarray:
    mask = model.attended_mask[users]
    total = (model.song_emb[model.attended[users]] * mask[:, :, None]).sum(axis=1, dtype=np.float64)
    return total / np.maximum(mask.sum(axis=1, keepdims=True), 1)
