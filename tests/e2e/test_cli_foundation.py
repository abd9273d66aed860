from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest


def test_help_lists_every_command_with_a_description(engine):
    result = engine("--help")
    assert result.exit_code == 0
    for command in ("generate", "validate", "ingest", "stats"):
        assert any(line.strip().startswith(command) and len(line.split()) > 1
                   for line in result.output.splitlines())


def test_help_generate_and_ingest_do_not_import_torch(small_raw_dir, tmp_path):
    script = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from entrypoints.cli import cli\n"
        "r = CliRunner()\n"
        "assert r.invoke(cli, ['--help']).exit_code == 0\n"
        f"assert r.invoke(cli, ['generate', '--out', r'{tmp_path / 'g'}', '--users', '5', '--songs', '20',"
        " '--artists', '4', '--genres', '3']).exit_code == 0\n"
        f"assert r.invoke(cli, ['--data-dir', r'{tmp_path / 'd'}', 'ingest',"
        f" r'{small_raw_dir}']).exit_code == 0\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torch_geometric')))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_generate_is_byte_for_byte_reproducible(engine, tmp_path):
    args = ["--users", "40", "--songs", "200", "--artists", "20", "--genres", "8", "--seed", "7"]
    assert engine("generate", "--out", tmp_path / "a", *args).exit_code == 0
    assert engine("generate", "--out", tmp_path / "b", *args).exit_code == 0
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert "raw_sessions.csv" in names and len(names) == 8
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    other = engine.json("generate", "--out", tmp_path / "c", *args[:-1], "8")
    assert (tmp_path / "c" / "raw_sessions.csv").read_bytes() != (
        tmp_path / "a" / "raw_sessions.csv").read_bytes()
    assert other["files"]["tracks.csv"] == 200


def test_default_set_has_the_seed_sizes_and_passes_validation(engine, tmp_path):
    summary = engine.json("generate", "--out", tmp_path / "d")
    files = summary["files"]
    assert (files["users.csv"], files["tracks.csv"], files["genres.csv"]) == (1000, 5000, 35)
    report = engine.json("validate", tmp_path / "d")
    assert report["figures"]["artists"] == 500
    assert report["passed"], [c for c in report["checks"] if not c["passed"]]
    assert report["figures"]["oracle_recall@10"] >= 2 * report["figures"]["popularity_recall@10"]


def test_ingest_json_then_again_is_skipped(engine, small_raw_dir):
    first = engine.json("ingest", small_raw_dir)
    assert {"rows_read", "rows_rejected", "interactions", "skipped", "rejects_file"} <= first.keys()
    assert first["skipped"] is False and first["rows_rejected"] == 0
    stats = engine.json("stats")
    again = engine.json("ingest", small_raw_dir)
    assert again["skipped"] is True
    assert engine.json("stats") == stats
    human = engine("ingest", small_raw_dir)
    assert "already ingested" in human.output


def test_missing_column_exits_2_with_one_line_naming_file_and_column(engine, raw_copy):
    engine.json("ingest", "--sessions", raw_copy / "raw_sessions.csv", "--tracks", raw_copy / "tracks.csv")
    before = engine.json("stats")
    broken = raw_copy / "broken.csv"
    rows = list(csv.reader((raw_copy / "raw_sessions.csv").open()))
    with broken.open("w", newline="") as handle:
        csv.writer(handle).writerows([r[:4] + r[5:] for r in rows])
    result = engine("ingest", "--sessions", broken, "--tracks", raw_copy / "tracks.csv")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "broken.csv" in result.stderr and "ms_played" in result.stderr
    assert "Traceback" not in result.stderr
    assert engine.json("stats") == before


def test_missing_directory_exits_2(engine, tmp_path):
    result = engine("ingest", tmp_path / "nowhere")
    assert result.exit_code == 2 and "raw_sessions.csv" in result.stderr


def test_strict_mode_turns_rejects_into_failure(engine, raw_copy):
    with (raw_copy / "raw_sessions.csv").open("a") as handle:
        handle.write("user_0001,track_0001,artist_0001,not-a-time,1000,2000\n")
    result = engine("ingest", raw_copy, "--strict")
    assert result.exit_code == 2 and "strict" in result.stderr
    assert engine.json("stats")["interactions"] == 0
    lenient = engine.json("ingest", raw_copy)
    assert lenient["rows_rejected"] == 1 and lenient["rejects_file"].endswith(".rejects.csv")


@pytest.mark.parametrize("how", ["env", "toml", "flag"])
def test_settings_select_the_sqlite_backend(engine, small_raw_dir, tmp_path, how):
    env, args = {}, []
    if how == "env":
        env = {"ENGINE_STORAGE__BACKEND": "sqlite"}
    elif how == "toml":
        (tmp_path / "engine.toml").write_text('[storage]\nbackend = "sqlite"\n')
    else:
        env = {"ENGINE_STORAGE__BACKEND": "parquet"}  # the flag wins over the environment
        args = ["--backend", "sqlite"]
    result = engine(*args, "ingest", small_raw_dir, "--json", env=env)
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "engine-data" / "engine.db").exists()
    assert not (tmp_path / "engine-data" / "store").exists()


def test_a_typo_in_the_backend_setting_is_a_clear_error(engine):
    result = engine("stats", env={"ENGINE_STORAGE__BACKEND": "parket"})
    assert result.exit_code == 2 and "storage.backend" in result.stderr


HETREC = Path(__file__).resolve().parents[3] / "shared" / "data" / "hetrec2011-lastfm-2k"


@pytest.mark.skipif(not HETREC.exists(), reason="../shared/data is not beside this checkout")
def test_hetrec_ingest_then_stats_counts_users_and_items(engine):
    report = engine.json("ingest", HETREC, "--format", "lastfm-hetrec")
    assert "items are artists" in " ".join(report["notes"])
    stats = engine.json("stats")
    assert (stats["users"], stats["songs"]) == (1892, 17632)
