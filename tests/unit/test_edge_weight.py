import math

import pytest

from domain.edge_weight import completion_of_play, edge_weight, normalized_play_count


def test_completion_is_capped_at_one_for_plays_longer_than_the_track():
    assert completion_of_play(300_000, 200_000) == 1.0
    assert completion_of_play(50_000, 200_000) == 0.25


def test_completion_rejects_zero_duration():
    with pytest.raises(ValueError):
        completion_of_play(1000, 0)


def test_normalized_play_count_is_log_scaled_to_the_users_maximum():
    assert normalized_play_count(9, 9) == 1.0
    assert normalized_play_count(1, 1) == 1.0
    assert normalized_play_count(3, 15) == pytest.approx(math.log(4) / math.log(16))


def test_edge_weight_mixes_completion_and_play_count_seventy_thirty():
    assert edge_weight(1.0, 0.0) == pytest.approx(0.7)
    assert edge_weight(0.5, 1.0) == pytest.approx(0.65)
