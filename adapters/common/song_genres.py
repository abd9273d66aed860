"""Each song's genres as one fixed-width row of genre indices (numpy only, so serving needs
no torch): memory follows the song-genre pairs, never songs x genres (467,000 Spotify songs
under 2,539 artist genres would be 4.7 GB of floats)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SongGenres:
    """Song s has the genres ``slots[s]`` below ``n_genres``; the rest of a row is padding
    (``n_genres`` itself), so a lookup table with one extra zero column reads it directly."""

    slots: np.ndarray  # (songs, width) int64
    n_genres: int

    @classmethod
    def from_pairs(cls, songs: np.ndarray, genres: np.ndarray, n_songs: int, n_genres: int) -> SongGenres:
        keys = np.unique(songs.astype(np.int64) * max(n_genres, 1) + genres)
        songs, genres = keys // max(n_genres, 1), keys % max(n_genres, 1)
        counts = np.bincount(songs, minlength=n_songs)
        slots = np.full((n_songs, max(int(counts.max(initial=0)), 1)), n_genres, dtype=np.int64)
        starts = np.cumsum(counts) - counts
        slots[songs, np.arange(len(songs)) - starts[songs]] = genres
        return cls(slots, n_genres)

    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """(song, genre) of every pair, by song then genre."""
        songs, slot = np.nonzero(self.slots < self.n_genres)
        return songs, self.slots[songs, slot]

    def by_genre(self) -> tuple[np.ndarray, np.ndarray]:
        """Every genre's songs, genre by genre (each genre's in ascending order), and the
        ``n_genres + 1`` offsets where each genre's run starts."""
        songs, genres = self.pairs()
        order = np.argsort(genres, kind="stable")
        return songs[order], np.searchsorted(genres[order], np.arange(self.n_genres + 1))

    def counts(self) -> np.ndarray:
        return (self.slots < self.n_genres).sum(axis=1)

    def weights(self) -> np.ndarray:
        """Each genre's value in its song's unit profile: 1 / sqrt(the song's genres), 0 for
        a song without any."""
        counts = self.counts()
        return np.where(counts > 0, 1.0 / np.sqrt(np.maximum(counts, 1)), 0.0).astype(np.float32)

    def of(self, song: int) -> np.ndarray:
        row = self.slots[song]
        return row[row < self.n_genres]

    def having_any(self, genres: list[int] | np.ndarray) -> np.ndarray:
        """(songs,) whether each song has at least one of ``genres``."""
        wanted = np.zeros(self.n_genres + 1, dtype=bool)
        wanted[np.asarray(genres, dtype=np.int64)] = True
        return wanted[self.slots].any(axis=1)

    def per_genre(self, values: np.ndarray) -> np.ndarray:
        """(genres,) the sum of each genre's songs' ``values``."""
        songs, genres = self.pairs()
        return np.bincount(genres, weights=values[songs], minlength=self.n_genres)


def with_padding_column(rows: np.ndarray) -> np.ndarray:
    """``rows`` (n, genres) with the zero column that padding slots read."""
    return np.concatenate([rows, np.zeros((len(rows), 1), dtype=rows.dtype)], axis=1)


# A genre under this share of a listener's weight is noise, not taste.
MIN_HISTORY_AFFINITY = 0.05


def listening_profile(users: np.ndarray, songs: np.ndarray, weights: np.ndarray,
                      song_genres: SongGenres, n_users: int) -> np.ndarray:
    """(users, genres) each user's share of listening weight per genre (each play's weight
    spread evenly over its song's genres), shares under ``MIN_HISTORY_AFFINITY`` dropped,
    scaled to a maximum of 1; zero rows for users without a genre-tagged play."""
    history = np.zeros((n_users, song_genres.n_genres), dtype=np.float64)
    if song_genres.n_genres == 0:
        return history
    # Spread each listening edge's weight over its song's genres, pair by pair: a dense
    # (edges x genres) product would not fit for thousands of tag genres.
    genre_song, genre_col = song_genres.pairs()
    per_song = np.bincount(genre_song, minlength=len(song_genres.slots))
    starts = np.concatenate([[0], np.cumsum(per_song)[:-1]])
    repeats = per_song[songs]
    edge_of = np.repeat(np.arange(len(songs)), repeats)
    offset = np.arange(len(edge_of)) - np.repeat(np.cumsum(repeats) - repeats, repeats)
    genres_of_edge = genre_col[starts[songs[edge_of]] + offset]
    share = weights[edge_of] / np.maximum(repeats[edge_of], 1)
    np.add.at(history, (users[edge_of], genres_of_edge), share)
    history /= np.maximum(history.sum(axis=1, keepdims=True), 1e-12)
    history[history < MIN_HISTORY_AFFINITY] = 0.0
    history /= np.maximum(history.max(axis=1, keepdims=True), 1e-12)
    return history
