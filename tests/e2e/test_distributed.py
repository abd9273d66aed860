"""`engine train --nproc 2`: two real processes on torch.distributed (gloo), as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ENGINE = str(Path(sys.executable).with_name("engine"))
TRAIN = ["train", "--model", "gat-basic", "--epochs", "4", "--batch-size", "512", "--json"]


def _engine(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([ENGINE, "--data-dir", str(data_dir), *args], capture_output=True, text=True,
                          timeout=600, env={"PATH": str(Path(sys.executable).parent), "OMP_NUM_THREADS": "1"})


def test_two_ranks_learn_what_one_process_learns_and_write_one_run(small_raw_dir, tmp_path):
    data_dir = tmp_path / "engine"
    assert _engine(data_dir, "ingest", str(small_raw_dir)).returncode == 0
    one = _engine(data_dir, *TRAIN)
    two = _engine(data_dir, *TRAIN, "--nproc", "2")
    assert one.returncode == 0 and two.returncode == 0, one.stderr + two.stderr
    single, ranks = json.loads(one.stdout), json.loads(two.stdout)  # one report, from rank 0
    # each rank learns from half of every batch; the averaged gradients are the batch's
    losses = [(a["loss"], b["loss"]) for a, b in zip(single["history"], ranks["history"], strict=True)]
    assert len(losses) == 4 and all(abs(a - b) <= 1e-3 * a for a, b in losses)
    assert abs(single["test"]["recall@10"] - ranks["test"]["recall@10"]) <= 0.02
    assert abs(single["test"]["ndcg@10"] - ranks["test"]["ndcg@10"]) <= 0.02
    runs = sorted((data_dir / "models" / "gat-basic").glob("run-*"))
    assert runs[-1].name == Path(ranks["files"]["model"]).parent.name and len(runs) == 2
    versions = json.loads(_engine(data_dir, "models", "list", "--json").stdout)
    assert [v["version"] for v in versions] == [1, 2]  # the two ranks' run registered once


def test_a_bad_setting_is_refused_before_any_rank_starts(small_raw_dir, tmp_path):
    data_dir = tmp_path / "engine"
    assert _engine(data_dir, "ingest", str(small_raw_dir)).returncode == 0
    refused = _engine(data_dir, "train", "--lr", "0", "--nproc", "2")
    assert refused.returncode == 2 and "training.lr (--lr" in refused.stderr
    assert "rank" not in refused.stderr.lower()
