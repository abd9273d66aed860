"""Two writers at once lose nothing; a writer killed part way leaves the previous state usable."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from adapters.storage.runs import RunStore
from adapters.storage.versions import STAGING_PREFIX
from tests.hardening.conftest import run_engine, start_engine

PLAYS = 40


def _listener(root, name: str, offset: int, indent: int | None = None):
    folder = root / name
    folder.mkdir(parents=True)
    plays = [{"endTime": f"2024-01-{1 + i % 28:02d} {i % 24:02d}:00", "artistName": f"Artist {i % 7}",
              "trackName": f"Song {(i + offset) % 25}", "msPlayed": 60_000 + i} for i in range(PLAYS)]
    (folder / "StreamingHistory0.json").write_text(json.dumps(plays, indent=indent))
    return folder


@pytest.mark.parametrize("backend", ["parquet", "sqlite", "postgresql"])
def test_two_ingests_at_once_both_land(request, tmp_path, backend):
    store = ["--backend", backend]
    if backend == "postgresql":
        store += ["--db-url", request.getfixturevalue("postgres_database")]
    sources = [_listener(tmp_path, f"listener_{n}", n * 3) for n in range(4)]
    # the same plays in other bytes, at once: one ingest stores them, the other finds them stored
    sources.append(_listener(tmp_path / "again", "listener_0", 0, indent=1))
    running = [start_engine(tmp_path / "data", *store, "ingest", s, "--format", "spotify-history", "--json")
               for s in sources]
    repeated = 0
    for process in running:
        stdout, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr
        repeated += json.loads(stdout)["plays_repeated"]
    stats = json.loads(run_engine(tmp_path / "data", *store, "stats", "--json").stdout)
    assert (stats["sources"], stats["users"], stats["plays"], repeated) == (5, 4, 4 * PLAYS, PLAYS)


def _trained_store(tmp_path):
    data = tmp_path / "data"
    for n in range(3):
        source = _listener(tmp_path, f"listener_{n}", n * 5)
        assert run_engine(data, "ingest", source, "--format", "spotify-history").returncode == 0
    return data


def test_two_trainings_of_one_model_each_publish_a_whole_run(tmp_path):
    data = _trained_store(tmp_path)
    args = ("train", "--model", "gat-basic", "--epochs", "2", "--batch-size", "64", "--json")
    first, second = start_engine(data, *args, "--seed", "1"), start_engine(data, *args, "--seed", "2")
    results = []
    for process in (first, second):
        stdout, stderr = process.communicate(timeout=600)
        assert process.returncode == 0, stderr
        results.append(json.loads(stdout))
    # each run is whole (its files all come from its own training) and a version of its own
    for result in results:
        metrics = json.loads(Path(result["files"]["metrics"]).read_text())
        assert metrics["history"] == result["history"]
    assert sorted(r["version"] for r in results) == [1, 2]
    runs = RunStore(data / "models")
    assert sorted(p.name for p in runs.current("gat-basic").parent.iterdir() if p.is_dir()) == sorted(
        Path(r["files"]["model"]).parent.name for r in results)
    answer = run_engine(data, "recommend", "--user", "listener_0", "-k", "3", "--json")
    assert answer.returncode == 0 and json.loads(answer.stdout)["version"] in (1, 2)


def test_a_training_killed_part_way_leaves_the_previous_model_serving(tmp_path):
    data = _trained_store(tmp_path)
    assert run_engine(data, "train", "--model", "gat-basic", "--epochs", "1").returncode == 0
    before = RunStore(data / "models").current("gat-basic")
    expected = run_engine(data, "recommend", "--user", "listener_1", "-k", "5", "--json").stdout
    process = start_engine(data, "train", "--model", "gat-basic", "--epochs", "500", "--patience", "500",
                     "--validate-every", "1")
    home = data / "models" / "gat-basic"
    while not list(home.glob(f"{STAGING_PREFIX}*/checkpoint-epoch-*.pt")):  # mid-training, files written
        assert process.poll() is None, process.stderr.read()
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    assert RunStore(data / "models").current("gat-basic") == before
    assert run_engine(data, "recommend", "--user", "listener_1", "-k", "5", "--json").stdout == expected
    # the next training publishes and removes what the killed one left
    assert run_engine(data, "train", "--model", "gat-basic", "--epochs", "1").returncode == 0
    assert not list(home.glob(f"{STAGING_PREFIX}*"))
