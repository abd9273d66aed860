"""Stored artifacts are data, never code: a crafted checkpoint is refused without running."""

from __future__ import annotations

import pickle
import sqlite3

import pytest

from tests.conftest import current_run
from tests.hardening.conftest import assert_one_line_error, run_engine


class _Payload:
    def __init__(self, marker) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))  # loading this object would create the marker


@pytest.fixture(scope="module")
def trained(small_raw_dir, tmp_path_factory):
    data = tmp_path_factory.mktemp("trained")
    assert run_engine(data, "ingest", small_raw_dir).returncode == 0
    assert run_engine(data, "train", "--model", "gat-basic", "--epochs", "1").returncode == 0
    return data


def test_a_crafted_checkpoint_does_not_run(trained, tmp_path):
    run = current_run(trained, "gat-basic")
    marker = tmp_path / "pwned"
    (run / "serving.npz").unlink()  # so that the checkpoint itself is read
    (run / "model.pt").write_bytes(pickle.dumps({"format": 2, "payload": _Payload(marker)}))
    for command in (("recommend", "--user", "user_0001"), ("evaluate",)):
        result = run_engine(trained, *command, "--model", "gat-basic")
        assert_one_line_error(result)
        assert "checkpoint" in result.stderr
    assert not marker.exists()


@pytest.mark.parametrize("artifact", ["../../..", "gat-basic/../../../etc", "/etc", "gat-basic/run-1-a/../x"])
def test_a_registry_artifact_cannot_leave_the_store(trained, artifact):
    """A registry row (in a database others may write to) never names a path outside the
    models directory."""
    database = sqlite3.connect(trained / "engine.db")
    (original,) = database.execute("SELECT artifact FROM model_versions WHERE version = 1").fetchone()
    try:
        with database:
            database.execute("UPDATE model_versions SET artifact = ? WHERE version = 1", (artifact,))
        result = run_engine(trained, "recommend", "--user", "user_0001", "--model", "gat-basic")
        assert_one_line_error(result)
        assert "is no run of" in result.stderr
    finally:
        with database:
            database.execute("UPDATE model_versions SET artifact = ? WHERE version = 1", (original,))
        database.close()
