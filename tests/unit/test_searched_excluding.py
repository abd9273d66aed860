"""An index's best hits with some items left out: what the first stage asks of a FAISS index,
and how the benchmarks rank ALS exactly."""

from __future__ import annotations

import numpy as np

from adapters.scoring.retrieval import flat_index, searched_excluding


def test_the_best_hits_not_left_out_come_first_and_every_row_has_the_width():
    rng = np.random.default_rng(5)
    items = rng.standard_normal((300, 8)).astype(np.float32)
    queries = rng.standard_normal((4, 8)).astype(np.float32)
    excluded = np.zeros((4, 300), dtype=bool)
    excluded[0, :250] = True  # more left out than the width: still the width, the best first
    excluded[1, rng.choice(300, 40, replace=False)] = True
    found = searched_excluding(flat_index(items), queries, excluded, width=20)
    assert found.shape == (4, 20)
    scores = queries @ items.T
    scores[excluded] = -np.inf
    assert (found == np.argsort(-scores, axis=1, kind="stable")[:, :20]).all()
    assert not excluded[np.arange(4)[:, None], found].any()


def test_rows_with_fewer_items_left_than_the_width_are_padded_with_minus_one():
    items = np.eye(3, dtype=np.float32)
    excluded = np.array([[True, False, True], [False, False, False]])
    found = searched_excluding(flat_index(items), np.ones((2, 3), np.float32) * [1, 2, 3], excluded, width=5)
    assert found.tolist() == [[1, -1, -1], [2, 1, 0]]
