from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from entrypoints.cli import cli


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
