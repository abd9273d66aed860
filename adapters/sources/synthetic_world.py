"""The generator's hidden world: genres, artists, songs, users and their true tastes.

Kept apart from the session sampler so that ``engine validate`` can rebuild the
exact same truth from ``generation.json`` and score an oracle against it.
Every stage draws from its own child of one ``SeedSequence``, so the world does
not change when the sampling of plays changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from adapters.common.song_genres import SongGenres, with_padding_column
from domain.ports import GenerationSpec

GENRE_NAMES = (
    "Pop", "Rock", "Hip Hop", "Electronic", "R&B", "Indie", "Alternative", "Dance",
    "Country", "Latin", "Metal", "Jazz", "Soul", "Folk", "Classical", "Reggae", "Punk",
    "Blues", "Funk", "House", "Techno", "K-Pop", "Ambient", "Trap", "Gospel", "Disco",
    "Lo-Fi", "Grunge", "Ska", "Afrobeat", "Synthwave", "Bossa Nova", "Drum and Bass",
    "World", "Opera",
)
USER_TYPES = ("casual", "regular", "power")
USER_TYPE_SHARES = (0.45, 0.40, 0.15)
LATENT_DIM = 4
GENRE_ZIPF_EXPONENT = 1.0
# Temperature of the softmax that turns true preference into listening choices:
# lower means users stick more closely to their tastes.
TASTE_TEMPERATURE = 0.5
# How far artists stray from their genres, songs from their artist and users from
# their genre tastes (standard deviations in latent space), and how much genre
# match and popularity add to the latent affinity in a user's true preference.
ARTIST_NOISE = 0.8
SONG_NOISE = 0.6
USER_NOISE = 0.9
GENRE_WEIGHT = 0.6
POPULARITY_WEIGHT = 0.35

_WORDS_A = ("Midnight", "Electric", "Golden", "Silent", "Neon", "Broken", "Velvet", "Wild",
            "Crystal", "Paper", "Lonely", "Burning", "Summer", "Cosmic", "Hollow", "Northern")
_WORDS_B = ("Echo", "River", "Heart", "Dream", "Signal", "Shadow", "Garden", "Highway",
            "Fire", "Moon", "Letters", "Machine", "Tide", "Mirror", "Horizon", "Parade")


@dataclass(frozen=True)
class World:
    """The hidden truth, held as factors: a user's preference for a song is computed when
    asked (``preference``), never stored for every pair, so memory follows users + songs."""

    genre_names: list[str]
    genre_popularity: np.ndarray  # (G,) sums to 1, Zipf by rank
    artist_names: list[str]
    artist_genres: list[np.ndarray]  # per artist: genre indices
    song_names: list[str]
    song_artist: np.ndarray  # (S,)
    song_duration_ms: np.ndarray  # (S,)
    song_popularity: np.ndarray  # (S,) sums to 1
    user_types: np.ndarray  # (U,) index into USER_TYPES
    user_genre_affinity: np.ndarray  # (U, G) rows sum to 1
    user_factors: np.ndarray  # (U, LATENT_DIM)
    song_factors: np.ndarray  # (S, LATENT_DIM)

    @cached_property
    def song_genres(self) -> SongGenres:
        """Each song's genres: its artist's."""
        artists = np.repeat(np.arange(len(self.artist_genres)), [len(g) for g in self.artist_genres])
        by_artist = SongGenres.from_pairs(artists, np.concatenate(self.artist_genres),
                                          len(self.artist_genres), len(self.genre_names))
        return SongGenres(by_artist.slots[self.song_artist], len(self.genre_names))

    @cached_property
    def padded_genre_affinity(self) -> np.ndarray:
        """(U, G + 1) each user's genre affinity with the zero column padding slots read:
        built once, as copying a row per user and call cost most of a per-play
        preference."""
        return with_padding_column(self.user_genre_affinity)

    def genre_match(self, users: np.ndarray, songs: np.ndarray) -> np.ndarray:
        """Affinity mass of each user on each song's genres; ``songs`` (m,) for every user
        or (len(users), m) per user."""
        slots = self.song_genres.slots[songs]  # (m, width) or (len(users), m, width)
        return self.padded_genre_affinity[users[:, None, None], slots].sum(-1)

    def preference(self, users: np.ndarray, songs: np.ndarray | None = None) -> np.ndarray:
        """True preference (higher = more liked) of ``users`` for ``songs``: (m,) song indices
        shared by every user, (len(users), m) per user, or None for the whole catalogue."""
        songs = np.arange(len(self.song_artist)) if songs is None else songs
        user_factors = self.user_factors[users]
        if songs.ndim == 1:
            latent = user_factors @ self.song_factors[songs].T
        else:
            latent = (self.song_factors[songs] @ user_factors[:, :, None])[..., 0]
        return (latent / np.sqrt(LATENT_DIM)
                + GENRE_WEIGHT * np.log(self.genre_match(users, songs) + 1e-3)
                + POPULARITY_WEIGHT * np.log(self.song_popularity[songs] * len(self.song_artist)))


def stage_rngs(seed: int) -> dict[str, np.random.Generator]:
    stages = ("world", "listening", "completion", "time", "hourly")
    children = np.random.SeedSequence(seed).spawn(len(stages))
    return {name: np.random.default_rng(child) for name, child in zip(stages, children, strict=True)}


def _names(rng: np.random.Generator, count: int, prefix: str) -> list[str]:
    first = rng.integers(0, len(_WORDS_A), count)
    second = rng.integers(0, len(_WORDS_B), count)
    return [f"{prefix}{_WORDS_A[a]} {_WORDS_B[b]}".strip() for a, b in zip(first, second, strict=True)]


def build_world(spec: GenerationSpec) -> World:
    rng = stage_rngs(spec.seed)["world"]
    n_genres, n_artists, n_songs, n_users = spec.genres, spec.artists, spec.songs, spec.users
    genre_names = [GENRE_NAMES[i] if i < len(GENRE_NAMES) else f"Genre {i + 1}"
                   for i in range(n_genres)]
    genre_popularity = 1.0 / np.arange(1, n_genres + 1) ** GENRE_ZIPF_EXPONENT
    genre_popularity /= genre_popularity.sum()

    genre_count = rng.choice([1, 2, 3], size=n_artists, p=[0.5, 0.35, 0.15])
    artist_genres = [np.sort(rng.choice(n_genres, size=min(c, n_genres), replace=False,
                                        p=genre_popularity)) for c in genre_count]
    artist_popularity = rng.lognormal(0.0, 1.0, n_artists)
    artist_names = [f"The {name}" for name in _names(rng, n_artists, "")]

    # Every artist gets a song; the rest go to artists in proportion to their popularity.
    extra = max(n_songs - n_artists, 0)
    artist_weight = np.sqrt(artist_popularity) / np.sqrt(artist_popularity).sum()
    song_artist = np.concatenate([np.arange(min(n_artists, n_songs)),
                                  rng.choice(n_artists, size=extra, p=artist_weight)])
    rng.shuffle(song_artist)
    song_duration_ms = np.clip(rng.normal(215_000, 45_000, n_songs), 60_000, 600_000).astype(np.int64)
    song_popularity = artist_popularity[song_artist] * rng.lognormal(0.0, 0.7, n_songs)
    song_popularity /= song_popularity.sum()
    song_names = _names(rng, n_songs, "")

    user_types = rng.choice(len(USER_TYPES), size=n_users, p=USER_TYPE_SHARES)
    # Sparse Dirichlet: each user loves a handful of genres, popular genres more often.
    user_genre_affinity = rng.dirichlet(genre_popularity * n_genres * 0.15 + 0.02, size=n_users)

    genre_factors = rng.normal(0.0, 1.0, (n_genres, LATENT_DIM))
    artist_factors = np.stack([genre_factors[g].mean(axis=0) for g in artist_genres])
    artist_factors += rng.normal(0.0, ARTIST_NOISE, artist_factors.shape)
    song_factors = artist_factors[song_artist] + rng.normal(0.0, SONG_NOISE, (n_songs, LATENT_DIM))
    user_factors = user_genre_affinity @ genre_factors + rng.normal(0.0, USER_NOISE, (n_users, LATENT_DIM))
    return World(genre_names, genre_popularity, artist_names, artist_genres, song_names,
                 song_artist, song_duration_ms, song_popularity, user_types,
                 user_genre_affinity, user_factors, song_factors)
