"""How cost and quality grow with the data: synthetic sets at 1x, 10x and 100x the default.

For each set (1x: 1,000 users / 5,000 songs / 500 artists; 10x and 100x scale all three):
`engine generate` and `engine ingest` (wall s, peak RSS), `engine train` of gat-basic and
gat-enhanced with the default settings (s per epoch after the first, whole run, peak RSS,
test Recall@10 / NDCG@10) beside popularity and implicit ALS (tuned on the validation part)
on the same split, all users' top-10 and single-user explained top-10 p99 of the best GAT;
then how an epoch's time grows from one set to the next. Then the same for the 12 real
listeners' Spotify exports in ../shared/data (ingested with their artists' Spotify genres),
split in time as real listening is scored: each listener's newest discoveries are the test.
Targets (issue 16): an epoch grows at most 12x for each 10x of data; at 10x the best GAT
beats ALS on both metrics and trains in at most 10 minutes; at 100x training takes at most
60 minutes and 12 GB, generate at most 2 minutes and 4 GB, all-users top-10 at most
5 minutes, explained p99 at most 20 ms.
With --standin-worlds N, also a stand-in for issue 16's held-out set of about 290 listeners'
exports: N renamed worlds of the 12 (benchmarks/spotify_standin.py), split in time.
Run: .venv/bin/python benchmarks/scale.py [--scales 1 10 100] [--no-spotify] [--device cpu|cuda]
     [--train-flags "..."] [--models gat-basic] [--standin-worlds 24]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
from pathlib import Path

import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    ENGINE,
    ROOT,
    SPOTIFY_EXPORTS,
    SPOTIFY_GENRES,
    Measured,
    measure,
    print_table,
    reference_rankings,
    split_parts,
)
from recommend import serving_figures  # noqa: E402
from spotify_standin import write_standin  # noqa: E402

from adapters.storage.parquet import ParquetInteractionRepository  # noqa: E402
from domain.training import DEVICES  # noqa: E402

BASE = {"users": 1000, "songs": 5000, "artists": 500}
GAT_MODELS = ("gat-basic", "gat-enhanced")


def gb(measured) -> str:
    return f"{measured.peak_rss_mb / 1024:.2f}"


def epoch_seconds(result: dict) -> float:
    """Median wall time of an epoch after the first (which carries one-off set-up)."""
    walls = [row["wall_s"] for row in result["history"]]
    return statistics.median(walls[1:] if len(walls) > 1 else walls)


def reference_figures(data_dir: Path, split_file: str) -> dict[str, tuple[float, float]]:
    """Popularity and tuned ALS on the split a GAT run used: (Recall@10, NDCG@10) each."""
    dataset = ParquetInteractionRepository(data_dir / "store").load()
    assert dataset is not None
    interactions = dataset.interactions
    ids = {"user": sorted(set(interactions.column("user_id").to_pylist())),
           "song": sorted(set(dataset.catalogue["songs"].column("song_id").to_pylist())
                          | set(interactions.column("song_id").to_pylist()))}
    parts = split_parts(pq.read_table(split_file), ids)
    return {name: (ranked.recall, ranked.ndcg)
            for name, ranked in reference_rankings(parts, interactions, ids).items()}


def generate_and_ingest(scale: int, work: Path) -> tuple[Path, Measured, Measured]:
    """The synthetic set at ``scale`` times the default, generated and ingested from a clean
    start: its data directory and both commands' measurements."""
    shutil.rmtree(work / f"{scale}x", ignore_errors=True)  # every figure from a clean start
    raw, data_dir = work / f"{scale}x" / "raw", work / f"{scale}x" / "engine"
    flags = [f"--{name}={value * scale}" for name, value in BASE.items()]
    generate = measure([ENGINE, "generate", "--out", str(raw), *flags, "--json"])
    ingest = measure([ENGINE, "--data-dir", str(data_dir), "ingest", str(raw), "--json"])
    return data_dir, generate, ingest


def ingest_spotify(work: Path, name: str = "spotify-12", exports: Path = SPOTIFY_EXPORTS,
                   genres: Path = SPOTIFY_GENRES) -> tuple[Path, Measured]:
    """Spotify exports (the 12 real listeners' by default) with their artists' genres,
    ingested from a clean start into ``work / name``."""
    shutil.rmtree(work / name, ignore_errors=True)
    data_dir = work / name / "engine"
    ingest = measure([ENGINE, "--data-dir", str(data_dir), "ingest", str(exports),
                      "--format", "spotify-history", "--artist-genres", str(genres), "--json"])
    return data_dir, ingest


def run_set(label: str, data_dir: Path, prepared: dict[str, Measured], device: str,
            train_flags: list[str], models: list[str]) -> dict:
    """The GATs trained on ``data_dir``, the references on the best one's split, its serving."""
    figures = {"label": label, "prepared": prepared, "train": {}}
    for model in models:
        run = measure([ENGINE, "--data-dir", str(data_dir), "train", "--model", model,
                       "--device", device, *train_flags, "--json"])
        figures["train"][model] = (run, json.loads(run.stdout))
    best = max(models, key=lambda m: figures["train"][m][1]["test"]["ndcg@10"])
    figures["best"] = best
    figures["references"] = reference_figures(data_dir, figures["train"][best][1]["files"]["split"])
    figures["serving"] = serving_figures(data_dir, best)
    return figures


def run_scale(scale: int, work: Path, device: str, train_flags: list[str], models: list[str]) -> dict:
    data_dir, generate, ingest = generate_and_ingest(scale, work)
    figures = run_set(f"{scale}x", data_dir, {"generate": generate, "ingest": ingest}, device, train_flags,
                      models)
    return {**figures, "scale": scale}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--device", default="cpu", choices=DEVICES)
    parser.add_argument("--work", type=Path, default=ROOT / "bench-data" / "scale")
    parser.add_argument("--train-flags", default="",
                        help="more `engine train` flags for both GAT models, "
                             "e.g. \"--l2 0.1 --ema-decay 0.99\"")
    parser.add_argument("--models", nargs="+", default=list(GAT_MODELS), choices=GAT_MODELS,
                        help="the GATs to train on every set (gat-enhanced at 100x takes hours)")
    parser.add_argument("--no-spotify", action="store_true",
                        help="leave out the 12 real listeners' Spotify exports")
    parser.add_argument("--standin-worlds", type=int, default=0,
                        help="also the stand-in for the held-out Spotify set: this many renamed "
                             "worlds of the 12 exports (24: 288 listeners; benchmarks/spotify_standin.py)")
    args = parser.parse_args()
    flags = args.train_flags.split()
    results = [run_scale(scale, args.work, args.device, flags, args.models) for scale in args.scales]
    sets = list(results)
    if not args.no_spotify:
        data_dir, ingest = ingest_spotify(args.work)
        sets.append(run_set("12 Spotify exports, temporal split", data_dir, {"ingest": ingest},
                            args.device, [*flags, "--split", "temporal"], args.models))
    if args.standin_worlds:
        exports, genres = write_standin(args.work / "standin-raw", args.standin_worlds)
        data_dir, ingest = ingest_spotify(args.work, "standin", exports, genres)
        sets.append(run_set(f"stand-in: {args.standin_worlds} worlds of the 12 exports, temporal split",
                            data_dir, {"ingest": ingest}, args.device, [*flags, "--split", "temporal"],
                            args.models))

    rows = []
    for f in sets:
        label = f["label"]
        for step, measured in f["prepared"].items():
            rows.append([label, step, f"{measured.wall_s:.1f}", gb(measured), "", "", ""])
        for model, (run, result) in f["train"].items():
            test = result["test"]
            rows.append([label, f"train {model} ({result['epochs_run']} epochs, "
                         f"{result['message_passing']} message passing)", f"{run.wall_s:.1f}",
                         gb(run), f"{epoch_seconds(result):.1f}", f"{test['recall@10']:.4f}",
                         f"{test['ndcg@10']:.4f}"])
        for name, (recall, ndcg) in f["references"].items():
            rows.append([label, name, "", "", "", f"{recall:.4f}", f"{ndcg:.4f}"])
        serving = f["serving"]
        rows.append([label, f"all users top-10 ({f['best']})", f"{serving['all_users_s']:.1f}",
                     "", "", "", ""])
        rows.append([label, f"explained top-10 p99 ms ({serving['sampled']} users)",
                     f"{serving['p99_ms']:.2f}", "", "", "", ""])
    print_table(["set", "what", "wall s", "peak GB", "s / epoch", "Recall@10", "NDCG@10"], rows)

    for smaller, larger in zip(results, results[1:], strict=False):
        for model in args.models:
            growth = epoch_seconds(larger["train"][model][1]) / epoch_seconds(smaller["train"][model][1])
            print(f"{model}: an epoch at {larger['scale']}x takes {growth:.1f}x its time at "
                  f"{smaller['scale']}x (target <= {1.2 * larger['scale'] / smaller['scale']:.0f}x)")


if __name__ == "__main__":
    main()
