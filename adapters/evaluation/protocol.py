"""The evaluation protocol, for every consumer (training's validation and test, `engine
evaluate`, `engine validate`'s signal check, the benchmarks):

- the split: per user, at random (or by time: the newest discoveries, by first play, are the
  test and the next newest the validation) into train / validation / test. Each user with at
  least three songs keeps at least one song in every part (in test only, when no validation
  share is asked for); users with fewer stay in training only (they cannot be evaluated). The
  split is saved beside the model so that evaluation reuses exactly the same held-out songs;
- ``Pairs``: a part as (user, song) indices in a model's index space;
- full ranking: every song is ranked, the songs the user already knows excluded, the top
  ``K`` kept (in context: each listener's held-out songs grouped by the hour of the week of
  their first play, each group ranked for that hour); Recall@k = hits / number of the
  user's held-out songs (not min(k, that)); NDCG@k with binary relevance (gain
  1 / log2(rank + 1) at 1-based rank, ideal DCG of min(k, held-out) hits); both
  averaged over users with at least one held-out song.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from adapters.common.tables import positions
from adapters.common.user_songs import UserSongs
from adapters.scoring.served import LoadedModel, as_numpy, best_of, excluded_for
from domain.context import hour_of_week
from domain.errors import InvalidSetting

TRAIN, VALIDATION, TEST = "train", "validation", "test"
K = 10
RANKING_CHUNK = 256


@dataclass(frozen=True)
class Split:
    train: pa.Table
    validation: pa.Table
    test: pa.Table

    def assignment(self) -> pa.Table:
        parts = []
        for name, table in ((TRAIN, self.train), (VALIDATION, self.validation), (TEST, self.test)):
            keys = table.select(["user_id", "song_id"])
            parts.append(keys.append_column("part", pa.array([name] * keys.num_rows, pa.string())))
        return pa.concat_tables(parts)

    def counts(self) -> dict[str, int]:
        return {TRAIN: self.train.num_rows, VALIDATION: self.validation.num_rows,
                TEST: self.test.num_rows}


def split_interactions(interactions: pa.Table, validation: float = 0.15, test: float = 0.15,
                       seed: int = 0, by_time: bool = False) -> Split:
    """The split of ``interactions``; ``by_time``: each user's pairs newest first by their
    first play (ties at random), so the test holds what each user discovered last."""
    rng = np.random.default_rng(seed)
    users = pc.dictionary_encode(interactions.column("user_id")).combine_chunks()
    codes = users.indices.to_numpy()
    keys = [rng.random(len(codes))]
    if by_time:
        first = interactions.column("first_played")
        if first.null_count:
            raise InvalidSetting(f"a temporal split needs play times, and {first.null_count:,} of "
                                 f"{len(first):,} listener-song pairs have none (HetRec gives totals "
                                 "without times); use the random split (--split random)")
        keys.append(-first.to_numpy())
    order = np.lexsort((*keys, codes))
    sizes = np.bincount(codes)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    rank = np.empty(len(codes), dtype=np.int64)
    rank[order] = np.arange(len(codes)) - starts[codes[order]]
    size = sizes[codes]
    evaluable = size >= 3
    n_test = np.where(evaluable, np.maximum(1, np.round(size * test)), 0)
    n_validation = np.where(evaluable & (validation > 0), np.maximum(1, np.round(size * validation)), 0)
    is_test = rank < n_test
    is_validation = ~is_test & (rank < n_test + n_validation)
    is_train = ~is_test & ~is_validation
    return Split(interactions.filter(pa.array(is_train)),
                 interactions.filter(pa.array(is_validation)),
                 interactions.filter(pa.array(is_test)))


def from_assignment(interactions: pa.Table, assignment: pa.Table) -> Split:
    """Rebuild a saved split against the interactions it was made from."""
    joined = interactions.join(assignment, ["user_id", "song_id"], join_type="inner")
    part = joined.column("part")
    return Split(*(joined.filter(pc.equal(part, name)).drop_columns(["part"])
                   for name in (TRAIN, VALIDATION, TEST)))


class Pairs:
    """Interactions of one part as (user index, song index) arrays in a model's index space:
    ``ids["user"]`` and ``ids["song"]``, external ids in index order (a graph bundle's
    ``ids``); pairs outside it get index -1."""

    def __init__(self, table: pa.Table, ids: Mapping[str, Sequence[str]]) -> None:
        self.users = positions(table.column("user_id"), list(ids["user"]))
        self.songs = positions(table.column("song_id"), list(ids["song"]))
        self.shape = (len(ids["user"]), len(ids["song"]))
        self.hours = pair_hours(table)

    def matrix(self) -> UserSongs:
        return UserSongs.from_pairs(self.users, self.songs, *self.shape)


def pair_hours(table: pa.Table) -> np.ndarray:
    """Each pair's listening context: the hour of the week of its first play (when the
    listener discovered the song), -1 where the source gave no time."""
    if "first_played" not in table.column_names:
        return np.full(table.num_rows, -1, np.int64)
    first = table.column("first_played")
    seconds = pc.fill_null(first, 0).to_numpy().astype(np.int64)
    return np.where(pc.is_null(first).to_numpy(zero_copy_only=False), -1, hour_of_week(seconds))


@dataclass(frozen=True)
class Ranked:
    """What full ranking found: the mean figures, and per ranked user (``users``, in order)
    their figures and top ``k`` song indices, best first."""

    k: int
    recall: float
    ndcg: float
    users: np.ndarray
    per_user_recall: np.ndarray
    per_user_ndcg: np.ndarray
    top: np.ndarray


def rank_metrics(top_of: Callable[[np.ndarray], np.ndarray], relevant: UserSongs, k: int = K) -> Ranked:
    """Score the ranking of each user with relevant songs: ``top_of`` gives a batch of users'
    top ``k`` song indices, best first, the songs they already know left out (-1 where a user
    has fewer to offer)."""
    candidates = np.flatnonzero(relevant.counts() > 0)
    discounts = 1.0 / np.log2(np.arange(2, k + 2, dtype=np.float64))
    ideal = np.cumsum(discounts)
    recall, ndcg, tops = [], [], []
    for start in range(0, len(candidates), RANKING_CHUNK):
        batch = candidates[start:start + RANKING_CHUNK]
        top = top_of(batch)
        tops.append(top)
        hits = np.take_along_axis(relevant.dense(batch), np.maximum(top, 0), 1) & (top >= 0)
        n_relevant = relevant.counts()[batch].astype(np.float64)
        recall.append(hits.sum(1) / n_relevant)
        ndcg.append((hits * discounts[:top.shape[1]]).sum(1)
                    / ideal[np.minimum(n_relevant, top.shape[1]).astype(np.int64) - 1])
    per_recall = np.concatenate(recall) if recall else np.empty(0)
    per_ndcg = np.concatenate(ndcg) if ndcg else np.empty(0)
    return Ranked(k=k, recall=float(per_recall.mean()) if len(per_recall) else 0.0,
                  ndcg=float(per_ndcg.mean()) if len(per_ndcg) else 0.0, users=candidates,
                  per_user_recall=per_recall, per_user_ndcg=per_ndcg,
                  top=np.concatenate(tops) if tops else np.empty((0, k), np.int64))


def rank_scores(score_users: Callable[[np.ndarray], Any], relevant: UserSongs,
                exclude: UserSongs | None, k: int = K) -> Ranked:
    """``rank_metrics`` of any scorer that gives a batch of users' scores for every song
    (``score_users``: a users x songs array), ranked whole; ``exclude``'s songs left out."""
    def top_of(users: np.ndarray) -> np.ndarray:
        return best_of(as_numpy(score_users(users)), k, excluded_for(users, exclude))[1]

    return rank_metrics(top_of, relevant, k)


def rank_by_popularity(listeners: np.ndarray, relevant: UserSongs, exclude: UserSongs, k: int = K) -> Ranked:
    """``rank_metrics`` of popularity: every user offered the songs with the most
    ``listeners`` they do not know, equal counts in song order (as ``best_of`` orders equal
    scores). One global order, so no users x songs score table is sorted."""
    order = np.argsort(-np.asarray(listeners), kind="stable")
    known_counts = exclude.counts()

    def top_of(users: np.ndarray) -> np.ndarray:
        head = order[:k + int(known_counts[users].max(initial=0))]
        known = exclude.dense(users)[:, head]
        first = np.argsort(known, axis=1, kind="stable")[:, :k]
        top = head[first]
        top[np.take_along_axis(known, first, 1)] = -1
        return top

    return rank_metrics(top_of, relevant, k)


def rank_served(served: LoadedModel, relevant: UserSongs, exclude: UserSongs | None, k: int = K,
                backend: str = "numpy") -> Ranked:
    """``rank_metrics`` of an exported model, ranking as it serves (``LoadedModel.top_k``),
    with ``backend``'s arrays."""
    return rank_metrics(lambda users: served.top_k(users, k, exclude, backend)[1], relevant, k)


def rank_in_context(served: LoadedModel, table: pa.Table, ids: Mapping[str, Sequence[str]],
                    exclude: UserSongs | None, k: int = K) -> Ranked:
    """``rank_metrics`` over (listener, hour of the week) groups of ``table``'s pairs: each
    group's songs (first played in that hour) ranked for that hour, so a model with listening
    context is judged on what it says for the moment; a model without ranks each listener's
    groups alike. Pairs without a time are left out. ``Ranked.users`` are group indices."""
    pairs = Pairs(table, ids)
    keep = (pairs.users >= 0) & (pairs.songs >= 0) & (pairs.hours >= 0)
    keys = np.stack([pairs.users[keep], pairs.hours[keep]], axis=1)
    groups, group_of = np.unique(keys, axis=0, return_inverse=True)
    relevant = UserSongs.from_pairs(group_of.reshape(-1), pairs.songs[keep], len(groups), pairs.shape[1])
    return rank_metrics(lambda rows: served.top_k(groups[rows, 0], k, exclude, hours=groups[rows, 1])[1],
                        relevant, k)
