"""Recommend, Explain, RecommendAll and Evaluate: answering with a trained model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from domain.errors import CheckpointError, EngineError, InvalidSetting, UnknownEntity
from domain.model import ExplainedSong, ModelEvaluation, RecommendAllResult, RecommendationList
from domain.ports import ModelEvaluator, ModelLoader, Progress, SilentProgress
from domain.training import check_model_kind


@dataclass(frozen=True)
class RecommendQuery:
    user_id: str
    k: int = 10
    model: str | None = None  # None: the most recently trained
    include_heard: bool = False
    explain: bool = False
    genres: tuple[str, ...] = ()


def _check_k(k: int) -> None:
    if k <= 0:
        raise InvalidSetting(f"k must be a positive number of songs, got {k}")


def check_output_file(path: Path, suffixes: tuple[str, ...], option: str) -> None:
    """Refuse, before any work, an output the command could not write."""
    if path.suffix.lower() not in suffixes:
        raise InvalidSetting(f"{path}: {option} must end in {' or '.join(suffixes)}")
    if path.is_dir():
        raise InvalidSetting(f"{path}: {option} names a directory; give a file name")
    for folder in path.parents:
        if folder.exists():
            if not folder.is_dir():
                raise InvalidSetting(f"{path}: {option} lies under {folder}, which is a file")
            break


def chosen_kind(loader: ModelLoader, model: str | None) -> str:
    """The kind asked for, or else the most recently trained one."""
    if model is None:
        model = loader.latest_kind()
        if model is None:
            raise CheckpointError("no trained model yet; run `engine train` first")
    check_model_kind(model)
    return model


class Recommend:
    def __init__(self, loader: ModelLoader) -> None:
        self._loader = loader

    def execute(self, query: RecommendQuery) -> RecommendationList:
        _check_k(query.k)
        recommender = self._loader.load(chosen_kind(self._loader, query.model))
        known = {name.casefold() for name in recommender.genre_names()}
        unknown = [g for g in query.genres if g.casefold() not in known]
        if unknown:
            raise InvalidSetting(f"unknown genre(s) {', '.join(unknown)}; known: "
                                 f"{', '.join(recommender.genre_names())}")
        notices: list[str] = []
        cold_start = not recommender.knows_user(query.user_id)
        if cold_start:
            within = f" in {', '.join(query.genres)}" if query.genres else ""
            notices.append(f"user {query.user_id!r} is new to the model: most popular songs{within} "
                           "(cold start)")
            recommendations = recommender.popular(query.k, query.genres)
        else:
            notices.extend(recommender.notices_for(query.user_id))
            recommendations = recommender.recommend(query.user_id, query.k, query.include_heard,
                                                    query.explain)
        if not recommendations and not cold_start:
            # One listener's own export: the catalogue is exactly the songs they played.
            notices.append("every song in the catalogue is one this user has played (the catalogue holds "
                           "only the ingested listeners' songs): these are their own songs ranked by the "
                           "model; ingest more listeners to find new ones")
            recommendations = recommender.recommend(query.user_id, query.k, True, query.explain)
        if not recommendations:
            notices.append("no recommendation left for this user; falling back to the most popular songs")
            recommendations = recommender.popular(query.k)
        return RecommendationList(query.user_id, recommender.kind, tuple(recommendations),
                                  tuple(notices), cold_start)


class Explain:
    def __init__(self, loader: ModelLoader) -> None:
        self._loader = loader

    def execute(self, user_id: str, song_id: str, model: str | None, plot: Path | None = None
                ) -> ExplainedSong:
        if plot is not None:
            check_output_file(plot, (".png",), "--plot")
        model = chosen_kind(self._loader, model)
        explainer = self._loader.load(model)
        if not explainer.knows_user(user_id):
            raise UnknownEntity(f"user {user_id!r} is not in the {model} model; "
                                "`engine recommend` serves new users from popularity")
        if not explainer.knows_song(song_id):
            raise UnknownEntity(f"song {song_id!r} is not in the catalogue the model was trained on")
        explained = explainer.explain(user_id, song_id)
        if plot is not None:
            explainer.plot(user_id, explained, plot)
        return ExplainedSong(model, user_id, explained, None if plot is None else str(plot))


class RecommendAll:
    def __init__(self, loader: ModelLoader) -> None:
        self._loader = loader

    def execute(self, k: int, model: str | None, out_path: Path, include_heard: bool = False,
                progress: Progress | None = None) -> RecommendAllResult:
        _check_k(k)
        check_output_file(out_path, (".csv", ".parquet"), "--output")
        recommender = self._loader.load(chosen_kind(self._loader, model))
        rows = recommender.recommend_all(k, include_heard, out_path, progress or SilentProgress())
        return RecommendAllResult(recommender.kind, rows, k, str(out_path))


class Evaluate:
    def __init__(self, evaluator: ModelEvaluator) -> None:
        self._evaluator = evaluator

    def execute(self, models: tuple[str, ...] = (), progress: Progress | None = None
                ) -> list[ModelEvaluation]:
        for model in models:
            check_model_kind(model)
        trained = self._evaluator.trained_kinds()
        chosen = list(models) or trained
        missing = [m for m in chosen if m not in trained]
        if not chosen or missing:
            raise EngineError(f"no trained {', '.join(missing) or 'model'} to evaluate; "
                              "run `engine train --model KIND` first")
        return [self._evaluator.evaluate(model, progress or SilentProgress()) for model in chosen]
