"""Import speed of Spotify extended-history exports: a directory of ~1M plays.

Writes 100 listener directories of Streaming_History_Audio_*.json files (10,000
plays per file, as Spotify splits them) once, then times `engine ingest --format
spotify-history`. Target: about 1M plays in under 30 s on 2 cores.
Run: .venv/bin/python benchmarks/import_spotify.py [--plays 1000000]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ENGINE, ROOT, measure, print_table  # noqa: E402

LISTENERS = 100
PER_FILE = 10_000
TRACKS = 50_000


def write_exports(root: Path, plays: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    per_listener = plays // LISTENERS
    durations = rng.integers(120_000, 360_000, TRACKS)
    for listener in range(LISTENERS):
        directory = root / f"listener_{listener:03d}"
        directory.mkdir(parents=True)
        tracks = rng.zipf(1.3, per_listener) % TRACKS
        played = (durations[tracks] * rng.beta(2.0, 0.6, per_listener)).astype(int)
        seconds = 1_672_531_200 + np.sort(rng.integers(0, 365 * 86_400, per_listener))
        for part, start in enumerate(range(0, per_listener, PER_FILE)):
            records = [{
                "ts": np.datetime_as_string(np.datetime64(int(s), "s")) + "Z", "ms_played": int(ms),
                "master_metadata_track_name": f"Track {t}",
                "master_metadata_album_artist_name": f"Artist {t % 5000}",
                "spotify_track_uri": f"spotify:track:{t:022d}", "episode_name": None,
                "reason_end": "trackdone", "skipped": None}
                for t, ms, s in zip(tracks[start:start + PER_FILE], played[start:start + PER_FILE],
                                    seconds[start:start + PER_FILE], strict=True)]
            (directory / f"Streaming_History_Audio_2023_{part}.json").write_text(json.dumps(records))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plays", type=int, default=1_000_000)
    parser.add_argument("--work", type=Path, default=ROOT / "bench-data" / "spotify")
    args = parser.parse_args()
    exports = args.work / f"exports-{args.plays}"
    if not exports.exists():
        print(f"writing {exports} ...", file=sys.stderr)
        write_exports(exports, args.plays)
    data_dir = args.work / "engine"
    shutil.rmtree(data_dir, ignore_errors=True)
    run = measure([ENGINE, "--data-dir", str(data_dir), "ingest", str(exports), "--format",
                   "spotify-history", "--json"])
    report = json.loads(run.stdout)
    size_mb = sum(f.stat().st_size for f in exports.rglob("*.json")) / 1e6
    print_table(["plays", "JSON MB", "listeners", "interactions", "wall s", "plays/s", "peak RSS MB"],
                [[f"{report['rows_read']:,}", f"{size_mb:.0f}", f"{LISTENERS}", f"{report['interactions']:,}",
                  f"{run.wall_s:.1f}", f"{report['rows_read'] / run.wall_s:,.0f}", f"{run.peak_rss_mb:.0f}"]])
    print("target: ~1M plays in < 30 s")


if __name__ == "__main__":
    main()
