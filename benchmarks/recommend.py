"""Serving speed on the default synthetic set with gat-enhanced.

Prints: single-user top-10 with explanations after load (the first answer, then p50 / p99
over 1,000 users once 20 answers have warmed the process; target p99 <= 10 ms), all-users
top-10 to a file (target <= 2 s for 1,000 users x 5,000 songs) and the wall time of one
`engine recommend --user ... --explain` process from start to exit (target <= 3 s).
Run after benchmarks/train.py (it reuses its data directory), or it trains first.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ENGINE, ROOT, ensure_trained, measure, print_table, served_recommender  # noqa: E402

from domain.ports import SilentProgress  # noqa: E402

MODEL = "gat-enhanced"


def serving_figures(data_dir: Path, model: str, sample: int = 1000) -> dict[str, float]:
    """Load, first answer, p50 / p99 of single-user top-10 with explanations over ``sample``
    users, all users' top-10 to a file, and one `engine recommend --explain` process."""
    served_recommender(data_dir, model)  # exports the serving file where missing, untimed
    started = time.perf_counter()
    recommender, _ = served_recommender(data_dir, model)
    load_s = time.perf_counter() - started
    users = list(recommender.loaded.user_ids)[:sample]
    tick = time.perf_counter()
    recommender.recommend(users[-1], 10, explain=True)
    first_ms = (time.perf_counter() - tick) * 1000
    for user in users[-20:]:  # warm caches and allocator: the percentiles are of a serving process
        recommender.recommend(user, 10, explain=True)
    latencies = []
    for user in users:
        tick = time.perf_counter()
        recommender.recommend(user, 10, explain=True)
        latencies.append((time.perf_counter() - tick) * 1000)
    with tempfile.TemporaryDirectory() as tmp:
        tick = time.perf_counter()
        rows = recommender.recommend_all(10, False, Path(tmp) / "recs.parquet", SilentProgress())
        all_users_s = time.perf_counter() - tick
    walls = [measure([ENGINE, "--data-dir", str(data_dir), "recommend", "--user", users[0],
                      "--explain", "--model", model]).wall_s for _ in range(3)]
    return {"load_s": load_s, "first_ms": first_ms, "p50_ms": statistics.median(latencies),
            "p99_ms": float(np.percentile(latencies, 99)), "sampled": len(users),
            "all_users_s": all_users_s, "rows": rows, "users": len(recommender.loaded.user_ids),
            "songs": len(recommender.loaded.song_ids), "process_s": statistics.median(walls)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=ROOT / "bench-data" / "train")
    args = parser.parse_args()
    data_dir = ensure_trained(args.work, MODEL)
    f = serving_figures(data_dir, MODEL)
    print_table(["measure", "value", "target"], [
        ["model load (serving file + catalogue)", f"{f['load_s'] * 1000:.0f} ms", ""],
        ["first answer after load, top-10 + explanations", f"{f['first_ms']:.1f} ms", ""],
        [f"single user top-10 + explanations, p50 ({f['sampled']} users)", f"{f['p50_ms']:.2f} ms", ""],
        [f"single user top-10 + explanations, p99 ({f['sampled']} users)", f"{f['p99_ms']:.2f} ms",
         "<= 10 ms"],
        [f"all users top-10 ({f['users']:,} x {f['songs']:,} songs, {f['rows']:,} rows)",
         f"{f['all_users_s']:.2f} s", "<= 2 s"],
        ["`engine recommend --user ... --explain` process (median of 3)", f"{f['process_s']:.2f} s",
         "<= 3 s"],
    ])


if __name__ == "__main__":
    main()
