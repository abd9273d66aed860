from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from entrypoints.cli import cli
from tests.conftest import current_run


@pytest.fixture(scope="module")
def trained_dir(small_raw_dir, tmp_path_factory) -> Path:
    data_dir = tmp_path_factory.mktemp("trained")
    runner = CliRunner()
    for args in (["ingest", str(small_raw_dir)],
                 ["train", "--model", "gat-basic", "--epochs", "1", "--batch-size", "512"]):
        result = runner.invoke(cli, ["--data-dir", str(data_dir), *args, "--json"])
        assert result.exit_code == 0, result.stderr
    return data_dir


@pytest.fixture
def data_dir(trained_dir, tmp_path) -> Path:
    copy = tmp_path / "data"
    shutil.copytree(trained_dir, copy)
    return copy


def test_recommend_with_explanations_as_json(engine, data_dir):
    out = engine.json("--data-dir", data_dir, "recommend", "--user", "user_0001", "-k", "3",
                      "--explain", "--model", "gat-basic")
    assert out["user_id"] == "user_0001" and out["model"] == "gat-basic" and not out["cold_start"]
    assert [r["rank"] for r in out["recommendations"]] == [1, 2, 3]
    explanation = out["recommendations"][0]["explanation"]
    for key in ("collaborative_score", "genre_score", "final_score", "matched_genres", "genre_influence",
                "influential_history", "popularity_context", "text"):
        assert key in explanation
    assert out["recommendations"][0]["song_name"] and out["recommendations"][0]["artist_name"]


def test_unknown_user_gets_popular_songs_and_is_told(engine, data_dir):
    result = engine("--data-dir", data_dir, "recommend", "--user", "nobody", "--model", "gat-basic")
    assert result.exit_code == 0 and "cold start" in result.output


def test_explain_draws_the_attention_picture(engine, data_dir, tmp_path):
    out = engine.json("--data-dir", data_dir, "explain", "--user", "user_0002", "--song", "track_0001",
                      "--model", "gat-basic", "--plot", tmp_path / "why.png")
    assert out["explanation"]["final_score"] == pytest.approx(out["score"])
    assert (tmp_path / "why.png").read_bytes()[:4] == b"\x89PNG"


def test_all_users_to_csv(engine, data_dir, tmp_path):
    out = engine.json("--data-dir", data_dir, "recommend", "--all-users", "-k", "2",
                      "--output", tmp_path / "recs.csv", "--model", "gat-basic")
    header = (tmp_path / "recs.csv").read_text().splitlines()[0]
    assert out["rows"] > 0 and "song_name" in header and "artist_name" in header


def test_evaluate_puts_popularity_beside_the_trained_model(engine, data_dir):
    out = engine.json("--data-dir", data_dir, "evaluate")
    assert [m["model"] for m in out["models"]] == ["popularity", "gat-basic"]
    table = engine("--data-dir", data_dir, "evaluate")
    assert "Recall@10" in table.output and "casual" in table.output


@pytest.mark.parametrize("args, message", [
    (["recommend", "--user", "user_0001", "-k", "0", "--model", "gat-basic"], "k must be"),
    (["recommend", "--user", "user_0001", "--model", "gat-enhanced"], "engine train --model gat-enhanced"),
    (["explain", "--user", "user_0001", "--song", "nope", "--model", "gat-basic"], "nope"),
    (["recommend", "--user", "user_0001", "--model", "gat-basic", "--genres", "Polka"], "Polka"),
    (["recommend", "--user", "user_0001", "--model", "gat-basic", "--at", "noon"], "--at 'noon'"),
    (["explain", "--user", "user_0001", "--song", "track_0001", "--at", "2024-13-01"], "ISO-8601"),
])
def test_bad_requests_exit_2_with_one_line(engine, data_dir, args, message):
    result = engine("--data-dir", data_dir, *args)
    assert result.exit_code == 2 and message in result.stderr and result.stderr.count("\n") == 1


def test_unknown_model_kind_exits_2(engine, data_dir):
    assert engine("--data-dir", data_dir, "recommend", "--user", "u", "--model", "bert").exit_code == 2


def test_corrupt_checkpoint_exits_2(engine, data_dir):
    run = current_run(data_dir, "gat-basic")
    (run / "serving.npz").unlink()
    (run / "model.pt").write_bytes(b"not a checkpoint")
    result = engine("--data-dir", data_dir, "recommend", "--user", "user_0001", "--model", "gat-basic")
    assert result.exit_code == 2 and "checkpoint" in result.stderr


def test_empty_catalogue_exits_2(engine, data_dir, tmp_path):
    empty = tmp_path / "empty"
    shutil.copytree(data_dir / "models", empty / "models")
    result = engine("--data-dir", empty, "recommend", "--user", "user_0001", "--model", "gat-basic")
    assert result.exit_code == 2 and "engine ingest" in result.stderr


def test_evaluate_without_training_exits_2(engine, tmp_path):
    result = engine("--data-dir", tmp_path / "fresh", "evaluate")
    assert result.exit_code == 2 and "engine train" in result.stderr


def test_a_context_model_answers_for_the_hour_asked(engine, data_dir):
    trained = engine.json("--data-dir", data_dir, "train", "--model", "gat-basic", "--context", "--split",
                          "temporal", "--epochs", "2", "--batch-size", "512")
    assert trained["test"]["context_groups"] > 0
    lists = {at: engine.json("--data-dir", data_dir, "recommend", "--user", "user_0003", "-k", "10",
                             "--explain", "--counterfactual", "--at", at)
             for at in ("2024-05-01T08:00", "2024-05-01T10:00+02:00", "2024-05-04T22:00")}
    morning, same_hour, saturday_night = lists.values()
    assert "ranked for Wednesday 08:00 UTC (listening context)" in morning["notices"]
    assert morning["recommendations"] == same_hour["recommendations"]
    assert morning["recommendations"] != saturday_night["recommendations"]
    song = saturday_night["recommendations"][0]
    explained = engine.json("--data-dir", data_dir, "explain", "--user", "user_0003",
                            "--song", song["song_id"], "--at", "2024-05-04T22:00")
    assert explained["rank"] == 1 and explained["score"] == pytest.approx(song["score"], rel=1e-6)
    plain = engine.json("--data-dir", data_dir, "recommend", "--user", "user_0003", "--model-version", "1",
                        "--at", "2024-05-01T08:00")
    assert any("no listening context" in notice for notice in plain["notices"])
