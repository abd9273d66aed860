"""Listening context on and off, on a temporal split of logs with times.

For each set: ingest into an empty data directory, then `engine train --split temporal`
with and without `--context`, same model, seed and split (each listener's newest
discoveries are the test). Reported: the test ranked per (listener, hour of the week of
the first play), each group for its hour (what `engine recommend --at` answers), and per
listener for any time (what a request without a time gets).

Sets: the synthetic default set generated with `--hourly-tastes 0.8` (tastes depend on the
hour by construction) and without (they do not), the 12 listeners' Spotify exports of
``../shared/data/spotify-exports-sample`` with their artists' genres, and the Last.fm-1K
head (one listener, so only their own songs to rank).

    python benchmarks/context.py [--work DIR] [--models gat-basic gat-enhanced] [--sets ...]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import DATA, ENGINE, SPOTIFY_EXPORTS, SPOTIFY_GENRES, measure, print_table  # noqa: E402


def _synthetic(hourly: float):
    def ingest(work: Path, data_dir: Path) -> None:
        raw = work / f"raw-hourly-{hourly}"
        if not raw.exists():
            measure([ENGINE, "generate", "--out", str(raw), "--hourly-tastes", str(hourly)])
        measure([ENGINE, "--data-dir", str(data_dir), "ingest", str(raw)])
    return ingest


def _spotify(work: Path, data_dir: Path) -> None:
    measure([ENGINE, "--data-dir", str(data_dir), "ingest", str(SPOTIFY_EXPORTS),
             "--format", "spotify-history", "--artist-genres", str(SPOTIFY_GENRES)])


def _lastfm_1k(work: Path, data_dir: Path) -> None:
    log = DATA / "lastfm-1k-head5000" / "userid-timestamp-artid-artname-traid-traname.tsv"
    measure([ENGINE, "--data-dir", str(data_dir), "ingest", str(log), "--format", "lastfm-1k"])


SETS = {"synthetic-hourly": _synthetic(0.8), "synthetic": _synthetic(0.0), "spotify-12": _spotify,
        "lastfm-1k-head": _lastfm_1k}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--models", nargs="+", default=["gat-basic"])
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="engine-context-"))
    rows = []
    for name in args.sets:
        data_dir = work / name
        if not data_dir.exists():
            SETS[name](work, data_dir)
        for model in args.models:
            for context in ("--no-context", "--context"):
                run = measure([ENGINE, "--data-dir", str(data_dir), "train", "--model", model,
                               "--split", "temporal", context, "--seed", str(args.seed), "--json"])
                test = json.loads(run.stdout)["test"]
                rows.append([name, model, context == "--context", test["context_groups"],
                             f"{test['context_recall@10']:.4f}", f"{test['context_ndcg@10']:.4f}",
                             f"{test['recall@10']:.4f}", f"{test['ndcg@10']:.4f}", f"{run.wall_s:.0f}"])
                print(rows[-1], flush=True)
    print_table(["set", "model", "context", "(listener, hour) groups", "Recall@10 at the hour",
                 "NDCG@10 at the hour", "Recall@10 any time", "NDCG@10 any time", "train s"], rows)


if __name__ == "__main__":
    main()
