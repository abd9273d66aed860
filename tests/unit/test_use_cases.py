"""GenerateData, ValidateData, BuildGraph, TrainModel, RecommendAll and Evaluate on fakes:
what each use case checks before the work, and what it hands the ports."""

from __future__ import annotations

import pytest

from application.data_generation import GenerateData, ValidateData
from application.learning import BuildGraph, TrainModel
from application.recommending import Evaluate, RecommendAll
from domain.errors import EmptyRepository, EngineError, InvalidSetting
from domain.ports import Catalogue, Dataset, GenerationSpec
from domain.training import TrainingSpec
from tests.fakes import (
    FixedEvaluator,
    FixedValidator,
    InMemoryInteractionRepository,
    InMemoryRecommender,
    Loader,
    RecordingGenerator,
    RecordingGraphBuilder,
    RecordingTrainer,
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
    assert GenerateData(generator).execute(tmp_path, GenerationSpec(users=7)) == {"users": 7}


def test_validate_hands_the_directory_to_the_validator(tmp_path):
    assert ValidateData(FixedValidator()).execute(tmp_path)["checks"][0][1] is True


def test_build_graph_builds_what_the_repository_holds(tmp_path):
    builder = RecordingGraphBuilder()
    summary = BuildGraph(_repository(5), builder).execute(tmp_path / "graph.pt")
    assert summary == {"interactions": 5} and builder.built[0][1] == tmp_path / "graph.pt"


def test_train_refuses_an_empty_store_before_training(tmp_path):
    trainer = RecordingTrainer()
    with pytest.raises(EmptyRepository):
        TrainModel(_repository(None), trainer).execute(TrainingSpec(), tmp_path)
    assert trainer.calls == []


def test_train_hands_the_stored_dataset_and_spec_to_the_trainer(tmp_path):
    trainer, repository = RecordingTrainer(), _repository(3)
    stored = repository.load()
    spec = TrainingSpec(model="gat-basic", epochs=2)
    result = TrainModel(repository, trainer).execute(spec, tmp_path / "models")
    assert result.model == "gat-basic"
    assert trainer.calls == [(stored, spec, tmp_path / "models")]


def test_recommend_all_writes_through_the_model_and_checks_the_file_first(tmp_path):
    use_case = RecommendAll(Loader(InMemoryRecommender({"u1": ["s1", "s2"], "u2": ["s3"]}, [])))
    result = use_case.execute(1, None, tmp_path / "top.csv")
    assert (result.model, result.rows) == ("gat-basic", 2)
    assert (tmp_path / "top.csv").read_text() == "u1,s1\nu2,s3\n"
    with pytest.raises(InvalidSetting, match="must end in .csv or .parquet"):
        use_case.execute(1, None, tmp_path / "top.json")
    with pytest.raises(InvalidSetting, match="k must be a positive"):
        use_case.execute(0, None, tmp_path / "top.csv")


def test_evaluate_scores_the_trained_models_and_names_the_missing_one():
    evaluator = FixedEvaluator(["gat-basic", "popularity"])
    assert Evaluate(evaluator).execute() == [{"model": "gat-basic"}, {"model": "popularity"}]
    assert Evaluate(evaluator).execute(("popularity",)) == [{"model": "popularity"}]
    with pytest.raises(EngineError, match="no trained gat-enhanced"):
        Evaluate(evaluator).execute(("gat-enhanced",))
    with pytest.raises(EngineError, match="no trained model"):
        Evaluate(FixedEvaluator([])).execute()
