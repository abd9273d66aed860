"""Each looked-up song's neighbour list: its most similar other songs by inner product, exact
while lookups x catalogue stay small, nearly so from an IVF index above."""

from __future__ import annotations

import numpy as np
import pytest

from adapters.scoring import retrieval
from adapters.scoring.retrieval import song_neighbours


def _brute_force(song_emb: np.ndarray, songs: np.ndarray, count: int) -> list[set[int]]:
    similarity = song_emb[songs] @ song_emb.T
    similarity[np.arange(len(songs)), songs] = -np.inf
    return [set(np.argsort(-row, kind="stable")[:count].tolist()) for row in similarity]


@pytest.fixture
def song_emb() -> np.ndarray:
    """2,000 songs around 40 tastes, as trained embeddings cluster (an IVF index's lists
    follow the clusters)."""
    rng = np.random.default_rng(3)
    centres = rng.standard_normal((40, 16))
    return (centres[rng.integers(0, 40, 2_000)] + 0.4 * rng.standard_normal((2_000, 16))).astype(np.float32)


def test_few_lookups_get_their_exact_neighbours_and_the_other_rows_none(song_emb):
    songs = np.array([0, 7, 1_999, 500])
    neighbours = song_neighbours(song_emb, songs, count=10)
    assert neighbours.shape == (2_000, 10)
    assert [set(row.tolist()) for row in neighbours[songs]] == _brute_force(song_emb, songs, 10)
    others = np.setdiff1d(np.arange(2_000), songs)
    assert (neighbours[others] == -1).all()


def test_many_lookups_come_from_an_ivf_index_that_finds_nearly_all_of_them(song_emb, monkeypatch):
    monkeypatch.setattr(retrieval, "EXACT_NEIGHBOUR_PRODUCTS", 100 * len(song_emb))
    built, build = [], retrieval.ivf_index
    monkeypatch.setattr(retrieval, "ivf_index", lambda vectors: built.append(len(vectors)) or build(vectors))
    few = np.arange(0, 2_000, 40)
    exact_few = [set(row.tolist()) for row in song_neighbours(song_emb, few, count=10)[few]]
    assert exact_few == _brute_force(song_emb, few, 10) and built == []  # 50 x 2,000 products: exact
    songs = np.arange(0, 2_000, 4)
    neighbours = song_neighbours(song_emb, songs, count=10)
    assert built == [2_000]
    assert not (neighbours[songs] == songs[:, None]).any()  # never a song itself
    exact = _brute_force(song_emb, songs, 10)
    found = np.mean([len(set(row.tolist()) & truth) / 10 for row, truth in zip(neighbours[songs], exact,
                                                                                 strict=True)])
    assert found > 0.9


def test_a_catalogue_of_one_song_has_no_neighbours():
    assert song_neighbours(np.ones((1, 4), np.float32), np.array([0])).shape == (1, 0)
