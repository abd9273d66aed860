"""BuildGraph and TrainModel: from stored interactions to a trained, saved recommender."""

from __future__ import annotations

from pathlib import Path

from domain.errors import EmptyRepository
from domain.model import GraphSummary
from domain.ports import (
    GraphBuilder,
    InteractionRepository,
    ModelRegistry,
    ModelTrainer,
    Progress,
    SilentProgress,
)
from domain.training import TrainingResult, TrainingSpec
from domain.versions import data_fingerprint


class BuildGraph:
    def __init__(self, repository: InteractionRepository, builder: GraphBuilder) -> None:
        self._repository = repository
        self._builder = builder

    def execute(self, out_path: Path) -> GraphSummary:
        return self._builder.build(self._repository.load(), out_path)


class TrainModel:
    """The trainer builds its own graph from the training part of the split; the graph of all
    interactions (`engine build-graph`) is for looking at, not for training. Every run it
    publishes becomes a registry version, promoted unless asked not to be."""

    def __init__(self, repository: InteractionRepository, trainer: ModelTrainer,
                 registry: ModelRegistry) -> None:
        self._repository = repository
        self._trainer = trainer
        self._registry = registry

    def execute(self, spec: TrainingSpec, models_dir: Path, progress: Progress | None = None,
                promote: bool = True) -> TrainingResult:
        dataset = self._repository.load()
        if dataset is None or dataset.interactions.num_rows == 0:
            raise EmptyRepository("the repository holds no interactions; run `engine ingest` first")
        result = self._trainer.train(dataset, spec, models_dir, progress or SilentProgress())
        if result.run is None:  # a rank that helped another process's run
            return result
        fingerprint = data_fingerprint([s.content_hash for s in dataset.sources],
                                       dataset.interactions.num_rows)
        version = self._registry.register(spec.model, Path(result.run), fingerprint, spec.as_dict(),
                                          result.test)
        if promote:
            version = self._registry.promote(version.version)
        result.version = version.version
        result.status = version.status
        return result
