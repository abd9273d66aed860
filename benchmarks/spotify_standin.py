"""A stand-in for a few hundred listeners' Spotify exports, made from the 12 real ones.

Issue 16's held-out set (about 290 listeners' account-data exports, 450,000 songs) is kept
from us; the 12 real exports in ../shared/data are all we have of that format. This writes
``worlds`` copies of them side by side (listener ``listener_01_w03`` ...), each copy a world
of its own: every track and artist renamed ``NAME [w03]``, so worlds share no songs and no
artists, and the artist-genre table gains each renamed artist's genres. With
``--shared-artists`` only the tracks are renamed, as in the stand-in of 2026-12-06: every
cold song then has identical twins in the other worlds (same artist, same genres, no
listener), which no model can tell apart, so that variant measures an artefact, not the data.

Run: .venv/bin/python benchmarks/spotify_standin.py OUT [--worlds 24] [--shared-artists]
then `engine ingest OUT/exports --format spotify-history --artist-genres OUT/artist_genres.csv`.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SPOTIFY_EXPORTS, SPOTIFY_GENRES  # noqa: E402


def world_tag(world: int) -> str:
    return f"w{world:02d}"


def write_standin(out: Path, worlds: int, shared_artists: bool = False) -> tuple[Path, Path]:
    """``worlds`` renamed copies of the 12 exports under ``out``: (exports folder, genre table)."""
    shutil.rmtree(out, ignore_errors=True)
    exports = out / "exports"
    renamed = ("trackName",) if shared_artists else ("trackName", "artistName")
    for listener in sorted(p for p in SPOTIFY_EXPORTS.iterdir() if p.is_dir()):
        for export in sorted(listener.glob("*.json")):
            plays = json.loads(export.read_text(encoding="utf-8"))  # read once, written per world
            for world in range(worlds):
                folder = exports / f"{listener.name}_{world_tag(world)}"
                folder.mkdir(parents=True, exist_ok=True)
                copies = [{**play, **{key: f"{play[key]} [{world_tag(world)}]"
                                      for key in renamed if play.get(key)}} for play in plays]
                (folder / export.name).write_text(json.dumps(copies), encoding="utf-8")
    genres = out / "artist_genres.csv"
    with SPOTIFY_GENRES.open(encoding="utf-8", newline="") as source, \
            genres.open("w", encoding="utf-8", newline="") as target:
        reader, writer = csv.reader(source), csv.writer(target)
        writer.writerow(next(reader))
        for name, tags in reader:
            names = [name] if shared_artists else [f"{name} [{world_tag(w)}]" for w in range(worlds)]
            writer.writerows([artist, tags] for artist in names)
    return exports, genres


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--worlds", type=int, default=24)
    parser.add_argument("--shared-artists", action="store_true",
                        help="rename only the tracks (worlds share artists and their genres)")
    args = parser.parse_args()
    exports, genres = write_standin(args.out, args.worlds, args.shared_artists)
    print(f"{exports} ({args.worlds * 12} listeners); genres: {genres}")


if __name__ == "__main__":
    main()
