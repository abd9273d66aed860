"""Serving from a real small trained model: explanations, exclusions, cold start, deletion test."""

from __future__ import annotations

import copy

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from adapters.common.tables import CATALOGUE_SCHEMAS
from adapters.evaluation.evaluator import CheckpointEvaluator, served_model
from adapters.models.factory import load_checkpoint
from adapters.scoring.export import serving_arrays
from adapters.scoring.served import LoadedModel
from adapters.serving.recommender import CheckpointModelLoader
from adapters.storage.runs import RunStore
from adapters.training.service import TorchModelTrainer
from application.recommending import Recommend, RecommendQuery
from domain.ports import Catalogue, Dataset, Listening, SilentProgress
from domain.training import TrainingSpec
from tests.conftest import run_version
from tests.fakes import InMemoryInteractionRepository, InMemoryRegistry

SPARSE_USER = "user_with_two_songs"


@pytest.fixture(scope="module")
def served(small_dataset, tmp_path_factory):
    """A repository whose catalogue also holds one never-played song and one listener of two
    songs (sparse), and trained models."""
    tables = dict(small_dataset.catalogue.tables)
    artist = tables["songs"].column("artist_id")[0].as_py()
    unplayed = pa.table({"song_id": ["track_unplayed"], "song_name": ["Brand New"], "artist_id": [artist],
                         "duration_ms": [200_000]}, schema=CATALOGUE_SCHEMAS["songs"])
    tables["songs"] = pa.concat_tables([tables["songs"], unplayed])
    two = small_dataset.interactions.slice(0, 2)
    sparse = two.set_column(0, "user_id", pa.array([SPARSE_USER] * 2))
    interactions = pa.concat_tables([small_dataset.interactions, sparse])
    repository = InMemoryInteractionRepository()
    repository.save(Dataset(Catalogue(tables), interactions, small_dataset.sources))
    models = tmp_path_factory.mktemp("models")
    for kind, members in (("gat-basic", 1), ("gat-enhanced", 2)):
        spec = TrainingSpec(model=kind, epochs=2, batch_size=512, seed=4, members=members)
        TorchModelTrainer().train(repository.load(), spec, models, SilentProgress())
    return CheckpointModelLoader(models, repository), repository, models


def _a_user(recommender):
    return next(iter(recommender.loaded.user_index))


def test_explanation_fields_are_consistent(served):
    recommender = served[0].load(run_version(served[2], "gat-enhanced"))
    user = _a_user(recommender)
    for rec in recommender.recommend(user, 5, explain=True):
        e = rec.explanation
        alpha = recommender.loaded.alpha
        assert e.final_score == pytest.approx(alpha * e.collaborative_score + (1 - alpha) * e.genre_score,
                                              rel=1e-5, abs=1e-6)
        assert rec.score == pytest.approx(e.final_score, rel=1e-5)
        assert 0.0 <= e.genre_influence <= 1.0 and len(e.influential_history) > 0
        assert "Similar listening patterns" in e.text and "Genre match" in e.text
        genres = set(recommender.genre_names())
        assert set(e.matched_genres) <= genres


def test_explain_gives_the_rank_recommend_gives(served):
    recommender = served[0].load(run_version(served[2], "gat-basic"))
    user = _a_user(recommender)
    for rec in recommender.recommend(user, 5):
        explained = recommender.explain(user, rec.song_id)
        assert (explained.rank, explained.score) == (rec.rank, pytest.approx(rec.score))
    heard = recommender.loaded.song_ids[recommender.loaded.heard.row(recommender.loaded.user_index[user])[0]]
    with_heard = [r.song_id for r in recommender.recommend(user, len(recommender.loaded.song_ids),
                                                            include_heard=True)]
    assert recommender.explain(user, heard).rank <= with_heard.index(heard) + 1


@pytest.mark.parametrize("kind", ["gat-basic", "gat-enhanced"])
def test_explained_attention_is_the_attention_that_scored_the_song(served, kind):
    """Each member attends over the history by its own similarity; the explanation shows the
    members' mean attention and the score is the members' mean (gat-enhanced has two)."""
    loaded = served[0].load(run_version(served[2], kind)).loaded
    assert loaded.members == (2 if kind == "gat-enhanced" else 1)
    rng = np.random.default_rng(0)
    for user in rng.choice(len(loaded.user_ids), 20, replace=False):
        song = int(rng.integers(len(loaded.song_ids)))
        songs, attention = loaded.history_attention(user, song)
        if not len(songs):
            continue
        assert attention.sum() == pytest.approx(1.0, abs=1e-6) and song not in songs
        assert np.all(np.diff(attention) <= 1e-12)  # most attended first
        member_attention, member_scores = [], []
        dim = loaded.song_emb.shape[1] // loaded.members
        for k in range(loaded.members):
            columns = slice(k * dim, (k + 1) * dim)
            song_emb = loaded.song_emb[:, columns]
            similarity = song_emb[songs] @ song_emb[song]
            weights = np.exp(loaded.sharpness[k] * similarity)
            weights /= weights.sum()
            member_attention.append(weights)
            member_scores.append(loaded.user_emb[user, columns] @ song_emb[song] + weights @ similarity)
        np.testing.assert_allclose(attention, np.mean(member_attention, 0), atol=1e-5)
        collaborative = loaded.score_parts(np.array([user]), np.array([song])).collaborative[0, 0]
        assert collaborative == pytest.approx(np.mean(member_scores), rel=1e-4, abs=1e-4)


def test_heard_songs_are_excluded_unless_asked(served):
    loader, repository, models = served
    recommender = loader.load(run_version(models, "gat-basic"))
    user = _a_user(recommender)
    interactions = repository.load().interactions.to_pylist()
    heard = {r["song_id"] for r in interactions if r["user_id"] == user}
    fresh = recommender.recommend(user, 50)
    assert len(fresh) == 50 and not heard & {r.song_id for r in fresh}
    everything = recommender.recommend(user, 300, include_heard=True)
    assert heard <= {r.song_id for r in everything}


def test_new_user_popularity_within_genres(served):
    recommender = served[0].load(run_version(served[2], "gat-enhanced"))
    genre = recommender.genre_names()[0]
    picks = recommender.popular(5, genres=(genre,))
    loaded = recommender.loaded
    column = recommender.genre_names().index(genre)
    assert picks and all(column in loaded.song_genres.of(loaded.song_index[r.song_id]) for r in picks)
    scores = [r.score for r in picks]
    assert scores == sorted(scores, reverse=True)


def test_never_played_song_gets_its_artists_embedding_and_can_be_recommended(served):
    loaded = served[0].load(run_version(served[2], "gat-basic")).loaded
    song = loaded.song_index["track_unplayed"]
    assert loaded.popularity[song] == 0 and loaded.notes["cold_songs_from_artist"] >= 1
    siblings = (loaded.song_artist == loaded.song_artist[song]) & (loaded.popularity > 0)
    assert np.allclose(loaded.song_emb[song], loaded.song_emb[siblings].mean(0), atol=0.05)
    assert np.isfinite(loaded.scores(np.array([0]))[0, song])


def test_sparse_users_are_supplemented_and_told(served):
    recommender = served[0].load(run_version(served[2], "gat-basic"))
    loaded = recommender.loaded
    sparse = [u for u in loaded.user_ids if loaded.user_index[u] in loaded.sparse_users]
    counts = loaded.history_counts()
    assert SPARSE_USER in sparse and all(counts[loaded.user_index[u]] < 3 for u in sparse)
    assert "similar users" in recommender.notices_for(SPARSE_USER)[0]


def test_all_users_file_has_k_rows_per_user_and_names(served, tmp_path):
    recommender = served[0].load(run_version(served[2], "gat-basic"))
    rows = recommender.recommend_all(5, False, tmp_path / "recs.parquet", SilentProgress())
    table = pq.read_table(tmp_path / "recs.parquet")
    loaded = recommender.loaded
    unheard = len(loaded.song_ids) - loaded.heard.counts()
    assert rows == table.num_rows == int(np.minimum(5, unheard).sum())
    assert table.column_names == ["user_id", "song_id", "rank", "score", "song_name", "artist_name"]
    first = table.slice(0, 5).to_pylist()
    single = recommender.recommend(first[0]["user_id"], 5)
    assert [r["song_id"] for r in first] == [r.song_id for r in single]


def test_evaluation_and_deletion_test_on_a_small_model(served):
    _, repository, models = served
    evaluator = CheckpointEvaluator(models, repository)
    result = evaluator.evaluate(run_version(models, "gat-basic"), SilentProgress())
    figures = (result.test.recall, result.test.ndcg, *vars(result.lists).values())
    assert np.all(np.isfinite(figures))
    assert 0 < result.lists.catalogue_coverage <= 1 and 0 <= result.lists.diversity <= 1
    assert 0 < result.lists.reasons_distinct <= 1
    widest = int(served[0].load(run_version(models, "gat-basic")).loaded.history_counts().max())
    assert 1 / widest <= result.lists.attention_peak <= 1  # between uniform and all on one song
    deletion = result.deletion_test
    assert deletion is not None and deletion.users > 0
    assert np.isfinite([deletion.mean_drop_top_attention, deletion.mean_drop_random_edge]).all()
    assert 0 <= deletion.share_top_attention_beats_random <= 1
    assert set(result.by_user_type) <= {"casual", "regular", "power", "unknown"}
    assert sum(f.users for f in result.by_user_type.values()) == result.test.users
    popularity = evaluator.evaluate(run_version(models, "gat-basic"), SilentProgress(), as_popularity=True)
    assert (popularity.model, popularity.version, result.version) == ("popularity", None, 2)
    assert popularity.lists.genre_influence == 0.0 and popularity.deletion_test is None
    assert popularity.lists.reasons_distinct == popularity.lists.attention_peak == 0.0
    assert "deletion_test" not in popularity.as_dict() and "deletion_test" in result.as_dict()
    what_if = result.counterfactual_test
    assert what_if is not None and what_if.users == deletion.users and popularity.counterfactual_test is None
    assert 0 <= what_if.necessity <= what_if.found <= 1
    if what_if.validity is not None:  # necessity counts the valid sets over every song explained
        assert what_if.necessity == pytest.approx(what_if.validity * what_if.found)
        assert what_if.mean_set_size >= 1 and 0 <= what_if.sufficiency <= 1
    assert result.as_dict()["counterfactual_test"]["users"] == what_if.users


def test_the_deletion_test_takes_one_edge_out_of_the_served_history_and_puts_it_back(served):
    """What the deletion test measures (how much a score owes an edge; whether the most
    attended edge matters most is a property of a trained model, reported by `engine
    evaluate` and checked in benchmarks/train.py): the score of the model exported without
    the edge, whose attended history then lacks the song, on a graph restored afterwards."""
    from adapters.evaluation.evaluator import _score_without, _served_score
    from adapters.graph.pyg_builder import HISTORY

    model, _ = load_checkpoint(RunStore(served[2]).current("gat-basic") / "model.pt")
    loaded = served[0].load(run_version(served[2], "gat-basic")).loaded
    counts = loaded.history_counts()
    user = int(np.argmax((counts >= 5) & (counts <= 15)))
    target = int(loaded.top_k(np.array([user]), 1, loaded.heard)[1][0, 0])
    songs, _ = loaded.history_attention(user, target)
    data = model.bundle.data
    edge_index = data[HISTORY].edge_index
    edge = int(torch.nonzero((edge_index[0] == int(songs[0])) & (edge_index[1] == user))[0, 0])
    base = _served_score(loaded, user, target)
    without = _score_without(model, data, edge, user, target)
    exported = serving_arrays(model)
    history = exported["attended"][user][exported["attended_mask"][user]]
    assert int(songs[0]) not in history.tolist() and len(history) == len(songs) - 1
    assert np.isfinite(without) and without != base
    model.bundle.data = data
    assert _served_score(LoadedModel(serving_arrays(model), None), user, target) == pytest.approx(base)


@pytest.mark.parametrize("kind", ["gat-basic", "gat-enhanced"])
def test_training_evaluation_and_serving_rank_alike(served, kind):
    """The trainer's ranking (the model exported in memory), `engine evaluate`'s (the run's
    serving file) and `engine recommend`'s give the same scores and top-10, for a sparse user
    and with the never-played song in the catalogue."""
    loader, _, models = served
    run = RunStore(models).current(kind)
    model, _ = load_checkpoint(run / "model.pt")
    recommender = loader.load(run_version(models, kind))
    loaded = recommender.loaded
    users = np.array([loaded.user_index[SPARSE_USER], loaded.user_index[_a_user(recommender)]])
    exported = LoadedModel(serving_arrays(model), None)
    trained = exported.scores(users)
    evaluated = served_model(run, model).scores(users)
    np.testing.assert_array_equal(trained, evaluated)
    # the trainer's validation runs the same kernel on torch's arrays: float rounding apart
    np.testing.assert_allclose(exported.scores(users, "torch").numpy(), trained, rtol=1e-5, atol=1e-6)
    assert np.isfinite(trained[:, loaded.song_index["track_unplayed"]]).all()
    for row, user in enumerate(users):
        top = np.argsort(-trained[row], kind="stable")[:10]
        answer = recommender.recommend(loaded.user_ids[user], 10, include_heard=True)
        assert [r.song_id for r in answer] == list(loaded.song_ids[top])
        np.testing.assert_allclose([r.score for r in answer], trained[row, top], rtol=1e-6)


def test_popularity_context_never_overstates_a_share(served):
    """The most played song is ahead of almost every song, never of all of them."""
    recommender = served[0].load(run_version(served[2], "gat-basic"))
    popularity = recommender.loaded.popularity
    top = int(np.argmax(popularity))
    share = float((popularity < popularity[top]).mean())
    assert 0.99 < share < 1.0  # a share the usual rounding would print as 100%
    context = recommender.explanations.popularity_context(top, [])
    assert f"more than {int(share * 100)}% of songs" in context and "100%" not in context


def test_popularity_context_of_a_song_nobody_played_says_it_is_a_new_find(served):
    recommender = served[0].load(run_version(served[2], "gat-basic"))
    unplayed = recommender.loaded.song_index["track_unplayed"]
    assert recommender.loaded.popularity[unplayed] == 0
    context = recommender.explanations.popularity_context(unplayed, [])
    assert context.startswith("new to the data (no listener played it") and "0%" not in context
    assert context.endswith("through its artist") == (recommender.loaded.song_artist[unplayed] >= 0)


@pytest.mark.parametrize("kind", ["gat-basic", "gat-enhanced"])
def test_two_stage_lists_are_the_full_models_best_among_distinct_unheard_candidates(served, kind):
    run = RunStore(served[2]).current(kind)
    exact = served[0].load(run_version(served[2], kind)).loaded
    arrays = dict(np.load(run / "serving.npz"))
    narrow = LoadedModel(arrays, served[1].load(), query_candidates=20)
    assert narrow.retrieval.pool < len(narrow.song_ids)  # two stages, not the whole catalogue
    users = np.arange(len(narrow.user_ids))
    values, songs = narrow.top_k(users, 10, narrow.heard)
    heard = narrow.heard.dense(users)
    full = exact.scores(users)
    for user in users:
        offered = songs[user][songs[user] >= 0]
        assert len(set(offered.tolist())) == len(offered) and not heard[user, offered].any()
        np.testing.assert_allclose(values[user][: len(offered)], full[user, offered], rtol=1e-5, atol=1e-6)
        pool = narrow.retrieval.candidates(np.array([user]), narrow.heard)[0]
        pool = pool[pool >= 0]
        assert set(offered.tolist()) <= set(pool.tolist())
        left_out = full[user, np.setdiff1d(pool, offered)]
        assert full[user, offered].min() >= np.max(left_out, initial=-np.inf) - 1e-6
    wide = LoadedModel(arrays, served[1].load(), query_candidates=len(narrow.song_ids))
    assert wide.retrieval.pool >= len(wide.song_ids)
    np.testing.assert_array_equal(wide.top_k(users, 10, wide.heard)[1],
                                  exact.top_k(users, 10, exact.heard)[1])


def test_large_catalogues_search_a_faiss_graph_exported_with_the_model(served, monkeypatch):
    """Above ``EXACT_LIMIT`` songs the query's search comes from a FAISS HNSW graph built at
    export, and above ``EXACT_NEIGHBOUR_PRODUCTS`` the neighbour lists from an IVF index (here
    the limits are lowered below the small model's catalogue); on a few hundred songs they
    find what exact searches find."""
    from adapters.scoring import retrieval

    model, _ = load_checkpoint(RunStore(served[2]).current("gat-enhanced") / "model.pt")
    exact_arrays = serving_arrays(model)
    monkeypatch.setattr(retrieval, "EXACT_LIMIT", 10)
    monkeypatch.setattr(retrieval, "EXACT_NEIGHBOUR_PRODUCTS", 10)
    arrays = serving_arrays(model)
    assert "item_index" in arrays and "item_index" not in exact_arrays
    assert arrays["neighbours"].shape == exact_arrays["neighbours"].shape
    assert not (arrays["neighbours"] == np.arange(len(arrays["neighbours"]))[:, None]).any()
    dataset = served[1].load()
    searched = LoadedModel(arrays, dataset, query_candidates=20)
    scanned = LoadedModel(exact_arrays, dataset, query_candidates=20)
    assert searched.retrieval.index is not None and scanned.retrieval.index is None
    users = np.arange(len(searched.user_ids))
    # users in batches of a few, as a catalogue of 500,000 songs has them (each batch asks the
    # graph for as many hits as its users have known songs, so batches differ)
    monkeypatch.setattr(retrieval, "PRODUCT_BLOCK",
                        3 * len(searched.song_ids) * searched.song_genres.slots.shape[1])
    pools = [model.retrieval.candidates(users, model.heard) for model in (searched, scanned)]
    assert pools[0].shape == pools[1].shape
    shared = np.mean([len(set(a[a >= 0]) & set(b[b >= 0])) / max(1, (b >= 0).sum())
                      for a, b in zip(*pools, strict=True)])
    assert shared > 0.9
    assert not searched.heard.dense(users)[np.arange(len(users))[:, None], np.maximum(pools[0], 0)][
        pools[0] >= 0].any()


def test_a_validation_export_lists_neighbours_for_its_users_and_builds_no_index(served, monkeypatch):
    """The trainer's validation ranks a sample of users from arrays made for them alone: their
    attended songs' neighbours (the only ones their first stage looks up) and no FAISS graph,
    however large the catalogue; their rankings are the full export's."""
    from adapters.scoring import retrieval

    model, _ = load_checkpoint(RunStore(served[2]).current("gat-enhanced") / "model.pt")
    full = serving_arrays(model)
    sample = np.arange(0, len(full["user_ids"]), 3)
    arrays = serving_arrays(model, sample)
    listed = np.flatnonzero((arrays["neighbours"] >= 0).any(1))
    assert np.array_equal(listed, np.unique(full["attended"][sample][full["attended_mask"][sample]]))
    assert np.array_equal(arrays["neighbours"][listed], full["neighbours"][listed])
    dataset = served[1].load()
    for_sample, everyone = LoadedModel(arrays, dataset), LoadedModel(full, dataset)
    np.testing.assert_array_equal(for_sample.top_k(sample, 10, for_sample.heard)[1],
                                  everyone.top_k(sample, 10, everyone.heard)[1])
    monkeypatch.setattr(retrieval, "EXACT_LIMIT", 10)
    assert "item_index" not in serving_arrays(model, sample) and "item_index" in serving_arrays(model)


# -- fold-in: listeners and plays after training -----------------------------------------------
def _fresh(served, kind):
    """A model loaded by a loader of its own: a fold-in changes no other test's model."""
    return CheckpointModelLoader(served[2], served[1]).load(run_version(served[2], kind))


def _listening_as(repository, user, new_id):
    """``user``'s stored listening, as if a listener ``new_id`` had played it."""
    listening = repository.listening_of([user])
    interactions = listening.interactions
    renamed = interactions.set_column(0, "user_id", pa.array([new_id] * interactions.num_rows))
    return Listening(renamed, listening.songs)


@pytest.mark.parametrize("kind", ["gat-basic", "gat-enhanced"])
def test_a_listener_new_to_the_model_is_folded_in_from_their_plays(served, kind):
    recommender = _fresh(served, kind)
    before = recommender.loaded
    donor = _a_user(recommender)
    listening = _listening_as(served[1], donor, "newcomer")
    assert recommender.fold_in(listening) == ["newcomer"]
    loaded = recommender.loaded
    assert "newcomer" not in before.user_index  # requests in flight keep the model they had
    user = loaded.user_index["newcomer"]
    played = {loaded.song_index[s] for s in listening.interactions.column("song_id").to_pylist()}
    # the attention reads their heaviest songs (edge weight, then song index), as training's does
    rows = listening.interactions.to_pylist()
    heaviest = sorted(rows, key=lambda r: (-r["edge_weight"], loaded.song_index[r["song_id"]]))
    expected = [loaded.song_index[r["song_id"]] for r in heaviest][:loaded.attended.shape[1]]
    assert loaded.attended[user][loaded.attended_mask[user]].tolist() == expected
    assert loaded.user_genre[user].max() == pytest.approx(1.0)  # their genre profile, scaled to 1
    assert np.linalg.norm(loaded.user_emb[user]) > 0
    answer = recommender.recommend("newcomer", 10, explain=True)
    assert len(answer) == 10 and not {loaded.song_index[r.song_id] for r in answer} & played
    assert [r.song_id for r in answer] != [r.song_id for r in recommender.popular(10)]
    for rec in answer:
        assert {loaded.song_index[s] for s, _ in rec.explanation.influential_history} <= played
    assert "folded into it" in recommender.notices_for("newcomer")[0]


def test_a_known_listeners_new_play_joins_their_history_and_heard_songs(served):
    recommender = _fresh(served, "gat-basic")
    loaded = recommender.loaded
    user = _a_user(recommender)
    listening = served[1].listening_of([user])
    heard = set(loaded.heard.row(loaded.user_index[user]).tolist())
    new_song = next(s for s in loaded.song_ids if loaded.song_index[s] not in heard)
    play = listening.interactions.slice(0, 1).to_pylist()[0] | {"song_id": new_song, "edge_weight": 2.0}
    grown = pa.concat_tables([listening.interactions,
                              pa.Table.from_pylist([play], listening.interactions.schema)])
    recommender.fold_in(Listening(grown, listening.songs))
    loaded = recommender.loaded
    row = loaded.user_index[user]
    assert loaded.attended[row, 0] == loaded.song_index[new_song]  # the heaviest play is read first
    assert new_song not in {r.song_id for r in recommender.recommend(user, 50)}
    assert loaded.user_index == recommender.loaded.user_index and len(loaded.user_ids) == len(
        served[0].load(run_version(served[2], "gat-basic")).loaded.user_ids)


def test_a_song_new_to_the_catalogue_gets_its_artists_cold_start_embedding(served):
    recommender = _fresh(served, "gat-enhanced")
    loaded = recommender.loaded
    artist = next(iter(loaded.artist_index))
    song = pa.table({"song_id": ["track_posted"], "song_name": ["Posted Song"], "artist_id": [artist],
                     "duration_ms": [None]}, schema=CATALOGUE_SCHEMAS["songs"])
    listening = _listening_as(served[1], _a_user(recommender), "fan")
    play = listening.interactions.slice(0, 1).to_pylist()[0] | {"song_id": "track_posted"}
    interactions = pa.concat_tables([listening.interactions,
                                     pa.Table.from_pylist([play], listening.interactions.schema)])
    recommender.fold_in(Listening(interactions, pa.concat_tables([listening.songs, song])))
    loaded = recommender.loaded
    assert recommender.knows_song("track_posted")
    assert loaded.song_names[loaded.song_index["track_posted"]] == "Posted Song"
    index = loaded.artist_index[artist]
    siblings = (loaded.song_artist[:-1] == index) & (loaded.popularity[:-1] > 0)
    assert np.allclose(loaded.song_emb[-1], loaded.song_emb[:-1][siblings].mean(0), atol=1e-5)
    assert np.isfinite(recommender.explain("fan", "track_posted").score)


def test_recommend_folds_in_a_listener_the_store_holds_and_the_model_does_not(served):
    models, repository = served[2], InMemoryInteractionRepository()
    dataset = served[1].load()
    donor = dataset.interactions.column("user_id")[0].as_py()
    late = _listening_as(served[1], donor, "late_listener").interactions
    repository.save(Dataset(dataset.catalogue, pa.concat_tables([dataset.interactions, late]),
                            dataset.sources))
    registry = InMemoryRegistry()
    run = run_version(models, "gat-basic").artifact
    registry.promote(registry.register("gat-basic", run, "", {}, {}).version)
    use_case = Recommend(CheckpointModelLoader(models, repository), registry, repository)
    result = use_case.execute(RecommendQuery("late_listener", k=5))
    assert not result.cold_start and len(result.recommendations) == 5
    assert "folded into it" in result.notices[0]
    assert use_case.execute(RecommendQuery("still_unknown", k=5)).cold_start


# -- counterfactual explanations ---------------------------------------------------------------
def _rank_without(loaded, user_id, song_id, removed):
    """The song's list rank re-scored by the served model's own path with ``removed`` taken out
    of the user's attended history."""
    model = copy.copy(loaded)
    user, song = loaded.user_index[user_id], loaded.song_index[song_id]
    mask = loaded.attended_mask.copy()
    mask[user] &= ~np.isin(loaded.attended[user], [loaded.song_index[s] for s in removed])
    model.attended_mask = mask
    model.refresh_derived()
    scores = model.scores(np.array([user]))[0]
    offered = ~loaded.heard.dense(np.array([user]))[0]
    offered[song] = True
    return int((scores[offered] > scores[song]).sum()) + 1


def test_the_counterfactual_set_takes_the_song_out_of_the_list(served):
    recommender = _fresh(served, "gat-enhanced")
    loaded = recommender.loaded
    checked = 0
    for user_id in list(loaded.user_index)[:6]:
        for rec in recommender.recommend(user_id, 5, explain=True, counterfactual=True):
            what_if = rec.explanation.counterfactual
            assert what_if.rank == rec.rank and what_if.k == 5
            assert what_if.top_song == rec.explanation.influential_history[0][0]
            assert what_if.rank_without_top == _rank_without(loaded, user_id, rec.song_id, [what_if.top_song])
            if what_if.minimal_set is None:
                everything = loaded.song_ids[loaded.attended[loaded.user_index[user_id]]].tolist()
                assert _rank_without(loaded, user_id, rec.song_id, everything) <= 5
                continue
            without_set = _rank_without(loaded, user_id, rec.song_id, what_if.minimal_set)
            assert what_if.rank_without_set == without_set > 5  # out of the list
            # greedy: one song fewer and it is still in the list
            assert _rank_without(loaded, user_id, rec.song_id, what_if.minimal_set[:-1]) <= 5
            checked += 1
    assert checked  # some song of these lists does leave them


def test_explain_says_what_would_change_it(served):
    recommender = _fresh(served, "gat-basic")
    user = _a_user(recommender)
    song = recommender.recommend(user, 1)[0].song_id
    explained = recommender.explain(user, song)
    what_if = explained.explanation.counterfactual
    assert what_if.rank == explained.rank and what_if.k == 10
    assert "What would change it" in explained.explanation.text
