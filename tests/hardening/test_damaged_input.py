"""Damaged and hostile input, as a careless user makes it: exit 0 with every bad row counted,
or exit 2 with one line naming the problem; never a traceback, never a changed store on failure."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from tests.e2e.conftest import Engine
from tests.hardening.conftest import assert_one_line_error, store_fingerprint

SESSIONS_HEADER = "user_id,track_id,timestamp,ms_played,track_duration_ms\n"
GOOD_ROW = "u1,t1,2024-01-01T00:00:00Z,1000,2000\n"
SPOTIFY_PLAY = {"endTime": "2024-01-01 10:00", "artistName": "A", "trackName": "T", "msPlayed": 1000}


@pytest.fixture
def engine(tmp_path, monkeypatch) -> Engine:
    return Engine(tmp_path, monkeypatch)


def _seed(tmp_path, sessions: str, tracks: str = "track_id,duration_ms\nt1,2000\n", **extra: str):
    folder = tmp_path / "seed"
    folder.mkdir(exist_ok=True)
    (folder / "raw_sessions.csv").write_text(sessions, encoding="utf-8")
    (folder / "tracks.csv").write_text(tracks, encoding="utf-8")
    for name, text in extra.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def _spotify(tmp_path, content: bytes | str):
    folder = tmp_path / "me"
    folder.mkdir(exist_ok=True)
    path = folder / "StreamingHistory0.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return folder


def _ingested_reasons(engine, *args) -> dict[str, int]:
    result = engine("--data-dir", "d", "ingest", *args, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)["reject_reasons"]


@pytest.mark.parametrize("sessions, tracks, message", [
    ("user_id,user_id,track_id,timestamp,ms_played,track_duration_ms\nu,u,t1,2024-01-01T00:00:00Z,1,2\n",
     None, "more than once"),
    (SESSIONS_HEADER, None, "no plays"),
    (SESSIONS_HEADER + GOOD_ROW, "track_id,duration_ms\nt1," + "9" * 40 + "\n", "row 2: duration_ms"),
    (SESSIONS_HEADER + GOOD_ROW, "track_id,duration_ms\nt1,inf\n", "row 2: duration_ms"),
])
def test_unusable_seed_files_exit_2_and_store_nothing(engine, tmp_path, sessions, tracks, message):
    folder = _seed(tmp_path, sessions, *(() if tracks is None else (tracks,)))
    result = engine("--data-dir", "d", "ingest", folder)
    assert_one_line_error(result)
    assert message in result.stderr and store_fingerprint(tmp_path / "d") == store_fingerprint(tmp_path)


def test_out_of_range_genre_affinities_are_refused_with_their_row(engine, tmp_path):
    folder = _seed(tmp_path, SESSIONS_HEADER + GOOD_ROW, **{
        "user_genre_preferences.csv": "user_id,genre_id,affinity_score\nu1,g1,0.5\nu1,g2,-7\n"})
    result = engine("--data-dir", "d", "ingest", folder)
    assert_one_line_error(result)
    assert "user_genre_preferences.csv: row 3: affinity_score '-7'" in result.stderr


def test_each_cell_is_judged_alone_whatever_shares_its_batch(engine, tmp_path):
    rows = ["u1,t1,2024-01-01T00:00:00Z,1.5e5,200000\n",  # valid wherever it stands
            "u2,t1,2024-01-01T05:00:00+05:00,1000,2000\n",  # a zone beside zone-less rows
            "u3,t1,2024-01-01 00:00:00,abc,2000\n",
            "u4,t1,2024-02-30T10:00:00Z,1000,2000\n",  # no such day
            "u5,t1,0001-01-01T00:00:00Z,1000,2000\n",
            "u6,t1,9999-01-01T00:00:00Z,1000,2000\n",
            "u7,t1,2024-01-01T00:00:00Z,inf,2000\n",
            "u8,t1,2024-01-01T00:00:00Z," + "1" * 40 + ",2000\n",
            "NA,t1,2024-01-01T00:00:00Z,1000,2000\n",  # a user called NA is a user
            '"u\n9",t1,2024-01-01T00:00:00Z,1000,2000\n']
    reasons = _ingested_reasons(engine, _seed(tmp_path, SESSIONS_HEADER + "".join(rows)))
    assert reasons == {"non-numeric or out-of-range ms_played": 3,
                       "unparseable or impossible timestamp": 3,
                       "user_id holds a line break or control character": 1}
    interactions = pq.read_table(next((tmp_path / "d" / "store").glob("v-*/interactions.parquet")))
    assert sorted(interactions.column("user_id").to_pylist()) == ["NA", "u1", "u2"]
    played = dict(zip(interactions.column("user_id").to_pylist(),
                      interactions.column("first_played").to_pylist(), strict=True))
    assert played["u2"] == played["NA"]  # 05:00+05:00 is midnight UTC, as 00:00Z is


@pytest.mark.parametrize("content, outcome", [
    ("[null, null]", {"not a play record (expected a JSON object)": 2}),
    ("[1, 2, 3]", {"not a play record (expected a JSON object)": 3}),
    (json.dumps([{**SPOTIFY_PLAY, "msPlayed": 1e30}, SPOTIFY_PLAY]),
     {"msPlayed is not a number of milliseconds within a day": 1}),
    (json.dumps([{**SPOTIFY_PLAY, "msPlayed": "1000"}, SPOTIFY_PLAY]),
     {"msPlayed is not a number of milliseconds within a day": 1}),
    (b"\xef\xbb\xbf" + json.dumps([SPOTIFY_PLAY]).encode(), {}),
    ("[" * 100_000, "nested too deeply"),
    ("[]", "no plays"),
    ('{"plays": []}', "expected a list of plays"),
])
def test_spotify_records_are_checked_one_by_one(engine, tmp_path, content, outcome):
    folder = _spotify(tmp_path, content)
    if isinstance(outcome, dict):
        assert _ingested_reasons(engine, folder, "--format", "spotify-history") == outcome
    else:
        result = engine("--data-dir", "d", "ingest", folder, "--format", "spotify-history")
        assert_one_line_error(result)
        assert outcome in result.stderr


def test_an_export_name_that_is_a_directory_or_a_loop_is_no_export(engine, tmp_path):
    folder = tmp_path / "me"
    (folder / "StreamingHistory0.json").mkdir(parents=True)
    (folder / "StreamingHistory1.json").symlink_to(folder / "StreamingHistory1.json")
    assert_one_line_error(engine("--data-dir", "d", "ingest", folder, "--format", "spotify-history"))


def test_lastfm_1k_refuses_directories_and_compressed_logs_and_keeps_malformed_lines(engine, tmp_path):
    (tmp_path / "x.tsv").mkdir()
    assert_one_line_error(engine("--data-dir", "d", "ingest", tmp_path / "x.tsv", "--format", "lastfm-1k"))
    (tmp_path / "log.tsv").write_bytes(b"\x1f\x8b\x08\x00" + bytes(range(256)) * 10)
    result = engine("--data-dir", "d", "ingest", tmp_path / "log.tsv", "--format", "lastfm-1k")
    assert_one_line_error(result)
    assert "gzip" in result.stderr
    line = "user_1\t2009-01-01T00:00:00Z\t\tArtist\t\tTrack\n"
    (tmp_path / "log.tsv").write_text(line + "not six fields\n" + line.replace("user_1", "user_2"))
    result = engine("--data-dir", "d", "ingest", tmp_path / "log.tsv", "--format", "lastfm-1k", "--json")
    report = json.loads(result.stdout)
    assert report["rows_rejected"] == 1 and report["interactions"] == 2
    assert "not six fields" in (tmp_path / report["rejects_file"]).read_text()


def test_hetrec_weights_beyond_any_play_count_are_rejected_rows(engine, tmp_path):
    folder = tmp_path / "hetrec"
    folder.mkdir()
    (folder / "artists.dat").write_text("id\tname\n1\tA\n")
    weights = ["1e30", "9" * 40, "5"]
    (folder / "user_artists.dat").write_text("userID\tartistID\tweight\n" + "".join(
        f"{user}\t1\t{weight}\n" for user, weight in enumerate(weights, start=1)))
    assert _ingested_reasons(engine, folder, "--format", "lastfm-hetrec") == {
        "non-numeric or out-of-range weight": 2}


def test_a_failed_ingest_leaves_the_store_as_it_was(engine, tmp_path):
    good = _seed(tmp_path, SESSIONS_HEADER + GOOD_ROW)
    assert engine("--data-dir", "d", "ingest", good).exit_code == 0
    before = store_fingerprint(tmp_path / "d")
    (good / "raw_sessions.csv").write_text(SESSIONS_HEADER)
    assert_one_line_error(engine("--data-dir", "d", "ingest", good))
    (good / "raw_sessions.csv").write_text(SESSIONS_HEADER + "u1,t9,2024-01-01T00:00:00Z,1,2\n")
    assert engine("--data-dir", "d", "ingest", good, "--strict").exit_code == 2
    assert store_fingerprint(tmp_path / "d") == before


def test_fixing_the_tracks_file_is_a_new_input(engine, tmp_path):
    folder = _seed(tmp_path, SESSIONS_HEADER + GOOD_ROW + "u2,t2,2024-01-01T00:00:00Z,1000,2000\n")
    first = json.loads(engine("--data-dir", "d", "ingest", folder, "--json").stdout)
    assert first["rows_rejected"] == 1
    (folder / "tracks.csv").write_text("track_id,duration_ms\nt1,2000\nt2,2000\n")
    second = json.loads(engine("--data-dir", "d", "ingest", folder, "--json").stdout)
    assert not second["skipped"] and second["interactions"] == 2


def test_the_same_bytes_under_another_name_are_the_same_input(engine, tmp_path):
    folder = _spotify(tmp_path, json.dumps([SPOTIFY_PLAY]))
    assert engine("--data-dir", "d", "ingest", folder / "StreamingHistory0.json", "--format",
                  "spotify-history", "--user", "me").exit_code == 0
    (folder / "StreamingHistory0.json").rename(folder / "StreamingHistory7.json")
    again = json.loads(engine("--data-dir", "d", "ingest", folder / "StreamingHistory7.json", "--format",
                              "spotify-history", "--user", "me", "--json").stdout)
    assert again["skipped"]


@pytest.mark.parametrize("args, env, message", [
    (["train", "--lr", "nan"], {}, "training.lr"),
    (["train", "--seed", "-1"], {}, "training.seed"),
    (["train", "--validation-share", "0.9", "--test-share", "0.9"], {}, "validation_share"),
    (["train"], {"ENGINE_TRAINING__LR": "inf"}, "ENGINE_TRAINING__LR"),
    (["stats"], {"ENGINE_STORAGE": "{bad json"}, "environment"),
    (["--backend", "postgresql", "stats"], {}, "needs storage.url"),
    (["--backend", "sqlite", "--db-url", "nonsense", "stats"], {}, "no database URL"),
    (["--config", ".", "stats"], {}, "not a directory"),
    (["explain", "--user", "u", "--song", "s", "--plot", "why.txt"], {}, "must end in .png"),
    (["recommend", "--all-users", "--output", "recs.csv/inside.csv"], {}, "which is a file"),
])
def test_misused_settings_and_flags_exit_2_naming_them(engine, tmp_path, args, env, message):
    (tmp_path / "recs.csv").write_text("a file in the way\n")
    result = engine("--data-dir", "d", *args, env=env)
    assert_one_line_error(result)
    assert message in result.stderr


@pytest.mark.parametrize("content", [b"[x", b"\xff\xfe\x00", b"data_dir = 5\n[storage]\nbackend='x'\n"])
def test_a_broken_engine_toml_exits_2(engine, tmp_path, content):
    (tmp_path / "engine.toml").write_bytes(content)
    assert_one_line_error(engine("stats"))


def test_a_data_dir_that_is_a_file_or_a_sqlite_url_at_a_csv_exits_2(engine, tmp_path):
    (tmp_path / "file").write_text("x")
    assert_one_line_error(engine("--data-dir", "file", "stats"))
    (tmp_path / "plays.csv").write_text("a,b\n1,2\n" * 100)
    result = engine("--backend", "sqlite", "--db-url", f"sqlite:///{tmp_path / 'plays.csv'}", "stats")
    assert_one_line_error(result)
    assert "not a database" in result.stderr


@pytest.mark.parametrize("damage", ["pointer outside", "pointer nowhere", "truncated parquet", "sources"])
def test_a_damaged_store_is_named_not_a_traceback(engine, tmp_path, damage):
    assert engine("--data-dir", "d", "ingest", _seed(tmp_path, SESSIONS_HEADER + GOOD_ROW)).exit_code == 0
    store = tmp_path / "d" / "store"
    version = next(store.glob("v-*"))
    if damage == "pointer outside":
        (store / "CURRENT").write_text("../../..\n")
    elif damage == "pointer nowhere":
        (store / "CURRENT").write_text("v-000000000000\n")
    elif damage == "truncated parquet":
        path = version / "interactions.parquet"
        path.write_bytes(path.read_bytes()[:40])
    else:
        (version / "sources.json").write_text("[{")
    result = engine("--data-dir", "d", "stats")
    assert_one_line_error(result)
    assert "store" in result.stderr or "damaged" in result.stderr
