"""HyperparameterSearch on Optuna: TPE sampler, median pruner on each epoch's validation
Recall@10, the study in the configured SQL database (Optuna's RDB storage: the SQLite file of
the data directory, or a PostgreSQL server that several machines share)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from domain.ports import HyperparameterSearch, Progress, TuningReport
from domain.training import VALIDATION_METRIC, TrainingSpec

# The settings that mattered in docs/experiments (HetRec, the default set); members multiply
# a trial's cost, so at most three.
EMA_DECAYS = (0.0, 0.9, 0.99, 0.999)


def draw(trial: Any, base: TrainingSpec) -> dict[str, Any]:
    """A trial's settings: the searched fields of ``TrainingSpec``."""
    params: dict[str, Any] = {
        "lr": trial.suggest_float("lr", 1e-3, 5e-2, log=True),
        "l2": trial.suggest_float("l2", 1e-4, 1.0, log=True),  # HetRec's hand-tuned best: 0.6
        "ema_decay": trial.suggest_categorical("ema_decay", EMA_DECAYS),
        "negatives": trial.suggest_int("negatives", 1, 32, log=True),
        "hard_negatives": trial.suggest_categorical("hard_negatives", (False, True)),
        "members": trial.suggest_int("members", 1, 3),
    }
    if base.model == "gat-enhanced":
        params["alpha"] = trial.suggest_float("alpha", 0.5, 1.0)
    return params


class _Pruned(Exception):
    """Raised through the trainer when the pruner stops a trial."""


class _TrialProgress:
    """The trainer's progress reports, passed on to the trial: each validated epoch's figure,
    and a stop when the pruner says this trial will not beat the median."""

    def __init__(self, trial: Any, shown: Progress) -> None:
        self.trial, self.shown, self.epoch = trial, shown, 0

    def start(self, description: str, total: float | None = None) -> None:
        self.shown.start(f"trial {self.trial.number}: {description}", total)

    def advance(self, amount: float = 1) -> None:
        self.shown.advance(amount)

    def update(self, **fields: Any) -> None:
        self.shown.update(**fields)
        if VALIDATION_METRIC in fields:
            self.epoch += 1
            self.trial.report(float(fields[VALIDATION_METRIC]), self.epoch)
            if self.trial.should_prune():
                raise _Pruned()

    def finish(self) -> None:
        self.shown.finish()


class OptunaSearch(HyperparameterSearch):
    def __init__(self, storage_url: str) -> None:
        self.storage_url = storage_url

    def search(self, study: str, base: TrainingSpec, trials: int | None, timeout_s: float | None,
               evaluate: Callable[[TrainingSpec, Progress], float], plots_dir: Path,
               progress: Progress) -> TuningReport:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        found = optuna.create_study(
            study_name=study, storage=self.storage_url, direction="maximize", load_if_exists=True,
            sampler=optuna.samplers.TPESampler(seed=base.seed, n_startup_trials=5),
            pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=2))

        def objective(trial: Any) -> float:
            spec = replace(base, **draw(trial, base))
            try:
                return evaluate(spec, _TrialProgress(trial, progress))
            except _Pruned:
                raise optuna.TrialPruned() from None

        found.optimize(objective, n_trials=trials, timeout=timeout_s, gc_after_trial=True)
        states = [t.state for t in found.trials]
        complete = sum(s == optuna.trial.TrialState.COMPLETE for s in states)
        if complete == 0:
            from domain.errors import EngineError

            raise EngineError(f"study {study!r} has no complete trial yet; give it more --trials or "
                              "a longer --timeout")
        return TuningReport(
            study=study, best_value=float(found.best_value), best_params=dict(found.best_params),
            trials_total=len(states), trials_complete=complete,
            trials_pruned=sum(s == optuna.trial.TrialState.PRUNED for s in states),
            plots=tuple(str(p) for p in _plots(found, plots_dir, complete)))


def _plots(study: Any, out_dir: Path, complete: int) -> list[Path]:
    """The study's optimisation history and, from two complete trials on, the settings'
    importances (fANOVA), as PNG files."""
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as plots

    written = []
    drawings = [("history", plots.plot_optimization_history)]
    if complete >= 2:
        drawings.append(("importances", plots.plot_param_importances))
    for name, draw_it in drawings:
        path = out_dir / f"{study.study_name}-{name}.png"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Optuna marks its matplotlib plots experimental
            try:
                axes = draw_it(study)
            except (ValueError, RuntimeError) as error:  # e.g. every trial with the same value
                logging.getLogger("engine.tune").warning("no %s plot: %s", name, error)
                continue
        axes.figure.savefig(path, dpi=100, bbox_inches="tight")
        plt.close(axes.figure)
        written.append(path)
    return written
