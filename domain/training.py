"""What a training run is asked to do and what it reports."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal, get_args

from domain.errors import InvalidSetting

ModelKind = Literal["popularity", "gat-basic", "gat-enhanced"]
TrainerKind = Literal["simple", "advanced"]
Device = Literal["auto", "cpu", "cuda"]
MODEL_KINDS: tuple[str, ...] = get_args(ModelKind)
TRAINER_KINDS: tuple[str, ...] = get_args(TrainerKind)
DEVICES: tuple[str, ...] = get_args(Device)


def check_model_kind(kind: str) -> None:
    if kind not in MODEL_KINDS:
        raise InvalidSetting(f"unknown model {kind!r}; choose one of {', '.join(MODEL_KINDS)}")


@dataclass(frozen=True)
class TrainingSpec:
    model: ModelKind = "gat-enhanced"
    trainer: TrainerKind = "advanced"
    epochs: int = 20
    lr: float = 0.01
    batch_size: int = 4096
    l2: float = 1e-3
    negatives: int = 8
    hard_negatives: bool = False
    ema_decay: float = 0.0
    patience: int = 5
    validate_every: int = 1
    seed: int = 42
    device: Device = "auto"
    alpha: float = 0.8
    members: int = 1
    checkpoint_every: int = 5
    validation_share: float = 0.15
    test_share: float = 0.15

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TrainingResult:
    model: str
    trainer: str
    parameters: dict[str, int]
    best_epoch: int
    epochs_run: int
    wall_s: float
    test: dict[str, float]
    history: list[dict[str, float]] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)
    device: str = "cpu"
    split: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # what the user should know about this run

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
