"""Recommender and Explainer ports over a loaded checkpoint, speaking external ids."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa

from adapters.scoring.served import UNREADABLE, LoadedModel, ScoreParts, needs_export
from adapters.storage.runs import RunStore
from domain.errors import CheckpointError
from domain.model import Explanation, Recommendation
from domain.ports import InteractionRepository, ModelLoader, Progress, TrainedModel
from domain.training import MODEL_KINDS, check_model_kind

HISTORY_SHOWN = 3
ALL_USERS_CHUNK = 256


def _whole_percent(share: float) -> str:
    """A share as a whole percentage, rounded down: 'more than 99.7%' must not read 100%."""
    return f"{math.floor(share * 100)}%"


class CheckpointRecommender(TrainedModel):
    def __init__(self, loaded: LoadedModel) -> None:
        self.loaded = loaded
        self.kind = loaded.kind

    # -- lookups ---------------------------------------------------------------------------
    def knows_user(self, user_id: str) -> bool:
        return user_id in self.loaded.user_index

    def knows_song(self, song_id: str) -> bool:
        return song_id in self.loaded.song_index

    def genre_names(self) -> Sequence[str]:
        return self.loaded.genre_names

    def notices_for(self, user_id: str) -> list[str]:
        if self.loaded.user_index.get(user_id) in self.loaded.sparse_users:
            return [f"user {user_id!r} has few plays: their taste is supplemented with the "
                    "preferences of similar users"]
        return []

    # -- ranking ---------------------------------------------------------------------------
    def recommend(self, user_id: str, k: int, include_heard: bool = False,
                  explain: bool = False) -> list[Recommendation]:
        user = self.loaded.user_index[user_id]
        values, songs = self.loaded.top_k(np.array([user]), k, include_heard)
        return self._recommendations(user, values[0], songs[0], explain)

    def popular(self, k: int, genres: Sequence[str] = ()) -> list[Recommendation]:
        loaded = self.loaded
        allowed = np.ones(len(loaded.song_index), dtype=bool)
        if genres:
            wanted = [i for i, name in enumerate(loaded.genre_names)
                      if name.casefold() in {g.casefold() for g in genres}]
            allowed = loaded.song_genre[:, wanted].sum(1) > 0
        scores = np.log1p(loaded.popularity).astype(np.float64)
        scores[~allowed] = -np.inf
        order = np.argsort(-scores, kind="stable")[:k]
        return self._recommendations(None, scores[order], order, explain=False)

    def _recommendations(self, user: int | None, values: np.ndarray, songs: np.ndarray,
                         explain: bool) -> list[Recommendation]:
        finite = np.isfinite(values)
        songs = songs[finite]
        parts = None
        attention: list = []
        if explain and user is not None:  # every explained song's score parts and attention in one pass
            parts = self.loaded.score_parts(np.array([user]), songs)
            attention = self.loaded.history_attentions(user, songs) if self.loaded.is_gat else []
        result = []
        for rank, (value, song) in enumerate(zip(values[finite].tolist(), songs.tolist(), strict=True),
                                             start=1):
            explanation = (self._explanation(user, song, parts, rank - 1,
                                             attention[rank - 1] if attention else None)
                           if parts is not None and user is not None else None)
            result.append(Recommendation(
                rank=rank, song_id=self.loaded.song_ids[song], score=float(value),
                song_name=self.loaded.song_names[song], artist_name=self.loaded.artist_names[song],
                explanation=explanation))
        return result

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
            values, songs = loaded.top_k(batch, k, include_heard)
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
    def explain(self, user_id: str, song_id: str) -> Recommendation:
        loaded = self.loaded
        user, song = loaded.user_index[user_id], loaded.song_index[song_id]
        parts = loaded.score_parts(np.array([user]))
        scores = parts.final[0]
        rank = int((scores > scores[song]).sum()) + 1
        return Recommendation(rank=rank, song_id=song_id, score=float(scores[song]),
                              song_name=loaded.song_names[song], artist_name=loaded.artist_names[song],
                              explanation=self._explanation(user, song, parts, column=song))

    def _explanation(self, user: int, song: int, parts: ScoreParts, column: int,
                     attention: tuple[np.ndarray, np.ndarray] | None = None) -> Explanation:
        """``parts`` holds the user's scores, the song's in ``column``; ``attention`` the
        history attention behind it, when already computed."""
        loaded = self.loaded
        collaborative = float(parts.collaborative[0, column])
        genre = float(parts.genre[0, column])
        final = float(parts.final[0, column])
        collaborative_term = loaded.alpha * collaborative if loaded.is_gat else final
        genre_term = (1 - loaded.alpha) * genre if loaded.is_gat else 0.0
        total = abs(collaborative_term) + abs(genre_term)
        genre_influence = abs(genre_term) / total if total else 0.0
        song_genres = np.flatnonzero(loaded.song_genre[song]).tolist()
        affinity = loaded.user_genre[user]
        matched = sorted((g for g in song_genres if affinity[g] > 0), key=lambda g: -float(affinity[g]))
        history: tuple[tuple[str, float], ...] = ()
        if loaded.is_gat:
            songs, weights = attention or loaded.history_attention(user, song)
            history = tuple((loaded.song_ids[s], float(a))
                            for s, a in zip(songs[:HISTORY_SHOWN], weights[:HISTORY_SHOWN], strict=True))
        popularity = self._popularity_context(song, matched)
        text = self._text(song, collaborative_term, genre_term, genre_influence, history,
                          [(loaded.genre_names[g], float(affinity[g])) for g in matched], popularity)
        return Explanation(
            collaborative_score=collaborative, genre_score=genre, final_score=final,
            matched_genres=tuple(loaded.genre_names[g] for g in matched),
            genre_influence=genre_influence, influential_history=history,
            popularity_context=popularity, text=text)

    def _popularity_context(self, song: int, matched: list[int]) -> str:
        popularity = self.loaded.popularity
        listeners = int(popularity[song])
        overall = float((popularity < popularity[song]).mean())
        context = (f"heard by {listeners} listener(s) in training, "
                   f"more than {_whole_percent(overall)} of songs")
        if matched:
            same_genre = self.loaded.song_genre[:, matched].sum(1) > 0
            within = float((popularity[same_genre] < popularity[song]).mean())
            level = ("very popular" if within > 0.9 else
                     "moderately popular" if within > 0.5 else "a deeper cut")
            context += f"; {level} in your preferred genres (above {_whole_percent(within)} of them)"
        return context

    def _text(self, song: int, collaborative_term: float, genre_term: float, genre_influence: float,
              history: tuple[tuple[str, float], ...], matched: list[tuple[str, float]],
              popularity: str) -> str:
        loaded = self.loaded
        title = loaded.song_names[song] or loaded.song_ids[song]
        lines = [f'Recommending "{title}" because:']
        if loaded.is_gat:
            lines.append(f"1. Similar listening patterns ({1 - genre_influence:.0%} influence):")
            for song_id, weight in history:
                index = loaded.song_index[song_id]
                name = loaded.song_names[index] or song_id
                lines.append(f'   - because you played "{name}" (attention {weight:.2f})')
            if not history:
                lines.append("   - drawn from listeners with tastes like yours")
        else:
            lines.append("1. Popularity (100% influence): among the most played songs")
        if loaded.genre_names:
            lines.append(f"2. Genre match ({genre_influence:.0%} influence):")
            for name, affinity in matched[:3]:
                lines.append(f"   - matches your preference for {name} (affinity {affinity:.2f})")
            if not matched:
                lines.append("   - outside the genres you usually play")
        number = 3 if loaded.genre_names else 2
        lines.append(f"{number}. Popularity context: {popularity}")
        return "\n".join(lines)

    def plot(self, user_id: str, explained: Recommendation, out_path: Path) -> None:
        from adapters.serving.plots import plot_explanation

        plot_explanation(explained, self.loaded, user_id, out_path)


class CheckpointModelLoader(ModelLoader):
    """Loads models_dir/<kind>/serving.npz once per process, with catalogue names.

    The serving file is (re)exported from the checkpoint when it is missing or older
    than ``model.pt``; only then are torch and PyG imported.
    """

    def __init__(self, models_dir: Path, repository: InteractionRepository) -> None:
        self.runs = RunStore(models_dir)
        self.repository = repository
        self._loaded: dict[str, CheckpointRecommender] = {}

    def latest_kind(self) -> str | None:
        return self.runs.latest_kind(MODEL_KINDS)

    def load(self, kind: str) -> CheckpointRecommender:
        check_model_kind(kind)
        if kind not in self._loaded:
            serving = self._serving_file(kind)
            dataset = self.repository.load()
            if dataset is None or dataset.catalogue["songs"].num_rows == 0:
                raise CheckpointError("the catalogue is empty; run `engine ingest` first")
            try:
                loaded = LoadedModel.from_file(serving, dataset)
            except UNREADABLE as error:
                raise CheckpointError(f"{serving}: unreadable serving file ({error}); "
                                      "retrain with `engine train`") from None
            self._loaded[kind] = CheckpointRecommender(loaded)
        return self._loaded[kind]

    def _serving_file(self, kind: str) -> Path:
        run = self.runs.current(kind)
        if run is None:
            trained = ", ".join(k for k in MODEL_KINDS if self.runs.current(k) is not None)
            raise CheckpointError(f"no trained {kind} model in {self.runs.models_dir}; run `engine train "
                                  f"--model {kind}` first" + (f" or ask for one that is trained: {trained}"
                                                               if trained else ""))
        if needs_export(run):
            from adapters.models.factory import load_checkpoint
            from adapters.scoring.export import export_serving

            model, _ = load_checkpoint(run / "model.pt")
            export_serving(model, run / "serving.npz")
        return run / "serving.npz"
