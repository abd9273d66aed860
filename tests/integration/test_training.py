"""Trainers, the honest split and full-ranking metrics."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pyarrow.compute as pc
import pytest
import torch

from adapters.evaluation.protocol import Pairs, from_assignment, rank_served, split_interactions
from adapters.graph.pyg_builder import LISTENS
from adapters.models.factory import load_checkpoint
from adapters.scoring.served import LoadedModel
from adapters.training.trainers import AdvancedTrainer, SimpleTrainer
from domain.ports import SilentProgress
from domain.training import TrainingSpec


def _keys(table):
    return set(zip(table.column("user_id").to_pylist(), table.column("song_id").to_pylist(), strict=True))


def test_split_is_per_user_disjoint_complete_and_seeded(small_dataset):
    split = split_interactions(small_dataset.interactions, seed=3)
    train, validation, test = (_keys(t) for t in (split.train, split.validation, split.test))
    assert not (train & validation) and not (train & test) and not (validation & test)
    assert train | validation | test == _keys(small_dataset.interactions)
    per_user = small_dataset.interactions.group_by("user_id").aggregate([("song_id", "count")])
    evaluable = {u for u, n in zip(*per_user.to_pydict().values(), strict=True) if n >= 3}
    assert {u for u, _ in test} == evaluable == {u for u, _ in validation}
    assert 0.6 < len(train) / small_dataset.interactions.num_rows < 0.8
    assert _keys(split_interactions(small_dataset.interactions, seed=3).test) == test
    assert _keys(from_assignment(small_dataset.interactions, split.assignment()).test) == test


def test_no_validation_or_test_interaction_reaches_the_training_graph(small_dataset, tmp_path):
    spec = TrainingSpec(model="gat-basic", epochs=1, batch_size=256, seed=5)
    trainer = AdvancedTrainer(spec, tmp_path, SilentProgress())
    trainer.train(small_dataset)
    bundle = trainer.bundle
    users, songs = bundle.data[LISTENS].edge_index.numpy()
    graph_edges = {(bundle.ids["user"][u], bundle.ids["song"][s]) for u, s in zip(users, songs, strict=True)}
    held_out = _keys(trainer.split.validation) | _keys(trainer.split.test)
    assert held_out and not (graph_edges & held_out)
    assert graph_edges == _keys(trainer.split.train)
    # popularity and the negative sampler see the training interactions only
    train_pairs = Pairs(trainer.split.train, bundle.ids)
    listeners = np.bincount(train_pairs.songs, minlength=len(bundle.ids["song"]))
    assert np.array_equal(bundle.song_popularity.numpy(), listeners)
    assert len(trainer.sampler.known) == trainer.split.train.num_rows


def test_advanced_training_writes_checkpoints_metrics_and_curves(small_dataset, tmp_path):
    spec = TrainingSpec(model="gat-enhanced", epochs=3, batch_size=512, seed=1, checkpoint_every=2)
    result = AdvancedTrainer(spec, tmp_path, SilentProgress()).train(small_dataset)
    assert {"model", "best", "metrics", "curves", "split"} <= result.files.keys()
    assert (tmp_path / "checkpoint-epoch-2.pt").exists()
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert len(metrics["history"]) == result.epochs_run == 3
    assert 1 <= metrics["best_epoch"] <= 3 and 0 <= metrics["test"]["recall@10"] <= 1
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"
    model, state = load_checkpoint(tmp_path / "model.pt")
    assert state["epoch"] == 3 and model.kind == "gat-enhanced"


def test_training_is_reproducible_with_a_seed(small_dataset, tmp_path):
    spec = TrainingSpec(model="gat-basic", trainer="simple", epochs=2, batch_size=512, seed=9)
    first = SimpleTrainer(spec, tmp_path / "a", SilentProgress()).train(small_dataset)
    second = SimpleTrainer(spec, tmp_path / "b", SilentProgress()).train(small_dataset)
    assert [h["loss"] for h in first.history] == [h["loss"] for h in second.history]
    assert "train_recall@10" in first.history[0]


def test_popularity_ranks_by_training_listeners(small_dataset, tmp_path):
    spec = TrainingSpec(model="popularity", seed=2)
    trainer = AdvancedTrainer(spec, tmp_path, SilentProgress())
    result = trainer.train(small_dataset)
    assert result.epochs_run == 0 and result.parameters["total"] == 0
    top_song = int(torch.argmax(trainer.bundle.song_popularity))
    counts = pc.value_counts(trainer.split.train.column("song_id")).to_pylist()
    assert max(c["counts"] for c in counts) == int(trainer.bundle.song_popularity[top_song])


def test_with_a_weight_average_the_saved_model_is_the_one_validation_chose(small_dataset, tmp_path):
    spec = TrainingSpec(model="gat-basic", epochs=3, batch_size=256, seed=4, ema_decay=0.5)
    trainer = AdvancedTrainer(spec, tmp_path, SilentProgress())
    result = trainer.train(small_dataset)
    # the served file, ranked again, gives the validation figure that chose these weights
    ranked = rank_served(LoadedModel.from_file(tmp_path / "serving.npz", None), trainer.validation,
                         trainer.known_train)
    assert ranked.recall == pytest.approx(result.test["val_recall@10"])
    assert result.history[result.best_epoch - 1]["val_recall@10"] == pytest.approx(ranked.recall)
    plain = AdvancedTrainer(replace(spec, ema_decay=0.0), tmp_path / "plain", SilentProgress()).train(
        small_dataset)
    assert [h["loss"] for h in plain.history] == [h["loss"] for h in result.history]  # same steps
    assert [h["val_recall@10"] for h in plain.history] != [h["val_recall@10"] for h in result.history]


def test_validating_every_other_epoch_judges_those_epochs_and_the_last(small_dataset, tmp_path):
    spec = TrainingSpec(model="gat-basic", epochs=5, batch_size=512, seed=3, validate_every=2, patience=50)
    result = AdvancedTrainer(spec, tmp_path, SilentProgress()).train(small_dataset)
    judged = [h["epoch"] for h in result.history if "val_recall@10" in h]
    assert judged == [2, 4, 5] and len(result.history) == 5
    assert result.best_epoch in judged
    best = max(h["val_recall@10"] for h in result.history if "val_recall@10" in h)
    assert result.test["val_recall@10"] == pytest.approx(best)
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(("kind", "context", "hardest", "passing"), [
    ("gat-basic", False, False, "full"), ("gat-enhanced", False, False, "full"),
    ("gat-basic", True, False, "full"), ("gat-basic", False, True, "full"),
    ("gat-enhanced", False, True, "sampled")])
def test_a_batch_in_loss_chunks_gets_the_gradients_of_the_whole_batch(small_dataset, tmp_path, monkeypatch,
                                                                       kind, context, hardest, passing):
    """Past LOSS_CHUNK pairs a step's loss is taken chunk by chunk, each chunk against the
    rows it reads of one forward pass: same loss, same gradients (dropout off, so both passes
    compute the same graph; a sampled pass's fan-out keeps every edge, so it draws alike)."""
    from adapters.training import trainers

    spec = TrainingSpec(model=kind, epochs=0, l2=1e-3, seed=2, context=context, hard_negatives=hardest,
                        message_passing=passing, fanout=1000)
    trainer = AdvancedTrainer(spec, tmp_path, SilentProgress())
    trainer.train(small_dataset)
    trainer.model.eval()
    rng = np.random.default_rng(0)
    pairs = trainer.train_pairs
    rows = rng.integers(0, len(pairs.users), 300)
    users, positives = pairs.users[rows], pairs.songs[rows]
    negatives = trainer.sampler.sample(np.repeat(users, 3)).reshape(len(rows), 3)

    def gradients(chunk: int) -> tuple[float, dict[str, torch.Tensor]]:
        monkeypatch.setattr(trainers, "LOSS_CHUNK", chunk)
        trainer.model.zero_grad()
        loss = trainer._step_backward(users, positives, negatives, pairs.hours[rows])
        return loss, {name: p.grad.clone() for name, p in trainer.model.named_parameters()
                      if p.grad is not None}

    whole_loss, whole = gradients(len(rows))
    chunked_loss, chunked = gradients(64)
    assert chunked_loss == pytest.approx(whole_loss, rel=1e-5)
    assert whole.keys() == chunked.keys() and len(whole) > 3
    # atol: gat-enhanced's first-layer biases feed a batch norm, so their true gradient is
    # zero and what they get is rounding, which a sampled pass's edge order moves by ~1e-6
    for name, grad in whole.items():
        assert torch.allclose(chunked[name], grad, atol=3e-6, rtol=1e-4), name


def test_an_epoch_takes_at_most_the_step_limit_however_large_the_data(small_dataset, tmp_path, monkeypatch):
    from adapters.training import trainers

    monkeypatch.setattr(trainers, "MAX_STEPS_PER_EPOCH", 3)
    spec = TrainingSpec(model="gat-basic", epochs=1, batch_size=64, seed=2)
    trainer = AdvancedTrainer(spec, tmp_path, SilentProgress())
    steps = []
    monkeypatch.setattr(trainer, "_step_backward", lambda users, *_: steps.append(len(users)) or 0.0)
    trainer.train(small_dataset)
    assert len(steps) == 3 and sum(steps) == len(trainer.train_pairs.users)
    assert trainer.epoch_batch_size() == -(-len(trainer.train_pairs.users) // 3) > 64


def test_validation_ranks_a_seeded_sample_of_users_and_the_test_ranks_them_all(small_dataset, tmp_path):
    spec = TrainingSpec(model="popularity", seed=4, validation_users=7)
    first = AdvancedTrainer(spec, tmp_path / "a", SilentProgress())
    result = first.train(small_dataset)
    judged = np.flatnonzero(first.validation.counts() > 0)
    everyone = np.flatnonzero(Pairs(first.split.validation, first.bundle.ids).matrix().counts() > 0)
    assert len(judged) == 7 < len(everyone) and set(judged) <= set(everyone)
    again = AdvancedTrainer(spec, tmp_path / "b", SilentProgress())
    again.train(small_dataset)
    assert np.array_equal(np.flatnonzero(again.validation.counts() > 0), judged)
    # the test still ranks every user with test songs, and excludes every validation song
    assert result.test["users"] == int((first.test.counts() > 0).sum()) > 7
    assert first.known_before_test.counts().sum() == first.known_train.counts().sum() + len(
        Pairs(first.split.validation, first.bundle.ids).songs)
