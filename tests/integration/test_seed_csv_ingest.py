"""Ingest of real CSV files in the generator's layout into real parquet and SQLite stores."""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow.csv as pacsv
import pytest

from adapters.ingest.arrow_aggregator import ArrowInteractionAggregator
from adapters.sources import seed_csv, tabular
from adapters.sources.seed_csv import SeedCsvSource
from adapters.storage.parquet import ParquetInteractionRepository
from adapters.storage.sql import SqlAlchemyInteractionRepository
from application.ingest_sessions import IngestCommand, IngestSessions
from domain.errors import InvalidInputFile
from domain.ports import SourceRequest


def _ingest(repository, path: Path, rejects: Path | None = None, **files):
    use_case = IngestSessions(SeedCsvSource(), ArrowInteractionAggregator(), repository)
    return use_case.execute(IngestCommand(SourceRequest(path=path, files=files, rejects_path=rejects)))


def _rows(repository):
    return sorted(repository.load().interactions.to_pylist(), key=lambda r: (r["user_id"], r["song_id"]))


def _read_sessions(path: Path) -> list[list[str]]:
    with path.open() as handle:
        return list(csv.reader(handle))


def _write_sessions(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows(rows)


def test_parquet_and_sqlite_hold_the_same_interactions(small_raw_dir, tmp_path):
    parquet = ParquetInteractionRepository(tmp_path / "store")
    sqlite = SqlAlchemyInteractionRepository(f"sqlite:///{tmp_path / 'e.db'}")
    report = _ingest(parquet, small_raw_dir)
    _ingest(sqlite, small_raw_dir)
    assert report.rows_read == pacsv.read_csv(small_raw_dir / "raw_sessions.csv").num_rows
    assert _rows(parquet) == _rows(sqlite)
    assert parquet.stats() == sqlite.stats()


def test_counts_match_an_independent_count_of_the_csv(small_raw_dir, tmp_path):
    repository = ParquetInteractionRepository(tmp_path / "store")
    _ingest(repository, small_raw_dir)
    rows = _read_sessions(small_raw_dir / "raw_sessions.csv")[1:]
    pairs = {(r[0], r[1]) for r in rows}
    stats = repository.stats()
    assert (stats.interactions, stats.plays) == (len(pairs), len(rows))
    assert (stats.songs, stats.artists, stats.genres) == (300, 40, 10)


def test_split_file_ingested_in_two_parts_equals_whole(raw_copy, small_raw_dir, tmp_path):
    header, *rows = _read_sessions(raw_copy / "raw_sessions.csv")
    half = len(rows) // 2
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    _write_sessions(first, [header, *rows[:half]])
    _write_sessions(second, [header, *rows[half:]])
    tracks = raw_copy / "tracks.csv"
    whole = ParquetInteractionRepository(tmp_path / "whole")
    _ingest(whole, small_raw_dir)
    parts = ParquetInteractionRepository(tmp_path / "parts")
    _ingest(parts, None, sessions=first, tracks=tracks)
    _ingest(parts, None, sessions=second, tracks=tracks)
    rounded = [[{k: round(v, 9) if isinstance(v, float) else v for k, v in r.items()} for r in _rows(x)]
               for x in (whole, parts)]
    assert rounded[0] == rounded[1]


def test_bad_rows_are_rejected_with_line_and_reason_and_the_rest_ingested(raw_copy, tmp_path):
    sessions = raw_copy / "raw_sessions.csv"
    header, *rows = _read_sessions(sessions)
    good = rows[0]
    bad = {
        "unparseable or impossible timestamp": [good[0], good[1], good[2], "yesterday", good[4], good[5]],
        "non-numeric or out-of-range ms_played": [good[0], good[1], good[2], good[3], "lots", good[5]],
        "negative ms_played": [good[0], good[1], good[2], good[3], "-5", good[5]],
        "zero or negative track_duration_ms": [*good[:5], "0"],
        "missing, non-numeric or out-of-range track_duration_ms": [*good[:5], ""],
        "track_id not in tracks.csv": [good[0], "track_nope", *good[2:]],
        "blank user_id": [" ", *good[1:]],
    }
    _write_sessions(sessions, [header, *rows, *bad.values()])
    rejects = tmp_path / "rejects.csv"
    report = _ingest(ParquetInteractionRepository(tmp_path / "store"), raw_copy, rejects)
    assert report.rows_read == len(rows) + len(bad)
    assert report.rows_rejected == len(bad)
    listed = {r["reason"]: int(r["line"]) for r in csv.DictReader(rejects.open())}
    first_bad_line = len(rows) + 2
    assert listed == {why: first_bad_line + i for i, why in enumerate(bad)}
    assert report.plays == len(rows)


def test_missing_ms_played_column_fails_and_leaves_the_repository_unchanged(raw_copy, small_raw_dir,
                                                                           tmp_path):
    repository = ParquetInteractionRepository(tmp_path / "store")
    _ingest(repository, small_raw_dir)
    before = repository.load()
    header, *rows = _read_sessions(raw_copy / "raw_sessions.csv")
    drop = header.index("ms_played")
    _write_sessions(raw_copy / "raw_sessions.csv",
                    [[c for i, c in enumerate(r) if i != drop] for r in [header, *rows]])
    with pytest.raises(InvalidInputFile, match="ms_played"):
        _ingest(repository, raw_copy)
    assert repository.load().interactions.equals(before.interactions)


@pytest.mark.parametrize("content, problem", [("", "empty"), ("\x00\x01\x02garbage\xff\xfe", "binary"),
                                              ("user_id,track_id\n", "missing required")])
def test_unusable_session_files_are_named_in_the_error(raw_copy, content, problem):
    (raw_copy / "raw_sessions.csv").write_bytes(content.encode("latin-1"))
    with pytest.raises(InvalidInputFile) as error:
        SeedCsvSource().open(SourceRequest(path=raw_copy))
    assert "raw_sessions.csv" in str(error.value) and problem in str(error.value)


@pytest.mark.parametrize("backend", ["parquet", "sqlite"])
def test_an_ingest_interrupted_half_way_leaves_the_repository_as_it_was(
        backend, raw_copy, small_raw_dir, tmp_path, monkeypatch):
    repository = (ParquetInteractionRepository(tmp_path / "store") if backend == "parquet"
                  else SqlAlchemyInteractionRepository(f"sqlite:///{tmp_path / 'e.db'}"))
    header, *rows = _read_sessions(raw_copy / "raw_sessions.csv")
    first = tmp_path / "first.csv"
    _write_sessions(first, [header, *rows[:100]])
    _ingest(repository, None, sessions=first, tracks=raw_copy / "tracks.csv")
    before = _rows(repository)

    monkeypatch.setattr(tabular, "BLOCK_SIZE", 4096)  # many batches
    original = seed_csv.SeedCsvFeed._validate
    calls = {"n": 0}

    def failing_validate(self, batch):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt  # the user pressed Ctrl-C half way
        return original(self, batch)

    monkeypatch.setattr(seed_csv.SeedCsvFeed, "_validate", failing_validate)
    with pytest.raises(KeyboardInterrupt):
        _ingest(repository, small_raw_dir)
    assert _rows(repository) == before
    assert len(repository.load().sources) == 1


def test_a_file_that_stops_parsing_part_way_is_a_whole_file_error(raw_copy, tmp_path, monkeypatch):
    sessions = raw_copy / "raw_sessions.csv"
    with sessions.open("a") as handle:
        handle.write("user_0001,track_0001\n")
    repository = ParquetInteractionRepository(tmp_path / "store")
    with pytest.raises(InvalidInputFile, match="raw_sessions.csv: not a readable"):
        _ingest(repository, raw_copy)
    monkeypatch.setattr(tabular, "BLOCK_SIZE", 1 << 16)  # the bad line now lies past the first block
    with pytest.raises(InvalidInputFile, match="raw_sessions.csv: unreadable near row"):
        _ingest(repository, raw_copy)
    assert repository.load() is None
