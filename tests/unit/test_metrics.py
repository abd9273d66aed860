"""The ranking metrics of the evaluation protocol, against figures worked out by hand."""

import math

import numpy as np
import pytest

from adapters.common.user_songs import UserSongs
from adapters.evaluation.protocol import rank_by_popularity, rank_scores


def _rank(scores, relevant_pairs, excluded_pairs=(), k=3):
    n_users, n_songs = np.shape(scores)
    def matrix(pairs):
        users = np.array([u for u, _ in pairs], np.int64)
        songs = np.array([s for _, s in pairs], np.int64)
        return UserSongs.from_pairs(users, songs, n_users, n_songs)
    return rank_scores(lambda users: np.asarray(scores)[users], matrix(relevant_pairs),
                        matrix(excluded_pairs), k)


def test_recall_divides_by_every_relevant_song_not_by_k():
    # songs ranked 0, 1, 2, 3; 2 of the 12 relevant songs (0 and 2) in the top 4
    scores = [[0.9, 0.8, 0.7, 0.6] + [0.0] * 10]
    relevant = [(0, 0), (0, 2), *((0, s) for s in range(4, 14))]
    assert _rank(scores, relevant, k=2).recall == pytest.approx(1 / 12)
    assert _rank(scores, relevant, k=4).recall == pytest.approx(2 / 12)


def test_ndcg_by_hand_and_a_perfect_list_scores_one():
    # user 0 ranks 0, 1, 2 and song 1 and 2 are relevant; user 1 ranks its relevant songs first
    scores = [[0.9, 0.8, 0.7], [0.1, 0.8, 0.7]]
    result = _rank(scores, [(0, 1), (0, 2), (1, 1), (1, 2)])
    dcg = 1 / math.log2(3) + 1 / math.log2(4)
    ideal = 1 / math.log2(2) + 1 / math.log2(3)
    assert result.per_user_ndcg.tolist() == pytest.approx([dcg / ideal, 1.0])
    assert result.ndcg == pytest.approx((dcg / ideal + 1.0) / 2)


def test_excluded_songs_are_never_ranked_and_users_without_held_out_songs_are_left_out():
    scores = [[0.9, 0.8, 0.7, 0.6, 0.5, 0.4], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6], [0.5] * 6]
    result = _rank(scores, [(0, 1), (0, 3), (0, 5), (1, 0)], excluded_pairs=[(0, 0)])
    assert result.users.tolist() == [0, 1]
    assert result.top.tolist() == [[1, 2, 3], [5, 4, 3]]
    # user 0 finds songs 1 and 3 of 3 relevant; user 1 finds nothing
    assert result.per_user_recall.tolist() == pytest.approx([2 / 3, 0.0])
    assert result.recall == pytest.approx(1 / 3)


def test_mean_jaccard_of_lists_is_the_dense_sets_figure_and_a_sample_estimates_it(monkeypatch):
    from adapters.evaluation import evaluator

    rng = np.random.default_rng(0)
    lists = np.stack([rng.choice(30, 5, replace=False) for _ in range(60)])
    lists[3, 4] = -1  # a list one song short
    sets = [set(row[row >= 0].tolist()) for row in lists]
    dense = np.mean([len(a & b) / len(a | b) for i, a in enumerate(sets) for b in sets[i + 1:]])
    assert evaluator.mean_jaccard(lists) == pytest.approx(dense)
    assert evaluator.mean_jaccard(lists[:1]) is None
    monkeypatch.setattr(evaluator, "EXACT_PAIRS", 1000)
    assert evaluator.mean_jaccard(lists) == pytest.approx(dense, abs=0.02)


def test_popularity_ranks_as_its_scores_would_without_a_score_table():
    rng = np.random.default_rng(11)
    n_users, n_songs = 40, 60
    listeners = rng.permutation(n_songs) * 3  # distinct counts: one ranking is right
    def random_pairs(count):
        return UserSongs.from_pairs(rng.integers(0, n_users, count), rng.integers(0, n_songs, count),
                                    n_users, n_songs)

    known, relevant = random_pairs(300), random_pairs(200)
    by_scores = rank_scores(lambda users: np.broadcast_to(listeners.astype(float), (len(users), n_songs)),
                            relevant, known, k=10)
    by_order = rank_by_popularity(listeners, relevant, known, k=10)
    assert (by_order.top == by_scores.top).all()
    assert by_order.ndcg == by_scores.ndcg and by_order.recall == by_scores.recall


def test_popularity_takes_equal_counts_in_song_order_and_skips_known_songs():
    known = UserSongs.from_pairs(np.array([0]), np.array([1]), 1, 5)
    relevant = UserSongs.from_pairs(np.array([0]), np.array([4]), 1, 5)
    ranked = rank_by_popularity(np.array([2, 5, 2, 2, 1]), relevant, known, k=3)
    assert ranked.top.tolist() == [[0, 2, 3]]
