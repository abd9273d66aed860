"""IngestSessions against an in-memory repository and an in-memory session feed."""

from __future__ import annotations

import pytest

from adapters.ingest.arrow_aggregator import ArrowInteractionAggregator
from application.ingest_sessions import IngestCommand, IngestSessions
from domain.errors import RejectedRows
from domain.ports import SourceRequest
from tests.fakes import InMemoryFeed, InMemoryInteractionRepository, InMemorySource

PLAYS = [
    ("u1", "s1", 1.0, 100), ("u1", "s1", 0.5, 50), ("u1", "s2", 0.2, 70),
    ("u2", "s1", 0.9, 10), ("u2", "s3", 1.0, 20),
]


def _use_case(feeds):
    repository = InMemoryInteractionRepository()
    return IngestSessions(InMemorySource(feeds), ArrowInteractionAggregator(), repository), repository


def _interactions(repository):
    rows = repository.load().interactions.to_pylist()
    return {(r["user_id"], r["song_id"]): {k: round(v, 12) if isinstance(v, float) else v
                                           for k, v in r.items()} for r in rows}


def test_ingest_aggregates_plays_per_user_and_song():
    use_case, repository = _use_case({"all": InMemoryFeed("all", PLAYS)})
    report = use_case.execute(IngestCommand(SourceRequest(path="all")))
    rows = _interactions(repository)
    assert report.interactions == 4 and report.plays == 5 and not report.skipped
    assert rows[("u1", "s1")]["play_count"] == 2
    assert rows[("u1", "s1")]["completion_ratio"] == pytest.approx(0.75)
    assert (rows[("u1", "s1")]["first_played"], rows[("u1", "s1")]["last_played"]) == (50, 100)
    # most played song of u1 -> normalised count 1.0
    assert rows[("u1", "s1")]["edge_weight"] == pytest.approx(0.7 * 0.75 + 0.3)


def test_two_files_one_by_one_equal_both_at_once():
    first, second = PLAYS[:3], PLAYS[3:] + [("u1", "s2", 1.0, 5)]
    together, repo_together = _use_case({"all": InMemoryFeed("all", first + second)})
    together.execute(IngestCommand(SourceRequest(path="all")))
    apart, repo_apart = _use_case({"a": InMemoryFeed("a", first), "b": InMemoryFeed("b", second)})
    apart.execute(IngestCommand(SourceRequest(path="a")))
    apart.execute(IngestCommand(SourceRequest(path="b")))
    assert _interactions(repo_apart) == _interactions(repo_together)
    assert _interactions(repo_apart)[("u1", "s2")]["first_played"] == 5


def test_same_content_twice_is_skipped_and_changes_nothing():
    use_case, repository = _use_case({"all": InMemoryFeed("all", PLAYS)})
    use_case.execute(IngestCommand(SourceRequest(path="all")))
    before = repository.load()
    report = use_case.execute(IngestCommand(SourceRequest(path="all")))
    assert report.skipped
    assert repository.load() is before


def test_strict_mode_with_rejects_ingests_nothing():
    use_case, repository = _use_case({"all": InMemoryFeed("all", PLAYS, rejected=1)})
    with pytest.raises(RejectedRows):
        use_case.execute(IngestCommand(SourceRequest(path="all"), strict=True))
    assert repository.load() is None
