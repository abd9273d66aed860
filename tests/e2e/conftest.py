from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from entrypoints.cli import cli
from tests.hardening.conftest import ENGINE, ROOT, run_engine

API_KEY = "test-key"
SERVE_TRAIN = ("train", "--model", "gat-basic", "--epochs", "2", "--batch-size", "256")


class Engine:
    """Runs `engine` in-process as a user would type it, isolated from the caller's env."""

    def __init__(self, cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.cwd = cwd
        for name in ("ENGINE_DATA_DIR", "ENGINE_STORAGE__BACKEND", "ENGINE_STORAGE__URL"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.chdir(cwd)
        self.runner = CliRunner()

    def __call__(self, *args: str, env: dict[str, str] | None = None):
        return self.runner.invoke(cli, [str(a) for a in args], env=env, prog_name="engine")

    def json(self, *args: str, env: dict[str, str] | None = None) -> dict:
        result = self(*args, "--json", env=env)
        assert result.exit_code == 0, result.output + result.stderr
        return json.loads(result.stdout)


@pytest.fixture
def engine(tmp_path, monkeypatch) -> Engine:
    return Engine(tmp_path, monkeypatch)


# -- a live `engine serve` on a small trained set, shared by the API tests --------------------
def _address(server: subprocess.Popen) -> str:
    """The address engine serve prints once its socket listens."""
    for line in server.stderr:
        if "listening on " in line:
            return line.split("listening on ")[1].split()[0]
    raise AssertionError(f"engine serve exited without listening (exit code {server.wait()})")


@pytest.fixture(scope="session")
def served_data(small_raw_dir, tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("served")
    assert run_engine(data, "ingest", small_raw_dir).returncode == 0
    assert run_engine(data, *SERVE_TRAIN).returncode == 0  # v1, promoted
    assert run_engine(data, *SERVE_TRAIN, "--seed", "7", "--no-promote").returncode == 0  # v2, a candidate
    return data


@contextmanager
def serving(data_dir: Path, **settings: str) -> Iterator[httpx.Client]:
    """A live `engine serve` of ``data_dir`` on a free loopback port (ENGINE_* ``settings``
    beside the API key), and a client of it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENGINE_")}
    env.update(PYTHONPATH=str(ROOT), ENGINE_SERVE__API_KEY=API_KEY, **settings)
    server = subprocess.Popen([*ENGINE, "--data-dir", str(data_dir), "serve", "--port", "0"],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        with httpx.Client(base_url=_address(server), timeout=60) as client:
            yield client
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="session")
def api(served_data) -> Iterator[httpx.Client]:
    with serving(served_data) as client:
        yield client
