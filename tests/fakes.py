"""In-memory fakes of the ports, for unit tests of the use cases (no files, no torch)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from adapters.common.tables import INTERACTIONS, PLAY_KEYS, dataset_stats, empty_catalogue, play_rows
from domain.errors import UnknownEntity
from domain.model import (
    DataQualityReport,
    GraphSummary,
    ListFigures,
    ModelEvaluation,
    QualityCheck,
    RankingFigures,
    Recommendation,
    RepositoryStats,
)
from domain.ports import (
    Catalogue,
    Dataset,
    DataValidator,
    GenerationSpec,
    GraphBuilder,
    InteractionAggregator,
    InteractionRepository,
    Listening,
    ModelEvaluator,
    ModelLoader,
    ModelRegistry,
    ModelTrainer,
    NewPlays,
    Progress,
    RejectLog,
    SessionFeed,
    SessionSource,
    SourceRecord,
    SourceRequest,
    StoreScope,
    SyntheticDataGenerator,
    TrainedModel,
)
from domain.training import TrainingResult, TrainingSpec
from domain.versions import ModelVersion


class InMemoryRecommender(TrainedModel):
    """Ranks each known user's listed songs first; explains any pair with one fixed score."""

    kind = "gat-basic"

    def __init__(self, users: dict[str, list[str]], popular: list[str]) -> None:
        self.users = users
        self.popular_songs = popular

    def knows_user(self, user_id):
        return user_id in self.users

    def knows_song(self, song_id):
        return True

    def listeners(self, prefix, limit):
        return sorted(u for u in self.users if u.startswith(prefix))[:limit]

    def genre_names(self):
        return ["Rock", "Jazz"]

    def recommend(self, user_id, k, include_heard=False, explain=False, counterfactual=False, hour=None):
        return [Recommendation(i + 1, s, 1.0) for i, s in enumerate(self.users[user_id][:k])]

    def similar(self, song_id, k):
        return [Recommendation(1, song_id + "-like", 1.0)][:k]

    def popular(self, k, genres=()):
        return [Recommendation(i + 1, s, 0.5) for i, s in enumerate(self.popular_songs[:k])]

    def notices_for(self, user_id):
        return []

    def recommend_all(self, k, include_heard, out_path: Path, progress):
        out_path.write_text("".join(f"{u},{s}\n" for u, songs in self.users.items() for s in songs[:k]))
        return sum(min(k, len(songs)) for songs in self.users.values())

    def explain(self, user_id, song_id, hour=None):
        return Recommendation(1, song_id, 0.25)

    def fold_in(self, listening):
        """A folded-in listener is answered with their own songs, heaviest first."""
        rows = sorted(listening.interactions.to_pylist(), key=lambda r: -r["edge_weight"])
        folded = []
        for row in rows:
            if row["user_id"] not in folded:
                folded.append(row["user_id"])
                self.users[row["user_id"]] = []
            self.users[row["user_id"]].append(row["song_id"])
        return folded

    def plot(self, user_id, explained, out_path):
        out_path.write_text(f"{user_id} {explained.song_id}")


class Loader(ModelLoader):
    def __init__(self, recommender):
        self.recommender = recommender
        self.loaded: list[int] = []

    def load(self, version):
        self.loaded.append(version.version)
        return self.recommender


class InMemoryRegistry(ModelRegistry):
    """Versions in a list; promotions in a list whose last entry answers."""

    def __init__(self, kinds: tuple[str, ...] = ()) -> None:
        self._versions: list[ModelVersion] = []
        self._promoted: list[int] = []
        for kind in kinds:
            self.promote(self.register(kind, Path(kind), "data", {}, {}).version)

    def register(self, kind, artifact, data_fingerprint, settings, metrics):
        version = ModelVersion(len(self._versions) + 1, kind, "2026-01-01T00:00:00+00:00", data_fingerprint,
                               dict(settings), dict(metrics), str(artifact))
        self._versions.append(version)
        return version

    def versions(self):
        return [self.get(v.version) for v in self._versions]

    def get(self, version):
        if not 1 <= version <= len(self._versions):
            raise UnknownEntity(f"no model version v{version}")
        found = self._versions[version - 1]
        status = ("promoted" if self._promoted[-1:] == [version] else
                  "retired" if version in self._promoted else "candidate")
        return ModelVersion(**{**found.as_dict(), "status": status})

    def promoted(self):
        return self.get(self._promoted[-1]) if self._promoted else None

    def promote(self, version):
        self.get(version)
        self._promoted.append(version)
        return self.get(version)

    def rollback(self):
        self._promoted.pop()
        return self.get(self._promoted[-1])


class RecordingTrainer(ModelTrainer):
    """Remembers what it was asked to train; reports a run with the spec's model."""

    def __init__(self) -> None:
        self.calls: list[tuple[Dataset, TrainingSpec, Path]] = []

    def train(self, dataset: Dataset, spec: TrainingSpec, models_dir: Path,
              progress: Progress) -> TrainingResult:
        self.calls.append((dataset, spec, models_dir))
        return TrainingResult(spec.model, spec.trainer, {}, 0, 0, 0.0, {"recall@10": 0.5},
                              run=str(models_dir / spec.model / "run-1"))


class RecordingGraphBuilder(GraphBuilder):
    def __init__(self) -> None:
        self.built: list[tuple[Dataset | None, Path]] = []

    def build(self, dataset: Dataset | None, out_path: Path) -> GraphSummary:
        self.built.append((dataset, out_path))
        out_path.write_text("graph")
        interactions = 0 if dataset is None else dataset.interactions.num_rows
        return GraphSummary(str(out_path), {}, {"user__listens_to__song": interactions}, 0, 0, {})


class FixedEvaluator(ModelEvaluator):
    def evaluate(self, version: ModelVersion, progress: Progress,
                 as_popularity: bool = False) -> ModelEvaluation:
        kind = "popularity" if as_popularity else version.kind
        return ModelEvaluation(kind, f"{version.artifact}/model.pt", 10, RankingFigures(1, 0.5, 0.5),
                               ListFigures(1.0, 0.5, 0.0, 0.1, 0.9, 3.0), {},
                               version=None if as_popularity else version.version)


class RecordingGenerator(SyntheticDataGenerator):
    def __init__(self) -> None:
        self.specs: list[GenerationSpec] = []

    def generate(self, out_dir: Path, spec: GenerationSpec, progress: Progress) -> dict[str, int]:
        self.specs.append(spec)
        return {"users.csv": spec.users}


class FixedValidator(DataValidator):
    def validate(self, data_dir: Path, progress: Progress) -> DataQualityReport:
        return DataQualityReport(str(data_dir), (QualityCheck("data directory", data_dir.exists(),
                                                              str(data_dir)),))


class InMemoryFeed(SessionFeed):
    def __init__(self, name: str, rows: list[tuple[str, str, float, int]], rejected: int = 0):
        self.name = name
        self.content_hash = f"hash-of-{name}"
        self.rejects = RejectLog(count=rejected)
        self.notes = []
        self._rows = rows

    def catalogue(self) -> Catalogue:
        return empty_catalogue()

    def batches(self, progress: Progress) -> Iterator[pa.Table]:
        for start in range(0, len(self._rows), 2):
            chunk = self._rows[start:start + 2]
            user, song, completion, played_at = (list(column) for column in zip(*chunk, strict=True))
            yield play_rows(pa.array(user), pa.array(song), pa.array(completion, pa.float64()),
                            pa.array(played_at, pa.int64()))

    @property
    def rows_read(self) -> int:
        return len(self._rows) + self.rejects.count


class InMemorySource(SessionSource):
    def __init__(self, feeds: dict[str, InMemoryFeed]):
        self.feeds = feeds

    def open(self, request: SourceRequest) -> SessionFeed:
        return self.feeds[str(request.path)]


class SummingAggregator(InteractionAggregator):
    """Plays counted per (user, song) in a dict, a play key seen before left out: what the use
    case hands over and gets back, without the adapters' columnar arithmetic."""

    def aggregate(self, batches: Iterator[pa.Table], current: Dataset | None) -> NewPlays:
        seen = set() if current is None or current.play_keys is None else set(
            current.play_keys.column("play_key").to_pylist())
        counts: Counter[tuple[str, str]] = Counter()
        repeated = 0
        for batch in batches:
            for row in batch.to_pylist():
                if row["play_key"] in seen:
                    repeated += 1
                    continue
                seen.add(row["play_key"])
                counts[(row["user_id"], row["song_id"])] += row["plays"]
        keys = pa.table({"play_key": pa.array(sorted(seen), PLAY_KEYS.field("play_key").type)})
        return NewPlays(_counts_table(counts), keys, repeated)

    def scope(self, batches):
        rows = pa.concat_tables(batches) if batches else None
        users = tuple(sorted(set(rows.column("user_id").to_pylist()))) if rows else ()
        return StoreScope(users, rows.select(["play_key"]) if rows else PLAY_KEYS.empty_table())

    def merge(self, current: Dataset | None, catalogue: Catalogue, plays: NewPlays,
              source: SourceRecord) -> Dataset:
        counts: Counter[tuple[str, str]] = Counter()
        for table in ([] if current is None else [current.interactions]) + [plays.totals]:
            for row in table.to_pylist():
                counts[(row["user_id"], row["song_id"])] += row["play_count"]
        sources = () if current is None else current.sources
        return Dataset(catalogue, _counts_table(counts), (*sources, source), plays.play_keys)


def _counts_table(counts: Counter[tuple[str, str]]) -> pa.Table:
    pairs = sorted(counts)
    return pa.table({"user_id": pa.array([u for u, _ in pairs], pa.string()),
                     "song_id": pa.array([s for _, s in pairs], pa.string()),
                     "play_count": pa.array([counts[p] for p in pairs], pa.int64())})


class InMemoryInteractionRepository(InteractionRepository):
    def __init__(self) -> None:
        self._dataset: Dataset | None = None

    def load(self) -> Dataset | None:
        return self._dataset

    def save(self, dataset: Dataset) -> None:
        self._dataset = dataset

    def update(self, change: Callable[[Dataset | None], Dataset | None],
               scope: StoreScope | None = None) -> bool:
        changed = change(self._dataset)
        if changed is not None:
            self._dataset = changed
        return changed is not None

    def stats(self) -> RepositoryStats:
        return dataset_stats(self._dataset)

    def has_source(self, content_hash: str) -> bool:
        return self._dataset is not None and self._dataset.has_source(content_hash)

    def listening_of(self, user_ids) -> Listening:
        if self._dataset is None:
            return Listening(INTERACTIONS.empty_table(), empty_catalogue()["songs"])
        interactions = self._dataset.interactions
        theirs = interactions.filter(pc.is_in(interactions.column("user_id"),
                                              value_set=pa.array(list(user_ids), pa.string())))
        songs = self._dataset.catalogue["songs"]
        return Listening(theirs, songs.filter(pc.is_in(songs.column("song_id"),
                                                       value_set=theirs.column("song_id"))))
