"""The ModelTrainer port on PyTorch: picks the trainer class the spec names; under
torch.distributed (``adapters.training.distributed``) only the lead rank writes a run."""

from __future__ import annotations

import tempfile
from pathlib import Path

from adapters.storage.runs import RunStore
from adapters.training import distributed
from adapters.training.trainers import TRAINERS
from domain.ports import Dataset, ModelTrainer, Progress, SilentProgress
from domain.training import TrainingResult, TrainingSpec


class TorchModelTrainer(ModelTrainer):
    def train(self, dataset: Dataset, spec: TrainingSpec, models_dir: Path,
              progress: Progress) -> TrainingResult:
        ranks = distributed.from_environment()
        try:
            if not ranks.lead:
                with tempfile.TemporaryDirectory(prefix=f"engine-rank-{ranks.rank}-") as scratch:
                    return TRAINERS[spec.trainer](spec, Path(scratch), SilentProgress(), ranks).train(dataset)
            with RunStore(models_dir).new_run(spec.model) as run:
                result = TRAINERS[spec.trainer](spec, run.staging, progress, ranks).train(dataset)
            result.files = {role: str(run.final / name) for role, name in result.files.items()}
            result.run = str(run.final)
            return result
        finally:
            distributed.leave(ranks)
