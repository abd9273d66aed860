"""Data-quality checks for a directory in the seed's raw layout.

Distributions (genre Zipf, genres per artist, completion shape) and behaviour
(activity by user type, taste-driven listening, repeat plays, daily habits).
When ``generation.json`` is present the generator's hidden world is rebuilt and
an oracle that ranks by true preference is scored against popularity on a
per-user held-out split: the data carries personal signal only if the oracle
clearly wins.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from adapters.evaluation.protocol import K, Pairs, rank_by_popularity, rank_scores, split_interactions
from adapters.sources.csv_checks import require_file
from adapters.sources.synthetic import ids
from adapters.sources.synthetic_world import build_world
from domain.errors import InvalidInputFile, first_line
from domain.model import DataQualityReport, QualityCheck
from domain.ports import DataValidator, GenerationSpec, Progress

ORACLE_MIN_LIFT = 2.0
HELD_OUT_SHARE = 0.2
SPLIT_SEED = 0


def _read(data_dir: Path, name: str) -> pd.DataFrame:
    path = require_file(data_dir / name, name, "run `engine generate --out DIR` first")
    try:
        table = pacsv.read_csv(path)
    except (pa.ArrowInvalid, UnicodeDecodeError) as error:
        raise InvalidInputFile(str(path), f"not a readable {name} ({first_line(error, 120)})") from None
    if table.num_rows == 0:
        raise InvalidInputFile(str(path), f"{name} has a header but no rows")
    return table.to_pandas()


def _check(name: str, passed: bool, detail: str) -> QualityCheck:
    return QualityCheck(name, bool(passed), detail)


def oracle_vs_popularity(sessions: pd.DataFrame, spec: GenerationSpec, k: int = K) -> dict[str, float]:
    pairs = sessions[["user_id", "track_id"]].drop_duplicates().rename(columns={"track_id": "song_id"})
    split = split_interactions(pa.Table.from_pandas(pairs, preserve_index=False), validation=0.0,
                               test=HELD_OUT_SHARE, seed=SPLIT_SEED)
    return recall_by_true_preference(spec, split.train, split.test, k)


def recall_by_true_preference(spec: GenerationSpec, known: pa.Table, held_out: pa.Table,
                              k: int = K) -> dict[str, float]:
    """Recall@k of the oracle (true preference) and of popularity (listeners in ``known``),
    ranked as every model is (``adapters.evaluation.protocol``); tables hold user_id, song_id."""
    world = build_world(spec)
    index = {"user": ids("user_", spec.users), "song": ids("track_", spec.songs)}
    exclude, relevant = Pairs(known, index).matrix(), Pairs(held_out, index).matrix()
    oracle = rank_scores(world.preference, relevant, exclude, k)
    popularity = rank_by_popularity(np.bincount(exclude.indices, minlength=spec.songs), relevant, exclude, k)
    return {f"oracle_recall@{k}": oracle.recall, f"popularity_recall@{k}": popularity.recall,
            "test_users": len(oracle.users)}


class SyntheticDataValidator(DataValidator):
    def validate(self, data_dir: Path, progress: Progress) -> DataQualityReport:
        try:
            return self._validate(data_dir, progress)
        except (KeyError, ValueError, TypeError, IndexError, ZeroDivisionError) as error:
            # readable files whose columns or values are not what the generator writes
            raise InvalidInputFile(str(data_dir), "not a raw set in the generator's layout "
                                   f"({type(error).__name__}: {first_line(error, 120)})") from None

    def _validate(self, data_dir: Path, progress: Progress) -> DataQualityReport:
        progress.start("validating", total=3)
        sessions = _read(data_dir, "raw_sessions.csv")
        genres = _read(data_dir, "genres.csv")
        artist_genres = _read(data_dir, "artist_genres.csv")
        song_genres = _read(data_dir, "song_genres.csv")
        tracks = _read(data_dir, "tracks.csv")
        preferences = _read(data_dir, "user_genre_preferences.csv")
        users_path = data_dir / "users.csv"
        users = _read(data_dir, "users.csv") if users_path.exists() else None
        progress.advance()

        checks = []
        popularity = genres.sort_values("popularity", ascending=False)["popularity"].to_numpy()
        slope = float(np.polyfit(np.log(np.arange(1, len(popularity) + 1)), np.log(popularity), 1)[0])
        checks.append(_check("genre popularity is Zipf-like", -1.5 <= slope <= -0.5,
                             f"{len(genres)} genres, log-log slope {slope:.2f}"))
        per_artist = artist_genres.groupby("artist_id").size()
        checks.append(_check("artists have 1-3 genres", per_artist.between(1, 3).all(),
                             f"min {per_artist.min()}, max {per_artist.max()}, "
                             f"mean {per_artist.mean():.2f}"))
        inherited = song_genres.merge(tracks[["track_id", "artist_id"]], on="track_id").merge(
            artist_genres, on=["artist_id", "genre_id"], how="left", indicator=True)
        share_inherited = float((inherited["_merge"] == "both").mean())
        checks.append(_check("songs inherit their artist's genres", share_inherited == 1.0,
                             f"{share_inherited:.1%} of song genres belong to the artist"))

        completion = (sessions["ms_played"] / sessions["track_duration_ms"]).clip(upper=1.0)
        skip_share = float((completion < 0.3).mean())
        full_share = float((completion > 0.8).mean())
        checks.append(_check("completion is bimodal (skips and full plays)",
                             0.05 <= skip_share <= 0.5 and full_share >= 0.4,
                             f"{skip_share:.1%} skipped (<30%), {full_share:.1%} full (>80%), "
                             f"mean {completion.mean():.2f}"))
        plays_per_user = sessions.groupby("user_id").size()
        if users is not None:
            by_type = plays_per_user.rename("plays").to_frame().join(
                users.set_index("user_id"))["plays"].groupby(users.set_index("user_id")["user_type"]
                                                             ).mean()
            ordered = all(t in by_type for t in ("casual", "regular", "power")) and (
                by_type["casual"] < by_type["regular"] < by_type["power"])
            checks.append(_check("activity grows casual < regular < power", ordered,
                                 ", ".join(f"{t} {v:.0f}" for t, v in by_type.items())
                                 + " plays per user"))
        pair_plays = sessions.groupby(["user_id", "track_id"]).size()
        repeat_share = float(1 - len(pair_plays) / len(sessions))
        checks.append(_check("favourites are replayed", repeat_share >= 0.2,
                             f"{repeat_share:.1%} of plays repeat a song the user played before"))
        listened = sessions[["user_id", "track_id"]].merge(song_genres, on="track_id")
        top3 = preferences.sort_values("affinity_score", ascending=False).groupby("user_id").head(3)
        in_top = listened.merge(top3, on=["user_id", "genre_id"], how="left")["affinity_score"]
        share_top = float(in_top.notna().groupby([listened["user_id"], listened["track_id"]]
                                                 ).any().mean())
        baseline = float(genres.sort_values("popularity", ascending=False)["popularity"][:3].sum())
        checks.append(_check("listening follows genre affinity", share_top > baseline,
                             f"{share_top:.1%} of listened songs are in the user's top-3 genres "
                             f"(top-3 genres overall hold {baseline:.1%} of popularity)"))
        hours = pd.to_datetime(sessions["timestamp"]).dt.hour.value_counts(normalize=True)
        hours = hours.reindex(range(24), fill_value=0.0)
        checks.append(_check("plays follow daily habits", hours.max() >= 2 * hours.min() + 0.01,
                             f"busiest hour {hours.idxmax()}:00 ({hours.max():.1%}), "
                             f"quietest {hours.idxmin()}:00 ({hours.min():.1%})"))
        progress.advance()

        figures: dict[str, float] = {
            "plays": len(sessions), "users": int(sessions["user_id"].nunique()),
            "songs": len(tracks), "artists": int(tracks["artist_id"].nunique()),
            "genres": len(genres), "interactions": len(pair_plays),
        }
        manifest = data_dir / "generation.json"
        if manifest.exists():
            spec = GenerationSpec(**json.loads(manifest.read_text())["spec"])
            signal = oracle_vs_popularity(sessions, spec)
            figures.update(signal)
            lift = signal["oracle_recall@10"] / max(signal["popularity_recall@10"], 1e-12)
            figures["oracle_lift"] = lift
            checks.append(_check(
                f"personal signal: oracle Recall@10 >= {ORACLE_MIN_LIFT:g}x popularity",
                lift >= ORACLE_MIN_LIFT,
                f"oracle {signal['oracle_recall@10']:.4f} vs popularity "
                f"{signal['popularity_recall@10']:.4f} ({lift:.1f}x) on a per-user "
                f"{HELD_OUT_SHARE:.0%} held-out split"))
        progress.advance()
        progress.finish()
        return DataQualityReport(str(data_dir), tuple(checks), figures)
