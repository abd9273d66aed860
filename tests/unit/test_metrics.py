import math

import pytest

from domain.metrics import ndcg_at_k, recall_at_k


def test_recall_divides_by_all_relevant_items_not_by_k():
    ranked = ["a", "b", "c", "d"]
    # 2 of 12 relevant items found: 2/12, not 2/min(k, 12)
    relevant = {"a", "c", *(f"x{i}" for i in range(10))}
    assert recall_at_k(ranked, relevant, k=2) == pytest.approx(1 / 12)
    assert recall_at_k(ranked, relevant, k=4) == pytest.approx(2 / 12)


def test_ndcg_by_hand():
    ranked = ["a", "b", "c"]
    relevant = {"b", "c"}
    dcg = 1 / math.log2(3) + 1 / math.log2(4)
    ideal = 1 / math.log2(2) + 1 / math.log2(3)
    assert ndcg_at_k(ranked, relevant, k=3) == pytest.approx(dcg / ideal)
    assert ndcg_at_k(["b", "c", "a"], relevant, k=3) == pytest.approx(1.0)


def test_metrics_refuse_users_without_relevant_items():
    with pytest.raises(ValueError):
        recall_at_k(["a"], set(), 10)
    with pytest.raises(ValueError):
        ndcg_at_k(["a"], set(), 10)
