from __future__ import annotations

import pytest

from adapters.ingest.arrow_aggregator import ArrowInteractionAggregator
from adapters.sources.seed_csv import SeedCsvSource
from application.ingest_sessions import IngestCommand, IngestSessions
from domain.ports import Dataset, SourceRequest
from tests.fakes import InMemoryInteractionRepository


@pytest.fixture(scope="session")
def small_dataset(small_raw_dir) -> Dataset:
    repository = InMemoryInteractionRepository()
    IngestSessions(SeedCsvSource(), ArrowInteractionAggregator(), repository).execute(
        IngestCommand(SourceRequest(path=small_raw_dir)))
    return repository.load()
