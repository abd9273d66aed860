"""Sampled message passing: what a sampled neighbourhood holds, and that a step over one
computes what the whole graph's pass computes where the fan-out keeps every edge."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from adapters.graph.neighbourhoods import NeighbourhoodSampler
from adapters.training.trainers import AdvancedTrainer
from domain.ports import SilentProgress
from domain.training import TrainingSpec


def _built(dataset, tmp_path, kind: str, **spec) -> AdvancedTrainer:
    trainer = AdvancedTrainer(TrainingSpec(model=kind, epochs=0, seed=3, **spec), tmp_path, SilentProgress())
    trainer.train(dataset)
    trainer.model.eval()
    return trainer


def _widest(data, relations) -> int:
    return max(int(torch.bincount(data[rel].edge_index[1]).max()) for rel in relations
               if data[rel].edge_index.shape[1])


def test_a_sample_keeps_at_most_fanout_real_edges_into_each_node(small_dataset, tmp_path):
    trainer = _built(small_dataset, tmp_path, "gat-enhanced")
    data, model = trainer.bundle.data, trainer.model
    sampler = NeighbourhoodSampler(data, model.message_relations, 2, fanout=2, seed=0)
    seeds = {"user": torch.tensor([3, 0, 5]), "song": torch.tensor([7, 2])}
    sample = sampler.sample(seeds)
    for node_type, chosen in seeds.items():  # the seeds first, in their order
        assert torch.equal(sample.nodes[node_type][:len(chosen)], chosen)
    for node_type, nodes in sample.nodes.items():
        assert len(torch.unique(nodes)) == len(nodes)
        assert torch.equal(sample.local[node_type][nodes], torch.arange(len(nodes)))
    sampled_edges = 0
    for rel in model.message_relations:
        src, _, dst = rel
        local = sample.graph[rel].edge_index
        edges = torch.stack([sample.nodes[src][local[0]], sample.nodes[dst][local[1]]])
        real = set(map(tuple, data[rel].edge_index.T.tolist()))
        assert set(map(tuple, edges.T.tolist())) <= real, rel
        kept = torch.bincount(edges[1], minlength=data[dst].num_nodes)
        degree = torch.bincount(data[rel].edge_index[1], minlength=data[dst].num_nodes)
        assert bool((kept <= 2).all()), rel
        if dst in seeds:  # a seed keeps min(degree, fanout) of its edges of every relation into it
            assert torch.equal(kept[seeds[dst]], degree[seeds[dst]].clamp(max=2)), rel
        sampled_edges += edges.shape[1]
    assert 0 < sampled_edges < sum(data[rel].edge_index.shape[1] for rel in model.message_relations)


def test_samples_follow_the_seed(small_dataset, tmp_path):
    trainer = _built(small_dataset, tmp_path, "gat-basic")
    seeds = {"user": torch.arange(10), "song": torch.arange(20)}

    def drawn(seed: int):
        sampler = NeighbourhoodSampler(trainer.bundle.data, trainer.model.message_relations, 1, 3, seed)
        sampler.shuffle()
        return sampler.sample(seeds).nodes["song"]

    assert torch.equal(drawn(1), drawn(1))
    assert not torch.equal(drawn(1), drawn(2))


@pytest.mark.parametrize("kind", ["gat-basic", "gat-enhanced"])
def test_a_sample_holding_every_edge_gives_the_whole_graphs_embeddings(small_dataset, tmp_path, kind):
    trainer = _built(small_dataset, tmp_path, kind)
    data, model = trainer.bundle.data, trainer.model
    sampler = NeighbourhoodSampler(data, model.message_relations, model.message_layers,
                                   _widest(data, model.message_relations), seed=0)
    # gat-enhanced normalises over the nodes of its pass: only every node gives the same statistics
    users = torch.arange(data["user"].num_nodes) if kind == "gat-enhanced" else torch.tensor([4, 1, 9])
    songs = torch.arange(data["song"].num_nodes) if kind == "gat-enhanced" else torch.tensor([0, 11, 30, 2])
    with torch.no_grad():
        whole = model()
        sampled = model(sampler.sample({"user": users, "song": songs}))
    assert torch.allclose(sampled["user"][:len(users)], whole["user"][users], atol=1e-5)
    assert torch.allclose(sampled["song"][:len(songs)], whole["song"][songs], atol=1e-5)


def test_a_sampled_step_gets_the_whole_graphs_loss_and_gradients_when_it_keeps_every_edge(
        small_dataset, tmp_path):
    full = _built(small_dataset, tmp_path / "full", "gat-basic", message_passing="full")
    widest = _widest(full.bundle.data, full.model.message_relations)
    sampled = _built(small_dataset, tmp_path / "sampled", "gat-basic", message_passing="sampled",
                     fanout=widest)
    assert full.neighbourhoods is None and sampled.neighbourhoods is not None
    pairs = full.train_pairs
    rows = np.random.default_rng(0).integers(0, len(pairs.users), 200)
    users, positives = pairs.users[rows], pairs.songs[rows]
    negatives = full.sampler.sample(np.repeat(users, 4)).reshape(len(rows), 4)

    def step(trainer: AdvancedTrainer) -> tuple[float, dict[str, torch.Tensor]]:
        trainer.model.zero_grad()
        loss = trainer._step_backward(users, positives, negatives, pairs.hours[rows])
        return loss, {name: p.grad for name, p in trainer.model.named_parameters() if p.grad is not None}

    full_loss, full_grads = step(full)
    sampled_loss, sampled_grads = step(sampled)
    assert sampled_loss == pytest.approx(full_loss, rel=1e-5)
    assert full_grads.keys() == sampled_grads.keys() and len(full_grads) > 3
    for name, grad in full_grads.items():
        assert torch.allclose(sampled_grads[name], grad, atol=1e-6, rtol=1e-4), name


def test_sampled_training_keeps_the_spec_batch_and_learns(small_dataset, tmp_path):
    spec = {"epochs": 4, "batch_size": 128, "fanout": 5}
    sampled = AdvancedTrainer(TrainingSpec(model="gat-basic", seed=3, message_passing="sampled", **spec),
                              tmp_path / "sampled", SilentProgress())
    sampled_result = sampled.train(small_dataset)
    popularity = AdvancedTrainer(TrainingSpec(model="popularity", seed=3), tmp_path / "popularity",
                                 SilentProgress()).train(small_dataset)
    assert sampled.epoch_batch_size() == 128
    losses = [row["loss"] for row in sampled_result.history]
    assert losses[-1] < losses[0]
    assert sampled_result.test["recall@10"] > popularity.test["recall@10"]


def test_auto_samples_only_where_a_full_pass_would_not_fit_in_memory(small_dataset, tmp_path, monkeypatch):
    from adapters.training import trainers

    spec = TrainingSpec(model="gat-basic", epochs=0, seed=3)
    trainer = AdvancedTrainer(spec, tmp_path / "roomy", SilentProgress())
    trainer.train(small_dataset)
    assert trainer.message_passing() == "full" and trainer.neighbourhoods is None
    needed = len(trainer.train_pairs.users) * trainers.FULL_PASS_BYTES_PER_PAIR
    monkeypatch.setattr(trainers, "device_memory", lambda device: int(needed / trainers.MEMORY_SHARE) - 1)
    tight = AdvancedTrainer(spec, tmp_path / "tight", SilentProgress())
    tight.train(small_dataset)
    assert tight.message_passing() == "sampled" and tight.neighbourhoods is not None
    asked = AdvancedTrainer(replace(spec, message_passing="full"), tmp_path / "asked", SilentProgress())
    asked.train(small_dataset)
    assert asked.neighbourhoods is None  # what is asked for is what runs
