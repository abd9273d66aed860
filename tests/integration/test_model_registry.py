"""The model registry against real databases: a SQLite file and a PostgreSQL server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapters.storage.registry import SqlModelRegistry
from adapters.storage.runs import RunStore
from domain.errors import CheckpointError, CorruptStore, EngineError, UnknownEntity


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    if request.param == "postgresql":
        return request.getfixturevalue("postgres_database")
    return f"sqlite:///{tmp_path / 'engine.db'}"


def _run(models: Path, kind: str, name: str, recall: float | None = None) -> Path:
    run = models / kind / name
    run.mkdir(parents=True)
    if recall is not None:
        (run / "metrics.json").write_text(json.dumps({"test": {"recall@10": recall, "note": "x"}}))
    return run


def test_versions_are_numbered_in_order_and_one_is_promoted(database_url, tmp_path):
    models = tmp_path / "models"
    registry = SqlModelRegistry(database_url, models)
    first = registry.register("gat-basic", _run(models, "gat-basic", "run-20260101T000000Z-aa"), "f1",
                              {"lr": 0.01}, {"recall@10": 0.2})
    second = registry.register("gat-enhanced", _run(models, "gat-enhanced", "run-20260102T000000Z-bb"),
                               "f1", {"lr": 0.02}, {"recall@10": 0.25})
    assert (first.version, second.version) == (1, 2)
    assert registry.promoted() is None and [v.status for v in registry.versions()] == ["candidate"] * 2
    registry.promote(1)
    registry.promote(2)
    assert [v.status for v in registry.versions()] == ["retired", "promoted"]
    shown = registry.get(2)
    assert (shown.kind, shown.settings, shown.metrics) == ("gat-enhanced", {"lr": 0.02}, {"recall@10": 0.25})
    assert registry.runs.resolve(shown.artifact) == models / "gat-enhanced" / "run-20260102T000000Z-bb"


def test_rollback_steps_back_through_the_promotions(database_url, tmp_path):
    models = tmp_path / "models"
    registry = SqlModelRegistry(database_url, models)
    for number in range(3):
        registry.register("gat-basic", _run(models, "gat-basic", f"run-2026010{number}T000000Z-0{number}"),
                          "f", {}, {})
    for number in (1, 2, 3):
        registry.promote(number)
    assert registry.rollback().version == 2
    assert registry.rollback().version == 1
    assert registry.promoted().version == 1
    with pytest.raises(EngineError, match="no promotion before v1's stands"):
        registry.rollback()
    registry.promote(3)  # a promotion after rollbacks is the new top
    assert registry.rollback().version == 1


def test_an_unknown_version_is_named_and_nothing_changes(database_url, tmp_path):
    registry = SqlModelRegistry(database_url, tmp_path / "models")
    with pytest.raises(UnknownEntity, match="no model version v7; known: none yet"):
        registry.promote(7)
    with pytest.raises(EngineError, match="nothing to roll back"):
        registry.rollback()
    assert registry.versions() == []


def test_runs_trained_before_the_registry_are_adopted_newest_promoted(database_url, tmp_path):
    models = tmp_path / "models"
    for kind, name, recall in (("gat-basic", "run-20260101T000000Z-aa", 0.2),
                               ("gat-enhanced", "run-20260301T000000Z-bb", 0.3)):
        run = _run(models, kind, name, recall)
        (run.parent / "CURRENT").write_text(run.name + "\n")
    registry = SqlModelRegistry(database_url, models)
    versions = registry.versions()
    assert [(v.kind, v.status, v.metrics) for v in versions] == [
        ("gat-basic", "candidate", {"recall@10": 0.2}),
        ("gat-enhanced", "promoted", {"recall@10": 0.3})]
    assert versions[0].created_at.startswith("2026-01-01T00:00:00")
    assert len(SqlModelRegistry(database_url, models).versions()) == 2  # adopted once


@pytest.mark.parametrize("artifact", ["../../etc", "gat-basic/../../x", "/tmp/run-1-aa", "nokind/run-1-aa"])
def test_an_artifact_never_resolves_outside_the_models_directory(tmp_path, artifact):
    with pytest.raises(CorruptStore, match="is no run of"):
        RunStore(tmp_path / "models").resolve(artifact)


def test_a_version_whose_run_is_gone_says_what_to_do(tmp_path):
    with pytest.raises(CheckpointError, match="run is gone; promote another version"):
        RunStore(tmp_path / "models").resolve("gat-basic/run-20260101T000000Z-aa")


def test_runs_of_this_release_are_registered_by_their_training_not_adopted(database_url, tmp_path):
    """Two trainings at once on a new registry: neither takes the other's published run, still
    being registered, for one trained before the registry."""
    models = tmp_path / "models"
    runs = []
    for kind, name in (("gat-basic", "run-20260101T000000Z-aa"), ("gat-enhanced", "run-20260101T000001Z-bb")):
        run = _run(models, kind, name)
        (run / "metrics.json").write_text(json.dumps({"test": {}, "version": None}))  # as trainers write it
        (run.parent / "CURRENT").write_text(run.name + "\n")
        runs.append(run)
    registry = SqlModelRegistry(database_url, models)
    registry.register("gat-basic", runs[0], "f", {}, {})
    registry.register("gat-enhanced", runs[1], "f", {}, {})
    assert [v.artifact for v in registry.versions()] == [f"{r.parent.name}/{r.name}" for r in runs]
    assert json.loads((runs[1] / "metrics.json").read_text())["version"] == 2
    # models copied without their registry: a new one adopts the registered runs
    adopted = SqlModelRegistry(f"sqlite:///{tmp_path / 'other.db'}", models).versions()
    assert [(v.kind, v.status) for v in adopted] == [("gat-basic", "candidate"), ("gat-enhanced", "promoted")]


def test_a_version_number_beyond_any_database_integer_is_unknown(database_url, tmp_path):
    with pytest.raises(UnknownEntity, match="no model version"):
        SqlModelRegistry(database_url, tmp_path / "models").get(10**30)
