"""Listening context: the temporal split, a context-aware GAT model trained and served, and a
generator whose tastes depend on the hour."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest

from adapters.evaluation.protocol import pair_hours, split_interactions
from adapters.ingest.arrow_aggregator import ArrowInteractionAggregator
from adapters.scoring.served import LoadedModel
from adapters.sources.seed_csv import SeedCsvSource
from adapters.sources.synthetic import DAILY_PEAKS, SyntheticSeedGenerator
from adapters.sources.synthetic_world import build_world
from adapters.training.trainers import AdvancedTrainer
from application.ingest_sessions import IngestCommand, IngestSessions
from domain.errors import InvalidSetting
from domain.ports import SilentProgress, SourceRequest
from domain.training import TrainingSpec
from tests.conftest import SMALL
from tests.fakes import InMemoryInteractionRepository

HOURLY = replace(SMALL, users=80, hourly_tastes=0.9)


@pytest.fixture(scope="module")
def hourly_raw(tmp_path_factory):
    out = tmp_path_factory.mktemp("hourly-raw")
    SyntheticSeedGenerator().generate(out, HOURLY, SilentProgress())
    return out


@pytest.fixture(scope="module")
def hourly_dataset(hourly_raw):
    repository = InMemoryInteractionRepository()
    IngestSessions(SeedCsvSource(), ArrowInteractionAggregator(), repository).execute(
        IngestCommand(SourceRequest(path=hourly_raw)))
    return repository.load()


@pytest.fixture(scope="module")
def trained(hourly_dataset, tmp_path_factory):
    """A gat-basic model with context and one without, on the same temporal split."""
    runs = {}
    for context in (True, False):
        spec = TrainingSpec(model="gat-basic", epochs=3, batch_size=512, seed=2, split="temporal",
                            context=context)
        trainer = AdvancedTrainer(spec, tmp_path_factory.mktemp("run"), SilentProgress())
        runs[context] = (trainer.train(hourly_dataset), LoadedModel(trainer.exported, hourly_dataset))
    return runs


def test_a_temporal_split_holds_each_users_newest_discoveries_out(hourly_dataset):
    split = split_interactions(hourly_dataset.interactions, seed=1, by_time=True)

    def by_user(table: pa.Table, how: str) -> dict[str, int]:
        grouped = table.group_by("user_id").aggregate([("first_played", how)])
        return dict(zip(grouped.column("user_id").to_pylist(),
                        grouped.column(f"first_played_{how}").to_pylist(), strict=True))

    newest_train, oldest_validation = by_user(split.train, "max"), by_user(split.validation, "min")
    oldest_test, newest_validation = by_user(split.test, "min"), by_user(split.validation, "max")
    assert oldest_test
    for user, first in oldest_test.items():
        assert first >= newest_validation.get(user, first) and first >= newest_train[user]
    for user, first in oldest_validation.items():
        assert first >= newest_train[user]


def test_a_temporal_split_of_pairs_without_times_is_refused(hourly_dataset):
    untimed = hourly_dataset.interactions.set_column(
        hourly_dataset.interactions.schema.get_field_index("first_played"), "first_played",
        pa.nulls(hourly_dataset.interactions.num_rows, pa.int64()))
    with pytest.raises(InvalidSetting, match="play times.*--split random"):
        split_interactions(untimed, by_time=True)
    assert (pair_hours(untimed) == -1).all()


def test_a_context_model_ranks_for_the_hour_and_any_time_without_one(trained):
    result, model = trained[True]
    assert model.context_emb is not None and model.context_emb.shape[0] == 168
    assert {"context_recall@10", "context_ndcg@10", "context_groups"} <= result.test.keys()
    users = np.arange(len(model.user_ids))
    morning, night = (np.full(len(users), hour) for hour in (2 * 24 + 8, 2 * 24 + 22))
    top_morning = model.top_k(users, 10, model.heard, hours=morning)[1]
    top_night = model.top_k(users, 10, model.heard, hours=night)[1]
    assert (top_morning != top_night).any(axis=1).mean() > 0.5  # the hour changes most lists
    any_time = model.top_k(users, 10, model.heard)[1]
    unknown = model.top_k(users, 10, model.heard, hours=np.full(len(users), -1))[1]
    assert (any_time == unknown).all()


def test_a_model_without_context_ignores_the_hour(trained):
    _, model = trained[False]
    users = np.arange(len(model.user_ids))
    assert model.context_emb is None
    assert (model.top_k(users, 10, model.heard, hours=np.full(len(users), 30))[1]
            == model.top_k(users, 10, model.heard)[1]).all()


def test_context_wins_at_the_hour_where_tastes_follow_the_hour(trained):
    with_context, without = trained[True][0].test, trained[False][0].test
    assert with_context["context_groups"] == without["context_groups"] > 0
    assert with_context["context_ndcg@10"] > without["context_ndcg@10"]


def test_hourly_tastes_time_plays_by_the_songs_genre(hourly_raw, tmp_path):
    world = build_world(HOURLY)
    peaks = DAILY_PEAKS[world.song_genres.slots[:, 0] % len(DAILY_PEAKS)]

    def share_at_genre_peak(raw) -> float:
        sessions = pacsv.read_csv(raw / "raw_sessions.csv")
        songs = np.array([int(s.split("_")[1]) - 1 for s in sessions.column("track_id").to_pylist()])
        times = pc.cast(sessions.column("timestamp"), pa.timestamp("s", "UTC"))  # the CSV reader's type
        hours = (pc.cast(times, pa.int64()).to_numpy() % 86_400) / 3600
        distance = np.abs((hours - peaks[songs] + 12) % 24 - 12)
        return float((distance < 2).mean())

    plain = tmp_path / "plain"
    SyntheticSeedGenerator().generate(plain, replace(HOURLY, hourly_tastes=0.0), SilentProgress())
    assert share_at_genre_peak(hourly_raw) > share_at_genre_peak(plain) + 0.3
    again = tmp_path / "again"
    SyntheticSeedGenerator().generate(again, HOURLY, SilentProgress())
    assert (again / "raw_sessions.csv").read_bytes() == (hourly_raw / "raw_sessions.csv").read_bytes()
    assert "hourly_tastes" not in json.loads((plain / "generation.json").read_text())["spec"]
    assert json.loads((again / "generation.json").read_text())["spec"]["hourly_tastes"] == 0.9
