"""The ModelTrainer port on PyTorch: picks the trainer class the spec names."""

from __future__ import annotations

from pathlib import Path

from adapters.storage.runs import RunStore
from adapters.training.trainers import TRAINERS
from domain.ports import Dataset, ModelTrainer, Progress
from domain.training import TrainingResult, TrainingSpec


class TorchModelTrainer(ModelTrainer):
    def train(self, dataset: Dataset, spec: TrainingSpec, models_dir: Path,
              progress: Progress) -> TrainingResult:
        with RunStore(models_dir).new_run(spec.model) as run:
            result = TRAINERS[spec.trainer](spec, run.staging, progress).train(dataset)
        result.files = {role: str(run.final / name) for role, name in result.files.items()}
        return result
