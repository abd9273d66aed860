"""Composition root: the only place that knows which adapter stands behind which port."""

from __future__ import annotations

from dependency_injector import containers, providers

from adapters.storage.parquet import ParquetInteractionRepository
from application.data_generation import GenerateData, ValidateData
from application.feedback import RecordPlays
from application.ingest_sessions import IngestSessions
from application.learning import BuildGraph, TrainModel
from application.recommending import Evaluate, Explain, FindListeners, Recommend, RecommendAll, SimilarSongs
from application.tuning import TuneModel


# Adapters load when a command needs them: a short command (recommend) imports no torch,
# SQLAlchemy or pandas.
def _sql_repository(url):
    from adapters.storage.sql import SqlAlchemyInteractionRepository

    return SqlAlchemyInteractionRepository(url)


def _generator():
    from adapters.sources.synthetic import SyntheticSeedGenerator

    return SyntheticSeedGenerator()


def _validator():
    from adapters.sources.synthetic_validation import SyntheticDataValidator

    return SyntheticDataValidator()


def _session_source():
    from adapters.sources.formats import MultiFormatSource

    return MultiFormatSource()


def _posted_source():
    from adapters.sources.posted import PostedPlaysSource

    return PostedPlaysSource()


def _aggregator():
    from adapters.ingest.arrow_aggregator import ArrowInteractionAggregator

    return ArrowInteractionAggregator()


def _graph_builder():
    from adapters.graph.pyg_builder import PygGraphBuilder

    return PygGraphBuilder()


def _model_registry(url, models_dir):
    from adapters.storage.registry import SqlModelRegistry

    return SqlModelRegistry(url, models_dir)


def _recent_promotion(registry):
    from adapters.storage.registry import RecentPromotion

    return RecentPromotion(registry)


def _model_loader(models_dir, repository):
    from adapters.serving.recommender import CheckpointModelLoader

    return CheckpointModelLoader(models_dir, repository)


def _model_evaluator(models_dir, repository):
    from adapters.evaluation.evaluator import CheckpointEvaluator

    return CheckpointEvaluator(models_dir, repository)


def _search(url):
    from adapters.tuning.optuna_search import OptunaSearch

    return OptunaSearch(url)


def _model_trainer():
    from adapters.training.service import TorchModelTrainer

    return TorchModelTrainer()


class Container(containers.DeclarativeContainer):
    config = providers.Configuration(strict=True)

    repository = providers.Selector(
        config.storage.backend,
        parquet=providers.Singleton(ParquetInteractionRepository, root=config.store_dir),
        sqlite=providers.Singleton(_sql_repository, url=config.storage.url),
        postgresql=providers.Singleton(_sql_repository, url=config.storage.url),
    )
    session_source = providers.Singleton(_session_source)
    aggregator = providers.Singleton(_aggregator)

    generate_data = providers.Factory(GenerateData, generator=providers.Singleton(_generator))
    validate_data = providers.Factory(ValidateData, validator=providers.Singleton(_validator))
    ingest_sessions = providers.Factory(IngestSessions, source=session_source,
                                        aggregator=aggregator, repository=repository)
    graph_builder = providers.Singleton(_graph_builder)
    model_trainer = providers.Singleton(_model_trainer)
    # the registry lives in the configured SQL database, the SQLite file under the data
    # directory when the interactions are kept in parquet
    model_registry = providers.Singleton(_model_registry, url=config.storage.url,
                                         models_dir=config.models_dir)
    # what `engine serve` asks at every request: the promoted version, read again each second
    served_registry = providers.Singleton(_recent_promotion, registry=model_registry)
    build_graph = providers.Factory(BuildGraph, repository=repository, builder=graph_builder)
    train_model = providers.Factory(TrainModel, repository=repository, trainer=model_trainer,
                                    registry=model_registry)
    tune_model = providers.Factory(TuneModel, repository=repository, trainer=model_trainer,
                                   search=providers.Singleton(_search, url=config.storage.url),
                                   train_model=train_model)
    model_loader = providers.Singleton(_model_loader, models_dir=config.models_dir,
                                       repository=repository)
    recommend = providers.Factory(Recommend, loader=model_loader, registry=model_registry,
                                  repository=repository)
    recommend_all = providers.Factory(RecommendAll, loader=model_loader, registry=model_registry)
    explain = providers.Factory(Explain, loader=model_loader, registry=model_registry,
                                repository=repository)
    record_plays = providers.Factory(
        RecordPlays, ingest=providers.Factory(IngestSessions, source=providers.Singleton(_posted_source),
                                              aggregator=aggregator, repository=repository),
        repository=repository, loader=model_loader, registry=model_registry)
    similar_songs = providers.Factory(SimilarSongs, loader=model_loader, registry=model_registry)
    find_listeners = providers.Factory(FindListeners, loader=model_loader, registry=model_registry)
    evaluate = providers.Factory(Evaluate, evaluator=providers.Singleton(
        _model_evaluator, models_dir=config.models_dir, repository=repository), registry=model_registry)


def build_container(config: dict) -> Container:
    container = Container()
    container.config.from_dict(config)
    return container
