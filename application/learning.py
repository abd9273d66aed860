"""BuildGraph and TrainModel: from stored interactions to a trained, saved recommender."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from domain.errors import EmptyRepository, InvalidSetting
from domain.ports import GraphBuilder, InteractionRepository, ModelTrainer, Progress, SilentProgress
from domain.training import TRAINER_KINDS, TrainingResult, TrainingSpec, check_model_kind


class BuildGraph:
    def __init__(self, repository: InteractionRepository, builder: GraphBuilder) -> None:
        self._repository = repository
        self._builder = builder

    def execute(self, out_path: Path) -> dict[str, Any]:
        return self._builder.build(self._repository.load(), out_path)


def check_spec(spec: TrainingSpec) -> None:
    check_model_kind(spec.model)
    if spec.trainer not in TRAINER_KINDS:
        raise InvalidSetting(f"unknown trainer {spec.trainer!r}; choose one of {', '.join(TRAINER_KINDS)}")
    for name in ("epochs", "batch_size", "patience", "validate_every", "members"):
        minimum = 0 if name == "epochs" else 1
        if getattr(spec, name) < minimum:
            raise InvalidSetting(f"{name} must be at least {minimum}, got {getattr(spec, name)}")
    if not 0.0 <= spec.alpha <= 1.0:
        raise InvalidSetting(f"alpha must lie in [0, 1], got {spec.alpha}")
    if spec.lr <= 0:
        raise InvalidSetting(f"learning rate must be positive, got {spec.lr}")
    if spec.members > 1 and spec.model == "popularity":
        raise InvalidSetting(f"members {spec.members}: only the GAT models train several members; "
                             "popularity has nothing to average")


class TrainModel:
    """The trainer builds its own graph from the training part of the split; the graph of all
    interactions (`engine build-graph`) is for looking at, not for training."""

    def __init__(self, repository: InteractionRepository, trainer: ModelTrainer) -> None:
        self._repository = repository
        self._trainer = trainer

    def execute(self, spec: TrainingSpec, models_dir: Path,
                progress: Progress | None = None) -> TrainingResult:
        check_spec(spec)
        dataset = self._repository.load()
        if dataset is None or dataset.interactions.num_rows == 0:
            raise EmptyRepository("the repository holds no interactions; run `engine ingest` first")
        return self._trainer.train(dataset, spec, models_dir, progress or SilentProgress())
