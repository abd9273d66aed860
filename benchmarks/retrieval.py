"""Two-stage ranking against ranking the whole catalogue, on trained models.

For every user of each trained GAT model found (the default synthetic set of
benchmarks/train.py, HetRec of benchmarks/lastfm_hetrec.py, the 10x set of benchmarks/scale.py),
the top 10 unheard songs are ranked twice: by the full model over the whole catalogue, and in
two stages (candidates by inner product and the history songs' neighbours, then the full
model on them). Prints the
recall of the exact top 10 within the two-stage top 10 (target >= 0.99 at the default
candidate count), the test Recall@10 both ways and the time each takes for all users.
Run after those benchmarks: .venv/bin/python benchmarks/retrieval.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, print_table, served_recommender, split_parts, test_and_known  # noqa: E402

from adapters.evaluation.protocol import RANKING_CHUNK, rank_metrics  # noqa: E402
from adapters.models.factory import load_checkpoint  # noqa: E402
from adapters.scoring.served import LoadedModel  # noqa: E402
from adapters.storage.parquet import ParquetInteractionRepository  # noqa: E402
from adapters.storage.runs import RunStore  # noqa: E402

SETS = {"default synthetic": ROOT / "bench-data" / "train" / "engine",
        "HetRec 2011 Last.fm": ROOT / "bench-data" / "hetrec" / "engine",
        "10x synthetic": ROOT / "bench-data" / "scale" / "10x" / "engine"}
KINDS = ("gat-basic", "gat-enhanced")


def ranked(served: LoadedModel, users: np.ndarray, exclude) -> tuple[np.ndarray, float]:
    """Each user's top 10 song indices and the seconds it took, in the evaluation's chunks of
    users (the exact ranking scores every song for each: at 500,000 songs, a thousand users
    at once ran out of 24 GB)."""
    started = time.perf_counter()
    top = np.concatenate([served.top_k(users[start:start + RANKING_CHUNK], 10, exclude)[1]
                          for start in range(0, len(users), RANKING_CHUNK)])
    return top, time.perf_counter() - started


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, help="measure this trained data directory instead")
    parser.add_argument("--users", type=int, default=0,
                        help="rank a seeded sample of this many users (0: all; the exact ranking of "
                             "a large catalogue costs seconds a user)")
    args = parser.parse_args()
    sets = {str(args.data_dir): args.data_dir} if args.data_dir else SETS
    rows = []
    for name, data_dir in sets.items():
        if not (data_dir / "store").exists():
            print(f"{name}: {data_dir} not found; run its benchmark first")
            continue
        repository = ParquetInteractionRepository(data_dir / "store")
        for kind in KINDS:
            if RunStore(data_dir / "models").current(kind) is None:
                continue
            recommender, run = served_recommender(data_dir, kind)
            two_stage = recommender.loaded
            arrays = dict(np.load(run / "serving.npz"))
            exact = LoadedModel(arrays, repository.load(), query_candidates=len(two_stage.song_ids))
            users = np.arange(len(two_stage.user_ids))
            if args.users:
                users = np.sort(np.random.default_rng(0).permutation(len(users))[:args.users])
            best, exact_s = ranked(exact, users, exact.heard)
            found, two_stage_s = ranked(two_stage, users, two_stage.heard)
            recall = np.mean([len(set(b) & set(f)) / 10 for b, f in zip(best, found, strict=True)])
            model, _ = load_checkpoint(run / "model.pt")
            split = pq.read_table(run / "split.parquet")
            test, known = test_and_known(split_parts(split, model.bundle.ids))
            relevant = test.keeping(users)
            figures = [rank_metrics(lambda u, m=m, known=known: m.top_k(u, 10, known)[1], relevant).recall
                       for m in (exact, two_stage)]
            rows.append([name, kind, f"{len(two_stage.song_ids):,}", two_stage.retrieval.pool,
                         f"{recall:.4f}", f"{figures[0]:.4f} / {figures[1]:.4f}",
                         f"{len(users):,}", f"{exact_s:.2f} / {two_stage_s:.2f}"])
    print_table(["set", "model", "songs", "candidates", "exact top 10 found (target >= 0.99)",
                 "test Recall@10 exact / two-stage", "users", "their lists s, exact / two-stage"], rows)


if __name__ == "__main__":
    main()
