"""Value objects: the small things a user sees, and what each use case reports.

Bulk data (millions of plays) never becomes lists of these objects; it travels
as columnar tables behind the ports (see ``domain.ports``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Counterfactual:
    """What the model itself says would change a recommendation: the song re-ranked (as the
    list ranks it, among the songs the listener has not heard) with history songs taken out
    of the listener's attended history."""

    k: int  # the list length it is about ("out of your top k")
    rank: int  # the song's rank as it is
    top_song: str | None  # the history song the model attended to most for it
    rank_without_top: int | None  # its rank without that song in the history
    # history songs whose removal takes it out of the top k (none needed: it is not in it)
    minimal_set: tuple[str, ...] | None
    rank_without_set: int | None  # its rank without them; None: no set of history songs does


@dataclass(frozen=True)
class Explanation:
    collaborative_score: float
    genre_score: float
    final_score: float
    matched_genres: tuple[str, ...] = ()
    genre_influence: float = 0.0
    influential_history: tuple[tuple[str, float], ...] = ()
    popularity_context: str = ""
    text: str = ""
    counterfactual: Counterfactual | None = None


@dataclass(frozen=True)
class Recommendation:
    rank: int
    song_id: str
    score: float
    song_name: str | None = None
    artist_name: str | None = None
    explanation: Explanation | None = None


@dataclass(frozen=True)
class RecommendationList:
    user_id: str
    model: str
    recommendations: tuple[Recommendation, ...]
    notices: tuple[str, ...] = ()
    cold_start: bool = False
    version: int | None = None  # the registry version that answered


@dataclass(frozen=True)
class ExplainedSong:
    """One user-song score explained by the model of this kind (and drawn, when ``plot``)."""

    model: str
    user_id: str
    recommendation: Recommendation
    plot: str | None = None
    version: int | None = None


@dataclass(frozen=True)
class RecommendAllResult:
    """Every known user's top k, written to a file by the model of this kind."""

    model: str
    rows: int
    k: int
    output: str
    version: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RepositoryStats:
    users: int
    songs: int
    artists: int
    genres: int
    interactions: int
    plays: int
    sources: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "users": self.users,
            "songs": self.songs,
            "artists": self.artists,
            "genres": self.genres,
            "interactions": self.interactions,
            "plays": self.plays,
            "sources": self.sources,
        }


@dataclass(frozen=True)
class IngestReport:
    source: str
    rows_read: int
    rows_rejected: int
    interactions: int
    plays: int
    skipped: bool
    rejects_file: str | None
    content_hash: str
    wall_s: float = 0.0
    plays_repeated: int = 0  # plays the store already held or the input gave twice, counted once
    reject_reasons: dict[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "rows_read": self.rows_read,
            "rows_rejected": self.rows_rejected,
            "plays_repeated": self.plays_repeated,
            "interactions": self.interactions,
            "plays": self.plays,
            "skipped": self.skipped,
            "rejects_file": self.rejects_file,
            "content_hash": self.content_hash,
            "reject_reasons": dict(self.reject_reasons),
            "notes": list(self.notes),
            "wall_s": round(self.wall_s, 3),
        }


@dataclass(frozen=True)
class GenerationSpec:
    users: int = 1000
    songs: int = 5000
    artists: int = 500
    genres: int = 35
    seed: int = 42
    # share of plays timed by the song's genre (its daily peak) instead of the listener's habit
    hourly_tastes: float = 0.0


@dataclass(frozen=True)
class GeneratedData:
    """A synthetic data set written: rows per file of the raw layout."""

    out_dir: str
    rows: dict[str, int]
    spec: GenerationSpec
    wall_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"out": self.out_dir, "files": dict(self.rows), "seed": self.spec.seed,
                "wall_s": round(self.wall_s, 3)}


@dataclass(frozen=True)
class QualityCheck:
    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class DataQualityReport:
    """`engine validate`: each check and the figures behind them."""

    data_dir: str
    checks: tuple[QualityCheck, ...]
    figures: dict[str, float] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    def as_dict(self) -> dict[str, Any]:
        return {"data_dir": self.data_dir, "passed": self.passed,
                "checks": [asdict(check) for check in self.checks], "figures": dict(self.figures)}


@dataclass(frozen=True)
class GraphSummary:
    """The listening graph built from the repository: nodes and edges by type."""

    path: str
    nodes: dict[str, int]
    edges: dict[str, int]
    songs_without_artist: int
    users_without_preferences: int
    isolated_nodes: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        summary = asdict(self)
        summary["graph"] = summary.pop("path")
        return summary


@dataclass(frozen=True)
class ListFigures:
    """What the top-k lists look like, beyond accuracy."""

    genre_diversity: float
    genre_coverage: float
    genre_influence: float
    catalogue_coverage: float
    diversity: float
    novelty: float
    # whether the reasons differ: distinct history songs among those the top-3 attention of each
    # listed song cites, over all cited (1: every song its own reasons), and the mean largest
    # attention weight (1 / history length when the attention is uniform); GAT models
    reasons_distinct: float = 0.0
    attention_peak: float = 0.0


@dataclass(frozen=True)
class RankingFigures:
    users: int
    recall: float
    ndcg: float


@dataclass(frozen=True)
class DeletionTest:
    """How far a recommended song's score falls without the history edge its explanation
    names first, against a random history edge of the same user."""

    users: int
    mean_drop_top_attention: float
    mean_drop_random_edge: float
    share_top_attention_beats_random: float | None = None


@dataclass(frozen=True)
class CounterfactualTest:
    """Whether the named counterfactual sets hold for the model itself, its graph changed
    (``adapters.evaluation.counterfactual_test`` defines each figure)."""

    users: int
    found: float
    mean_set_size: float | None
    validity: float | None
    necessity: float
    sufficiency: float | None


@dataclass(frozen=True)
class ModelEvaluation:
    """`engine evaluate` of one model on its run's held-out test split."""

    model: str
    checkpoint: str
    k: int
    test: RankingFigures
    lists: ListFigures
    by_user_type: dict[str, RankingFigures]
    deletion_test: DeletionTest | None = None
    counterfactual_test: CounterfactualTest | None = None
    wall_s: float = 0.0
    version: int | None = None  # None: the popularity baseline on another version's split

    def as_dict(self) -> dict[str, Any]:
        def figures(ranking: RankingFigures) -> dict[str, Any]:
            return {"users": ranking.users, f"recall@{self.k}": ranking.recall,
                    f"ndcg@{self.k}": ranking.ndcg}

        result: dict[str, Any] = {
            "model": self.model, "version": self.version, "checkpoint": self.checkpoint,
            "test_users": self.test.users,
            f"recall@{self.k}": self.test.recall, f"ndcg@{self.k}": self.test.ndcg, **asdict(self.lists),
            "by_user_type": {name: figures(f) for name, f in self.by_user_type.items()},
            "wall_s": self.wall_s}
        if self.deletion_test is not None:
            deletion = asdict(self.deletion_test)
            if deletion["share_top_attention_beats_random"] is None:
                del deletion["share_top_attention_beats_random"]
            result["deletion_test"] = deletion
        if self.counterfactual_test is not None:
            result["counterfactual_test"] = asdict(self.counterfactual_test)
        return result


@dataclass(frozen=True)
class PlaysRecorded:
    """Plays a client sent, stored, and the listeners the answering model folded in."""

    plays_received: int
    plays_stored: int  # new plays (a play the store already held counts once)
    listeners: tuple[str, ...]
    folded_in: tuple[str, ...]  # listeners the promoted model now answers for from these plays
    model_version: int | None  # that model's version; None before the first training
    interactions: int  # (listener, song) pairs the store holds now

    def as_dict(self) -> dict[str, object]:
        return {"plays_received": self.plays_received, "plays_stored": self.plays_stored,
                "listeners": list(self.listeners), "folded_in": list(self.folded_in),
                "model_version": self.model_version, "interactions": self.interactions}
