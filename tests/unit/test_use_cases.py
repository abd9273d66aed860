"""GenerateData, ValidateData, BuildGraph, TrainModel, RecommendAll and Evaluate on fakes:
what each use case checks before the work, and what it hands the ports."""

from __future__ import annotations

from pathlib import Path

import pytest

from application.data_generation import GenerateData, ValidateData
from application.ingest_sessions import IngestCommand, IngestSessions
from application.learning import BuildGraph, TrainModel
from application.recommending import Evaluate, RecommendAll, chosen_version
from domain.errors import (
    CheckpointError,
    EmptyRepository,
    EngineError,
    InvalidInputFile,
    InvalidSetting,
    RejectedRows,
)
from domain.ports import Catalogue, Dataset, GenerationSpec, SourceRequest
from domain.training import TrainingSpec
from tests.fakes import (
    FixedEvaluator,
    FixedValidator,
    InMemoryFeed,
    InMemoryInteractionRepository,
    InMemoryRecommender,
    InMemoryRegistry,
    InMemorySource,
    Loader,
    RecordingGenerator,
    RecordingGraphBuilder,
    RecordingTrainer,
    SummingAggregator,
)


class _Rows:
    def __init__(self, n: int) -> None:
        self.num_rows = n


def _repository(interactions: int | None) -> InMemoryInteractionRepository:
    repository = InMemoryInteractionRepository()
    if interactions is not None:
        repository.save(Dataset(Catalogue({}), _Rows(interactions)))
    return repository


def test_generate_refuses_impossible_sizes_before_generating(tmp_path):
    generator = RecordingGenerator()
    with pytest.raises(InvalidSetting, match="--songs"):
        GenerateData(generator).execute(tmp_path, GenerationSpec(songs=10, artists=20))
    with pytest.raises(InvalidSetting, match="--users must be at least 1"):
        GenerateData(generator).execute(tmp_path, GenerationSpec(users=0))
    assert generator.specs == []
    generated = GenerateData(generator).execute(tmp_path, GenerationSpec(users=7))
    assert generated.rows == {"users.csv": 7} and generated.spec.users == 7
    assert generated.out_dir == str(tmp_path) and generated.wall_s >= 0


def test_validate_hands_the_directory_to_the_validator(tmp_path):
    report = ValidateData(FixedValidator()).execute(tmp_path)
    assert report.passed and report.checks[0].detail == str(tmp_path)
    assert not ValidateData(FixedValidator()).execute(tmp_path / "missing").passed


def test_build_graph_builds_what_the_repository_holds(tmp_path):
    builder = RecordingGraphBuilder()
    summary = BuildGraph(_repository(5), builder).execute(tmp_path / "graph.pt")
    assert summary.edges == {"user__listens_to__song": 5} and builder.built[0][1] == tmp_path / "graph.pt"


def test_train_refuses_an_empty_store_before_training(tmp_path):
    trainer = RecordingTrainer()
    with pytest.raises(EmptyRepository):
        TrainModel(_repository(None), trainer, InMemoryRegistry()).execute(TrainingSpec(), tmp_path)
    assert trainer.calls == []


def test_train_hands_the_stored_dataset_and_spec_to_the_trainer(tmp_path):
    trainer, repository = RecordingTrainer(), _repository(3)
    stored = repository.load()
    spec = TrainingSpec(model="gat-basic", epochs=2)
    result = TrainModel(repository, trainer, InMemoryRegistry()).execute(spec, tmp_path / "models")
    assert result.model == "gat-basic"
    assert trainer.calls == [(stored, spec, tmp_path / "models")]


def test_every_training_run_becomes_a_version_promoted_unless_asked_not(tmp_path):
    registry, repository = InMemoryRegistry(), _repository(3)
    first = TrainModel(repository, RecordingTrainer(), registry).execute(TrainingSpec(model="gat-basic"),
                                                                        tmp_path)
    second = TrainModel(repository, RecordingTrainer(), registry).execute(
        TrainingSpec(model="gat-enhanced", lr=0.02), tmp_path, promote=False)
    assert (first.version, first.status, second.version, second.status) == (1, "promoted", 2, "candidate")
    recorded = registry.get(2)
    assert recorded.settings["lr"] == 0.02 and recorded.metrics == {"recall@10": 0.5}
    assert recorded.data_fingerprint == registry.get(1).data_fingerprint  # the same data
    assert registry.promoted().version == 1


def test_a_rank_that_published_no_run_registers_nothing(tmp_path):
    class HelpingRank(RecordingTrainer):
        def train(self, *args):
            result = super().train(*args)
            result.run = None
            return result

    registry = InMemoryRegistry()
    TrainModel(_repository(3), HelpingRank(), registry).execute(TrainingSpec(), tmp_path)
    assert registry.versions() == []


def test_the_promoted_version_answers_unless_a_kind_or_version_is_named():
    registry = InMemoryRegistry(("gat-basic", "gat-enhanced"))
    registry.register("gat-basic", Path("newer"), "data", {}, {})  # v3, a candidate
    assert chosen_version(registry).version == 2
    assert chosen_version(registry, "gat-basic").version == 3  # the newest of a kind not promoted
    registry.promote(1)
    assert chosen_version(registry, "gat-basic").version == 1  # the promoted one, being of that kind
    assert chosen_version(registry, version=2).kind == "gat-enhanced"
    with pytest.raises(InvalidSetting, match="v2 is a gat-enhanced model, not gat-basic"):
        chosen_version(registry, "gat-basic", 2)
    with pytest.raises(CheckpointError, match="no trained popularity model.*gat-basic, gat-enhanced"):
        chosen_version(registry, "popularity")
    with pytest.raises(CheckpointError, match="no trained model yet"):
        chosen_version(InMemoryRegistry())


def test_recommend_all_writes_through_the_model_and_checks_the_file_first(tmp_path):
    use_case = RecommendAll(Loader(InMemoryRecommender({"u1": ["s1", "s2"], "u2": ["s3"]}, [])),
                            InMemoryRegistry(("gat-basic",)))
    result = use_case.execute(1, None, tmp_path / "top.csv")
    assert (result.model, result.rows) == ("gat-basic", 2)
    assert (tmp_path / "top.csv").read_text() == "u1,s1\nu2,s3\n"
    with pytest.raises(InvalidSetting, match="must end in .csv or .parquet"):
        use_case.execute(1, None, tmp_path / "top.json")
    with pytest.raises(InvalidSetting, match="k must be a positive"):
        use_case.execute(0, None, tmp_path / "top.csv")


def test_evaluate_scores_the_trained_models_and_names_the_missing_one():
    registry = InMemoryRegistry(("gat-basic",))
    evaluate = Evaluate(FixedEvaluator(), registry)
    assert [(r.model, r.version) for r in evaluate.execute()] == [("popularity", None), ("gat-basic", 1)]
    assert [r.model for r in evaluate.execute(("popularity",))] == ["popularity"]
    with pytest.raises(EngineError, match="no trained gat-enhanced"):
        evaluate.execute(("gat-enhanced",))
    with pytest.raises(EngineError, match="no trained model"):
        Evaluate(FixedEvaluator(), InMemoryRegistry()).execute()


def test_evaluate_takes_the_promoted_version_of_its_kind_or_the_one_named():
    registry = InMemoryRegistry(("gat-basic", "gat-basic", "gat-enhanced"))
    registry.promote(1)
    evaluate = Evaluate(FixedEvaluator(), registry)
    assert [r.version for r in evaluate.execute()] == [None, 1, 3]
    assert [r.version for r in evaluate.execute(version=2)] == [2]


def _ingest(feeds: dict[str, InMemoryFeed]) -> tuple[IngestSessions, InMemoryInteractionRepository]:
    repository = InMemoryInteractionRepository()
    return IngestSessions(InMemorySource(feeds), SummingAggregator(), repository), repository


def test_ingest_stores_new_plays_once_and_skips_an_input_it_holds():
    first = [("u1", "s1", 1.0, 100), ("u1", "s2", 0.5, 200), ("u2", "s1", 1.0, 300)]
    overlapping = [*first[1:], ("u2", "s3", 1.0, 400)]
    ingest, repository = _ingest({"a": InMemoryFeed("a", first), "b": InMemoryFeed("b", overlapping)})
    report = ingest.execute(IngestCommand(SourceRequest(path=Path("a"))))
    assert (report.interactions, report.plays, report.plays_repeated) == (3, 3, 0)
    again = ingest.execute(IngestCommand(SourceRequest(path=Path("a"))))
    assert again.skipped and repository.stats().plays == 3
    report = ingest.execute(IngestCommand(SourceRequest(path=Path("b"))))
    assert (report.interactions, report.plays, report.plays_repeated) == (4, 4, 2)
    assert [s.name for s in repository.load().sources] == ["a", "b"]


def test_ingest_refuses_an_empty_input_and_strict_rejects_leaving_the_store_as_it_was():
    feeds = {"good": InMemoryFeed("good", [("u1", "s1", 1.0, 100)]), "empty": InMemoryFeed("empty", []),
             "bad": InMemoryFeed("bad", [("u2", "s2", 1.0, 100)], rejected=1)}
    ingest, repository = _ingest(feeds)
    ingest.execute(IngestCommand(SourceRequest(path=Path("good"))))
    before = repository.load()
    with pytest.raises(InvalidInputFile, match="holds no plays"):
        ingest.execute(IngestCommand(SourceRequest(path=Path("empty"))))
    with pytest.raises(RejectedRows, match="strict mode"):
        ingest.execute(IngestCommand(SourceRequest(path=Path("bad")), strict=True))
    assert repository.load() is before
    lenient = ingest.execute(IngestCommand(SourceRequest(path=Path("bad"))))
    assert (lenient.rows_rejected, lenient.plays) == (1, 2)
