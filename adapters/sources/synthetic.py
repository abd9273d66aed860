"""Synthetic listening data in the seed's raw layout, generated in seconds.

Plays come from the hidden ``World``: each user picks the songs they know by a
Gumbel top-k draw over their true preference (so favourites are likely but not
certain), then spreads their plays over those songs so that favourites repeat.
Liked songs are played to the end; the rest are often skipped after a few
seconds (Beta-distributed completion). Play times follow each user's daily habit.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from adapters.common.atomic import atomic_directory_files
from adapters.sources.synthetic_world import (
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


def ids(prefix: str, count: int) -> list[str]:
    width = max(4, len(str(count)))
    return [f"{prefix}{i + 1:0{width}d}" for i in range(count)]


def _sample_user_songs(world: World, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Return (user index, song index) per play."""
    n_users, n_songs = world.preference.shape
    types = world.user_types
    plays = np.maximum(1, rng.lognormal(np.log(MEAN_PLAYS[types]) - 0.18, 0.6)).astype(np.int64)
    distinct = np.clip(np.ceil(plays / REPEATS_PER_SONG[types]), 1, n_songs).astype(np.int64)
    user_of_play, song_of_play = [], []
    for user in range(n_users):
        logits = world.preference[user] / TASTE_TEMPERATURE
        keys = logits + rng.gumbel(size=n_songs)
        chosen = np.argpartition(-keys, distinct[user] - 1)[: distinct[user]]
        # Each chosen song is played once, the remaining plays favour the best liked.
        weights = np.exp(logits[chosen] - logits[chosen].max())
        extra = rng.multinomial(plays[user] - distinct[user], weights / weights.sum())
        counts = 1 + extra
        song_of_play.append(np.repeat(chosen, counts))
        user_of_play.append(np.full(counts.sum(), user))
    return np.concatenate(user_of_play), np.concatenate(song_of_play)


def _completion(world: World, users: np.ndarray, songs: np.ndarray,
                rng: np.random.Generator) -> np.ndarray:
    pref = world.preference[users, songs]
    user_mean = world.preference.mean(axis=1)[users]
    user_std = world.preference.std(axis=1)[users]
    liking = 1.0 / (1.0 + np.exp(-(pref - user_mean) / user_std + 1.0))
    skip_probability = SKIP_PROPENSITY[world.user_types[users]] * (1.0 - liking)
    skipped = rng.random(len(users)) < skip_probability
    return np.where(skipped, rng.beta(1.2, 9.0, len(users)), rng.beta(14.0, 1.3, len(users)))


def _timestamps(world: World, users: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n_users = len(world.user_types)
    habit = rng.dirichlet(np.full(len(DAILY_PEAKS), 0.7), size=n_users)
    peak = np.array([rng.choice(len(DAILY_PEAKS), p=habit[u]) for u in users])
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
        played_at = _timestamps(world, users, rngs["time"])
        progress.advance()

        order = np.lexsort((songs, users, played_at))
        users, songs, completion, played_at = (a[order] for a in (users, songs, completion, played_at))
        duration = world.song_duration_ms[songs]
        user_ids = np.array(ids("user_", spec.users), dtype=object)
        song_ids = np.array(ids("track_", spec.songs), dtype=object)
        artist_ids = np.array(ids("artist_", spec.artists), dtype=object)
        genre_ids = np.array(ids("genre_", spec.genres), dtype=object)
        timestamps = pa.array(played_at, pa.timestamp("s")).cast(pa.string())
        iso = [t.replace(" ", "T") + "Z" for t in timestamps.to_pylist()]

        files: dict[str, dict[str, Any]] = {
            "raw_sessions.csv": {
                "user_id": user_ids[users], "track_id": song_ids[songs],
                "artist_id": artist_ids[world.song_artist[songs]], "timestamp": iso,
                "ms_played": np.round(completion * duration).astype(np.int64),
                "track_duration_ms": duration,
            },
            "tracks.csv": {
                "track_id": song_ids, "track_name": world.song_names,
                "artist_id": artist_ids[world.song_artist],
                "artist_name": np.array(world.artist_names, dtype=object)[world.song_artist],
                "duration_ms": world.song_duration_ms,
            },
            "genres.csv": {
                "genre_id": genre_ids, "genre_name": world.genre_names,
                "popularity": np.round(world.genre_popularity, 6),
            },
        }
        pairs = [(a, g) for a, genres in enumerate(world.artist_genres) for g in genres]
        files["artist_genres.csv"] = {"artist_id": artist_ids[[a for a, _ in pairs]],
                                      "genre_id": genre_ids[[g for _, g in pairs]]}
        song_rows, genre_cols = np.nonzero(world.song_genre_matrix())
        files["song_genres.csv"] = {"track_id": song_ids[song_rows], "genre_id": genre_ids[genre_cols]}
        files["user_genre_preferences.csv"] = self._preferences(world, user_ids, genre_ids)
        files["users.csv"] = {"user_id": user_ids,
                              "user_type": np.array(USER_TYPES, dtype=object)[world.user_types]}
        progress.advance()

        counts: dict[str, int] = {}
        with atomic_directory_files(out_dir) as staging:
            for name, columns in files.items():
                counts[name] = _write_csv(staging / name, columns)
            manifest = {"generator_version": GENERATOR_VERSION, "spec": spec.__dict__}
            (staging / "generation.json").write_text(json.dumps(manifest, indent=2) + "\n")
        progress.advance()
        progress.finish()
        return counts

    @staticmethod
    def _preferences(world: World, user_ids: np.ndarray, genre_ids: np.ndarray) -> dict[str, Any]:
        """Each user's genres holding 5% or more of their taste, scaled so the top one is 1."""
        affinity = world.user_genre_affinity
        scaled = affinity / affinity.max(axis=1, keepdims=True)
        users, genres = np.nonzero(affinity >= 0.05)
        return {"user_id": user_ids[users], "genre_id": genre_ids[genres],
                "affinity_score": np.round(scaled[users, genres], 4)}
