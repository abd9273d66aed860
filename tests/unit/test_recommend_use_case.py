"""Recommend's fallbacks and Explain's checks, against an in-memory trained model."""

from __future__ import annotations

import pytest

from application.recommending import Explain, Recommend, RecommendQuery
from domain.errors import InvalidSetting, UnknownEntity
from tests.fakes import InMemoryRecommender, InMemoryRegistry, Loader


def _recommend(query, users=None):
    return Recommend(Loader(InMemoryRecommender(users or {"u1": ["s1", "s2"]}, ["p1", "p2", "p3"])),
                     InMemoryRegistry(("gat-basic",))).execute(query)


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
                                   ])
def test_bad_queries_are_user_errors(query):
    with pytest.raises(InvalidSetting):
        _recommend(query)


def test_an_unknown_genre_is_named_with_the_known_ones():
    with pytest.raises(UnknownEntity, match="unknown genre.*Polka"):
        _recommend(RecommendQuery("u1", k=5, model="gat-basic", genres=("Polka",)))


def _explain(*args, **kwargs):
    return Explain(Loader(InMemoryRecommender({"u1": ["s1"]}, ["p1"])),
                   InMemoryRegistry(("gat-basic",))).execute(*args, **kwargs)


def test_explain_names_the_model_and_draws_where_asked(tmp_path):
    explained = _explain("u1", "s9", None, plot=tmp_path / "why.png")
    assert (explained.model, explained.recommendation.song_id) == ("gat-basic", "s9")
    assert (tmp_path / "why.png").read_text() == "u1 s9"


def test_explain_refuses_an_unknown_user_and_a_plot_that_is_no_png(tmp_path):
    with pytest.raises(UnknownEntity, match="not in the gat-basic model"):
        _explain("stranger", "s1", None)
    with pytest.raises(InvalidSetting, match="--plot"):
        _explain("u1", "s1", None, plot=tmp_path / "why.txt")
    assert not (tmp_path / "why.txt").exists()
