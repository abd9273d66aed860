from __future__ import annotations

import json
from pathlib import Path

from adapters.models.factory import load_checkpoint


def test_build_graph_then_train_reports_json_and_writes_files(engine, small_raw_dir):
    engine.json("ingest", small_raw_dir)
    graph = engine.json("build-graph")
    assert graph["nodes"]["user"] == 60 and Path(graph["graph"]).exists()
    result = engine.json("train", "--model", "gat-basic", "--epochs", "2", "--batch-size", "512",
                         "--hard-negatives", "--negatives", "4", "--l2", "0.3", "--ema-decay", "0.9",
                         "--members", "2")
    assert {"model", "parameters", "best_epoch", "wall_s", "test"} <= result.keys()
    assert result["model"] == "gat-basic" and result["parameters"]["total"] > 0
    assert {"recall@10", "ndcg@10"} <= result["test"].keys()
    for name in ("model", "metrics", "curves"):
        assert Path(result["files"][name]).exists()
    metrics = json.loads(Path(result["files"]["metrics"]).read_text())
    assert len(metrics["history"]) == 2
    _, checkpoint = load_checkpoint(Path(result["files"]["model"]))
    assert checkpoint["spec"]["hard_negatives"] is True and checkpoint["spec"]["negatives"] == 4
    assert checkpoint["spec"]["l2"] == 0.3 and checkpoint["spec"]["ema_decay"] == 0.9
    assert checkpoint["hyper_parameters"]["members"] == 2


def test_train_with_sampled_message_passing_records_it_in_the_run(engine, small_raw_dir):
    engine.json("ingest", small_raw_dir)
    result = engine.json("train", "--model", "gat-enhanced", "--epochs", "2", "--batch-size", "256",
                         "--message-passing", "sampled", "--fanout", "4")
    assert len(result["history"]) == 2 and result["message_passing"] == "sampled"
    _, checkpoint = load_checkpoint(Path(result["files"]["model"]))
    assert checkpoint["spec"]["message_passing"] == "sampled" and checkpoint["spec"]["fanout"] == 4


def test_train_prints_a_summary_and_writes_no_graph_of_all_interactions(engine, small_raw_dir):
    engine.json("ingest", small_raw_dir)
    result = engine("train", "--model", "popularity")
    assert result.exit_code == 0, result.stderr
    assert "test Recall@10" in result.output and "best epoch" in result.output
    # the graph of every interaction, held-out ones included, is build-graph's, for looking at
    assert not (engine.cwd / "engine-data" / "graph").exists()


def test_train_on_an_empty_repository_exits_2(engine):
    result = engine("train", "--model", "gat-basic")
    assert result.exit_code == 2 and "engine ingest" in result.stderr


def test_train_rejects_bad_settings_with_exit_2(engine, small_raw_dir):
    engine.json("ingest", small_raw_dir)
    assert engine("train", "--model", "gat-huge").exit_code == 2
    for model, option, value, named in (("gat-enhanced", "--alpha", "1.5", "alpha"),
                                        ("gat-basic", "--negatives", "0", "--negatives"),
                                        ("gat-basic", "--ema-decay", "1", "--ema-decay"),
                                        ("gat-basic", "--validate-every", "0", "--validate-every"),
                                        ("gat-basic", "--members", "0", "--members"),
                                        ("gat-basic", "--fanout", "0", "--fanout"),
                                        ("gat-basic", "--message-passing", "some", "--message-passing"),
                                        ("popularity", "--members", "2", "members")):
        result = engine("train", "--model", model, option, value)
        assert result.exit_code == 2 and named in result.stderr, (option, value, result.stderr)
    env = engine("train", env={"ENGINE_TRAINING__EPOCHS": "-1"})
    assert env.exit_code == 2 and "training.epochs" in env.stderr
