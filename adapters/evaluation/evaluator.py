"""`engine evaluate`: the seed's full metric set on the held-out test split of a training run.

It scores the run's exported model (``serving.npz``, cold-start rules included) through
``adapters.scoring``, as `engine recommend` serves it. Rankings exclude every song the user
already knew (training and validation) and message passing uses training edges only, as
during training. Beside accuracy
(Recall@10, NDCG@10) it reports what the lists look like: genre diversity and
coverage, genre influence, catalogue coverage, diversity across users and
novelty, broken down by user type; and, for GAT models, a deletion test of the
attention's faithfulness.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import torch

from adapters.evaluation.counterfactual_test import counterfactual_test
from adapters.evaluation.graph_edits import exported_keeping
from adapters.evaluation.protocol import K, Pairs, Ranked, from_assignment, rank_served
from adapters.graph.pyg_builder import HISTORY
from adapters.models.base import GraphRecommender
from adapters.models.factory import load_checkpoint
from adapters.models.gat import _GATRecommender
from adapters.models.popularity import PopularityRecommender
from adapters.scoring.export import export_serving, serving_arrays
from adapters.scoring.served import LoadedModel, needs_export
from adapters.storage.runs import RunStore
from domain.errors import EmptyRepository
from domain.model import DeletionTest, ListFigures, ModelEvaluation, RankingFigures
from domain.ports import Dataset, InteractionRepository, ModelEvaluator, Progress
from domain.versions import ModelVersion

DELETION_USERS = 40
REASON_USERS = 2_000  # lists whose explanations are read for how much their reasons differ
# Pairs of users whose lists diversity compares (every pair below), and at once.
EXACT_PAIRS = 2_000_000
PAIR_BLOCK = 100_000


def mean_jaccard(lists: np.ndarray, seed: int = 0) -> float | None:
    """Mean Jaccard similarity of two users' lists (rows of song indices, -1 for none), over
    every pair of users up to EXACT_PAIRS pairs, over that many pairs drawn with the seed
    above; None for fewer than two lists. Memory follows the pairs compared, not users x songs."""
    n = len(lists)
    if n < 2:
        return None
    if n * (n - 1) // 2 <= EXACT_PAIRS:
        first, second = np.triu_indices(n, 1)
    else:
        rng = np.random.default_rng(seed)
        first = rng.integers(0, n, EXACT_PAIRS)
        second = rng.integers(0, n - 1, EXACT_PAIRS)
        second += second >= first  # another user than the first
    total = 0.0
    for start in range(0, len(first), PAIR_BLOCK):
        a, b = lists[first[start:start + PAIR_BLOCK]], lists[second[start:start + PAIR_BLOCK]]
        overlap = ((a[:, :, None] == b[:, None, :]) & (a >= 0)[:, :, None]).sum(axis=(1, 2))
        union = (a >= 0).sum(1) + (b >= 0).sum(1) - overlap
        total += float((overlap / np.maximum(union, 1)).sum())
    return total / len(first)


def list_metrics(served: LoadedModel, bundle: Any, users: np.ndarray, songs: np.ndarray
                 ) -> ListFigures:
    """What the top-k lists (``songs``: users x k) look like, beyond accuracy."""
    song_genres = bundle.song_genres
    n_songs, n_genres = len(song_genres.slots), song_genres.n_genres
    genres_per_list = np.zeros((len(users), n_genres + 1), dtype=bool)  # (users, genres + padding)
    np.put_along_axis(genres_per_list, song_genres.slots[songs].reshape(len(users), -1), True, axis=1)
    genres_per_list = genres_per_list[:, :n_genres]
    jaccard = mean_jaccard(songs)
    listeners = bundle.song_popularity.numpy()
    n_users = bundle.data["user"].num_nodes
    self_information = -np.log2((listeners[songs] + 1) / (n_users + 1))
    influence = 0.0
    if served.is_gat and served.alpha < 1.0 and len(users):
        shares = []
        for user, top in zip(users, songs, strict=True):
            parts = served.score_parts(np.array([user]), top)
            collaborative = served.alpha * np.abs(parts.collaborative[0])
            genre = (1 - served.alpha) * np.abs(parts.genre[0])
            shares.append(genre / np.maximum(collaborative + genre, 1e-12))
        influence = float(np.mean(shares))
    reasons, peak = reason_figures(served, users, songs)
    return ListFigures(
        genre_diversity=float(genres_per_list.sum(1).mean()),
        genre_coverage=float(genres_per_list.any(axis=0).sum() / max(n_genres, 1)),
        genre_influence=influence,
        catalogue_coverage=float(np.unique(songs).size / n_songs),
        diversity=1 - jaccard if jaccard is not None else 0.0,
        novelty=float(self_information.mean()), reasons_distinct=reasons, attention_peak=peak)


def reason_figures(served: LoadedModel, users: np.ndarray, songs: np.ndarray, cited: int = 3,
                   sample: int = REASON_USERS) -> tuple[float, float]:
    """(distinct share of the history songs the lists' explanations cite, mean largest attention
    weight) over a seeded sample of the lists; zeros for a model without history attention."""
    if not served.is_gat or not len(users):
        return 0.0, 0.0
    chosen = np.random.default_rng(0).permutation(len(users))[:sample]
    distinct, peaks = [], []
    for user, top in zip(users[chosen], songs[chosen], strict=True):
        attended = served.history_attentions(int(user), top[top >= 0])
        named = [history[:cited] for history, _ in attended]
        total = sum(len(n) for n in named)
        if total:
            distinct.append(len(np.unique(np.concatenate(named))) / total)
        peaks.extend(float(weights[0]) for _, weights in attended if len(weights))
    return (float(np.mean(distinct)) if distinct else 0.0, float(np.mean(peaks)) if peaks else 0.0)


def deletion_test(model: _GATRecommender, served: LoadedModel, users: np.ndarray, targets: np.ndarray,
                  seed: int = 0) -> DeletionTest:
    """For each user's top recommendation, take one history edge out of the graph and see how
    far the song's score falls: the edge the exported model attended to most when it scored
    that song (the one its explanation names first), and a random other history edge of the
    user. Each changed graph is exported and scored as the served model is."""
    rng = np.random.default_rng(seed)
    data = model.bundle.data
    history_songs, history_users = data[HISTORY].edge_index.numpy()
    drops: dict[str, list[float]] = {"top_attention": [], "random_edge": []}
    for user, target in zip(users, targets, strict=True):
        mine = np.flatnonzero(history_users == user)
        attended, _ = served.history_attention(int(user), int(target))
        if len(mine) < 2 or not len(attended):
            continue
        top_edge = mine[history_songs[mine] == attended[0]][0]
        chosen = {"top_attention": top_edge, "random_edge": rng.choice(mine[mine != top_edge])}
        base = _served_score(served, user, target)
        for name, edge in chosen.items():
            drops[name].append(base - _score_without(model, data, edge, user, target))
    model.bundle.data = data
    top, random = np.array(drops["top_attention"]), np.array(drops["random_edge"])
    return DeletionTest(users=len(random), mean_drop_top_attention=float(top.mean()) if len(top) else 0.0,
                        mean_drop_random_edge=float(random.mean()) if len(random) else 0.0,
                        share_top_attention_beats_random=float((top > random).mean()) if len(random)
                        else None)


def _served_score(served: LoadedModel, user: int, song: int) -> float:
    return float(served.score_parts(np.array([user]), np.array([song])).final[0, 0])


def _score_without(model: _GATRecommender, data, history_edge: int, user: int, song: int) -> float:
    """Score of (user, song) by the model exported from the graph without one listening edge."""
    keep = torch.ones(data[HISTORY].num_edges, dtype=torch.bool)
    keep[history_edge] = False
    return _served_score(exported_keeping(model, data, keep, user), user, song)


def served_model(run: Path, model: GraphRecommender) -> LoadedModel:
    """The run's exported model as `engine recommend` loads it (re-exported if out of date)."""
    if needs_export(run):
        export_serving(model, run / "serving.npz")
    return LoadedModel.from_file(run / "serving.npz", None)


class CheckpointEvaluator(ModelEvaluator):
    def __init__(self, models_dir: Path, repository: InteractionRepository) -> None:
        self.runs = RunStore(models_dir)
        self.repository = repository
        self._loaded: Dataset | None = None

    def _dataset(self) -> Dataset:
        """The repository's dataset, read once for every model evaluated."""
        if self._loaded is None:
            self._loaded = self.repository.load()
            if self._loaded is None:
                raise EmptyRepository("the repository is empty; run `engine ingest` first")
        return self._loaded

    def evaluate(self, version: ModelVersion, progress: Progress,
                 as_popularity: bool = False) -> ModelEvaluation:
        started = time.perf_counter()
        run = self.runs.resolve(version.artifact)
        kind = "popularity" if as_popularity else version.kind
        model, state = load_checkpoint(run / "model.pt")
        baseline = kind == "popularity" and model.kind != "popularity"  # on a GAT run's split
        if baseline:
            model = PopularityRecommender(model.bundle)
        dataset = self._dataset()
        split = from_assignment(dataset.interactions, pq.read_table(run / "split.parquet"))
        progress.start(f"evaluating {kind}", total=3)
        bundle = model.bundle
        train, validation, test = (Pairs(t, bundle.ids) for t in (split.train, split.validation, split.test))
        known = train.matrix().merged(validation.matrix())
        relevant = test.matrix()

        served = LoadedModel(serving_arrays(model), None) if baseline else served_model(run, model)
        ranked = rank_served(served, relevant, known, k=K)
        users, songs = ranked.users, ranked.top
        progress.advance()
        lists = list_metrics(served, bundle, users, songs)
        by_type = self._by_user_type(dataset, bundle, users, ranked)
        progress.advance()
        deletion = what_if = None
        if isinstance(model, _GATRecommender):
            sample = np.random.default_rng(0).permutation(len(users))[:DELETION_USERS]
            deletion = deletion_test(model, served, users[sample], songs[sample, 0])
            what_if = counterfactual_test(model, served, known, users[sample], songs[sample, 0], K)
        progress.advance()
        progress.finish()
        return ModelEvaluation(model=kind, version=None if baseline else version.version,
                               checkpoint=str(run / "model.pt"), k=ranked.k,
                               test=RankingFigures(len(users), ranked.recall, ranked.ndcg), lists=lists,
                               by_user_type=by_type, deletion_test=deletion, counterfactual_test=what_if,
                               wall_s=time.perf_counter() - started)

    @staticmethod
    def _by_user_type(dataset, bundle, users: np.ndarray, ranked: Ranked) -> dict[str, RankingFigures]:
        types_table = dataset.catalogue["users"]
        lookup = dict(zip(types_table.column("user_id").to_pylist(),
                          pc.fill_null(types_table.column("user_type"), "unknown").to_pylist(), strict=True))
        types = np.array([lookup.get(bundle.ids["user"][u], "unknown") for u in users])
        recall, ndcg = ranked.per_user_recall, ranked.per_user_ndcg
        return {t: RankingFigures(int((types == t).sum()), float(recall[types == t].mean()),
                                  float(ndcg[types == t].mean()))
                for t in sorted(set(types))}
