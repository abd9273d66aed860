"""Composition root: the only place that knows which adapter stands behind which port."""

from __future__ import annotations

from dependency_injector import containers, providers

from adapters.ingest.arrow_aggregator import ArrowInteractionAggregator
from adapters.sources.seed_csv import SeedCsvSource
from adapters.sources.synthetic import SyntheticSeedGenerator
from adapters.sources.synthetic_validation import SyntheticDataValidator
from adapters.storage.parquet import ParquetInteractionRepository
from adapters.storage.sql import SqlAlchemyInteractionRepository
from application.data_generation import GenerateData, ValidateData
from application.ingest_sessions import IngestSessions


class Container(containers.DeclarativeContainer):
    config = providers.Configuration(strict=True)

    repository = providers.Selector(
        config.storage.backend,
        parquet=providers.Singleton(ParquetInteractionRepository, root=config.store_dir),
        sqlite=providers.Singleton(SqlAlchemyInteractionRepository, url=config.storage.url),
        postgresql=providers.Singleton(SqlAlchemyInteractionRepository, url=config.storage.url),
    )
    session_source = providers.Singleton(SeedCsvSource)
    aggregator = providers.Singleton(ArrowInteractionAggregator)

    generate_data = providers.Factory(GenerateData, generator=providers.Singleton(
        SyntheticSeedGenerator))
    validate_data = providers.Factory(ValidateData, validator=providers.Singleton(
        SyntheticDataValidator))
    ingest_sessions = providers.Factory(IngestSessions, source=session_source,
                                        aggregator=aggregator, repository=repository)


def build_container(config: dict) -> Container:
    container = Container()
    container.config.from_dict(config)
    return container
