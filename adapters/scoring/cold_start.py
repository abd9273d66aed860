"""The cold-start embedding of a song no play of which the model has seen: its artist's
mean played-song embedding (numpy only: export and serving's fold-in both use it)."""

from __future__ import annotations

import numpy as np


def artist_mean_embeddings(song_emb: np.ndarray, song_artist: np.ndarray, played: np.ndarray,
                           artists: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(len(artists), dim) each artist's mean embedding over their played songs, and whether
    the artist has one (rows of artists without a played song are zero)."""
    n_artists = max(int(song_artist.max(initial=-1)), int(artists.max(initial=-1))) + 1
    warm = np.flatnonzero(played & (song_artist >= 0))
    sums = np.zeros((n_artists, song_emb.shape[1]), dtype=np.float64)
    np.add.at(sums, song_artist[warm], song_emb[warm])
    counts = np.bincount(song_artist[warm], minlength=n_artists)[artists]
    return sums[artists] / np.maximum(counts, 1)[:, None], counts > 0
