"""Songs per user in compressed rows (numpy only, so serving needs no torch)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class UserSongs:
    """User u owns indices[indptr[u]:indptr[u + 1]] (and values, when given, alike)."""

    indptr: np.ndarray
    indices: np.ndarray
    n_songs: int

    @classmethod
    def from_pairs(cls, users: np.ndarray, songs: np.ndarray, n_users: int, n_songs: int) -> UserSongs:
        order = np.argsort(users, kind="stable")
        indptr = np.concatenate([[0], np.cumsum(np.bincount(users, minlength=n_users))])
        return cls(indptr, songs[order], n_songs)

    def counts(self) -> np.ndarray:
        return np.diff(self.indptr)

    def row(self, user: int) -> np.ndarray:
        return self.indices[self.indptr[user]:self.indptr[user + 1]]

    def dense(self, rows: np.ndarray) -> np.ndarray:
        lengths = self.counts()[rows]
        row_of = np.repeat(np.arange(len(rows)), lengths)
        columns = (np.concatenate([self.row(r) for r in rows]) if len(rows)
                   else np.empty(0, np.int64))
        mask = np.zeros((len(rows), self.n_songs), dtype=bool)
        mask[row_of, columns.astype(np.int64)] = True
        return mask

    def merged(self, other: UserSongs) -> UserSongs:
        n_users = len(self.indptr) - 1
        users = np.concatenate([np.repeat(np.arange(n_users), self.counts()),
                                np.repeat(np.arange(n_users), other.counts())])
        return UserSongs.from_pairs(users, np.concatenate([self.indices, other.indices]), n_users,
                                    self.n_songs)

    def keeping(self, users: np.ndarray) -> UserSongs:
        """The rows of ``users`` as they are, every other row empty."""
        n_users = len(self.indptr) - 1
        kept = np.zeros(n_users, dtype=bool)
        kept[users] = True
        row_of = np.repeat(np.arange(n_users), self.counts())
        return UserSongs.from_pairs(row_of[kept[row_of]], self.indices[kept[row_of]], n_users, self.n_songs)

    def sampled(self, most: int, seed: int) -> UserSongs:
        """At most ``most`` of the users with songs, a sample ``seed`` fixes (every one when
        ``most`` is 0 or covers them all); the other rows empty."""
        with_songs = np.flatnonzero(self.counts() > 0)
        if not most or len(with_songs) <= most:
            return self
        return self.keeping(np.random.default_rng(seed).choice(with_songs, most, replace=False))

    def with_rows(self, users: np.ndarray, pair_users: np.ndarray, pair_songs: np.ndarray,
                  n_users: int) -> UserSongs:
        """``users``' rows replaced by the (user, song) pairs given for them; rows up to
        ``n_users`` (new ones empty unless given)."""
        n_old = len(self.indptr) - 1
        row_of = np.repeat(np.arange(n_old), self.counts())
        replaced = np.zeros(max(n_users, n_old), dtype=bool)
        replaced[users] = True
        kept = ~replaced[row_of]
        return UserSongs.from_pairs(np.concatenate([row_of[kept], pair_users]).astype(np.int64),
                                    np.concatenate([self.indices[kept], pair_songs]).astype(np.int64),
                                    n_users, self.n_songs)

    def widened(self, n_songs: int) -> UserSongs:
        """The same rows over a catalogue grown to ``n_songs``."""
        return UserSongs(self.indptr, self.indices, n_songs)
