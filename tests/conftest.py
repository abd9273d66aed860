from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from adapters.sources.synthetic import SyntheticSeedGenerator
from adapters.storage.runs import RunStore
from domain.ports import GenerationSpec, SilentProgress

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
