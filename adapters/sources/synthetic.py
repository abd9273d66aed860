"""Synthetic listening data in the seed's raw layout, generated in seconds.

Plays come from the hidden ``World``: each user picks the songs they know by a
Gumbel top-k draw over their true preference (so favourites are likely but not
certain), then spreads their plays over those songs so that favourites repeat.
Liked songs are played to the end; the rest are often skipped after a few
seconds (Beta-distributed completion). Play times follow each user's daily habit; with
``hourly_tastes`` a share of plays falls at the daily peak of the song's genre instead, so
that what a listener plays depends on the hour.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from adapters.common.atomic import atomic_directory_files
from adapters.common.song_genres import with_padding_column
from adapters.sources.synthetic_world import (
    LATENT_DIM,
    POPULARITY_WEIGHT,
    TASTE_TEMPERATURE,
    USER_TYPES,
    World,
    build_world,
    stage_rngs,
)
from domain.ports import GenerationSpec, Progress, SyntheticDataGenerator

GENERATOR_VERSION = 1
# Mean plays and plays per distinct song, by user type (casual, regular, power).
MEAN_PLAYS = np.array([30.0, 150.0, 600.0])
REPEATS_PER_SONG = np.array([1.4, 2.2, 3.0])
SKIP_PROPENSITY = np.array([0.55, 0.40, 0.30])
DAILY_PEAKS = np.array([8.0, 12.5, 18.5, 22.0])
START_EPOCH_S = 1_704_067_200  # 2024-01-01T00:00:00Z
SPAN_DAYS = 90
# A catalogue of more songs than POOL_MAX is sampled from a proposal: POOL_PER_SONG draws
# for each song a user will play, at least POOL_MIN and at most POOL_MAX.
POOL_MAX = 8192
POOL_MIN = 256
POOL_PER_SONG = 8
# The proposal's share of draws by genre, by region of taste space and from anywhere, and
# how many bins per latent dimension make the regions.
ROUTE_SHARES = (0.2, 0.7, 0.1)
TASTE_BINS = 8
# Songs a user's mean and spread of preference are measured on: 2,048 measure both to a few
# per cent (8,192 took a quarter of a 100x set's generation).
REFERENCE_SONGS = 2048
# Cells of one block of users x songs: bounds the generator's memory.
BLOCK_CELLS = 1 << 22


def ids(prefix: str, count: int) -> list[str]:
    width = max(4, len(str(count)))
    return [f"{prefix}{i + 1:0{width}d}" for i in range(count)]


def _blocks(count: int, width: int) -> Iterator[slice]:
    """Consecutive slices of ``count`` rows, each holding about BLOCK_CELLS cells of ``width``."""
    step = max(1, BLOCK_CELLS // max(width, 1))
    for start in range(0, count, step):
        yield slice(start, min(start + step, count))


class _Route:
    """One way of drawing a candidate: a group of songs by the user's probability of each
    group, then a song of that group in proportion to its weight. ``slots`` (S, width) holds
    each song's groups, padded with the number of groups."""

    def __init__(self, weight: np.ndarray, slots: np.ndarray, groups: int) -> None:
        songs, slot = np.nonzero(slots < groups)
        group = slots[songs, slot]
        order = np.argsort(group, kind="stable")
        self.songs, group = songs[order], group[order]
        self.cumulative = np.cumsum(weight[self.songs])
        starts = np.searchsorted(group, np.arange(groups), side="left")
        ends = np.searchsorted(group, np.arange(groups), side="right")
        self.first, self.last = starts, np.maximum(ends - 1, 0)
        before = np.concatenate([[0.0], self.cumulative])
        self.offset, self.total = before[starts], before[ends] - before[starts]
        self.weight, self.slots, self.groups = weight, slots, groups
        self.padded = bool((slots >= groups).any())  # some song has fewer groups than slots

    def draw(self, chance: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
        """``count`` songs for each row of ``chance`` (rows x groups, each row summing to 1).

        One uniform per draw, by inverse CDF: it picks the group, and where it falls within
        that group's share (itself uniform, and independent of the group) picks the song
        within the group. A row's uniforms are drawn in ascending order (normalised sums of
        exponential spacings: the order statistics of ``count`` uniforms), so both searches
        walk forward through memory; the order of a row's draws does not matter, as
        ``_candidates`` sorts them."""
        rows = np.arange(len(chance))[:, None]
        spacings = np.cumsum(rng.standard_exponential((len(chance), count + 1)), axis=1)
        uniform = spacings[:, :-1] / spacings[:, -1:]
        cdf = np.cumsum(chance, axis=1)
        # a group per draw, all rows in one search (row r's CDF shifted by r)
        group = np.searchsorted((cdf + rows).ravel(), uniform + rows, side="right")
        group = np.minimum(group - rows * self.groups, self.groups - 1)
        share = np.take_along_axis(chance, group, 1)
        within = np.clip((uniform - np.take_along_axis(cdf, group, 1) + share) / np.maximum(share, 1e-300),
                         0.0, 1.0)
        target = self.offset[group] + within * self.total[group]
        pair = np.clip(np.searchsorted(self.cumulative, target, side="right"),
                       self.first[group], self.last[group])
        return self.songs[pair]

    def probability(self, chance: np.ndarray, songs: np.ndarray) -> np.ndarray:
        """Each row's chance of drawing each of its ``songs`` (rows x m) by this route."""
        per_group = chance / np.maximum(self.total, 1e-300)
        if self.padded:
            per_group = with_padding_column(per_group)
        slots = self.slots[songs]
        mass = np.take_along_axis(per_group, slots.reshape(len(chance), -1), 1).reshape(slots.shape)
        return self.weight[songs] * mass.sum(-1)


class _Proposal:
    """Where a large catalogue's candidates come from, all in proportion to popularity raised
    as true preference raises it: a song of one of the user's genres (by the user's
    affinity), of a region of taste space near the user's (by the latent term of a region's
    centre), or any song. The chance of each song is known, so the Gumbel keys divide it out."""

    def __init__(self, world: World) -> None:
        n_songs, n_genres = len(world.song_artist), len(world.genre_names)
        weight = (world.song_popularity * n_songs) ** (POPULARITY_WEIGHT / TASTE_TEMPERATURE)
        factors = world.song_factors
        edges = np.quantile(factors, np.arange(1, TASTE_BINS) / TASTE_BINS, axis=0)
        bins = np.stack([np.searchsorted(edges[:, d], factors[:, d]) for d in range(LATENT_DIM)], 1)
        region = bins @ TASTE_BINS ** np.arange(LATENT_DIM)
        regions = TASTE_BINS ** LATENT_DIM
        mass = np.bincount(region, weight, regions)
        centre = np.stack([np.bincount(region, weight * factors[:, d], regions) for d in
                           range(LATENT_DIM)], 1) / np.maximum(mass, 1e-300)[:, None]
        self.region_log_mass = np.where(mass > 0, np.log(np.maximum(mass, 1e-300)), -np.inf)
        self.region_centre = centre
        self.routes = (_Route(weight, world.song_genres.slots, n_genres),
                       _Route(weight, region[:, None], regions),
                       _Route(weight, np.zeros((n_songs, 1), np.int64), 1))
        self.world = world

    def chances(self, users: np.ndarray) -> list[np.ndarray]:
        """Each route's (users x groups) chance of each of its groups."""
        genre = self.world.user_genre_affinity[users] * (self.routes[0].total > 0)
        # in place: users x regions temporaries are the largest arrays a block makes
        region = self.world.user_factors[users] @ self.region_centre.T
        region /= np.sqrt(LATENT_DIM) * TASTE_TEMPERATURE
        region += self.region_log_mass
        region -= region.max(axis=1, keepdims=True)
        np.exp(region, out=region)
        return [chance / np.maximum(chance.sum(axis=1, keepdims=True), 1e-300)
                for chance in (genre, region, np.ones((len(users), 1)))]

    def draw(self, users: np.ndarray, draws: int, rng: np.random.Generator
             ) -> tuple[np.ndarray, np.ndarray]:
        """``draws`` songs per user with replacement and the log-chance of each."""
        chances = self.chances(users)
        counts = [int(draws * share) for share in ROUTE_SHARES[:-1]]
        counts.append(draws - sum(counts))
        songs = np.concatenate([route.draw(chance, count, rng) for route, chance, count
                                in zip(self.routes, chances, counts, strict=True)], 1)
        chance = sum(share * route.probability(route_chance, songs) for share, route, route_chance
                     in zip(ROUTE_SHARES, self.routes, chances, strict=True))
        return songs, np.log(np.maximum(chance, 1e-300))


def _candidates(world: World, users: np.ndarray, draws: int, proposal: _Proposal | None,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(users, m) candidate songs of each user and the log-chance each was drawn with
    (+inf marks a repeat: its key is -inf, so it is never picked). A catalogue of at most
    POOL_MAX songs is every user's pool."""
    n_songs = len(world.song_artist)
    if proposal is None:
        return np.broadcast_to(np.arange(n_songs), (len(users), n_songs)), np.zeros((len(users), n_songs))
    songs, log_q = proposal.draw(users, draws, rng)
    order = np.argsort(songs, axis=1, kind="stable")
    songs, log_q = np.take_along_axis(songs, order, 1), np.take_along_axis(log_q, order, 1)
    repeat = np.zeros_like(songs, dtype=bool)
    repeat[:, 1:] = songs[:, 1:] == songs[:, :-1]
    return songs, np.where(repeat, np.inf, log_q)


def _pool_groups(distinct: np.ndarray, n_songs: int) -> list[tuple[int, np.ndarray]]:
    """(draws, users) in groups of equal pool size: the whole catalogue when it holds at most
    POOL_MAX songs, else POOL_PER_SONG draws per song a user will play, rounded up to a
    power of the square root of two (a power of two drew 44% more than wanted on average,
    this 20%)."""
    if n_songs <= POOL_MAX:
        return [(n_songs, np.arange(len(distinct)))]
    wanted = np.clip(POOL_PER_SONG * distinct, POOL_MIN, POOL_MAX)
    draws = np.minimum(np.ceil(2 ** (np.ceil(2 * np.log2(wanted)) / 2)), POOL_MAX).astype(np.int64)
    return [(int(d), np.flatnonzero(draws == d)) for d in np.unique(draws)]


def _plays_of_one(pool: np.ndarray, logits: np.ndarray, log_q: np.ndarray, distinct: int,
                  plays: int, rng: np.random.Generator) -> np.ndarray:
    """One user's plays (song indices): ``distinct`` songs of the pool by a Gumbel top-k draw,
    each played once, the remaining plays favouring the best liked."""
    keys = logits - log_q + rng.gumbel(size=len(pool))
    count = min(distinct, int(np.isfinite(log_q).sum()))
    picked = np.argpartition(-keys, count - 1)[:count]
    weights = np.exp(logits[picked] - logits[picked].max())
    extra = rng.multinomial(plays - count, weights / weights.sum())
    return np.repeat(pool[picked], 1 + extra)


def _sample_user_songs(world: World, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Return (user index, song index) per play: each user's songs are a Gumbel top-k draw
    over true preference, on the whole catalogue when it is small, on a proposal's
    candidates (their probability divided out) when it is not."""
    n_songs = len(world.song_artist)
    types = world.user_types
    plays = np.maximum(1, rng.lognormal(np.log(MEAN_PLAYS[types]) - 0.18, 0.6)).astype(np.int64)
    distinct = np.clip(np.ceil(plays / REPEATS_PER_SONG[types]), 1, n_songs).astype(np.int64)
    proposal = _Proposal(world) if n_songs > POOL_MAX else None
    user_of_play, song_of_play = [], []
    for draws, group in _pool_groups(distinct, n_songs):
        for block in _blocks(len(group), draws):
            users = group[block]
            pool, log_q = _candidates(world, users, draws, proposal, rng)
            logits = world.preference(users, pool if proposal else None) / TASTE_TEMPERATURE
            for row, user in enumerate(users):
                songs = _plays_of_one(pool[row], logits[row], log_q[row], distinct[user], plays[user], rng)
                song_of_play.append(songs)
                user_of_play.append(np.full(len(songs), user))
    return np.concatenate(user_of_play), np.concatenate(song_of_play)


def _completion(world: World, users: np.ndarray, songs: np.ndarray,
                rng: np.random.Generator) -> np.ndarray:
    """How much of each play was heard: liked songs (against the user's own mean and spread
    of preference, over up to REFERENCE_SONGS songs) to the end, the rest often skipped."""
    n_songs = len(world.song_artist)
    reference = np.unique(np.linspace(0, n_songs - 1, min(n_songs, REFERENCE_SONGS)).astype(np.int64))
    n_users = len(world.user_types)
    user_mean, user_std = np.empty(n_users), np.empty(n_users)
    for block in _blocks(n_users, len(reference)):
        rows = world.preference(np.arange(block.start, block.stop), reference)
        user_mean[block], user_std[block] = rows.mean(axis=1), rows.std(axis=1)
    liking = np.empty(len(users))
    for block in _blocks(len(users), 1):
        pref = world.preference(users[block], songs[block, None])[:, 0]
        liking[block] = 1.0 / (1.0 + np.exp(-(pref - user_mean[users[block]])
                                             / user_std[users[block]] + 1.0))
    skip_probability = SKIP_PROPENSITY[world.user_types[users]] * (1.0 - liking)
    skipped = rng.random(len(users)) < skip_probability
    return np.where(skipped, rng.beta(1.2, 9.0, len(users)), rng.beta(14.0, 1.3, len(users)))


def _timestamps(world: World, users: np.ndarray, songs: np.ndarray, rng: np.random.Generator,
                hourly: float, hourly_rng: np.random.Generator) -> np.ndarray:
    n_users = len(world.user_types)
    habit = rng.dirichlet(np.full(len(DAILY_PEAKS), 0.7), size=n_users)
    # each play's daily peak drawn from its user's habit, by inverse CDF (as Generator.choice)
    cdf = np.cumsum(habit, axis=1)
    cdf /= cdf[:, -1:]
    below = cdf[users] <= rng.random(len(users))[:, None]
    peak = np.minimum(below.sum(axis=1), len(DAILY_PEAKS) - 1)
    if hourly:  # its own generator: the default set's draws stay what they were
        genre_peak = world.song_genres.slots[songs, 0] % len(DAILY_PEAKS)
        peak = np.where(hourly_rng.random(len(users)) < hourly, genre_peak, peak)
    hour = np.mod(DAILY_PEAKS[peak] + rng.normal(0.0, 1.3, len(users)), 24.0)
    day = rng.integers(0, SPAN_DAYS, len(users))
    return START_EPOCH_S + day * 86_400 + (hour * 3600).astype(np.int64)


def _write_csv(path: Path, columns: dict[str, Any]) -> int:
    table = pa.table(columns)
    pacsv.write_csv(table, path, pacsv.WriteOptions(quoting_style="needed"))
    return table.num_rows


class SyntheticSeedGenerator(SyntheticDataGenerator):
    def generate(self, out_dir: Path, spec: GenerationSpec, progress: Progress) -> dict[str, int]:
        progress.start("generating", total=4)
        world = build_world(spec)
        progress.advance()
        rngs = stage_rngs(spec.seed)
        users, songs = _sample_user_songs(world, rngs["listening"])
        completion = _completion(world, users, songs, rngs["completion"])
        played_at = _timestamps(world, users, songs, rngs["time"], spec.hourly_tastes, rngs["hourly"])
        progress.advance()

        order = np.lexsort((songs, users, played_at))
        users, songs, completion, played_at = (a[order] for a in (users, songs, completion, played_at))
        duration = world.song_duration_ms[songs]
        user_ids, song_ids = pa.array(ids("user_", spec.users)), pa.array(ids("track_", spec.songs))
        artist_ids, genre_ids = pa.array(ids("artist_", spec.artists)), pa.array(ids("genre_", spec.genres))
        # ISO-8601 from the cast text ("2024-01-01 00:03:23"): strftime is ten times slower
        timestamps = pc.binary_join_element_wise(pc.replace_substring(
            pa.array(played_at, pa.timestamp("s")).cast(pa.string()), " ", "T"), "Z", "")
        artist_names = pa.array(world.artist_names)

        files: dict[str, dict[str, Any]] = {
            "raw_sessions.csv": {
                "user_id": user_ids.take(users), "track_id": song_ids.take(songs),
                "artist_id": artist_ids.take(world.song_artist[songs]), "timestamp": timestamps,
                "ms_played": np.round(completion * duration).astype(np.int64),
                "track_duration_ms": duration,
            },
            "tracks.csv": {
                "track_id": song_ids, "track_name": world.song_names,
                "artist_id": artist_ids.take(world.song_artist),
                "artist_name": artist_names.take(world.song_artist),
                "duration_ms": world.song_duration_ms,
            },
            "genres.csv": {
                "genre_id": genre_ids, "genre_name": world.genre_names,
                "popularity": np.round(world.genre_popularity, 6),
            },
        }
        pair_artist = np.repeat(np.arange(spec.artists), [len(g) for g in world.artist_genres])
        pair_genre = np.concatenate(world.artist_genres)
        files["artist_genres.csv"] = {"artist_id": artist_ids.take(pair_artist),
                                      "genre_id": genre_ids.take(pair_genre)}
        song_rows, genre_cols = world.song_genres.pairs()
        files["song_genres.csv"] = {"track_id": song_ids.take(song_rows),
                                    "genre_id": genre_ids.take(genre_cols)}
        files["user_genre_preferences.csv"] = self._preferences(world, user_ids, genre_ids)
        files["users.csv"] = {"user_id": user_ids,
                              "user_type": pa.array(USER_TYPES).take(world.user_types)}
        progress.advance()

        counts: dict[str, int] = {}
        with atomic_directory_files(out_dir) as staging:
            for name, columns in files.items():
                counts[name] = _write_csv(staging / name, columns)
            # hourly_tastes named only where asked for: the default set's manifest stays as it was
            described = {k: v for k, v in spec.__dict__.items() if k != "hourly_tastes" or v}
            manifest = {"generator_version": GENERATOR_VERSION, "spec": described}
            (staging / "generation.json").write_text(json.dumps(manifest, indent=2) + "\n")
        progress.advance()
        progress.finish()
        return counts

    @staticmethod
    def _preferences(world: World, user_ids: pa.Array, genre_ids: pa.Array) -> dict[str, Any]:
        """Each user's genres holding 5% or more of their taste, scaled so the top one is 1."""
        affinity = world.user_genre_affinity
        scaled = affinity / affinity.max(axis=1, keepdims=True)
        users, genres = np.nonzero(affinity >= 0.05)
        return {"user_id": user_ids.take(users), "genre_id": genre_ids.take(genres),
                "affinity_score": np.round(scaled[users, genres], 4)}
