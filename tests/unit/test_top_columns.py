"""A score table's top columns: numpy's argpartition for small tables, torch's partial sort
from ``TORCH_TOP_CELLS`` cells; either gives each row's highest columns."""

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
