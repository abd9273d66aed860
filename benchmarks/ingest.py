"""Ingest throughput and memory: 1M and 10M session rows over the same 200k (user, song) pairs.

Memory follows the number of distinct pairs plus each play's 8-byte identity (kept so that a
play seen twice counts once): the 10M-row run may peak at most 64 bytes a play above the
1M-row run (identities, the map that finds repeats, the sort that merges them). Target: 10M
rows in at most 20 s wall.
Run: .venv/bin/python benchmarks/ingest.py [--rows 1000000 10000000]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ENGINE, ROOT, measure, print_table  # noqa: E402

PAIRS = 200_000
USERS = 20_000
SONGS = 50_000
CHUNK = 1_000_000


def write_sessions(path: Path, rows: int, seed: int = 0) -> None:
    """Rows drawn over one fixed set of PAIRS distinct pairs; every pair appears at least once."""
    rng = np.random.default_rng(seed)
    pair_rng = np.random.default_rng(12345)  # the same pairs for every file
    codes = pair_rng.choice(USERS * SONGS, size=PAIRS, replace=False)
    pair_user, pair_song = codes // SONGS, codes % SONGS
    duration = 120_000 + pair_rng.integers(0, 240_000, SONGS)
    options = pacsv.WriteOptions(quoting_style="needed")
    with pacsv.CSVWriter(path, pa.schema([("user_id", pa.string()), ("track_id", pa.string()),
                                          ("artist_id", pa.string()), ("timestamp", pa.string()),
                                          ("ms_played", pa.int64()),
                                          ("track_duration_ms", pa.int64())]), write_options=options) as w:
        for start in range(0, rows, CHUNK):
            n = min(CHUNK, rows - start)
            which = rng.integers(0, PAIRS, n)
            which[: max(0, min(n, PAIRS - start))] = np.arange(start, min(start + n, PAIRS))
            users, songs = pair_user[which], pair_song[which]
            seconds = 1_704_067_200 + rng.integers(0, 90 * 86_400, n)
            stamps = pa.array(seconds, pa.timestamp("s")).cast(pa.string())
            w.write_table(pa.table({
                "user_id": pa.array(np.char.add("u", users.astype(str))),
                "track_id": pa.array(np.char.add("t", songs.astype(str))),
                "artist_id": pa.array(np.char.add("a", (songs % 5000).astype(str))),
                "timestamp": stamps,
                "ms_played": (duration[songs] * rng.random(n)).astype(np.int64),
                "track_duration_ms": duration[songs],
            }))


def write_tracks(path: Path) -> None:
    songs = np.arange(SONGS)
    pacsv.write_csv(pa.table({"track_id": np.char.add("t", songs.astype(str)),
                              "artist_id": np.char.add("a", (songs % 5000).astype(str))}), path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--work", type=Path, default=ROOT / "bench-data" / "ingest")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    tracks = args.work / "tracks.csv"
    if not tracks.exists():
        write_tracks(tracks)
    results = []
    for rows in args.rows:
        sessions = args.work / f"sessions-{rows}.csv"
        if not sessions.exists():
            print(f"writing {sessions} ...", file=sys.stderr)
            write_sessions(sessions, rows)
        data_dir = args.work / f"engine-{rows}"
        shutil.rmtree(data_dir, ignore_errors=True)
        run = measure([ENGINE, "--data-dir", str(data_dir), "ingest", "--sessions", str(sessions),
                       "--tracks", str(tracks), "--json"])
        report = json.loads(run.stdout)
        assert report["interactions"] == PAIRS, report
        results.append((rows, run, sessions.stat().st_size))
    base_rows, base_run, _ = results[0]

    def per_play(rows: int, run) -> str:
        extra = rows - base_rows
        return f"{(run.peak_rss_mb - base_run.peak_rss_mb) * 1e6 / extra:.0f}" if extra else "-"

    print_table(
        ["rows", "file MB", "pairs", "wall s", "rows/s", "peak RSS MB", "RSS bytes/play above first"],
        [[f"{rows:,}", f"{size / 1e6:.0f}", f"{PAIRS:,}", f"{run.wall_s:.1f}",
          f"{rows / run.wall_s:,.0f}", f"{run.peak_rss_mb:.0f}", per_play(rows, run)]
         for rows, run, size in results])
    print("targets: 10M rows <= 20 s wall; peak RSS <= 64 bytes a play above the first run")


if __name__ == "__main__":
    main()
