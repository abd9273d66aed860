"""The first stage of a two-stage ranking: a few hundred candidate songs per user, found by
inner products over the exported model's embeddings, for the full model to score.

The full score of song s for user u (``adapters.scoring.kernel``) is, per member, a graph
part ``z_u . z_s`` plus an attention-weighted mean of ``z_h . z_s`` over u's history h, and,
for a genre-aware model, a genre cosine. Two cheap views of it find what it ranks high:

- one inner product per song: the attention replaced by a plain mean over the history, so
  ``q_u . z_s`` with ``q_u = (z_u + mean_h z_h) / members``, the genre cosine added exactly
  (``alpha`` and ``1 - alpha`` weigh the two parts); its best ``QUERY_CANDIDATES``. An HNSW
  graph holds each song's genre profile projected on the ``GENRE_BASIS`` leading directions
  of all songs' profiles (exact with no more genres than that);
- the attention leans towards the history songs most like s, so each history song's own
  nearest songs (``HISTORY_NEIGHBOURS`` of them, by ``z . z``) join in; they are listed at
  export for the songs some user's attention reads, the only ones ever looked up (the cost
  follows the histories, not the square of the catalogue).

What both leave out is rarely in the full model's top 10 (``benchmarks/retrieval.py``
measures how rarely). A catalogue no larger than the candidate pool is scored whole.

The query's search is exact (blocked matrix products) up to ``EXACT_LIMIT`` songs; above it,
a FAISS HNSW graph over inner products, built at export, travels serialised in
``serving.npz`` (a serving process loads it; it never builds one). The neighbour lists are
exact (FAISS's flat index) up to ``EXACT_NEIGHBOUR_PRODUCTS`` inner products (songs looked up
x catalogue) and come from an IVF index above (a build of seconds, not an HNSW graph's minute:
a validation's export makes them every epoch); they are made once per export (and for a
fold-in's new songs).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from adapters.common.song_genres import SongGenres, with_padding_column
from adapters.common.user_songs import UserSongs
from adapters.scoring import kernel

QUERY_CANDIDATES = 200
HISTORY_NEIGHBOURS = 10
# Elements of one (users x songs) block of inner products.
PRODUCT_BLOCK = 4_000_000
# Songs above which the query's inner-product search goes to a FAISS HNSW graph instead of
# every song.
EXACT_LIMIT = 50_000
# Inner products (songs looked up x catalogue) above which neighbour lists come from an IVF
# index instead of an exact search (2 cores: about a nanosecond a product, so 5 s here;
# 500,000 songs and 49,000 lookups, the validation of the 100x set: 24 s exact, 8 s by IVF).
EXACT_NEIGHBOUR_PRODUCTS = 5_000_000_000
# The share of an IVF index's lists a lookup scans: 1/16 of sqrt(songs) lists found 96 % of
# the exact neighbours at 500,000 songs (1/32: 92 %, 1/10: 98 % in 40 % more time).
IVF_SCANNED_SHARE = 1 / 16
# Cells of a score table from which its top columns are found by torch (``top_columns``).
TORCH_TOP_CELLS = 1_000_000
HNSW_LINKS = 32  # neighbours a song keeps in the graph (FAISS's M)
HNSW_SEARCH_DEPTH = 128  # candidates a search keeps in view (efSearch)
# Dimensions of the genre part of the vectors an HNSW graph holds (a projection of the songs'
# genre profiles: exact up to that many genres, the leading directions above).
GENRE_BASIS = 32


def flat_index(vectors: np.ndarray) -> Any:
    """A FAISS exact index over ``vectors`` for the highest inner products (blocked products
    and a running top k in several threads: several times faster than numpy's matrix
    product and argpartition)."""
    import faiss

    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def hnsw_index(vectors: np.ndarray) -> Any:
    """A FAISS HNSW graph over ``vectors`` for the highest inner products."""
    import faiss

    index = faiss.IndexHNSWFlat(vectors.shape[1], HNSW_LINKS, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efSearch = HNSW_SEARCH_DEPTH
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def ivf_index(vectors: np.ndarray) -> Any:
    """A FAISS inverted-file index over ``vectors`` for the highest inner products: about
    sqrt(n) k-means lists, of which a search scans ``IVF_SCANNED_SHARE``. Its build is a
    second or two at 500,000 songs (an HNSW graph's: 45 s), so it pays for one batch of
    lookups."""
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    lists = max(1, int(np.sqrt(len(vectors))))
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(vectors.shape[1]), vectors.shape[1], lists,
                               faiss.METRIC_INNER_PRODUCT)
    index.cp.max_points_per_centroid = 64  # k-means on a sample: the lists need not be the best
    index.train(vectors)
    index.add(vectors)
    index.nprobe = max(1, int(np.ceil(lists * IVF_SCANNED_SHARE)))
    return index


def serialise(index: Any) -> np.ndarray:
    import faiss

    return faiss.serialize_index(index)


def deserialise(data: np.ndarray) -> Any:
    import faiss

    index = faiss.deserialize_index(data)
    index.hnsw.efSearch = HNSW_SEARCH_DEPTH
    return index


def top_columns(scores: np.ndarray, k: int) -> np.ndarray:
    """Each row's ``k`` highest columns, in no particular order; of scores equal at the
    ``k``-th place, the first columns. So a row gets the same columns whichever way they are
    found, and in whatever batch: by torch's partial sort for a table of at least
    ``TORCH_TOP_CELLS`` cells (500,000 songs: 12 times numpy's argpartition, which was half of
    a validation at that size), by numpy's below (a small serving process never imports
    torch)."""
    rows, n = scores.shape
    k = min(k, n)
    if k in (0, n):
        return np.broadcast_to(np.arange(k), (rows, k)).copy()
    # the k + 1 highest: where the last two are equal, the k-th place is tied
    top = _highest(scores, k + 1)
    values = np.take_along_axis(scores, top, 1)
    lowest_two = np.partition(values, 1, axis=1)[:, :2]
    keep = np.ones(top.shape, dtype=bool)
    keep[np.arange(rows), np.argmin(values, axis=1)] = False
    chosen = top[keep].reshape(rows, k)
    for row in np.flatnonzero(lowest_two[:, 0] == lowest_two[:, 1]):
        tied = lowest_two[row, 1]
        above = np.flatnonzero(scores[row] > tied)
        chosen[row] = np.concatenate([above, np.flatnonzero(scores[row] == tied)[:k - len(above)]])
    return chosen


def _highest(scores: np.ndarray, k: int) -> np.ndarray:
    """Each row's ``k`` highest columns (``k`` below the width), equal scores at the edge
    taken as the library takes them."""
    if scores.size < TORCH_TOP_CELLS:
        return np.argpartition(-scores, k - 1, axis=1)[:, :k]
    import torch

    return torch.topk(torch.from_numpy(scores), k, dim=1, sorted=False).indices.numpy()


def searched_excluding(index: Any, queries: np.ndarray, excluded: np.ndarray, width: int) -> np.ndarray:
    """Each query's best ``width`` hits in the FAISS ``index``, best first, the columns
    ``excluded`` marks (queries x items) left out; -1 where fewer remain. The width does not
    depend on the batch: every batch's pool must have the same."""
    # excluded items are among the hits too: ask for enough to leave the width after them
    wanted = width + int(excluded.sum(1).max(initial=0))
    _, found = index.search(np.ascontiguousarray(queries, dtype=np.float32), min(wanted, index.ntotal))
    found[(found >= 0) & excluded[np.arange(len(found))[:, None], np.maximum(found, 0)]] = -1
    kept = np.take_along_axis(found, np.argsort(found < 0, axis=1, kind="stable"), axis=1)
    width = min(width, index.ntotal)
    if kept.shape[1] < width:
        kept = np.concatenate([kept, np.full((len(kept), width - kept.shape[1]), -1, kept.dtype)], axis=1)
    return kept[:, :width]


def song_neighbours(song_emb: np.ndarray, songs: np.ndarray, count: int = HISTORY_NEIGHBOURS) -> np.ndarray:
    """(all songs x count) the most similar other songs by inner product of each of ``songs``
    (the songs some user's attention reads: only theirs are ever looked up), -1 in the rows
    of the others; exact up to ``EXACT_NEIGHBOUR_PRODUCTS`` products, from an IVF index
    above."""
    n = len(song_emb)
    count = min(count, max(n - 1, 0))
    neighbours = np.full((n, count), -1, dtype=np.int32)
    if len(songs) == 0 or count == 0:
        return neighbours
    vectors = np.ascontiguousarray(song_emb, dtype=np.float32)
    exact = len(songs) * n <= EXACT_NEIGHBOUR_PRODUCTS
    _, found = (flat_index if exact else ivf_index)(vectors).search(vectors[songs], count + 1)
    # a song is usually its own first hit; keep the first ``count`` others (-1 pads the
    # rare lookup whose scanned lists hold fewer)
    order = np.argsort(found == songs[:, None], axis=1, kind="stable")[:, :count]
    neighbours[songs] = np.take_along_axis(found, order, 1)
    return neighbours


def genre_basis(song_genres: SongGenres, rank: int = GENRE_BASIS) -> np.ndarray:
    """(genres, <= rank) the leading right singular vectors of the songs' unit genre profiles,
    from their genres x genres Gram matrix (summed over each song's slot pairs: no songs x
    genres matrix); every genre's direction when there are no more than ``rank``."""
    n = song_genres.n_genres
    slots, weight = song_genres.slots, song_genres.weights()
    pairs = (slots[:, :, None] * (n + 1) + slots[:, None, :]).reshape(len(slots), -1)
    gram = np.bincount(pairs.ravel(), weights=np.repeat(weight ** 2, pairs.shape[1]),
                       minlength=(n + 1) ** 2).reshape(n + 1, n + 1)[:n, :n]
    values, vectors = np.linalg.eigh(gram)
    return vectors[:, np.argsort(-values)[:rank]].astype(np.float32)


def genre_items(song_genres: SongGenres, basis: np.ndarray) -> np.ndarray:
    """(songs, rank) each song's unit genre profile in ``basis``' coordinates."""
    padded = with_padding_column(basis.T.copy()).T  # (genres + 1, rank), the padding row zero
    return padded[song_genres.slots].sum(axis=1) * song_genres.weights()[:, None]


def item_index(song_emb: np.ndarray, song_genres: SongGenres, alpha: float) -> dict[str, np.ndarray]:
    """For catalogues above ``EXACT_LIMIT`` songs, the serialised FAISS index the first stage
    searches (``item_index``) and, for a genre-aware model, the basis its genre part is
    projected on (``genre_basis``); nothing below (every song is scored)."""
    if len(song_emb) <= EXACT_LIMIT:
        return {}
    if alpha == 1.0 or song_genres.n_genres == 0:
        return {"item_index": serialise(hnsw_index(song_emb))}
    basis = genre_basis(song_genres)
    items = np.concatenate([song_emb, genre_items(song_genres, basis)], axis=1)
    return {"item_index": serialise(hnsw_index(items)), "genre_basis": basis}


class Retrieval:
    """Candidates for the users of one exported model; ``arrays`` as ``LoadedModel`` holds them.
    Nothing is computed when a model loads: the queries are made for each batch of users
    asked for, and the songs' side is the model's own arrays (no concatenated copy)."""

    def __init__(self, arrays: dict[str, Any], members: int, alpha: float,
                 query_candidates: int = QUERY_CANDIDATES, index: Any = None) -> None:
        self.attended, self.attended_mask = arrays["attended"], arrays["attended_mask"]
        self.neighbours = arrays["neighbours"]
        self.user_emb, self.song_emb = arrays["user_emb"], arrays["song_emb"]
        self.user_genre_unit = arrays["user_genre_unit"]  # with the padding column
        self.song_genre_slots = arrays["song_genre_slots"]
        self.song_genre_weight = arrays["song_genre_weight"]
        self.genre_basis = arrays.get("genre_basis")
        self.members, self.alpha = members, alpha
        self.genre_term = alpha < 1.0  # a genre-aware model's cosine joins the inner product
        self.query_candidates = query_candidates
        self.index = index  # the deserialised FAISS graph, None where every song is scored

    def _queries(self, batch: np.ndarray, context: np.ndarray | None
                 ) -> tuple[np.ndarray, np.ndarray | None]:
        """The users' side of the inner product: embedding part (in their ``context``, rows
        added to the users' own, when given) and genre part (None for a model without the
        genre term), weighted as the score weighs them."""
        mask = self.attended_mask[batch]
        history = (self.song_emb[self.attended[batch]] * mask[:, :, None]).sum(1)
        user = self.user_emb[batch] if context is None else self.user_emb[batch] + context
        embedding = self.alpha * (user + history / np.maximum(mask.sum(1, keepdims=True), 1))
        genre = (1 - self.alpha) * self.user_genre_unit[batch] if self.genre_term else None
        return (embedding / self.members).astype(np.float32), genre

    @property
    def pool(self) -> int:
        """The most candidates a user gets."""
        return self.query_candidates + self.attended.shape[1] * self.neighbours.shape[1]

    def candidates(self, users: np.ndarray, exclude: UserSongs | None,
                   context: np.ndarray | None = None) -> np.ndarray:
        """(users x pool) distinct candidate songs per user, ``exclude``'s songs left out;
        -1 pads a row. ``context``: rows added to each user's (``LoadedModel.context_rows``)."""
        n_songs = len(self.song_emb)
        # a genre term's cosines take a cell per song and genre slot; without one, more users
        # a block read the song table once (at 500,000 songs, 8 users a block, not 2: half the time)
        per_user = n_songs * (self.song_genre_slots.shape[1] if self.genre_term else 1)
        step = max(1, PRODUCT_BLOCK // max(per_user, 1))
        blocks = []
        for start in range(0, len(users), step):
            batch = users[start:start + step]
            excluded = (exclude.dense(batch) if exclude is not None
                        else np.zeros((len(batch), n_songs), dtype=bool))
            rows = np.arange(len(batch))[:, None]
            found = self._query(batch, excluded,
                                None if context is None else context[start:start + step])
            near = np.where(self.attended_mask[batch][:, :, None],
                            self.neighbours[self.attended[batch]], -1).reshape(len(batch), -1)
            pool = np.sort(np.concatenate([found, near], axis=1), axis=1)
            drop = (pool < 0) | excluded[rows, np.maximum(pool, 0)]
            drop[:, 1:] |= pool[:, 1:] == pool[:, :-1]
            pool[drop] = -1
            blocks.append(pool)
        return (np.concatenate(blocks) if blocks
                else np.zeros((0, self.pool), np.int64)).astype(np.int64)

    def _query(self, batch: np.ndarray, excluded: np.ndarray, context: np.ndarray | None) -> np.ndarray:
        """Each user's best ``query_candidates`` songs by the query's inner product, excluded
        songs left out (-1 where fewer remain)."""
        embedding, genre = self._queries(batch, context)
        if self.index is None:
            scores = embedding @ self.song_emb.T
            if genre is not None:
                scores += kernel.genre_similarity(genre, self.song_genre_slots[None],
                                                  self.song_genre_weight[None])
            scores[excluded] = -np.inf
            found = top_columns(scores, self.query_candidates)
            found[~np.isfinite(np.take_along_axis(scores, found, 1))] = -1
            return found
        if genre is not None and self.genre_basis is not None:
            embedding = np.concatenate([embedding, genre[:, :-1] @ self.genre_basis], axis=1)
        return searched_excluding(self.index, embedding, excluded, self.query_candidates)
