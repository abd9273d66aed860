"""A score table's top columns: numpy's argpartition for small tables, torch's partial sort
from ``TORCH_TOP_CELLS`` cells; either gives each row's highest columns, and of scores equal
at the k-th place the first columns."""

from __future__ import annotations

import numpy as np
import pytest

from adapters.scoring import retrieval
from adapters.scoring.retrieval import top_columns


@pytest.mark.parametrize("torch_from", [0, 10**9], ids=["torch", "numpy"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_each_row_gets_its_highest_columns(monkeypatch, torch_from, dtype):
    monkeypatch.setattr(retrieval, "TORCH_TOP_CELLS", torch_from)
    scores = np.random.default_rng(5).standard_normal((7, 300)).astype(dtype)
    scores[2, :] = -np.inf
    scores[2, [4, 9]] = [1.0, 2.0]  # a row whose other songs are all left out
    top = top_columns(scores, 12)
    assert top.shape == (7, 12) and top.dtype == np.int64
    expected = [set(np.argsort(-row, kind="stable")[:12].tolist()) for row in scores]
    for row in (0, 1, 3, 4, 5, 6):
        assert set(top[row].tolist()) == expected[row]
    assert {4, 9} <= set(top[2].tolist())


@pytest.mark.parametrize("torch_from", [0, 10**9], ids=["torch", "numpy"])
def test_asking_for_more_than_the_columns_gives_them_all_and_none_gives_nothing(monkeypatch, torch_from):
    monkeypatch.setattr(retrieval, "TORCH_TOP_CELLS", torch_from)
    scores = np.random.default_rng(6).standard_normal((3, 5))
    assert [sorted(row.tolist()) for row in top_columns(scores, 50)] == [list(range(5))] * 3
    assert top_columns(scores, 0).shape == (3, 0)


@pytest.mark.parametrize("torch_from", [0, 10**9], ids=["torch", "numpy"])
def test_scores_equal_at_the_kth_place_give_the_first_columns(monkeypatch, torch_from):
    """Popularity's counts tie often: a user ranked alone (numpy) and in a large batch
    (torch) must be offered the same songs."""
    monkeypatch.setattr(retrieval, "TORCH_TOP_CELLS", torch_from)
    counts = np.random.default_rng(7).integers(0, 4, size=(50, 400)).astype(np.float64)
    top = top_columns(counts, 10)
    for row, chosen in zip(counts, top, strict=True):
        assert set(chosen.tolist()) == set(np.argsort(-row, kind="stable")[:10].tolist())


def test_a_row_gets_the_same_columns_alone_and_in_a_batch_ranked_by_torch(monkeypatch):
    counts = np.random.default_rng(8).integers(0, 3, size=(300, 400)).astype(np.float64)
    monkeypatch.setattr(retrieval, "TORCH_TOP_CELLS", 10 * counts.shape[1])  # one row: numpy; all: torch
    batch = top_columns(counts, 10)
    for user in (0, 17, 299):
        assert set(top_columns(counts[user:user + 1], 10)[0].tolist()) == set(batch[user].tolist())
