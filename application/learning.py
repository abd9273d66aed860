"""BuildGraph and TrainModel: from stored interactions to a trained, saved recommender."""

from __future__ import annotations

from pathlib import Path

from domain.errors import EmptyRepository
from domain.model import GraphSummary
from domain.ports import GraphBuilder, InteractionRepository, ModelTrainer, Progress, SilentProgress
from domain.training import TrainingResult, TrainingSpec


class BuildGraph:
    def __init__(self, repository: InteractionRepository, builder: GraphBuilder) -> None:
        self._repository = repository
        self._builder = builder

    def execute(self, out_path: Path) -> GraphSummary:
        return self._builder.build(self._repository.load(), out_path)


class TrainModel:
    """The trainer builds its own graph from the training part of the split; the graph of all
    interactions (`engine build-graph`) is for looking at, not for training."""

    def __init__(self, repository: InteractionRepository, trainer: ModelTrainer) -> None:
        self._repository = repository
        self._trainer = trainer

    def execute(self, spec: TrainingSpec, models_dir: Path,
                progress: Progress | None = None) -> TrainingResult:
        dataset = self._repository.load()
        if dataset is None or dataset.interactions.num_rows == 0:
            raise EmptyRepository("the repository holds no interactions; run `engine ingest` first")
        return self._trainer.train(dataset, spec, models_dir, progress or SilentProgress())
