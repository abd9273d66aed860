"""Property: whatever bytes or JSON an importer is given, it ends in exit 0 with counted
rejects or exit 2 with one line, and a failed ingest leaves the store as it was."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.e2e.conftest import Engine
from tests.hardening.conftest import assert_one_line_error, store_fingerprint

# a reader's callback that can only print its error counts as a failure here
pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
BOUNDED = settings(max_examples=25, deadline=None, derandomize=True,
                   suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
FILES = {  # format -> (file the bytes go into, other files it needs)
    "seed": ("raw_sessions.csv", {"tracks.csv": "track_id\nt1\n"}),
    "lastfm-1k": ("log.tsv", {}),
    "mssd": ("log.csv", {}),
    "lastfm-hetrec": ("user_artists.dat", {"artists.dat": "id\tname\n1\tA\n"}),
    "spotify-history": ("StreamingHistory0.json", {}),
}
SPOTIFY_KEYS = st.sampled_from(["endTime", "artistName", "trackName", "msPlayed", "ts", "ms_played",
                                "master_metadata_track_name", "spotify_track_uri", "episode_name"])
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(SPOTIFY_KEYS | st.text(max_size=8), inner,
                                                                max_size=6),
    max_leaves=30)


def _check(engine: Engine, data_dir: Path, source: Path, fmt: str) -> None:
    before = store_fingerprint(data_dir)
    result = engine("--data-dir", data_dir, "ingest", source, "--format", fmt, "--json")
    if result.exit_code == 0:
        report = json.loads(result.stdout)
        assert report["skipped"] or report["rows_read"] >= report["rows_rejected"] >= 0
    else:
        assert_one_line_error(result)
        assert store_fingerprint(data_dir) == before


def _source(root: Path, fmt: str, content: bytes) -> Path:
    target, others = FILES[fmt]
    folder = root / "input"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    (folder / target).write_bytes(content)
    for name, text in others.items():
        (folder / name).write_text(text)
    return folder if fmt in ("seed", "lastfm-hetrec", "spotify-history") else folder / target


@BOUNDED
@given(fmt=st.sampled_from(sorted(FILES)), content=st.binary(max_size=400))
def test_arbitrary_bytes_in_any_format(tmp_path, monkeypatch, fmt, content):
    with tempfile.TemporaryDirectory(dir=tmp_path) as scratch:
        root = Path(scratch)
        engine = Engine(root, monkeypatch)
        _check(engine, root / "data", _source(root, fmt, content), fmt)


@BOUNDED
@given(value=JSON_VALUES)
def test_arbitrary_json_as_a_spotify_export(tmp_path, monkeypatch, value):
    with tempfile.TemporaryDirectory(dir=tmp_path) as scratch:
        root = Path(scratch)
        engine = Engine(root, monkeypatch)
        source = _source(root, "spotify-history", json.dumps(value).encode())
        _check(engine, root / "data", source, "spotify-history")


@BOUNDED
@given(rows=st.lists(st.tuples(*[st.text(alphabet=st.characters(codec="utf-8"), max_size=12)] * 5),
                     min_size=1, max_size=8))
def test_arbitrary_cells_in_a_seed_sessions_file(tmp_path, monkeypatch, rows):
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["user_id", "track_id", "timestamp", "ms_played", "track_duration_ms"])
    writer.writerows(rows)
    with tempfile.TemporaryDirectory(dir=tmp_path) as scratch:
        root = Path(scratch)
        engine = Engine(root, monkeypatch)
        # a first, good ingest, so that a failure has something to leave untouched
        good = _source(root, "seed", b"user_id,track_id,timestamp,ms_played,track_duration_ms\n"
                                     b"u,t1,2024-01-01T00:00:00Z,1,2\n")
        assert engine("--data-dir", root / "data", "ingest", good).exit_code == 0
        _check(engine, root / "data", _source(root, "seed", buffer.getvalue().encode()), "seed")
