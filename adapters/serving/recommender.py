"""Recommender and Explainer ports over a loaded checkpoint, speaking external ids."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa

from adapters.common.user_songs import UserSongs
from adapters.explain.builder import ExplanationBuilder
from adapters.scoring.fold_in import folded
from adapters.scoring.served import UNREADABLE, LoadedModel, best_of, needs_export
from adapters.storage.runs import RunStore
from domain.errors import CheckpointError, InvalidSetting
from domain.model import Recommendation
from domain.ports import InteractionRepository, Listening, ModelLoader, Progress, TrainedModel
from domain.versions import ModelVersion

ALL_USERS_CHUNK = 256
COUNTERFACTUAL_K = 10  # `engine explain` says what would take a song out of a top 10


class CheckpointRecommender(TrainedModel):
    def __init__(self, loaded: LoadedModel) -> None:
        self.kind = loaded.kind
        self._use(loaded)
        self._folding = threading.Lock()

    def _use(self, loaded: LoadedModel) -> None:
        # One attribute holds the model and what explains it, so that a reader takes both at once.
        self._explanations = ExplanationBuilder(loaded)

    @property
    def loaded(self) -> LoadedModel:
        return self._explanations.loaded

    @property
    def explanations(self) -> ExplanationBuilder:
        return self._explanations

    def fold_in(self, listening: Listening) -> list[str]:
        # One fold-in at a time; readers keep the model they started with (``folded`` makes a
        # new one), and rows already known keep their index in it.
        with self._folding:
            loaded, ids = folded(self.loaded, listening)
            if ids:
                self._use(loaded)
        return ids

    # -- lookups ---------------------------------------------------------------------------
    def knows_user(self, user_id: str) -> bool:
        return user_id in self.loaded.user_index

    def knows_song(self, song_id: str) -> bool:
        return song_id in self.loaded.song_index

    def listeners(self, prefix: str, limit: int) -> list[str]:
        return sorted(u for u in self.loaded.user_index if u.startswith(prefix))[:limit]

    def genre_names(self) -> Sequence[str]:
        return self.loaded.genre_names

    @property
    def has_context(self) -> bool:
        return self.loaded.context_emb is not None

    def notices_for(self, user_id: str) -> list[str]:
        loaded = self.loaded
        if user_id in loaded.folded_users:
            return [f"user {user_id!r}: plays stored after this model was trained are folded into it "
                    "without a retrain (`engine train` learns them fully)"]
        if loaded.user_index.get(user_id) in loaded.sparse_users:
            return [f"user {user_id!r} has few plays: their taste is supplemented with the "
                    "preferences of similar users"]
        return []

    # -- ranking ---------------------------------------------------------------------------
    def recommend(self, user_id: str, k: int, include_heard: bool = False,
                  explain: bool = False, counterfactual: bool = False,
                  hour: int | None = None) -> list[Recommendation]:
        explanations = self._explanations
        loaded = explanations.loaded
        user = loaded.user_index[user_id]
        hours = _hours(hour)
        values, songs = loaded.top_k(np.array([user]), k, _unheard(loaded, include_heard), hours=hours)
        return _recommendations(explanations, user, values[0], songs[0], explain,
                                k if counterfactual else None, hours)

    def similar(self, song_id: str, k: int) -> list[Recommendation]:
        explanations = self._explanations
        loaded = explanations.loaded
        if not loaded.is_gat:
            raise InvalidSetting(f"the {self.kind} model has no song embeddings to compare; ask a GAT "
                                 "model version")
        song = loaded.song_index[song_id]
        unit_songs = loaded.unit_songs()
        similarity = (unit_songs @ unit_songs[song]).astype(np.float64)[None]
        excluded = np.zeros_like(similarity, dtype=bool)
        excluded[0, song] = True
        values, songs = best_of(similarity, k, excluded)
        return _recommendations(explanations, None, values[0], songs[0], explain=False)

    def popular(self, k: int, genres: Sequence[str] = ()) -> list[Recommendation]:
        explanations = self._explanations
        loaded = explanations.loaded
        allowed = np.ones(len(loaded.song_index), dtype=bool)
        if genres:
            wanted = [i for i, name in enumerate(loaded.genre_names)
                      if name.casefold() in {g.casefold() for g in genres}]
            allowed = loaded.song_genres.having_any(wanted)
        scores = np.log1p(loaded.popularity).astype(np.float64)
        scores[~allowed] = -np.inf
        order = np.argsort(-scores, kind="stable")[:k]
        return _recommendations(explanations, None, scores[order], order, explain=False)

    def recommend_all(self, k: int, include_heard: bool, out_path: Path, progress: Progress) -> int:
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq

        from adapters.common.atomic import atomic_file

        loaded = self.loaded
        users = np.arange(len(loaded.user_index))
        columns: dict[str, list[np.ndarray]] = {"user": [], "song": [], "rank": [], "score": []}
        progress.start("recommending for every user", total=len(users))
        for start in range(0, len(users), ALL_USERS_CHUNK):
            batch = users[start:start + ALL_USERS_CHUNK]
            values, songs = loaded.top_k(batch, k, _unheard(loaded, include_heard))
            finite = np.isfinite(values)
            columns["user"].append(np.repeat(batch, values.shape[1])[finite.ravel()])
            columns["song"].append(songs[finite])
            columns["rank"].append(np.tile(np.arange(1, values.shape[1] + 1), len(batch))[finite.ravel()])
            columns["score"].append(values[finite])
            progress.advance(len(batch))
        progress.finish()
        user, song = np.concatenate(columns["user"]), np.concatenate(columns["song"])
        table = pa.table({
            "user_id": pa.array(loaded.user_ids[user], pa.string()),
            "song_id": pa.array(loaded.song_ids[song], pa.string()),
            "rank": pa.array(np.concatenate(columns["rank"]), pa.int32()),
            "score": pa.array(np.concatenate(columns["score"]), pa.float32()),
            "song_name": pa.array(loaded.song_names[song], pa.string()),
            "artist_name": pa.array(loaded.artist_names[song], pa.string()),
        })
        with atomic_file(out_path) as tmp:
            if out_path.suffix.lower() == ".parquet":
                pq.write_table(table, tmp)
            else:
                pacsv.write_csv(table, tmp, pacsv.WriteOptions(quoting_style="needed"))
        return table.num_rows

    # -- explaining ------------------------------------------------------------------------
    def explain(self, user_id: str, song_id: str, hour: int | None = None) -> Recommendation:
        explanations = self._explanations
        loaded = explanations.loaded
        user, song = loaded.user_index[user_id], loaded.song_index[song_id]
        hours = _hours(hour)
        parts = loaded.score_parts(np.array([user]), hours=hours)
        scores = parts.final[0]
        rank = int(loaded.list_ranks(user, song, parts.final)[0])  # the rank `engine recommend` gives it
        return Recommendation(rank=rank, song_id=song_id, score=float(scores[song]),
                              song_name=loaded.song_names[song], artist_name=loaded.artist_names[song],
                              explanation=explanations.explanation(user, song, parts, column=song,
                                                                   counterfactual_k=COUNTERFACTUAL_K,
                                                                   hours=hours))

    def plot(self, user_id: str, explained: Recommendation, out_path: Path) -> None:
        from adapters.explain.plots import plot_explanation

        plot_explanation(explained, self.loaded, user_id, out_path)


def _hours(hour: int | None) -> np.ndarray | None:
    """One listener's context as the scoring arrays take it."""
    return None if hour is None else np.array([hour], dtype=np.int64)


def _unheard(loaded: LoadedModel, include_heard: bool) -> UserSongs | None:
    """What a list leaves out: the songs each user has heard, unless they are wanted."""
    return None if include_heard else loaded.heard


def _recommendations(explanations: ExplanationBuilder, user: int | None, values: np.ndarray,
                     songs: np.ndarray, explain: bool, counterfactual_k: int | None = None,
                     hours: np.ndarray | None = None) -> list[Recommendation]:
    loaded = explanations.loaded
    finite = np.isfinite(values)
    songs = songs[finite]
    parts = None
    attention: list = []
    if explain and user is not None:  # every explained song's score parts and attention in one pass
        parts = loaded.score_parts(np.array([user]), songs, hours=hours)
        attention = loaded.history_attentions(user, songs) if loaded.is_gat else []
    result = []
    for rank, (value, song) in enumerate(zip(values[finite].tolist(), songs.tolist(), strict=True), start=1):
        explanation = (explanations.explanation(user, song, parts, rank - 1,
                                                attention[rank - 1] if attention else None,
                                                counterfactual_k, hours)
                       if parts is not None and user is not None else None)
        result.append(Recommendation(
            rank=rank, song_id=loaded.song_ids[song], score=float(value), song_name=loaded.song_names[song],
            artist_name=loaded.artist_names[song], explanation=explanation))
    return result


class CheckpointModelLoader(ModelLoader):
    """Loads a version's serving.npz once per process, with catalogue names.

    The serving file is (re)exported from the checkpoint when it is missing or older
    than ``model.pt``; only then are torch and PyG imported.
    """

    def __init__(self, models_dir: Path, repository: InteractionRepository) -> None:
        self.runs = RunStore(models_dir)
        self.repository = repository
        self._loaded: dict[int, CheckpointRecommender] = {}

    def load(self, version: ModelVersion) -> CheckpointRecommender:
        if version.version not in self._loaded:
            serving = self._serving_file(self.runs.resolve(version.artifact))
            dataset = self.repository.load()
            if dataset is None or dataset.catalogue["songs"].num_rows == 0:
                raise CheckpointError("the catalogue is empty; run `engine ingest` first")
            try:
                loaded = LoadedModel.from_file(serving, dataset)
            except UNREADABLE as error:
                raise CheckpointError(f"{serving}: unreadable serving file ({error}); "
                                      "retrain with `engine train`") from None
            self._loaded[version.version] = CheckpointRecommender(loaded)
        return self._loaded[version.version]

    @staticmethod
    def _serving_file(run: Path) -> Path:
        if needs_export(run):
            from adapters.models.factory import load_checkpoint
            from adapters.scoring.export import export_serving

            model, _ = load_checkpoint(run / "model.pt")
            export_serving(model, run / "serving.npz")
        return run / "serving.npz"
