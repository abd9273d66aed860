"""Entities and value objects: the small things a user sees.

Bulk data (millions of plays) never becomes lists of these objects; it travels
as columnar tables behind the ports (see ``domain.ports``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class UserType(str, Enum):
    CASUAL = "casual"
    REGULAR = "regular"
    POWER = "power"


@dataclass(frozen=True)
class User:
    id: str
    type: UserType | None = None


@dataclass(frozen=True)
class Genre:
    id: str
    name: str
    popularity: float = 0.0


@dataclass(frozen=True)
class Artist:
    id: str
    name: str
    genre_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Song:
    id: str
    name: str
    artist_id: str | None = None
    duration_ms: int | None = None


@dataclass(frozen=True)
class Interaction:
    """What one user did with one song, aggregated over all their plays."""

    user_id: str
    song_id: str
    play_count: int
    completion_ratio: float
    edge_weight: float


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


@dataclass(frozen=True)
class ExplainedSong:
    """One user-song score explained by the model of this kind."""

    model: str
    recommendation: Recommendation


@dataclass(frozen=True)
class RecommendAllResult:
    """Every known user's top k, written to a file by the model of this kind."""

    model: str
    rows: int


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
