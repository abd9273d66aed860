"""The three interaction stores side by side: parquet files, SQLite and PostgreSQL.

For the 10x synthetic set (``engine generate --users 10000 --songs 50000 --artists 5000``):
`engine ingest` of the whole raw set into an empty store of each backend (wall s, peak GB of
the ingest process), then one small write into that full store (100 posted plays of 10
listeners, as `POST /v1/plays` stores them: the SQL stores read and write only those
listeners' rows, parquet rewrites its files whole) and one listener's listening read back (what a fold-in
reads). PostgreSQL is a throwaway server started here (``tests/postgres.py``; PostgreSQL 15
is installed on these machines), or the server of ``--postgres-url``.

    python benchmarks/backends.py [--work DIR] [--scale 10] [--postgres-url URL]
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import ENGINE, measure, print_table  # noqa: E402
from tests import postgres  # noqa: E402

SCALES = {1: ("1000", "5000", "500"), 10: ("10000", "50000", "5000"), 100: ("100000", "500000", "50000")}


def _store(backend: str, url: str | None):
    if backend == "parquet":
        from adapters.storage.parquet import ParquetInteractionRepository

        return ParquetInteractionRepository(Path(url))
    from adapters.storage.sql import SqlAlchemyInteractionRepository

    return SqlAlchemyInteractionRepository(url)


def _small_write_and_read(backend: str, url: str) -> tuple[float, float]:
    """Seconds to store 100 posted plays into the full store, and to read one listener back."""
    from adapters.ingest.arrow_aggregator import ArrowInteractionAggregator
    from adapters.sources.posted import PostedPlaysSource
    from application.ingest_sessions import IngestCommand, IngestSessions
    from domain.ports import SourceRequest

    repository = _store(backend, url)
    plays = [{"user_id": f"posted_{i % 10}", "song_id": f"track_{i:04d}", "ms_played": 150_000,
              "played_at": f"2026-11-30T10:{i % 60:02d}:{i // 60:02d}Z"} for i in range(100)]
    ingest = IngestSessions(PostedPlaysSource(), ArrowInteractionAggregator(), repository)
    started = time.perf_counter()
    ingest.execute(IngestCommand(SourceRequest(options={"plays": plays}), strict=True, small=True))
    write_s = time.perf_counter() - started
    started = time.perf_counter()
    assert repository.listening_of(["posted_3"]).interactions.num_rows == 10
    return write_s, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--scale", type=int, choices=sorted(SCALES), default=10)
    parser.add_argument("--postgres-url", default=None, help="an empty PostgreSQL database to use")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="engine-backends-"))
    raw = work / f"raw-{args.scale}x"
    users, songs, artists = SCALES[args.scale]
    if not (raw / "raw_sessions.csv").exists():
        generated = measure([ENGINE, "generate", "--out", str(raw), "--users", users, "--songs", songs,
                             "--artists", artists])
        print(f"generated the {args.scale}x set in {generated.wall_s:.0f} s", flush=True)
    with contextlib.ExitStack() as stack:
        postgres_url = args.postgres_url
        if postgres_url is None:
            why_not = postgres.missing()
            if why_not:
                print(f"PostgreSQL left out: {why_not}")
            else:
                server = stack.enter_context(postgres.postgres_server(work / "postgres"))
                postgres_url = postgres.new_database(server)
        targets = [("parquet", str(work / "parquet" / "store"), []),
                   ("sqlite", f"sqlite:///{work / 'sqlite' / 'engine.db'}", ["--backend", "sqlite"])]
        if postgres_url:
            targets.append(("postgresql", postgres_url, ["--backend", "postgresql"]))
        rows = []
        for backend, url, flags in targets:
            data_dir = work / backend
            data_dir.mkdir(parents=True, exist_ok=True)
            db = ["--db-url", url] if flags else []
            ingested = measure([ENGINE, "--data-dir", str(data_dir), *flags, *db, "ingest", str(raw)])
            write_s, read_s = _small_write_and_read(backend, url)
            rows.append([backend, f"{ingested.wall_s:.1f}", f"{ingested.peak_rss_mb / 1024:.2f}",
                         f"{write_s:.2f}", f"{read_s * 1000:.0f}"])
            print(f"{backend}: ingest {ingested.wall_s:.1f} s", flush=True)
    print(f"\n{args.scale}x synthetic set ({users} users, {songs} songs, {artists} artists), 2 cores\n")
    print_table(["backend", "ingest s", "ingest peak GB", "100 posted plays s", "one listener read ms"], rows)


if __name__ == "__main__":
    main()
