"""The ModelTrainer port on PyTorch: picks the trainer class the spec names."""

from __future__ import annotations

from pathlib import Path

from adapters.training.trainers import TRAINERS
from domain.ports import Dataset, ModelTrainer, Progress
from domain.training import TrainingResult, TrainingSpec


class TorchModelTrainer(ModelTrainer):
    def train(self, dataset: Dataset, spec: TrainingSpec, out_dir: Path,
              progress: Progress) -> TrainingResult:
        return TRAINERS[spec.trainer](spec, out_dir, progress).train(dataset)
