"""Helpers for the benchmarks: run a command in a child process, time it, read its peak RSS."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from adapters.common.user_songs import UserSongs
from adapters.evaluation.protocol import (
    TEST,
    TRAIN,
    VALIDATION,
    K,
    Pairs,
    Ranked,
    rank_by_popularity,
    rank_metrics,
)
from adapters.scoring.retrieval import flat_index, searched_excluding
from domain.training import TrainingSpec

ROOT = Path(__file__).resolve().parent.parent
ENGINE = str(Path(sys.executable).with_name("engine"))
DATA = ROOT.parent / "shared" / "data"
SPOTIFY_EXPORTS = DATA / "spotify-exports-sample"
SPOTIFY_GENRES = DATA / "spotify-artist-genres" / "artist_genres.csv"


@dataclass
class Measured:
    wall_s: float
    peak_rss_mb: float
    stdout: str


def measure(args: list[str]) -> Measured:
    """Run ``args`` to completion; wall time and that child's own peak resident memory."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        child = subprocess.Popen(args, stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if child.returncode != 0:
            raise SystemExit(f"{' '.join(args)} failed ({child.returncode}):\n{err.read()}")
        return Measured(wall, usage.ru_maxrss / 1024, out.read())


def print_table(headers: list[str], rows: list[list[object]]) -> None:
    cells = [[str(c) for c in row] for row in [headers, *rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))
        if n == 0:
            print("  ".join("-" * w for w in widths))


def split_parts(assignment: pa.Table, ids) -> dict[str, Pairs]:
    return {part: Pairs(assignment.filter(pc.equal(assignment.column("part"), part)), ids)
            for part in (TRAIN, VALIDATION, TEST)}


def test_and_known(parts: dict[str, Pairs]) -> tuple[UserSongs, UserSongs]:
    """The test part's songs, and the songs left out when they are ranked: training and
    validation's."""
    return parts[TEST].matrix(), parts[TRAIN].matrix().merged(parts[VALIDATION].matrix())


# Validation Recall@10 kept rising with regularization up to 30 (0.01 to 1 all gave under
# 0.200); 100 falls back.
ALS_GRID = {"factors": (32, 64, 128), "regularization": (1.0, 10.0, 30.0, 100.0), "alpha": (1.0, 3.0)}


def inner_product_ranker(user_f: np.ndarray, item_f: np.ndarray) -> Callable[[UserSongs, UserSongs], Ranked]:
    """Ranks users by ``user_f . item_f`` exactly, searched in FAISS's flat index rather than
    sorted out of a users x songs table (the table's argpartition took most of an hour at
    100,000 users and 500,000 songs): ``rank(relevant, exclude)``."""
    index = flat_index(item_f)

    def rank(relevant: UserSongs, exclude: UserSongs) -> Ranked:
        return rank_metrics(lambda users: searched_excluding(index, user_f[users], exclude.dense(users), K),
                            relevant)

    return rank


def tuned_als(parts: dict[str, Pairs], interactions: pa.Table, ids: dict[str, list[str]]):
    """Fit ALS on the training part, each pair weighted by log(1 + its play count in
    ``interactions``), for each grid point; pick by validation Recall@10 over the users the
    engine's own validation judges by default (a seeded sample on large sets). The best
    point's (validation Recall@10, ranker, settings, fit s)."""
    import scipy.sparse as sparse
    from implicit.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    every = Pairs(interactions, ids)
    weights = sparse.csr_matrix((interactions.column("play_count").to_numpy().astype(np.float64),
                                 (every.users, every.songs)), shape=every.shape)
    train = parts[TRAIN]
    values = np.log1p(np.asarray(weights[train.users, train.songs]).ravel())
    judged = TrainingSpec()
    known = train.matrix()
    validation = parts[VALIDATION].matrix().sampled(judged.validation_users, judged.seed)
    best = None
    for factors, regularization, alpha in itertools.product(*ALS_GRID.values()):
        matrix = sparse.csr_matrix((values * alpha, (train.users, train.songs)), shape=train.shape)
        # implicit's own advice: its threads, not OpenBLAS's as well (it warns otherwise)
        with threadpool_limits(1, "blas"):
            model = AlternatingLeastSquares(factors=factors, regularization=regularization, iterations=15,
                                            random_state=0, num_threads=2)
            started = time.perf_counter()
            model.fit(matrix, show_progress=False)
            fit_s = time.perf_counter() - started
        rank = inner_product_ranker(np.asarray(model.user_factors), np.asarray(model.item_factors))
        val = rank(validation, known).recall
        if best is None or val > best[0]:
            best = (val, rank, {"factors": factors, "regularization": regularization, "alpha": alpha},
                    fit_s)
    return best


def reference_rankings(parts: dict[str, Pairs], interactions: pa.Table, ids: dict[str, list[str]],
                       als: bool = True) -> dict[str, Ranked]:
    """Popularity (training listeners) and, with ``als``, implicit ALS tuned on the validation
    part, each ranking the test part with the training and validation songs left out."""
    test, known = test_and_known(parts)
    trained = parts[TRAIN].songs[parts[TRAIN].songs >= 0]
    listeners = np.bincount(trained, minlength=len(ids["song"]))
    rankings = {"popularity": rank_by_popularity(listeners, test, known)}
    if als:
        _, rank, chosen, _ = tuned_als(parts, interactions, ids)
        rankings[f"implicit ALS {chosen}"] = rank(test, known)
    return rankings


def served_recommender(data_dir: Path, kind: str):
    """The newest trained ``kind`` of a benchmark's data directory (parquet store, registry in
    its engine.db), loaded as `engine recommend` loads it; its run directory beside."""
    from adapters.serving.recommender import CheckpointModelLoader
    from adapters.storage.parquet import ParquetInteractionRepository
    from adapters.storage.registry import SqlModelRegistry
    from application.recommending import chosen_version

    registry = SqlModelRegistry(f"sqlite:///{data_dir / 'engine.db'}", data_dir / "models")
    version = chosen_version(registry, kind)
    loader = CheckpointModelLoader(data_dir / "models", ParquetInteractionRepository(data_dir / "store"))
    return loader.load(version), registry.runs.resolve(version.artifact)


def ensure_trained(work: Path, kind: str) -> Path:
    """The engine data directory under ``work`` with a trained ``kind``: the default set
    generated, ingested and trained where any step is missing."""
    from adapters.storage.runs import RunStore

    raw, data_dir = work / "raw", work / "engine"
    if RunStore(data_dir / "models").current(kind) is None:
        if not (raw / "raw_sessions.csv").exists():
            measure([ENGINE, "generate", "--out", str(raw)])
        if not (data_dir / "store").exists():
            measure([ENGINE, "--data-dir", str(data_dir), "ingest", str(raw)])
        measure([ENGINE, "--data-dir", str(data_dir), "train", "--model", kind])
    return data_dir
