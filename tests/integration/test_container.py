"""The composition root: a provider overridden as dependency-injector's examples do reaches
every use case built on it, and the configured backend picks the repository."""

from __future__ import annotations

from dependency_injector import providers

from adapters.storage.parquet import ParquetInteractionRepository
from adapters.storage.sql import SqlAlchemyInteractionRepository
from application.recommending import RecommendQuery
from entrypoints.container import build_container
from entrypoints.settings import load_settings
from tests.fakes import InMemoryRecommender, InMemoryRegistry, Loader


def _container(tmp_path, **overrides):
    return build_container(load_settings(None, data_dir=tmp_path, **overrides).as_container_config())


def test_an_overridden_model_loader_serves_every_answering_use_case(tmp_path):
    container = _container(tmp_path)
    fake = InMemoryRecommender({"u1": ["s1", "s2"]}, ["p1"])
    with container.model_loader.override(providers.Object(Loader(fake))), \
            container.model_registry.override(providers.Object(InMemoryRegistry(("gat-basic",)))):
        answer = container.recommend().execute(RecommendQuery("u1", k=1))
        explained = container.explain().execute("u1", "s2", None)
        similar = container.similar_songs().execute("s2", 1)
    assert [r.song_id for r in answer.recommendations] == ["s1"]
    assert [r.song_id for r in similar.recommendations] == ["s2-like"]
    assert (explained.model, explained.recommendation.song_id) == ("gat-basic", "s2")


def test_the_backend_setting_picks_the_repository(tmp_path):
    assert isinstance(_container(tmp_path).repository(), ParquetInteractionRepository)
    sqlite = _container(tmp_path, storage={"backend": "sqlite"}).repository()
    assert isinstance(sqlite, SqlAlchemyInteractionRepository) and sqlite.url.startswith("sqlite:///")
