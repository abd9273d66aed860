"""The PyG graph, both GAT models and their checkpoints, on a small generated set."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import torch
import torch.nn.functional as F

from adapters.common.tables import CATALOGUE_SCHEMAS
from adapters.graph.pyg_builder import HISTORY, LISTENS, PREFERS, GraphBundle, PygGraphBuilder
from adapters.models.factory import create_model, load_checkpoint, save_checkpoint
from adapters.training.sampling import NegativeSampler
from domain.errors import CheckpointError, EmptyRepository
from domain.model import GraphSummary
from domain.ports import Catalogue, Dataset
from tests.conftest import SMALL


def test_graph_has_every_node_type_relation_and_attribute(small_dataset, tmp_path):
    bundle = PygGraphBuilder().build_bundle(small_dataset)
    data = bundle.data
    assert {t: data[t].num_nodes for t in data.node_types} == {
        "user": SMALL.users, "song": SMALL.songs, "artist": SMALL.artists, "genre": SMALL.genres}
    assert data[LISTENS].num_edges == small_dataset.interactions.num_rows
    for name in ("play_count", "completion_ratio", "edge_weight"):
        values = getattr(data[LISTENS], name)
        assert values.shape == (data[LISTENS].num_edges,)
    assert float(data[LISTENS].edge_weight.min()) >= 0 and float(data[LISTENS].edge_weight.max()) <= 1
    assert data[PREFERS].affinity_score.max() <= 1.0
    for relation in ("belongs_to", "performs", "has_genre", "rev_listens_to", "rev_prefers"):
        assert any(rel == relation for _, rel, _ in data.edge_types)
    assert data[HISTORY].num_edges == data[LISTENS].num_edges
    assert len(bundle.genre_names) == SMALL.genres and data["genre"].popularity.shape == (SMALL.genres,)
    path = tmp_path / "graph.pt"
    summary = PygGraphBuilder().build(small_dataset, path)
    assert summary.nodes["song"] == SMALL.songs
    assert GraphBundle.load(path).ids == bundle.ids


def test_every_relation_is_stored_in_destination_order_with_its_values(small_dataset):
    """The GAT layers read each destination's edges as one segment; a listening edge's
    values stay with its pair (the interaction's weight, in both directions)."""
    bundle = PygGraphBuilder().build_bundle(small_dataset)
    data, ids = bundle.data, bundle.ids
    for relation in data.edge_types:
        destinations = data[relation].edge_index[1]
        assert bool((destinations[1:] >= destinations[:-1]).all()), relation
    columns = small_dataset.interactions.to_pydict()
    pairs = zip(columns["user_id"], columns["song_id"], strict=True)
    weight_of = dict(zip(pairs, columns["edge_weight"], strict=True))
    for relation, (user_row, song_row) in ((LISTENS, (0, 1)), (HISTORY, (1, 0))):
        index = data[relation].edge_index
        pairs = zip(index[user_row].tolist(), index[song_row].tolist(), strict=True)
        stored = [weight_of[ids["user"][user], ids["song"][song]] for user, song in pairs]
        np.testing.assert_allclose(data[relation].edge_attr.view(-1).numpy(), stored, rtol=1e-6)


def test_a_graph_keeping_some_listening_edges_drops_the_same_pairs_both_ways(small_dataset):
    from adapters.evaluation.graph_edits import graph_keeping

    data = PygGraphBuilder().build_bundle(small_dataset).data
    keep = torch.rand(data[HISTORY].num_edges, generator=torch.Generator().manual_seed(1)) > 0.3
    kept = graph_keeping(data, keep)
    songs, users = data[HISTORY].edge_index
    expected = set(zip(users[keep].tolist(), songs[keep].tolist(), strict=True))
    listen_users, listen_songs = kept[LISTENS].edge_index
    history_songs, history_users = kept[HISTORY].edge_index
    assert set(zip(listen_users.tolist(), listen_songs.tolist(), strict=True)) == expected
    assert set(zip(history_users.tolist(), history_songs.tolist(), strict=True)) == expected
    assert kept[LISTENS].edge_weight.shape == (len(expected),)
    assert data[LISTENS].num_edges == len(keep)  # the given graph is left as it was


def test_songs_without_artist_and_users_without_preferences_are_counted(small_dataset):
    songs = small_dataset.catalogue["songs"]
    orphan = pa.table({"song_id": ["lonely"], "song_name": ["Lonely"], "artist_id": [None],
                       "duration_ms": [1000]}, schema=CATALOGUE_SCHEMAS["songs"])
    tables = dict(small_dataset.catalogue.tables)
    tables["songs"] = pa.concat_tables([songs, orphan])
    tables["user_preferences"] = CATALOGUE_SCHEMAS["user_preferences"].empty_table()
    extra_user = pa.table({"user_id": ["newcomer"], "user_type": ["casual"]},
                          schema=CATALOGUE_SCHEMAS["users"])
    tables["users"] = pa.concat_tables([tables["users"], extra_user])
    dataset = Dataset(Catalogue(tables), small_dataset.interactions, small_dataset.sources)
    summary = GraphSummary("graph.pt", **PygGraphBuilder().build_bundle(dataset).summary)
    assert summary.songs_without_artist == 1
    assert summary.isolated_nodes["user"] == 1  # the newcomer has no plays, no preferences
    assert summary.users_without_preferences == 1


def test_empty_repository_is_a_user_error():
    with pytest.raises(EmptyRepository):
        PygGraphBuilder().build_bundle(None)


@pytest.mark.parametrize("kind", ["gat-basic", "gat-enhanced"])
def test_forward_backward_and_attention(small_dataset, kind):
    torch.manual_seed(0)
    bundle = PygGraphBuilder().build_bundle(small_dataset)
    model = create_model(kind, bundle)
    users, positives, negatives = (torch.randint(0, n, (64,)) for n in (SMALL.users, SMALL.songs,
                                                                        SMALL.songs))
    loss = model.calculate_loss(users, positives, negatives, l2=1e-4)
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert torch.isfinite(loss) and all(g is not None for g in grads)
    assert any(float(g.abs().sum()) > 0 for g in grads)
    edge_index, attention = model.history_attention()
    # attention over each user's history is a softmax: it sums to 1 per user
    per_user = torch.zeros(SMALL.users).index_add_(0, edge_index[1], attention)
    listeners = torch.unique(edge_index[1])
    assert torch.allclose(per_user[listeners], torch.ones(len(listeners)), atol=1e-5)
    counts = model.parameter_counts()
    assert counts["total"] == counts["embedding"] + counts["other"] > 0


@pytest.mark.parametrize("members", [1, 2])
def test_hard_negatives_train_each_member_against_its_highest_scored_candidate(small_dataset, members):
    torch.manual_seed(0)
    bundle = PygGraphBuilder().build_bundle(small_dataset)
    model = create_model("gat-basic", bundle, members=members).eval()
    heard_songs, heard_users = bundle.data[HISTORY].edge_index.numpy()
    sampler = NegativeSampler(heard_users, heard_songs, SMALL.songs, seed=0)
    users, positives = torch.arange(8), torch.arange(8)
    candidates = torch.from_numpy(sampler.sample(np.repeat(np.arange(8), 5))).view(8, 5)
    with torch.no_grad():
        z = model()
        scores = model.member_scores(z, users.repeat_interleave(5), candidates.view(-1)).view(8, 5, members)
        chosen = candidates.gather(1, scores.argmax(1))
        assert torch.equal(model._hardest(z, users, candidates), chosen)
        positive = model.member_scores(z, users, positives)
        expected = F.softplus(scores.max(1).values - positive).mean(0).sum()
        hard = model.calculate_loss(users, positives, candidates, hardest=True)
        assert torch.allclose(hard, expected)
        # the hardest candidate costs more than the average one
        assert hard > model.calculate_loss(users, positives, candidates)


@pytest.mark.parametrize("kind", ["gat-basic", "gat-enhanced"])
def test_members_are_independent_models_whose_scores_are_averaged(small_dataset, kind):
    torch.manual_seed(0)
    bundle = PygGraphBuilder().build_bundle(small_dataset)
    pair = create_model(kind, bundle, members=2).eval()
    state = pair.state_dict()
    singles = []
    for k in range(2):
        single = create_model(kind, bundle).eval()
        single.load_state_dict({
            name: (state[name][:, k * 32:(k + 1) * 32] if name.startswith("embeddings.")
                   else state[name][k:k + 1] if name == "log_sharpness"
                   else state[name.replace("branches.0.", f"branches.{k}.")])
            for name in single.state_dict()})
        singles.append(single)
    users, songs = torch.arange(6), torch.arange(6)
    negatives = torch.randint(0, SMALL.songs, (6, 4))
    with torch.no_grad():
        mean = sum(single.pair_scores(users, songs) for single in singles) / 2
        assert torch.allclose(pair.pair_scores(users, songs), mean, atol=1e-5)
        full = sum(single.full_sort_predict(users) for single in singles) / 2
        assert torch.allclose(pair.full_sort_predict(users), full, atol=1e-5)
        # trained on the sum of the members' own losses, L2 included
        own = sum(single.calculate_loss(users, songs, negatives, l2=0.1) for single in singles)
        assert torch.allclose(pair.calculate_loss(users, songs, negatives, l2=0.1), own, atol=1e-5)
    assert not torch.allclose(singles[0].pair_scores(users, songs), singles[1].pair_scores(users, songs))


def test_enhanced_score_is_alpha_mix_of_collaborative_and_genre(small_dataset):
    torch.manual_seed(0)
    model = create_model("gat-enhanced", PygGraphBuilder().build_bundle(small_dataset), alpha=0.7).eval()
    users, songs = torch.arange(5), torch.arange(5)
    with torch.no_grad():
        z = model()
        scale = model.log_genre_scale.exp()
        collaborative, genre = model.collaborative(z, users, songs), model.genre_similarity(users, songs)
        expected = 0.7 * collaborative + 0.3 * scale * genre
        assert torch.allclose(model.pair_scores(users, songs), expected)
        # the exported alpha mixes the plain cosine into the same scores, divided by one constant
        served = model.served_alpha() * collaborative + (1 - model.served_alpha()) * genre
        assert torch.allclose(served * (0.7 + 0.3 * scale), expected, atol=1e-5)
        assert torch.allclose(model.full_sort_predict(users, z)[users, songs], expected, atol=1e-5)
        # several songs per user score as the same pairs one by one
        candidates = torch.randint(0, SMALL.songs, (5, 3))
        one_by_one = model.combine(z, users.repeat_interleave(3), candidates.view(-1)).view(5, 3)
        assert torch.allclose(model.combine(z, users, candidates), one_by_one, atol=1e-6)


def test_history_part_attends_to_the_users_other_songs_by_similarity(small_dataset):
    torch.manual_seed(0)
    model = create_model("gat-basic", PygGraphBuilder().build_bundle(small_dataset)).eval()
    with torch.no_grad():
        z = model()
        history_songs, history_users = model.bundle.data[HISTORY].edge_index
        user = int(history_users[0])
        heard = history_songs[history_users == user]
        songs = torch.cat([heard, torch.arange(SMALL.songs)[:20]])
        users = torch.full_like(songs, user)
        scores = model.pair_scores(users, songs)
        assert torch.allclose(model.full_sort_predict(torch.tensor([user]), z)[0, songs], scores, atol=1e-5)
        for song, score in zip(songs.tolist(), scores, strict=True):
            others = heard[heard != song]  # a song never attends to itself
            similarity = z["song"][others] @ z["song"][song]
            attention = torch.softmax(model.sharpness * similarity, 0)
            expected = z["user"][user] @ z["song"][song] + attention @ similarity
            assert torch.allclose(score, expected, atol=1e-5)


@pytest.mark.parametrize("kind", ["popularity", "gat-basic", "gat-enhanced"])
def test_checkpoint_round_trip_gives_identical_scores(small_dataset, tmp_path, kind):
    torch.manual_seed(1)
    model = create_model(kind, PygGraphBuilder().build_bundle(small_dataset)).eval()
    if model.trainable:  # move away from the initial weights
        optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
        model.train()
        model.calculate_loss(torch.arange(32), torch.arange(32), torch.arange(32, 64)).backward()
        optimizer.step()
        model.eval()
    users = torch.arange(SMALL.users)
    with torch.no_grad():
        before = model.full_sort_predict(users)
    save_checkpoint(model, tmp_path / "model.pt", {"spec": {"model": kind}})
    loaded, state = load_checkpoint(tmp_path / "model.pt")
    with torch.no_grad():
        after = loaded.full_sort_predict(users)
    assert torch.equal(before, after)
    assert state["versions"]["torch"] and loaded.bundle.ids == model.bundle.ids


def test_a_checkpoint_of_an_older_format_asks_for_retraining(small_dataset, tmp_path):
    model = create_model("gat-basic", PygGraphBuilder().build_bundle(small_dataset), members=2)
    save_checkpoint(model, tmp_path / "model.pt", {})
    loaded, _ = load_checkpoint(tmp_path / "model.pt")
    assert loaded.members == 2
    state = torch.load(tmp_path / "model.pt", weights_only=False)
    torch.save({**state, "format": 1}, tmp_path / "old.pt")
    with pytest.raises(CheckpointError, match="old.pt: incompatible checkpoint format; retrain"):
        load_checkpoint(tmp_path / "old.pt")


def test_history_affinity_uses_only_the_interactions_given(small_dataset):
    """Genre affinity derived from listening must change when a user's plays are withheld."""
    user = small_dataset.interactions.column("user_id")[0].as_py()
    tables = dict(small_dataset.catalogue.tables)
    tables["user_preferences"] = CATALOGUE_SCHEMAS["user_preferences"].empty_table()
    dataset = Dataset(Catalogue(tables), small_dataset.interactions, small_dataset.sources)
    full = PygGraphBuilder().build_bundle(dataset)
    without = small_dataset.interactions.filter(pc.not_equal(small_dataset.interactions.column("user_id"),
                                                             user))
    partial = PygGraphBuilder().build_bundle(dataset, without)
    row = full.index("user")[user]
    assert float(full.user_genre[row].sum()) > 0
    assert float(partial.user_genre[row].sum()) == 0
    assert np.array_equal(partial.ids["song"], full.ids["song"])


def test_users_without_history_are_scored_by_the_graph_part_alone(small_dataset):
    interactions = small_dataset.interactions
    listener = interactions.column("user_id")[0]
    others = interactions.filter(pc.not_equal(interactions.column("user_id"), listener))
    torch.manual_seed(0)
    bundle = PygGraphBuilder().build_bundle(small_dataset, others)
    model = create_model("gat-basic", bundle).eval()
    user = bundle.ids["user"].index(listener.as_py())
    with torch.no_grad():
        z = model()
        scores = model.full_sort_predict(torch.tensor([user, (user + 1) % SMALL.users]), z)
        assert torch.isfinite(scores).all()
        assert torch.allclose(scores[0], z["user"][user] @ z["song"].T)
