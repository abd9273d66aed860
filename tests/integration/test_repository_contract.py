"""One contract, every InteractionRepository: the fake cannot drift from the real ones."""

from __future__ import annotations

from dataclasses import replace

import pyarrow as pa
import pytest

from adapters.common.tables import CATALOGUE_SCHEMAS, PLAY_AGGREGATES, PLAY_KEYS
from adapters.ingest.arrow_aggregator import with_edge_weights
from adapters.storage.parquet import ParquetInteractionRepository
from adapters.storage.sql import SqlAlchemyInteractionRepository
from domain.ports import Catalogue, Dataset, SourceRecord
from tests.fakes import InMemoryInteractionRepository


def _dataset(users: int, tag: str) -> Dataset:
    aggregates = pa.table({
        "user_id": [f"u{i}" for i in range(users)], "song_id": ["s1"] * users,
        "play_count": [i + 1 for i in range(users)], "completion_sum": [0.5 * (i + 1) for i in range(users)],
        "first_played": [10] * users, "last_played": [20] * users}, schema=PLAY_AGGREGATES)
    tables = {name: schema.empty_table() for name, schema in CATALOGUE_SCHEMAS.items()}
    tables["songs"] = pa.table({"song_id": ["s1", "s2"], "song_name": ["One", None],
                                "artist_id": ["a1", None], "duration_ms": [1000, None]},
                               schema=CATALOGUE_SCHEMAS["songs"])
    tables["artists"] = pa.table({"artist_id": ["a1"], "artist_name": ["A"]},
                                 schema=CATALOGUE_SCHEMAS["artists"])
    source = SourceRecord(f"hash-{tag}", f"{tag}.csv", users, 0, "2026-01-01T00:00:00+00:00")
    return Dataset(Catalogue(tables), with_edge_weights(aggregates), (source,))


@pytest.fixture(params=["memory", "parquet", "sqlite", "postgresql"])
def repository(request, tmp_path):
    if request.param == "memory":
        return InMemoryInteractionRepository()
    if request.param == "parquet":
        return ParquetInteractionRepository(tmp_path / "store")
    if request.param == "postgresql":
        return SqlAlchemyInteractionRepository(request.getfixturevalue("postgres_database"))
    return SqlAlchemyInteractionRepository(f"sqlite:///{tmp_path / 'engine.db'}")


def test_empty_repository(repository):
    assert repository.load() is None
    assert repository.stats().interactions == 0
    assert not repository.has_source("anything")


def test_save_then_load_round_trips(repository):
    dataset = _dataset(3, "a")
    repository.save(dataset)
    loaded = repository.load()
    assert loaded.interactions.equals(dataset.interactions)
    assert loaded.catalogue["songs"].to_pylist() == dataset.catalogue["songs"].to_pylist()
    assert loaded.sources == dataset.sources
    assert repository.has_source("hash-a") and not repository.has_source("hash-b")


def test_listening_of_reads_those_listeners_alone(repository):
    assert repository.listening_of(["u1"]).interactions.num_rows == 0  # nothing stored yet
    dataset = _dataset(3, "a")
    repository.save(dataset)
    listening = repository.listening_of(["u1", "nobody"])
    assert listening.interactions.to_pylist() == [r for r in dataset.interactions.to_pylist()
                                                  if r["user_id"] == "u1"]
    assert listening.songs.to_pylist() == [dataset.catalogue["songs"].to_pylist()[0]]  # s1, not s2
    nobody = repository.listening_of(["nobody"])
    assert (nobody.interactions.num_rows, nobody.songs.num_rows) == (0, 0)


def test_stats_count_what_is_held(repository):
    repository.save(_dataset(4, "a"))
    stats = repository.stats()
    assert (stats.users, stats.songs, stats.artists, stats.interactions, stats.plays) == (4, 2, 1, 4, 10)


def test_save_replaces_the_previous_dataset(repository):
    repository.save(_dataset(4, "a"))
    repository.save(_dataset(2, "b"))
    assert repository.load().interactions.num_rows == 2
    assert repository.has_source("hash-b") and not repository.has_source("hash-a")


class _ExplodingTable:
    """Fails when a repository writes it, after the catalogue tables were written."""

    num_rows = 1

    def cast(self, schema):
        raise RuntimeError("disk on fire")


def _keys(*keys: int) -> pa.Table:
    return pa.table({"play_key": list(keys)}, schema=PLAY_KEYS)


def _stored_keys(repository) -> list[int]:
    held: list[list[int]] = []
    repository.update(lambda current: held.append(sorted(current.play_keys.column("play_key").to_pylist())))
    return held[0]


def test_writers_read_the_play_keys_they_keep(repository):
    repository.update(lambda _none: replace(_dataset(2, "a"), play_keys=_keys(3, -(2**63), 2**63 - 1)))
    assert _stored_keys(repository) == [-(2**63), 3, 2**63 - 1]
    repository.update(lambda current: replace(current, play_keys=_keys(3, 9)))
    assert _stored_keys(repository) == [3, 9]
    assert repository.load().interactions.num_rows == 2


def test_a_change_that_returns_nothing_leaves_the_store(repository):
    repository.save(_dataset(2, "a"))
    assert repository.update(lambda current: None) is False
    assert repository.load().sources == _dataset(2, "a").sources


def test_a_save_failing_half_way_leaves_the_previous_dataset(repository, tmp_path):
    if isinstance(repository, InMemoryInteractionRepository):
        pytest.skip("nothing is written part way in memory")
    previous = _dataset(3, "a")
    repository.save(previous)
    broken = Dataset(_dataset(5, "b").catalogue, _ExplodingTable(), previous.sources)
    with pytest.raises(RuntimeError):
        repository.save(broken)
    assert repository.load().interactions.equals(previous.interactions)
    if isinstance(repository, ParquetInteractionRepository):
        assert len([p for p in (tmp_path / "store").iterdir() if p.is_dir()]) == 1


def _posted(repository, plays, small):
    from adapters.ingest.arrow_aggregator import ArrowInteractionAggregator
    from adapters.sources.posted import PostedPlaysSource
    from application.ingest_sessions import IngestCommand, IngestSessions
    from domain.ports import SourceRequest

    ingest = IngestSessions(PostedPlaysSource(), ArrowInteractionAggregator(), repository)
    return ingest.execute(IngestCommand(SourceRequest(options={"plays": plays}), strict=True, small=small))


def _rows(table):
    return sorted(table.to_pylist(), key=lambda row: tuple(str(v) for v in row.values()))


def test_a_small_write_stores_what_a_whole_write_stores(repository):
    """A post touches its listeners alone in a SQL store; the stored result is the same as
    the whole-store write gives (the in-memory reference)."""
    reference = InMemoryInteractionRepository()
    plays = [{"user_id": "u1", "song_id": "s1", "ms_played": 500, "played_at": "2026-01-02T10:00:00"},
             {"user_id": "u1", "song_id": "s2", "ms_played": 800, "played_at": "2026-01-02T10:05:00"},
             {"user_id": "u9", "artist_name": "Nova", "song_name": "First Light", "ms_played": 900,
              "played_at": "2026-01-02T11:00:00", "duration_ms": 1000}]
    for store in (repository, reference):
        store.save(_dataset(3, "a"))
        report = _posted(store, plays, small=store is repository)
        assert (report.plays, report.interactions) == (6 + 3, 5)
        again = _posted(store, [*plays[:2], {**plays[2], "ms_played": 901}], small=store is repository)
        assert again.plays_repeated == 2  # the two plays seen before count once
    stored, expected = repository.load(), reference.load()
    assert _rows(stored.interactions) == _rows(expected.interactions)
    for name in ("songs", "artists"):
        assert _rows(stored.catalogue[name]) == _rows(expected.catalogue[name])
    assert [s.content_hash for s in stored.sources] == [s.content_hash for s in expected.sources]
    assert repository.stats() == reference.stats()
