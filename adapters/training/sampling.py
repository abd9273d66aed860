"""Negative sampling for BPR: songs the user has not heard in training."""

from __future__ import annotations

import numpy as np

# Up to this many (user, song) cells, membership is a dense bitmap lookup; beyond, a
# binary search over sorted keys keeps memory proportional to the interactions.
DENSE_LIMIT = 50_000_000


class NegativeSampler:
    def __init__(self, users: np.ndarray, songs: np.ndarray, n_songs: int, seed: int) -> None:
        self.n_songs = n_songs
        self.known = np.unique(users.astype(np.int64) * n_songs + songs)
        n_users = int(users.max()) + 1 if len(users) else 0
        self._dense = None
        if n_users * n_songs <= DENSE_LIMIT:
            self._dense = np.zeros(n_users * n_songs, dtype=bool)
            self._dense[self.known] = True
        self.rng = np.random.default_rng(seed)

    def _heard(self, users: np.ndarray, songs: np.ndarray) -> np.ndarray:
        keys = users.astype(np.int64) * self.n_songs + songs
        if self._dense is not None:
            inside = keys < len(self._dense)
            return inside & self._dense[np.where(inside, keys, 0)]
        position = np.clip(np.searchsorted(self.known, keys), 0, len(self.known) - 1)
        return self.known[position] == keys

    def sample(self, users: np.ndarray, tries: int = 20) -> np.ndarray:
        negatives = self.rng.integers(0, self.n_songs, len(users))
        for _ in range(tries):
            clash = self._heard(users, negatives)
            if not clash.any():
                break
            negatives[clash] = self.rng.integers(0, self.n_songs, int(clash.sum()))
        return negatives
