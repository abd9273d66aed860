"""Heterogeneous listening graph on torch_geometric ``HeteroData``.

Node types: user, song, artist, genre. Relations (reverse ones added by
``ToUndirected`` for message passing):

    user  -listens_to-> song    play_count, completion_ratio, edge_weight
    user  -prefers->    genre   affinity_score
    artist-belongs_to-> genre
    artist-performs->   song
    song  -has_genre->  genre

External string ids become contiguous indices here and only here; the id maps
travel with the graph (and later with every checkpoint). The graph is built
from whatever interactions it is given: the trainer passes training
interactions only, so nothing held out leaks into message passing, genre
affinities or popularity.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch
import torch_geometric.transforms as T
from torch_geometric.data import HeteroData
from torch_geometric.data.storage import EdgeStorage

from adapters.common.atomic import atomic_file
from adapters.common.song_genres import SongGenres, listening_profile
from adapters.common.tables import positions
from domain.errors import EmptyRepository
from domain.model import GraphSummary
from domain.ports import Dataset, GraphBuilder

LISTENS = ("user", "listens_to", "song")
PREFERS = ("user", "prefers", "genre")
BELONGS = ("artist", "belongs_to", "genre")
PERFORMS = ("artist", "performs", "song")
HAS_GENRE = ("song", "has_genre", "genre")
HISTORY = ("song", "rev_listens_to", "user")  # a user's attention over their history
# A genre must hold this share of a user's listening to count as a preference.


@dataclass
class GraphBundle:
    data: HeteroData
    ids: dict[str, list[str]]  # node type -> external ids by index
    user_genre: torch.Tensor  # (U, G) affinity in [0, 1], from training history (+ declared)
    song_genre_slots: torch.Tensor  # (S, W) each song's genre indices, padded with G
    song_popularity: torch.Tensor  # (S,) distinct training listeners
    genre_names: list[str]
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def song_genres(self) -> SongGenres:
        return SongGenres(self.song_genre_slots.cpu().numpy(), len(self.ids["genre"]))

    def index(self, node_type: str) -> dict[str, int]:
        return {external: i for i, external in enumerate(self.ids[node_type])}

    def to_state(self) -> dict[str, Any]:
        return {"data": self.data.to_dict(), "ids": self.ids, "user_genre": self.user_genre,
                "song_genre_slots": self.song_genre_slots, "song_popularity": self.song_popularity,
                "genre_names": self.genre_names, "summary": self.summary}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> GraphBundle:
        return cls(HeteroData.from_dict(state["data"]), state["ids"], state["user_genre"],
                   state["song_genre_slots"], state["song_popularity"], state["genre_names"],
                   state["summary"])

    def save(self, path: Path) -> None:
        with atomic_file(path) as tmp:
            torch.save(self.to_state(), tmp)

    @classmethod
    def load(cls, path: Path) -> GraphBundle:
        return cls.from_state(torch.load(path, map_location="cpu", weights_only=True))


def _ids(*columns: pa.ChunkedArray | pa.Array) -> list[str]:
    chunks = []
    for column in columns:
        chunks.extend(column.chunks if isinstance(column, pa.ChunkedArray) else [column])
    values = pc.unique(pa.chunked_array(chunks, pa.string()).drop_null())
    return sorted(v for v in values.to_pylist() if v.strip())


def _edges(src: np.ndarray, dst: np.ndarray) -> tuple[torch.Tensor, np.ndarray]:
    keep = (src >= 0) & (dst >= 0)
    return torch.from_numpy(np.stack([src[keep], dst[keep]])), keep


def _known_pairs(table: pa.Table, left: tuple[str, list[str]], right: tuple[str, list[str]]
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Index positions of two (column, ids) of a table, and the rows where both are known."""
    rows, cols = positions(table.column(left[0]), left[1]), positions(table.column(right[0]), right[1])
    return rows, cols, (rows >= 0) & (cols >= 0)


def row_pointers(keys: torch.Tensor, n_keys: int) -> torch.Tensor:
    """Where each key's edges start and end once the edges are grouped by key (CSR row
    pointers, ``n_keys + 1`` of them)."""
    return torch.cat([keys.new_zeros(1), torch.cumsum(torch.bincount(keys, minlength=n_keys), 0)])


def take_edges(store: EdgeStorage, which: torch.Tensor) -> None:
    """Keep the relation's edges that ``which`` picks (positions, or a mask), in that order,
    with every value kept per edge."""
    for key, value in list(store.items()):
        if key != "edge_index" and torch.is_tensor(value) and store.is_edge_attr(key):
            store[key] = value[which]
    store.edge_index = store.edge_index[:, which]


def _in_destination_order(store: EdgeStorage) -> None:
    """The relation's edges reordered by destination (stable: a destination's edges keep
    their order): the GAT layers' softmax and sums then read each destination's edges as one
    segment (adapters/models/attention_sum.py)."""
    take_edges(store, torch.argsort(store.edge_index[1], stable=True))


class PygGraphBuilder(GraphBuilder):
    def build(self, dataset: Dataset | None, out_path: Path) -> GraphSummary:
        bundle = self.build_bundle(dataset)
        bundle.save(out_path)
        return GraphSummary(path=str(out_path), **bundle.summary)

    def build_bundle(self, dataset: Dataset | None, interactions: pa.Table | None = None) -> GraphBundle:
        """Graph from ``interactions`` (default: all stored ones) plus the catalogue."""
        if dataset is None or dataset.interactions.num_rows == 0:
            raise EmptyRepository("the repository holds no interactions; run `engine ingest` first")
        cat = dataset.catalogue
        listens = dataset.interactions if interactions is None else interactions
        songs_t, artists_t, genres_t = cat["songs"], cat["artists"], cat["genres"]
        ids = {
            "user": _ids(dataset.interactions.column("user_id"), cat["users"].column("user_id")),
            "song": _ids(songs_t.column("song_id"), dataset.interactions.column("song_id")),
            "artist": _ids(artists_t.column("artist_id"), songs_t.column("artist_id")),
            "genre": _ids(genres_t.column("genre_id"), cat["song_genres"].column("genre_id"),
                          cat["artist_genres"].column("genre_id")),
        }
        n = {node_type: len(values) for node_type, values in ids.items()}
        data = HeteroData()
        for node_type, count in n.items():
            data[node_type].num_nodes = count

        user = positions(listens.column("user_id"), ids["user"])
        song = positions(listens.column("song_id"), ids["song"])
        data[LISTENS].edge_index, keep = _edges(user, song)
        attrs = {name: torch.tensor(listens.column(name).to_numpy()[keep], dtype=torch.float32)
                 for name in ("play_count", "completion_ratio", "edge_weight")}
        for name, values in attrs.items():
            data[LISTENS][name] = values
        data[LISTENS].edge_attr = attrs["edge_weight"].unsqueeze(1)

        song_artist = positions(songs_t.column("artist_id"),
                                 ids["artist"]) if songs_t.num_rows else np.empty(0, np.int64)
        song_of_row = positions(songs_t.column("song_id"), ids["song"])
        data[PERFORMS].edge_index, _ = _edges(song_artist, song_of_row)
        data[BELONGS].edge_index, _ = _edges(
            positions(cat["artist_genres"].column("artist_id"), ids["artist"]),
            positions(cat["artist_genres"].column("genre_id"), ids["genre"]))
        song_genres = self._song_genres(cat, ids, song_of_row, song_artist, n)
        data[HAS_GENRE].edge_index = torch.from_numpy(np.stack(song_genres.pairs()))

        user_genre = self._user_genres(cat, ids, user[keep], song[keep],
                                       attrs["edge_weight"].numpy(), song_genres, n)
        pref_user, pref_genre = np.nonzero(user_genre)
        data[PREFERS].edge_index = torch.from_numpy(np.stack([pref_user, pref_genre]))
        data[PREFERS].affinity_score = torch.tensor(user_genre[pref_user, pref_genre], dtype=torch.float32)
        data[PREFERS].edge_attr = data[PREFERS].affinity_score.unsqueeze(1)

        genre_names = self._genre_names(genres_t, ids["genre"])
        popularity = np.bincount(song[keep], minlength=n["song"]).astype(np.float32)
        data["genre"].popularity = torch.tensor(
            self._genre_popularity(genres_t, ids["genre"], song_genres, popularity), dtype=torch.float32)
        data = T.ToUndirected()(data)
        for store in data.edge_stores:
            _in_destination_order(store)
        summary = self._summary(data, n, song_artist, song_of_row, user_genre)
        return GraphBundle(data, ids, torch.tensor(user_genre, dtype=torch.float32),
                           torch.from_numpy(song_genres.slots), torch.tensor(popularity),
                           genre_names, summary)

    @staticmethod
    def _song_genres(cat, ids, song_of_row, song_artist, n) -> SongGenres:
        rows, cols, ok = _known_pairs(cat["song_genres"], ("song_id", ids["song"]),
                                      ("genre_id", ids["genre"]))
        listed = SongGenres.from_pairs(rows[ok], cols[ok], n["song"], n["genre"])
        # Songs listed without genres inherit their artist's genres.
        rows, cols, ok = _known_pairs(cat["artist_genres"], ("artist_id", ids["artist"]),
                                      ("genre_id", ids["genre"]))
        by_artist = SongGenres.from_pairs(rows[ok], cols[ok], n["artist"], n["genre"])
        missing = listed.counts() == 0
        has_artist = (song_of_row >= 0) & (song_artist >= 0)
        fill = has_artist & missing[np.where(song_of_row >= 0, song_of_row, 0)]
        inherited = by_artist.slots[song_artist[fill]]
        heirs = np.repeat(song_of_row[fill], inherited.shape[1])
        genres = inherited.ravel()
        own_songs, own_genres = listed.pairs()
        real = genres < n["genre"]
        return SongGenres.from_pairs(np.concatenate([own_songs, heirs[real]]),
                                     np.concatenate([own_genres, genres[real]]), n["song"], n["genre"])

    @staticmethod
    def _user_genres(cat, ids, user, song, weight, song_genres: SongGenres, n) -> np.ndarray:
        """Share of each user's (training) edge weight per genre, scaled to max 1; where the
        user declared preferences, the mean of declared and listened affinity."""
        if n["genre"] == 0:  # a source without genres (Spotify, Last.fm-1K, MSSD as exported)
            return np.zeros((n["user"], 0), dtype=np.float32)
        history = listening_profile(user, song, weight, song_genres, n["user"])
        declared = np.zeros_like(history)
        prefs = cat["user_preferences"]
        rows, cols, ok = _known_pairs(prefs, ("user_id", ids["user"]), ("genre_id", ids["genre"]))
        declared[rows[ok], cols[ok]] = np.clip(
            pc.fill_null(prefs.column("affinity_score"), 0.0).to_numpy()[ok], 0.0, 1.0)
        has_declared = declared.sum(axis=1) > 0
        has_history = history.sum(axis=1) > 0
        both = has_declared & has_history
        combined = np.where(has_declared[:, None], declared, history)
        combined[both] = 0.5 * (declared[both] + history[both])
        return combined.astype(np.float32)

    @staticmethod
    def _genre_names(genres_t: pa.Table, genre_ids: list[str]) -> list[str]:
        names = dict(zip(genres_t.column("genre_id").to_pylist(),
                         genres_t.column("genre_name").to_pylist(), strict=True))
        return [names.get(g) or g for g in genre_ids]

    @staticmethod
    def _genre_popularity(genres_t, genre_ids, song_genres: SongGenres, song_listeners) -> np.ndarray:
        given = dict(zip(genres_t.column("genre_id").to_pylist(),
                         genres_t.column("popularity").to_pylist(), strict=True))
        if genre_ids and all(given.get(g) is not None for g in genre_ids):
            return np.array([given[g] for g in genre_ids], dtype=np.float64)
        listened = song_genres.per_genre(song_listeners)
        return listened / max(listened.sum(), 1e-12)

    @staticmethod
    def _summary(data, n, song_artist, song_of_row, user_genre) -> dict[str, Any]:
        degree = {t: np.zeros(c, dtype=np.int64) for t, c in n.items()}
        for (_, _, dst), store in data.edge_items():
            np.add.at(degree[dst], store.edge_index[1].numpy(), 1)
        known = song_of_row >= 0
        return {
            "nodes": dict(n),
            "edges": {"__".join(rel): int(data[rel].num_edges) for rel in data.edge_types},
            "songs_without_artist": int((song_artist[known] < 0).sum()),
            "users_without_preferences": int((user_genre.sum(axis=1) == 0).sum()),
            "isolated_nodes": {t: int((d == 0).sum()) for t, d in degree.items()},
        }
