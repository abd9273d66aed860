"""The same play seen twice counts once, whichever files and ingests it arrives in."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from tests.e2e.conftest import Engine


@pytest.fixture
def engine(tmp_path, monkeypatch) -> Engine:
    return Engine(tmp_path, monkeypatch)


def _plays(first: int, last: int) -> list[dict]:
    """Spotify account-data records, one play a minute, three songs in turn."""
    return [{"endTime": f"2024-03-01 10:{minute:02d}", "artistName": "Artist",
             "trackName": f"Song {minute % 3}", "msPlayed": 60_000 + minute} for minute in range(first, last)]


def _export(tmp_path, folder: str, name: str, records: list[dict]):
    directory = tmp_path / folder
    directory.mkdir(exist_ok=True)
    (directory / name).write_text(json.dumps(records), encoding="utf-8")
    return directory


def _ingest(engine, path, *args, backend="parquet") -> dict:
    return engine.json("--data-dir", "d", "--backend", backend, "ingest", path,
                       "--format", "spotify-history", "--user", "me", *args)


def _play_counts(tmp_path) -> dict[tuple[str, str], int]:
    table = pq.read_table(next((tmp_path / "d" / "store").glob("v-*/interactions.parquet")))
    return {(u, s): n for u, s, n in zip(*(table.column(c).to_pylist()
                                             for c in ("user_id", "song_id", "play_count")), strict=True)}


@pytest.mark.parametrize("backend", ["parquet", "sqlite"])
def test_overlapping_exports_ingested_one_after_the_other_store_each_play_once(engine, tmp_path, backend):
    first = _ingest(engine, _export(tmp_path, "january", "StreamingHistory0.json", _plays(0, 30)),
                    backend=backend)
    second = _ingest(engine, _export(tmp_path, "february", "StreamingHistory0.json", _plays(20, 50)),
                     backend=backend)
    assert (first["plays"], first["plays_repeated"]) == (30, 0)
    assert (second["plays"], second["plays_repeated"]) == (50, 10)


def test_the_same_plays_in_other_bytes_add_nothing(engine, tmp_path):
    records = _plays(0, 12)
    _ingest(engine, _export(tmp_path, "a", "StreamingHistory0.json", records))
    before = _play_counts(tmp_path)
    renamed = _ingest(engine, _export(tmp_path, "b", "StreamingHistory7.json", records))
    assert renamed["skipped"]  # the same bytes are the same input, whatever the file is called
    rewritten = tmp_path / "c"
    rewritten.mkdir()
    (rewritten / "StreamingHistory0.json").write_text(json.dumps(records[::-1], indent=2), encoding="utf-8")
    again = _ingest(engine, rewritten)
    assert not again["skipped"] and (again["plays_repeated"], again["plays"]) == (12, 12)
    assert _play_counts(tmp_path) == before


def test_one_after_the_other_stores_the_same_plays_as_all_at_once(engine, tmp_path, monkeypatch):
    january = _export(tmp_path, "january", "StreamingHistory0.json", _plays(0, 30))
    february = _export(tmp_path, "february", "StreamingHistory0.json", _plays(20, 50))
    _ingest(engine, january)
    _ingest(engine, february)
    one_by_one = _play_counts(tmp_path)

    together = tmp_path / "together"
    together.mkdir()
    monkeypatch.chdir(together)
    both = _export(together, "both", "StreamingHistory0.json", _plays(0, 30))
    (both / "StreamingHistory1.json").write_text(json.dumps(_plays(20, 50)), encoding="utf-8")
    report = Engine(together, monkeypatch).json("--data-dir", "d", "ingest", both, "--format",
                                                "spotify-history", "--user", "me")
    assert report["plays_repeated"] == 10
    assert _play_counts(together) == one_by_one


def test_a_song_played_again_later_is_another_play(engine, tmp_path):
    same_song = [{**record, "trackName": "Song 0"} for record in _plays(0, 5)]
    report = _ingest(engine, _export(tmp_path, "me", "StreamingHistory0.json", same_song))
    assert (report["plays"], report["plays_repeated"]) == (5, 0)


def test_a_seed_file_copied_elsewhere_is_not_counted_twice(engine, tmp_path, small_raw_dir):
    first = engine.json("--data-dir", "d", "ingest", small_raw_dir)
    copy = tmp_path / "copy"
    copy.mkdir()
    for path in small_raw_dir.iterdir():
        (copy / path.name).write_bytes(path.read_bytes())
    (copy / "raw_sessions.csv").write_bytes((small_raw_dir / "raw_sessions.csv").read_bytes() + b"\n")
    again = engine.json("--data-dir", "d", "ingest", copy)
    assert not again["skipped"]  # other bytes, so another input: its plays are all known
    assert again["plays"] == first["plays"]
    assert again["plays_repeated"] == again["rows_read"] - again["rows_rejected"]
