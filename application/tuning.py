"""TuneModel: a search over training settings on the validation split, the best of it
trained again, registered as a version and written as settings to reuse."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from application.learning import TrainModel
from domain.errors import EmptyRepository, InvalidSetting
from domain.ports import HyperparameterSearch, InteractionRepository, ModelTrainer, Progress, TuningReport
from domain.training import MODEL_SECTION, VALIDATION_METRIC, TrainingResult, TrainingSpec


@dataclass(frozen=True)
class TuningOutcome:
    report: TuningReport
    best: TrainingResult  # the best settings trained again and registered
    settings_file: str


class TuneModel:
    def __init__(self, repository: InteractionRepository, trainer: ModelTrainer, search: HyperparameterSearch,
                 train_model: TrainModel) -> None:
        self._repository = repository
        self._trainer = trainer
        self._search = search
        self._train_model = train_model

    def execute(self, study: str, base: TrainingSpec, trials: int | None, timeout_s: float | None,
                models_dir: Path, out_dir: Path, progress: Progress, promote: bool = False) -> TuningOutcome:
        if base.trainer != "advanced" or base.model == "popularity":
            raise InvalidSetting("engine tune searches the settings of a GAT model on the validation split: "
                                 "use --model gat-basic or gat-enhanced with the advanced trainer")
        if trials is None and timeout_s is None:
            raise InvalidSetting("give --trials N or --timeout SECONDS (or both): when should the "
                                 "search stop?")
        dataset = self._repository.load()
        if dataset is None or dataset.interactions.num_rows == 0:
            raise EmptyRepository("the repository holds no interactions; run `engine ingest` first")

        def evaluate(spec: TrainingSpec, trial_progress: Progress) -> float:
            # a trial's run is scratch: only the best settings, trained again, are kept
            with tempfile.TemporaryDirectory(prefix="engine-trial-") as scratch:
                result = self._trainer.train(dataset, spec, Path(scratch), trial_progress)
            values = [epoch[VALIDATION_METRIC] for epoch in result.history if VALIDATION_METRIC in epoch]
            return max(values) if values else 0.0

        out_dir.mkdir(parents=True, exist_ok=True)
        report = self._search.search(study, base, trials, timeout_s, evaluate, out_dir, progress)
        best_spec = replace(base, **dict(report.best_params))
        best = self._train_model.execute(best_spec, models_dir, progress, promote)
        settings_file = out_dir / f"{study}.toml"
        settings_file.write_text(_as_toml(best_spec, report), encoding="utf-8")
        return TuningOutcome(report, best, str(settings_file))


def _as_toml(spec: TrainingSpec, report: TuningReport) -> str:
    """The best settings as an engine.toml (copy it beside your data to train with them)."""
    def value(v: Any) -> str:
        return ("true" if v else "false") if isinstance(v, bool) else repr(v) if isinstance(v, float) \
            else str(v) if isinstance(v, int) else f'"{v}"'

    fields = spec.as_dict()
    model = {MODEL_SECTION[k]: v for k, v in fields.items() if k in MODEL_SECTION}
    training = {k: v for k, v in fields.items() if k not in MODEL_SECTION}
    lines = [f"# engine tune --study {report.study}: best validation Recall@10 {report.best_value:.4f} "
             f"of {report.trials_complete} complete trials", "[model]"]
    lines += [f"{k} = {value(v)}" for k, v in model.items()]
    lines += ["", "[training]"] + [f"{k} = {value(v)}" for k, v in training.items()]
    return "\n".join(lines) + "\n"
