"""Recommend's fallbacks, against an in-memory recommender."""

from __future__ import annotations

from pathlib import Path

import pytest

from application.recommending import Recommend, RecommendQuery
from domain.errors import InvalidSetting
from domain.model import Recommendation
from domain.ports import ModelLoader, Recommender


class InMemoryRecommender(Recommender):
    kind = "gat-basic"

    def __init__(self, users: dict[str, list[str]], popular: list[str]) -> None:
        self.users = users
        self.popular_songs = popular

    def knows_user(self, user_id):
        return user_id in self.users

    def knows_song(self, song_id):
        return True

    def genre_names(self):
        return ["Rock", "Jazz"]

    def recommend(self, user_id, k, include_heard=False, explain=False):
        return [Recommendation(i + 1, s, 1.0) for i, s in enumerate(self.users[user_id][:k])]

    def popular(self, k, genres=()):
        return [Recommendation(i + 1, s, 0.5) for i, s in enumerate(self.popular_songs[:k])]

    def notices_for(self, user_id):
        return []

    def recommend_all(self, k, include_heard, out_path: Path, progress):
        return 0


class Loader(ModelLoader):
    def __init__(self, recommender):
        self.recommender = recommender

    def load(self, kind):
        return self.recommender

    def latest_kind(self):
        return self.recommender.kind


def _recommend(query, users=None):
    return Recommend(Loader(InMemoryRecommender(users or {"u1": ["s1", "s2"]}, ["p1", "p2", "p3"]))
                     ).execute(query)


def test_known_user_gets_the_models_songs():
    result = _recommend(RecommendQuery("u1", k=2, model="gat-basic"))
    assert [r.song_id for r in result.recommendations] == ["s1", "s2"] and not result.cold_start


def test_unknown_user_falls_back_to_popularity_and_says_so():
    result = _recommend(RecommendQuery("stranger", k=2, model="gat-basic", genres=("Rock",)))
    assert result.cold_start and [r.song_id for r in result.recommendations] == ["p1", "p2"]
    assert "cold start" in result.notices[0] and "Rock" in result.notices[0]


def test_empty_result_falls_back_to_defaults_and_says_so():
    result = _recommend(RecommendQuery("u1", k=3, model="gat-basic"), users={"u1": []})
    assert [r.song_id for r in result.recommendations] == ["p1", "p2", "p3"]
    assert any("falling back" in n for n in result.notices)


@pytest.mark.parametrize("query", [RecommendQuery("u1", k=0, model="gat-basic"),
                                   RecommendQuery("u1", k=5, model="gat-huge"),
                                   RecommendQuery("u1", k=5, model="gat-basic", genres=("Polka",))])
def test_bad_queries_are_user_errors(query):
    with pytest.raises(InvalidSetting):
        _recommend(query)
