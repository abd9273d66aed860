import numpy as np
import pytest

from adapters.common.song_genres import SongGenres
from adapters.explain.standing import PopularityStanding


def _catalogue(seed: int, n_songs: int, n_genres: int) -> tuple[np.ndarray, SongGenres]:
    rng = np.random.default_rng(seed)
    popularity = rng.integers(0, 30, n_songs).astype(np.float64)  # many ties
    per_song = rng.integers(0, 4, n_songs)  # some songs have no genre
    songs = np.repeat(np.arange(n_songs), per_song)
    return popularity, SongGenres.from_pairs(songs, rng.integers(0, n_genres, len(songs)), n_songs, n_genres)


@pytest.mark.parametrize("n_songs", [1, 7, 8, 9, 1003])
def test_the_share_below_a_song_is_the_share_of_the_catalogue_or_genres_counted_one_by_one(n_songs):
    popularity, song_genres = _catalogue(n_songs, n_songs, 6)
    standing = PopularityStanding(popularity, song_genres)
    rng = np.random.default_rng(0)
    for _ in range(40):
        song = int(rng.integers(n_songs))
        genres = tuple(sorted({int(g) for g in rng.integers(0, 6, rng.integers(1, 4))}))
        members = song_genres.having_any(genres)
        expected = (popularity[members] < popularity[song]).sum() / max(members.sum(), 1)
        assert standing.share_below(popularity[song], genres) == pytest.approx(expected)
        overall = (popularity < popularity[song]).mean()
        assert standing.share_below(popularity[song]) == pytest.approx(overall)
