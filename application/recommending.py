"""Recommend, Explain, RecommendAll and Evaluate: answering with a trained model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from domain.context import describe_hour, hour_of_week
from domain.errors import CheckpointError, EngineError, InvalidSetting, UnknownEntity
from domain.model import ExplainedSong, ModelEvaluation, RecommendAllResult, RecommendationList
from domain.ports import (
    InteractionRepository,
    ModelEvaluator,
    ModelLoader,
    ModelRegistry,
    Progress,
    SilentProgress,
    TrainedModel,
)
from domain.training import MODEL_KINDS, check_model_kind
from domain.versions import ModelVersion


@dataclass(frozen=True)
class RecommendQuery:
    user_id: str
    k: int = 10
    model: str | None = None  # a model kind; None: the promoted version's
    include_heard: bool = False
    explain: bool = False
    genres: tuple[str, ...] = ()
    version: int | None = None  # a registry version; None: the promoted one (of ``model``'s kind)
    counterfactual: bool = False  # explained, with what would take each song out of the list
    at: int | None = None  # UTC epoch seconds to rank for (listening context); None: any time


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


def chosen_version(registry: ModelRegistry, kind: str | None = None,
                   version: int | None = None) -> ModelVersion:
    """The version asked for; else the promoted one when it is of the kind asked for (or no kind
    is asked for); else the newest version of that kind."""
    if kind is not None:
        check_model_kind(kind)
    if version is not None:
        found = registry.get(version)
        if kind is not None and found.kind != kind:
            raise InvalidSetting(f"model version v{version} is a {found.kind} model, not {kind}; "
                                 "give one of the two")
        return found
    promoted = registry.promoted()
    if promoted is not None and kind in (None, promoted.kind):
        return promoted
    if kind is None:
        raise CheckpointError("no trained model yet; run `engine train` first")
    versions = registry.versions()
    of_kind = [v for v in versions if v.kind == kind]
    if not of_kind:
        trained = sorted({v.kind for v in versions})
        raise CheckpointError(f"no trained {kind} model; run `engine train --model {kind}` first"
                              + (f" or ask for one that is trained: {', '.join(trained)}" if trained else ""))
    return of_kind[-1]


class _Answering:
    """A use case that answers with one version of a trained model. Given the interaction
    store, a listener the model has not seen but the store has (plays posted or ingested
    after training) is folded into the model at their first request."""

    def __init__(self, loader: ModelLoader, registry: ModelRegistry,
                 repository: InteractionRepository | None = None) -> None:
        self._loader = loader
        self._registry = registry
        self._repository = repository

    def _fold_in_if_new(self, model: TrainedModel, user_id: str) -> None:
        if self._repository is not None and not model.knows_user(user_id):
            model.fold_in(self._repository.listening_of([user_id]))


def _hour(at: int | None) -> int | None:
    return None if at is None else int(hour_of_week(at))


def _context_notices(recommender: TrainedModel, hour: int | None) -> list[str]:
    """What a list says of the time it was asked for."""
    if hour is None:
        return []
    if not recommender.has_context:
        return ["this model has no listening context (`engine train --context`): the time asked "
                "for changes nothing"]
    return [f"ranked for {describe_hour(hour)} (listening context)"]


class Recommend(_Answering):
    def execute(self, query: RecommendQuery) -> RecommendationList:
        _check_k(query.k)
        version = chosen_version(self._registry, query.model, query.version)
        recommender = self._loader.load(version)
        known = {name.casefold() for name in recommender.genre_names()}
        unknown = [g for g in query.genres if g.casefold() not in known]
        if unknown:
            raise UnknownEntity(f"unknown genre(s) {', '.join(unknown)}; known: "
                                 f"{', '.join(recommender.genre_names())}")
        notices: list[str] = []
        explain = query.explain or query.counterfactual  # a counterfactual is part of an explanation
        hour = _hour(query.at)
        self._fold_in_if_new(recommender, query.user_id)
        cold_start = not recommender.knows_user(query.user_id)
        if cold_start:
            within = f" in {', '.join(query.genres)}" if query.genres else ""
            notices.append(f"user {query.user_id!r} is new to the model: most popular songs{within} "
                           "(cold start)")
            recommendations = recommender.popular(query.k, query.genres)
        else:
            notices.extend(recommender.notices_for(query.user_id))
            notices.extend(_context_notices(recommender, hour))
            recommendations = recommender.recommend(query.user_id, query.k, query.include_heard,
                                                    explain, query.counterfactual, hour)
        if not recommendations and not cold_start:
            # One listener's own export: the catalogue is exactly the songs they played.
            notices.append("every song in the catalogue is one this user has played (the catalogue holds "
                           "only the ingested listeners' songs): these are their own songs ranked by the "
                           "model; ingest more listeners to find new ones")
            recommendations = recommender.recommend(query.user_id, query.k, True, explain,
                                                    query.counterfactual, hour)
        if not recommendations:
            notices.append("no recommendation left for this user; falling back to the most popular songs")
            recommendations = recommender.popular(query.k)
        return RecommendationList(query.user_id, recommender.kind, tuple(recommendations),
                                  tuple(notices), cold_start, version.version)


class Explain(_Answering):
    def execute(self, user_id: str, song_id: str, model: str | None, plot: Path | None = None,
                version: int | None = None, at: int | None = None) -> ExplainedSong:
        if plot is not None:
            check_output_file(plot, (".png",), "--plot")
        chosen = chosen_version(self._registry, model, version)
        model = chosen.kind
        explainer = self._loader.load(chosen)
        self._fold_in_if_new(explainer, user_id)
        if not explainer.knows_user(user_id):
            raise UnknownEntity(f"user {user_id!r} is not in the {model} model; "
                                "`engine recommend` serves new users from popularity")
        if not explainer.knows_song(song_id):
            raise UnknownEntity(f"song {song_id!r} is not in the catalogue the model was trained on")
        explained = explainer.explain(user_id, song_id, _hour(at))
        if plot is not None:
            explainer.plot(user_id, explained, plot)
        return ExplainedSong(model, user_id, explained, None if plot is None else str(plot), chosen.version)


class SimilarSongs(_Answering):
    def execute(self, song_id: str, k: int = 10, model: str | None = None,
                version: int | None = None) -> RecommendationList:
        _check_k(k)
        chosen = chosen_version(self._registry, model, version)
        recommender = self._loader.load(chosen)
        if not recommender.knows_song(song_id):
            raise UnknownEntity(f"song {song_id!r} is not in the catalogue the model was trained on")
        return RecommendationList(song_id, recommender.kind, tuple(recommender.similar(song_id, k)),
                                  version=chosen.version)


class FindListeners(_Answering):
    def execute(self, prefix: str, limit: int = 20, version: int | None = None) -> list[str]:
        _check_k(limit)
        return self._loader.load(chosen_version(self._registry, None, version)).listeners(prefix, limit)


class RecommendAll(_Answering):
    def execute(self, k: int, model: str | None, out_path: Path, include_heard: bool = False,
                progress: Progress | None = None, version: int | None = None) -> RecommendAllResult:
        _check_k(k)
        check_output_file(out_path, (".csv", ".parquet"), "--output")
        chosen = chosen_version(self._registry, model, version)
        recommender = self._loader.load(chosen)
        rows = recommender.recommend_all(k, include_heard, out_path, progress or SilentProgress())
        return RecommendAllResult(recommender.kind, rows, k, str(out_path), chosen.version)


class Evaluate:
    """Versions side by side on their runs' test splits: by default the promoted version, the
    newest of every other trained kind, and popularity as the baseline (on a GAT run's split
    when no popularity model is trained)."""

    def __init__(self, evaluator: ModelEvaluator, registry: ModelRegistry) -> None:
        self._evaluator = evaluator
        self._registry = registry

    def execute(self, models: tuple[str, ...] = (), progress: Progress | None = None,
                version: int | None = None) -> list[ModelEvaluation]:
        progress = progress or SilentProgress()
        for model in models:
            check_model_kind(model)
        if version is not None:
            return [self._evaluator.evaluate(chosen_version(self._registry, None, version), progress)]
        chosen: dict[str, ModelVersion] = {}
        for kind in MODEL_KINDS:
            try:
                chosen[kind] = chosen_version(self._registry, kind)
            except CheckpointError:
                continue
        wanted = list(models) or (["popularity", *chosen] if chosen else [])
        missing = [m for m in wanted if m not in chosen and not (m == "popularity" and chosen)]
        if not wanted or missing:
            raise EngineError(f"no trained {', '.join(missing) or 'model'} to evaluate; "
                              "run `engine train --model KIND` first")
        results = []
        for kind in dict.fromkeys(wanted):
            if kind in chosen:
                results.append(self._evaluator.evaluate(chosen[kind], progress))
            else:  # the popularity baseline on the split of a trained GAT model
                base = next(v for k, v in chosen.items() if k != "popularity")
                results.append(self._evaluator.evaluate(base, progress, as_popularity=True))
        return results
