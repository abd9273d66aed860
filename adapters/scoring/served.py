"""The exported model (``adapters.scoring.export``) answering: scores, top-k lists and the
attention behind a score, from ``adapters.scoring.kernel`` on numpy arrays, the same lines
that scored the pairs the model was trained on. The trainer's validation, `engine evaluate`
and `engine recommend` all rank through this class; serving loads it from ``serving.npz``
without torch.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from adapters.common.song_genres import SongGenres, with_padding_column
from adapters.common.tables import positions
from adapters.common.user_songs import UserSongs
from adapters.scoring import kernel
from adapters.scoring.kernel import array_namespace
from adapters.scoring.retrieval import QUERY_CANDIDATES, Retrieval, deserialise, top_columns
from domain.ports import Dataset

SERVING_FORMAT = 7  # bump when serving.npz changes; older files are re-exported
# What numpy raises for a serving file that is truncated, foreign or missing arrays.
UNREADABLE = (OSError, ValueError, KeyError, IndexError, EOFError, zipfile.BadZipFile)


def serving_format(path: Path) -> int | None:
    """The format a serving file was written in, None when unreadable."""
    try:
        with np.load(path, allow_pickle=False) as arrays:
            return int(json.loads(str(arrays["meta"]))["format"])
    except UNREADABLE:
        return None


def needs_export(run: Path) -> bool:
    """Whether a run's serving file is missing, older than its checkpoint or of an older format."""
    checkpoint, serving = run / "model.pt", run / "serving.npz"
    stale = not serving.exists() or serving.stat().st_mtime < checkpoint.stat().st_mtime
    return stale or serving_format(serving) != SERVING_FORMAT


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.maximum(norms, 1e-12)


@dataclass(frozen=True)
class ScoreParts:
    collaborative: np.ndarray
    genre: np.ndarray
    final: np.ndarray


class LoadedModel:
    def __init__(self, data: dict[str, np.ndarray], dataset: Dataset | None,
                 query_candidates: int = QUERY_CANDIDATES) -> None:
        meta = json.loads(str(data["meta"]))
        self.kind, self.alpha = meta["kind"], float(meta["alpha"])
        self.user_ids = data["user_ids"].astype(object)
        self.song_ids = data["song_ids"].astype(object)
        self.genre_names = [str(g) for g in data["genre_names"]]
        self.user_index: dict[str, int] = {u: i for i, u in enumerate(self.user_ids)}
        self.song_index: dict[str, int] = {s: i for i, s in enumerate(self.song_ids)}
        self.popularity = data["popularity"]
        self.user_genre = data["user_genre"]
        self.song_genres = SongGenres(data["song_genre_slots"], len(self.genre_names))
        self.song_artist = data["song_artist"]
        self.is_gat = "user_emb" in data
        self.members = 1  # GAT models: one per attention sharpness (below)
        self.notes: dict[str, int] = dict(meta.get("notes", {}))
        self.sparse_users: set[int] = set()
        self.query_candidates = query_candidates
        # least-squares map from a history's mean embedding to a user embedding, for folding
        # in new listeners (``adapters.scoring.fold_in``), fitted on first use
        self.user_mapping: np.ndarray | None = None
        self.folded_users: frozenset[str] = frozenset()  # answered from plays after training
        if self.is_gat:
            self.user_emb, self.song_emb = data["user_emb"], data["song_emb"]
            self.attended, self.attended_mask = data["attended"], data["attended_mask"]
            self.sharpness = data["sharpness"]
            self.members = len(self.sharpness)
            self.sparse_users = set(data["sparse_users"].tolist())
            self.neighbours = data["neighbours"]
            self.genre_basis = data.get("genre_basis")
            self.item_index = deserialise(data["item_index"]) if "item_index" in data else None
        # (168, members * dim): what each hour of the week adds to a listener's row (the
        # week's mean is in the row itself); None for a model without listening context
        self.context_emb: np.ndarray | None = data.get("context_emb") if self.is_gat else None
        self.heard = self._heard(dataset)
        self.song_names, self.artist_names = self._names(dataset)
        self.artist_index = self._artist_index(dataset)
        self.refresh_derived()

    def refresh_derived(self) -> None:
        """Recompute what is derived from the model's arrays (after ``fold_in`` changed them)."""
        self._user_genre_unit = with_padding_column(unit_rows(self.user_genre))
        self._song_genre_weight = self.song_genres.weights()
        self._catalogue = np.arange(len(self.song_ids))
        self._by_backend: dict[str, dict[str, Any]] = {}
        self._unit_songs: np.ndarray | None = None
        if self.is_gat:
            arrays = {"attended": self.attended, "attended_mask": self.attended_mask,
                      "neighbours": self.neighbours, "user_emb": self.user_emb, "song_emb": self.song_emb,
                      "user_genre_unit": self._user_genre_unit, "song_genre_slots": self.song_genres.slots,
                      "song_genre_weight": self._song_genre_weight, "genre_basis": self.genre_basis}
            self.retrieval = Retrieval(arrays, self.members, self.alpha, self.query_candidates,
                                       self.item_index)

    @classmethod
    def from_file(cls, serving: Path, dataset: Dataset | None) -> LoadedModel:
        with np.load(serving, allow_pickle=False) as arrays:
            return cls({name: arrays[name] for name in arrays.files}, dataset)

    def unit_songs(self) -> np.ndarray:
        """The song embeddings scaled to unit length (for cosine neighbours), made on first use."""
        if self._unit_songs is None:
            self._unit_songs = unit_rows(self.song_emb.astype(np.float32))
        return self._unit_songs

    def history_counts(self) -> np.ndarray:
        """How many training songs each user's attention reads."""
        return self.attended_mask.sum(1)

    def history_attention(self, user: int, song: int) -> tuple[np.ndarray, np.ndarray]:
        """(song indices, attention) of the user's attended history when the model scores
        ``song`` (which does not attend to itself), most attended first; attention, averaged
        over the members, sums to 1."""
        return self.history_attentions(user, np.array([song]))[0]

    def history_attentions(self, user: int, songs: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """``history_attention`` of each of ``songs``, from one pass of the kernel."""
        users = np.array([user])
        history = self.attended[users]
        blocked = kernel.blocked_slots(history, self.attended_mask[users], songs[None])
        bias = kernel.attention_bias(blocked, self.song_emb)
        attention = kernel.mean_attention(self.user_emb[users], self.song_emb[songs[None]],
                                          self.song_emb[history], bias, self.sharpness,
                                          self.members)[0].astype(np.float64)
        explained = []
        for column in range(len(songs)):
            slots = np.flatnonzero(~blocked[0, :, column])
            order = slots[np.argsort(-attention[slots, column], kind="stable")]
            explained.append((history[0, order], attention[order, column]))
        return explained

    def list_ranks(self, user: int, song: int, scores: np.ndarray, songs: np.ndarray | None = None,
                   heard: UserSongs | None = None) -> np.ndarray:
        """The rank of ``song`` in each row of ``scores`` (rows x the catalogue, or x ``songs``)
        as the user's list ranks it: among the songs ``heard`` (default: the user's) leaves out,
        the song itself included."""
        offered = ~(self.heard if heard is None else heard).dense(np.array([user]))[0]
        offered[song] = True
        if songs is not None:
            offered, song = offered[songs], int(np.flatnonzero(songs == song)[0])
        return 1 + (scores[:, offered] > scores[:, [song]]).sum(axis=1)

    def _arrays(self, backend: str) -> dict[str, Any]:
        """The scoring arrays in ``backend``'s library: numpy itself, or zero-copy torch views
        (several threads, which the trainer's every-epoch validation wants)."""
        if backend not in self._by_backend:
            arrays = {"user_genre_unit": self._user_genre_unit, "song_genre_slots": self.song_genres.slots,
                      "song_genre_weight": self._song_genre_weight, "popularity": self.popularity,
                      "catalogue": self._catalogue}
            if self.is_gat:
                arrays.update(user_emb=self.user_emb, song_emb=self.song_emb, attended=self.attended,
                              attended_mask=self.attended_mask, sharpness=self.sharpness)
            if backend == "torch":
                import torch

                arrays = {name: torch.from_numpy(np.ascontiguousarray(a)) for name, a in arrays.items()}
            self._by_backend[backend] = arrays
        return self._by_backend[backend]

    @staticmethod
    def _index(backend: str, index: Any) -> Any:
        if backend == "torch" and isinstance(index, np.ndarray):
            import torch

            return torch.from_numpy(np.ascontiguousarray(index))
        return index

    def _heard(self, dataset: Dataset | None) -> UserSongs:
        users = songs = np.empty(0, np.int64)
        if dataset is not None:
            users = positions(dataset.interactions.column("user_id"), list(self.user_ids))
            songs = positions(dataset.interactions.column("song_id"), list(self.song_ids))
            keep = (users >= 0) & (songs >= 0)
            users, songs = users[keep], songs[keep]
        return UserSongs.from_pairs(users, songs, len(self.user_ids), len(self.song_ids))

    def _artist_index(self, dataset: Dataset | None) -> dict[str, int]:
        """The model's index of each catalogue artist with a song in the model."""
        if dataset is None:
            return {}
        songs = dataset.catalogue["songs"]
        rows = positions(songs.column("song_id"), list(self.song_ids))
        ok = rows >= 0
        artists = np.array(songs.column("artist_id").to_pylist(), dtype=object)[ok]
        index = self.song_artist[rows[ok]]
        return {a: int(i) for a, i in zip(artists.tolist(), index.tolist(), strict=True)
                if a is not None and i >= 0}

    def _names(self, dataset: Dataset | None) -> tuple[np.ndarray, np.ndarray]:
        n = len(self.song_ids)
        song_names = np.full(n, None, dtype=object)
        artist_names = np.full(n, None, dtype=object)
        if dataset is None:
            return song_names, artist_names
        songs = dataset.catalogue["songs"]
        rows = positions(songs.column("song_id"), list(self.song_ids))
        ok = rows >= 0
        song_names[rows[ok]] = np.array(songs.column("song_name").to_pylist(), dtype=object)[ok]
        artists = dataset.catalogue["artists"]
        if artists.num_rows:
            lookup = pc.index_in(songs.column("artist_id"), value_set=artists.column("artist_id"))
            names = pc.take(artists.column("artist_name"), pc.fill_null(lookup, 0))
            names = pc.if_else(pc.is_null(lookup), pa.scalar(None, pa.string()), names)
            artist_names[rows[ok]] = np.array(names.to_pylist(), dtype=object)[ok]
        return song_names, artist_names

    # -- scoring ---------------------------------------------------------------------------
    def context_rows(self, hours: np.ndarray | None) -> np.ndarray | None:
        """What each listener's row gains in their context, (len(hours), members * dim): the
        hour of the week's row, zero where ``hours`` is -1 (any time); None when there is
        nothing to add (no hours asked for, or a model without context)."""
        if hours is None or self.context_emb is None:
            return None
        hours = np.asarray(hours, dtype=np.int64)
        return self.context_emb[np.maximum(hours, 0)] * (hours >= 0)[:, None]

    def score_parts(self, users: np.ndarray, songs: np.ndarray | slice = slice(None),
                    backend: str = "numpy", history_masks: np.ndarray | None = None,
                    hours: np.ndarray | None = None) -> ScoreParts:
        """Collaborative, genre and final scores of ``users`` for ``songs``: all songs by
        default, a list every user shares (1-D), or each user's own (users x m); arrays of
        ``backend`` ("numpy", or "torch": the same kernel on tensors). ``history_masks``
        (users x history slots) scores each row with its user's attended history cut to the
        mask's slots (a user may repeat: counterfactuals score variants of one history);
        ``hours`` each row's hour of the week (-1: none), for a model with context."""
        a = self._arrays(backend)
        context = self.context_rows(hours)
        if history_masks is not None or context is not None:  # each row a user of its own
            user_rows = a["user_emb"][users]
            if context is not None:
                user_rows = user_rows + self._index(backend, context.astype(self.user_emb.dtype))
            a = {**a, "user_emb": user_rows, "attended": a["attended"][users],
                 "attended_mask": (a["attended_mask"][users] if history_masks is None
                                   else self._index(backend, history_masks)),
                 "user_genre_unit": a["user_genre_unit"][users]}
            users = np.arange(len(users))
        own = isinstance(songs, np.ndarray) and songs.ndim == 2
        users, songs = self._index(backend, users), self._index(backend, songs)
        xp = array_namespace(a["popularity"])
        slots, weights = a["song_genre_slots"][songs], a["song_genre_weight"][songs]
        genre = kernel.genre_similarity(a["user_genre_unit"][users], slots if own else slots[None],
                                        weights if own else weights[None])
        if not self.is_gat:
            final = xp.broadcast_to(xp.log1p(a["popularity"][songs]), genre.shape)
            return ScoreParts(final, genre, final)
        arguments = (a["user_emb"], a["song_emb"], a["attended"], a["attended_mask"], a["sharpness"],
                     self.members, users)
        collaborative = (kernel.candidate_collaborative(*arguments, songs) if own
                         else kernel.catalogue_collaborative(*arguments, a["catalogue"][songs][None, :]))
        return ScoreParts(collaborative, genre, kernel.final_scores(collaborative, genre, self.alpha))

    def scores(self, users: np.ndarray, backend: str = "numpy", hours: np.ndarray | None = None) -> Any:
        return self.score_parts(users, backend=backend, hours=hours).final

    def top_k(self, users: np.ndarray, k: int, exclude: UserSongs | None = None,
              backend: str = "numpy", hours: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Each user's ``k`` best (scores, song indices), ``exclude``'s songs left out, in the
        context of ``hours`` (each user's hour of the week; ignored by a model without
        context); a GAT model ranks in two stages (``adapters.scoring.retrieval``) when its
        catalogue is larger than the candidate pool. -inf scores (song -1 or an excluded one)
        fill a row that has fewer than ``k`` songs to offer."""
        if self.is_gat and len(self.song_ids) > self.retrieval.pool:
            pool = self.retrieval.candidates(users, exclude, self.context_rows(hours))
            scores = as_numpy(self.score_parts(users, np.maximum(pool, 0), backend, hours=hours).final)
            scores[pool < 0] = -np.inf
            values, columns = best_of(scores, k)
            return values, np.take_along_axis(pool, columns, 1)
        return best_of(as_numpy(self.scores(users, backend, hours)), k, excluded_for(users, exclude))


def as_numpy(scores: Any) -> np.ndarray:
    """Scores as a float64 numpy array (torch's read in place, through the array interchange
    protocol, before the copy)."""
    return np.array(scores if isinstance(scores, np.ndarray) else np.from_dlpack(scores), dtype=np.float64)


def excluded_for(users: np.ndarray, exclude: UserSongs | None) -> np.ndarray | None:
    """(users x songs) True at the songs a ranking leaves out, None when it leaves none."""
    return None if exclude is None else exclude.dense(users)


def best_of(scores: np.ndarray, k: int, excluded: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``k`` best (scores, columns), best first, equal scores in column order: the
    same scores always give the same list, whoever ranks them. ``excluded`` columns are set
    to -inf in ``scores`` first (in place: callers pass their own copy)."""
    if excluded is not None:
        scores[excluded] = -np.inf
    top = top_columns(scores, k)
    top.sort(axis=1)
    top_scores = np.take_along_axis(scores, top, 1)
    order = np.argsort(-top_scores, axis=1, kind="stable")
    return np.take_along_axis(top_scores, order, 1), np.take_along_axis(top, order, 1)
