"""Where a song stands in popularity among all songs, or among the songs of a set of genres.

Exact, and with no pass over the catalogue per set of genres asked about (sorting a large
catalogue's songs of each new set made a cold explanation 30 ms at 500,000 songs): every
genre asked about keeps a bitset of its songs in popularity order, built once from the
genre's own songs; a set's songs are the OR of its genres' bitsets, and the songs heard by
fewer listeners than a song are a prefix of it.
"""

from __future__ import annotations

import numpy as np

from adapters.common.song_genres import SongGenres


class PopularityStanding:
    def __init__(self, popularity: np.ndarray, song_genres: SongGenres) -> None:
        order = np.argsort(popularity, kind="stable")
        self._sorted = popularity[order]
        self._rank = np.empty_like(order)
        self._rank[order] = np.arange(len(order))
        self._song_genres = song_genres
        self._genre_songs: tuple[np.ndarray, np.ndarray] | None = None
        self._bits: dict[int, np.ndarray] = {}

    def share_below(self, listeners: float, genres: tuple[int, ...] = ()) -> float:
        """Share of the songs (of any of ``genres``, when given) heard by fewer than
        ``listeners`` listeners."""
        below = int(np.searchsorted(self._sorted, listeners, side="left"))
        if not genres:
            return below / max(len(self._sorted), 1)
        union = np.bitwise_or.reduce([self._genre_bits(genre) for genre in genres])
        whole, rest = divmod(below, 8)
        # packbits puts a byte's first song in its highest bit
        count = int(np.bitwise_count(union[:whole]).sum())
        if rest:
            count += int(np.bitwise_count(union[whole] >> (8 - rest)))
        return count / max(int(np.bitwise_count(union).sum()), 1)

    def _genre_bits(self, genre: int) -> np.ndarray:
        if genre not in self._bits:
            if self._genre_songs is None:  # on the first genre asked about, not at load
                self._genre_songs = self._song_genres.by_genre()
            songs, starts = self._genre_songs
            member = np.zeros(len(self._sorted), dtype=bool)
            member[self._rank[songs[starts[genre]:starts[genre + 1]]]] = True
            self._bits[genre] = np.packbits(member)
        return self._bits[genre]
