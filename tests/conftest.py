from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.sources.synthetic import SyntheticSeedGenerator
from adapters.storage.runs import RunStore
from domain.ports import GenerationSpec, SilentProgress
from domain.training import MODEL_KINDS
from domain.versions import ModelVersion
from tests import postgres

SMALL = GenerationSpec(users=60, songs=300, artists=40, genres=10, seed=3)


@pytest.fixture(scope="session")
def small_raw_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("small-raw")
    SyntheticSeedGenerator().generate(out, SMALL, SilentProgress())
    return out


@pytest.fixture
def raw_copy(small_raw_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the small raw set that a test may edit."""
    target = tmp_path / "raw"
    shutil.copytree(small_raw_dir, target)
    return target


def current_run(data_dir: Path, kind: str) -> Path:
    """The directory of the published run of ``kind`` under a data directory."""
    run = RunStore(data_dir / "models").current(kind)
    assert run is not None, f"no published {kind} run under {data_dir}"
    return run


def run_version(models_dir: Path, kind: str) -> ModelVersion:
    """The published run of ``kind`` as a registry version (numbered by kind), for tests that
    load runs without a registry."""
    runs = RunStore(models_dir)
    run = runs.current(kind)
    assert run is not None, f"no published {kind} run under {models_dir}"
    return ModelVersion(MODEL_KINDS.index(kind) + 1, kind, "", "", artifact=runs.relative(run))


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real PostgreSQL server for this test session (started here, stopped at the end)."""
    why_not = postgres.missing()
    if why_not:
        pytest.skip(why_not)
    with postgres.postgres_server(tmp_path_factory.mktemp("postgres")) as url:
        yield url


@pytest.fixture
def postgres_database(postgres_url: str) -> str:
    """The URL of a new, empty database on the test server."""
    return postgres.new_database(postgres_url)
