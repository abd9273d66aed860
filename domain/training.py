"""What a training run is asked to do and what it reports."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal, get_args

from domain.errors import InvalidSetting

ModelKind = Literal["popularity", "gat-basic", "gat-enhanced"]
TrainerKind = Literal["simple", "advanced"]
Device = Literal["auto", "cpu", "cuda"]
SplitKind = Literal["random", "temporal"]
MessagePassing = Literal["auto", "full", "sampled"]
MODEL_KINDS: tuple[str, ...] = get_args(ModelKind)
TRAINER_KINDS: tuple[str, ...] = get_args(TrainerKind)
DEVICES: tuple[str, ...] = get_args(Device)
SPLIT_KINDS: tuple[str, ...] = get_args(SplitKind)
MESSAGE_PASSING: tuple[str, ...] = get_args(MessagePassing)


# TrainingSpec fields that settings keep in the model section (engine.toml's [model]), by
# their name there; the rest are the training section's, named as in the spec.
MODEL_SECTION = {"model": "kind", "alpha": "alpha", "members": "members", "context": "context"}

# What the advanced trainer reports after each validated epoch, and what early stopping and
# `engine tune` judge a run by.
VALIDATION_METRIC = "val_recall@10"


def check_model_kind(kind: str) -> None:
    if kind not in MODEL_KINDS:
        raise InvalidSetting(f"unknown model {kind!r}; choose one of {', '.join(MODEL_KINDS)}")


class InvalidSpec(InvalidSetting):
    """A training setting out of its range; ``setting`` names the field of ``TrainingSpec``."""

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"{setting}: {problem}")
        self.setting = setting
        self.problem = problem


# (lowest, highest, whether the lowest and the highest are allowed themselves); None: no bound.
_RANGES: dict[str, tuple[float | None, float | None, bool, bool]] = {
    "epochs": (0, None, True, True), "lr": (0, None, False, True), "batch_size": (1, None, True, True),
    "l2": (0, None, True, True), "negatives": (1, 1024, True, True), "ema_decay": (0, 1, True, False),
    "patience": (1, None, True, True), "validate_every": (1, None, True, True),
    "seed": (0, 2**32 - 1, True, True), "alpha": (0, 1, True, True), "members": (1, None, True, True),
    "checkpoint_every": (0, None, True, True), "validation_share": (0, 0.5, False, False),
    "test_share": (0, 0.5, False, False), "validation_users": (0, None, True, True),
    "fanout": (1, None, True, True)}
_CHOICES: dict[str, tuple[str, ...]] = {"model": MODEL_KINDS, "trainer": TRAINER_KINDS, "device": DEVICES,
                                        "split": SPLIT_KINDS, "message_passing": MESSAGE_PASSING}


def _range_problem(value: float, low: float | None, high: float | None, low_in: bool,
                   high_in: bool) -> str | None:
    """What is wrong with ``value`` for its range, None when nothing (NaN is never in range)."""
    above = low is None or (value >= low if low_in else value > low)
    below = high is None or (value <= high if high_in else value < high)
    if above and below and value == value:
        return None
    if high is None:
        return f"must be {'at least' if low_in else 'greater than'} {low}"
    return f"must lie in {'[' if low_in else '('}{low}, {high}{']' if high_in else ')'}"


@dataclass(frozen=True)
class TrainingSpec:
    # the kind that validates best on the real logs (HetRec, the Spotify exports); gat-enhanced
    # wins only on the synthetic set, whose listening follows genres by construction (README)
    model: ModelKind = "gat-basic"
    trainer: TrainerKind = "advanced"
    epochs: int = 20
    lr: float = 0.01
    # pairs a step learns from; full message passing grows it where an epoch would take more
    # than 20 steps (adapters/training/trainers.py), so every set above 41,000 training pairs
    # takes 20 steps an epoch, and an epoch costs the same number of graph passes at any size
    batch_size: int = 2048
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
    # users whose validation songs are ranked after an epoch (a fixed seeded sample); 0: all
    validation_users: int = 5000
    # random: each user's songs at random; temporal: each user's newest discoveries (by first
    # play) are the test, the next newest the validation
    split: SplitKind = "random"
    # GAT models: add the hour of the week of each play to the listener's side of the score
    context: bool = False
    # GAT models: each step's messages over the whole graph (full), or over the sampled
    # neighbourhoods of its batch (sampled: at most ``fanout`` edges into a node per relation
    # and hop); auto samples where a full-graph run would not fit in the device's memory
    # (adapters/training/trainers.py)
    message_passing: MessagePassing = "auto"
    fanout: int = 20

    def __post_init__(self) -> None:
        """The one place a training setting is checked: a spec out of range is never made."""
        for name, choices in _CHOICES.items():
            if getattr(self, name) not in choices:
                raise InvalidSpec(name, f"unknown {name} {getattr(self, name)!r}; choose one of "
                                  f"{', '.join(choices)}")
        for name, bounds in _RANGES.items():
            value = getattr(self, name)
            problem = _range_problem(value, *bounds)
            if problem:
                raise InvalidSpec(name, f"{problem}, got {value!r}")
        if self.members > 1 and self.model == "popularity":
            raise InvalidSpec("members", f"{self.members}: only the GAT models train several members; "
                              "popularity has nothing to average")
        if self.context and self.model == "popularity":
            raise InvalidSpec("context", "only the GAT models learn listening context; popularity has "
                              "no listener side to add the hour to")

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
    message_passing: str = "full"  # what each step passed messages over: full or sampled
    split: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # what the user should know about this run
    run: str | None = None  # the published run's directory; None where this process wrote none
    version: int | None = None  # its registry version
    status: str | None = None  # promoted or candidate

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
