"""Ports: the interfaces the application needs from the outside world.

Tables are columnar (Arrow in the shipped adapters). The domain only needs to
know their row count, so they are typed by the small ``Table`` protocol and
otherwise passed through untouched.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from domain.model import (
    DataQualityReport,
    GenerationSpec,
    GraphSummary,
    ModelEvaluation,
    Recommendation,
    RepositoryStats,
)
from domain.training import TrainingResult, TrainingSpec
from domain.versions import ModelVersion


class Table(Protocol):
    @property
    def num_rows(self) -> int: ...


class Progress(Protocol):
    """Reports long work; a terminal shows a bar, a pipe shows nothing."""

    def start(self, description: str, total: float | None = None) -> None: ...

    def advance(self, amount: float = 1) -> None: ...

    def update(self, **fields: Any) -> None: ...

    def finish(self) -> None: ...


class SilentProgress:
    def start(self, description: str, total: float | None = None) -> None:
        pass

    def advance(self, amount: float = 1) -> None:
        pass

    def update(self, **fields: Any) -> None:
        pass

    def finish(self) -> None:
        pass


CATALOGUE_TABLES = (
    "songs",
    "artists",
    "genres",
    "artist_genres",
    "song_genres",
    "user_preferences",
    "users",
)


@dataclass(frozen=True)
class Catalogue:
    """Metadata tables keyed by external string ids; any may be empty."""

    tables: Mapping[str, Table]

    def __getitem__(self, name: str) -> Table:
        return self.tables[name]


@dataclass(frozen=True)
class SourceRecord:
    """One ingested session file, remembered so that re-ingesting it is a no-op."""

    content_hash: str
    name: str
    rows_read: int
    rows_rejected: int
    ingested_at: str


@dataclass(frozen=True)
class Dataset:
    """Everything the repository holds: catalogue, aggregated interactions, sources, and the
    identities of the plays behind the interactions (``play_keys``: read by writers, which
    need them to count a play seen twice once; None where the reader did not ask for them)."""

    catalogue: Catalogue
    interactions: Table
    sources: tuple[SourceRecord, ...] = ()
    play_keys: Table | None = None

    def has_source(self, content_hash: str) -> bool:
        return any(source.content_hash == content_hash for source in self.sources)


@dataclass
class RejectLog:
    path: Path | None = None
    count: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


class SessionFeed(ABC):
    """An opened source of listening sessions, checked as a whole file."""

    name: str
    content_hash: str
    rejects: RejectLog
    notes: list[str]  # what the user should know about how this input was read

    @abstractmethod
    def catalogue(self) -> Catalogue: ...

    @abstractmethod
    def batches(self, progress: Progress) -> Iterator[Table]:
        """Clean play rows (user_id, song_id, completion, played_at), bad rows logged."""

    @property
    @abstractmethod
    def rows_read(self) -> int: ...


class SessionSource(ABC):
    @abstractmethod
    def open(self, request: SourceRequest) -> SessionFeed:
        """Open and check the input; raise InvalidInputFile for whole-file problems."""


# The layouts `engine ingest --format` reads; adapters/sources/formats.py maps each to its source.
SOURCE_FORMATS = ("seed", "spotify-history", "lastfm-1k", "lastfm-hetrec", "mssd")


@dataclass(frozen=True)
class SourceRequest:
    path: Path | None = None
    files: Mapping[str, Path] = field(default_factory=dict)
    rejects_path: Path | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NewPlays:
    """The plays of one input that the store does not hold yet, summed per (user, song)."""

    totals: Table
    play_keys: Table  # every play identity the store holds once these are added
    repeated: int  # plays left out as already stored or seen earlier in the input


@dataclass(frozen=True)
class StoreScope:
    """What one small write reads and changes: these listeners and these play identities."""

    user_ids: tuple[str, ...]
    play_keys: Table  # the write's play identities (one ``play_key`` column)


@dataclass(frozen=True)
class Listening:
    """Some listeners' stored interactions (every one they have, weights as stored) and the
    catalogue rows of their songs (``songs``: song_id, song_name, artist_id, duration_ms)."""

    interactions: Table
    songs: Table


class InteractionAggregator(ABC):
    """Turns play rows into per-(user, song) aggregates and merges them exactly."""

    @abstractmethod
    def aggregate(self, batches: Iterator[Table], current: Dataset | None) -> NewPlays:
        """Sum the plays ``current`` (read with its play keys) does not hold yet."""

    @abstractmethod
    def merge(self, current: Dataset | None, catalogue: Catalogue, plays: NewPlays,
              source: SourceRecord) -> Dataset: ...

    @abstractmethod
    def scope(self, batches: Sequence[Table]) -> StoreScope:
        """The listeners and play identities of these play rows: all a write of them touches."""


class InteractionRepository(ABC):
    @abstractmethod
    def load(self) -> Dataset | None:
        """The stored dataset without its play keys, or None when nothing was ingested yet."""

    @abstractmethod
    def save(self, dataset: Dataset) -> None:
        """Replace the stored dataset atomically: all of it or none of it."""

    @abstractmethod
    def update(self, change: Callable[[Dataset | None], Dataset | None],
               scope: StoreScope | None = None) -> bool:
        """Read the stored dataset (with its play keys), change it and save the result as one
        step that no other writer interleaves with (so concurrent writers lose nothing);
        ``change`` returns None to leave the store as it is. True when something was saved.

        With a ``scope``, a store may read and write only what the scope covers, so a small
        write costs what it changes, not what the store holds: ``change`` is then given the
        scope's listeners' interactions, the stored play keys among the scope's, every source
        and no catalogue rows, and what it returns replaces those listeners' interactions,
        upserts its catalogue rows by key and adds its play keys and sources. A store that
        cannot (parquet files are written whole) reads and writes everything; the stored
        result is the same."""

    @abstractmethod
    def stats(self) -> RepositoryStats: ...

    @abstractmethod
    def has_source(self, content_hash: str) -> bool: ...

    @abstractmethod
    def listening_of(self, user_ids: Sequence[str]) -> Listening:
        """The stored listening of these users alone (none for an id the store does not hold):
        what folding them into a trained model reads, without loading the whole store."""


class SyntheticDataGenerator(ABC):
    @abstractmethod
    def generate(self, out_dir: Path, spec: GenerationSpec, progress: Progress) -> dict[str, int]:
        """Write the raw layout to out_dir and return rows per file."""


class DataValidator(ABC):
    @abstractmethod
    def validate(self, data_dir: Path, progress: Progress) -> DataQualityReport:
        """Data-quality checks and the figures behind them."""


class GraphBuilder(ABC):
    @abstractmethod
    def build(self, dataset: Dataset | None, out_path: Path) -> GraphSummary:
        """Build the graph of all stored interactions, save it atomically, return its summary."""


class ModelTrainer(ABC):
    @abstractmethod
    def train(self, dataset: Dataset, spec: TrainingSpec, models_dir: Path,
              progress: Progress) -> TrainingResult:
        """Train one model kind and publish it, whole, as that kind's run under models_dir
        (checkpoint, serving file, split, metrics.json, curves); files by role in the result."""


class Recommender(ABC):
    """A trained model answering for external ids: ranks the catalogue, explains a pair."""

    kind: str

    @abstractmethod
    def knows_user(self, user_id: str) -> bool: ...

    @abstractmethod
    def knows_song(self, song_id: str) -> bool: ...

    @abstractmethod
    def listeners(self, prefix: str, limit: int) -> list[str]:
        """Up to ``limit`` listeners the model answers for whose id starts with ``prefix``, sorted."""

    @abstractmethod
    def genre_names(self) -> Sequence[str]: ...

    @property
    def has_context(self) -> bool:
        """Whether the model ranks for the hour of the week (``hour`` below) or ignores it."""
        return False

    @abstractmethod
    def recommend(self, user_id: str, k: int, include_heard: bool = False,
                  explain: bool = False, counterfactual: bool = False,
                  hour: int | None = None) -> list[Recommendation]:
        """The user's top k; ``explain`` says why, ``counterfactual`` (with it) also what would
        take each song out of the list; ``hour``: the hour of the week to rank for (a model
        with listening context), None for any time."""

    @abstractmethod
    def similar(self, song_id: str, k: int) -> list[Recommendation]:
        """The songs nearest to a known song in the model's embeddings, itself left out."""

    @abstractmethod
    def popular(self, k: int, genres: Sequence[str] = ()) -> list[Recommendation]:
        """The most listened songs (in training), optionally within some genres; unexplained."""

    @abstractmethod
    def notices_for(self, user_id: str) -> list[str]:
        """What the model did specially for this user (e.g. sparse history supplemented)."""

    @abstractmethod
    def recommend_all(self, k: int, include_heard: bool, out_path: Path, progress: Progress) -> int:
        """Top-k for every known user written to out_path (.csv or .parquet); returns rows."""

    @abstractmethod
    def fold_in(self, listening: Listening) -> list[str]:
        """Answer from now on for these listeners as their stored listening says, without a
        retrain: a listener new to the model gets a user embedding folded in from the songs
        they played; every listener's attended history, heard songs and genre profile are read
        again; songs new to the model get their artist's cold-start embedding. The ids folded
        in (those with a play of a song the model can place)."""


class Explainer(ABC):
    @abstractmethod
    def explain(self, user_id: str, song_id: str, hour: int | None = None) -> Recommendation: ...

    @abstractmethod
    def plot(self, user_id: str, explained: Recommendation, out_path: Path) -> None:
        """Draw the attention picture behind an explanation ``explain`` gave for this user."""


class TrainedModel(Recommender, Explainer):
    """A trained model as serving loads it: it ranks the catalogue and explains its answers."""


class ModelLoader(ABC):
    @abstractmethod
    def load(self, version: ModelVersion) -> TrainedModel:
        """The trained model of this version (loaded once per process)."""


class ModelRegistry(ABC):
    """Every training run as a numbered version; one version at a time is promoted."""

    @abstractmethod
    def register(self, kind: str, artifact: Path, data_fingerprint: str, settings: Mapping[str, Any],
                 metrics: Mapping[str, float]) -> ModelVersion:
        """Record a published run (``artifact``: its directory) as a new candidate version."""

    @abstractmethod
    def versions(self) -> list[ModelVersion]:
        """Every version, oldest first."""

    @abstractmethod
    def get(self, version: int) -> ModelVersion:
        """The version with this number; UnknownEntity when there is none."""

    @abstractmethod
    def promoted(self) -> ModelVersion | None:
        """The version that answers when none is named, None before the first promotion."""

    @abstractmethod
    def promote(self, version: int) -> ModelVersion: ...

    @abstractmethod
    def rollback(self) -> ModelVersion:
        """Promote again the version promoted before the current one; the current one retires."""


class ModelEvaluator(ABC):
    @abstractmethod
    def evaluate(self, version: ModelVersion, progress: Progress,
                 as_popularity: bool = False) -> ModelEvaluation:
        """The full metric set of one version on its run's held-out test split; with
        ``as_popularity``, of the popularity baseline on that version's split."""


@dataclass(frozen=True)
class TuningReport:
    """A whole study as it stands: every trial of every process that worked on it."""

    study: str
    best_value: float  # the best trial's validation Recall@10
    best_params: Mapping[str, Any]  # TrainingSpec fields
    trials_total: int
    trials_complete: int
    trials_pruned: int
    plots: tuple[str, ...] = ()


class HyperparameterSearch(ABC):
    """A study of training settings kept where several processes can work on it at once."""

    @abstractmethod
    def search(self, study: str, base: TrainingSpec, trials: int | None, timeout_s: float | None,
               evaluate: Callable[[TrainingSpec, Progress], float], plots_dir: Path,
               progress: Progress) -> TuningReport:
        """Run up to ``trials`` more trials (or until ``timeout_s``) of ``study``, creating it or
        resuming it: each trial's settings are ``base`` with the searched fields drawn, and
        ``evaluate`` trains them, reporting the validation figure of each epoch through its
        progress (``val_recall@10``), which may stop a poor trial early. Draws the study's
        history and the settings' importances into ``plots_dir``."""

