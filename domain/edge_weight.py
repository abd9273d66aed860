"""The edge-weight rule for user -> song interactions.

    edge_weight = 0.7 * completion_ratio + 0.3 * normalized_play_count

completion_ratio is the mean over the user's plays of the song of
min(ms_played / track_duration_ms, 1.0): a play longer than the track (a
replay, a seek back) counts as a full play, never more.

normalized_play_count puts play counts on the user's own scale, so a casual
listener's favourite weighs as much as a power user's:

    normalized_play_count = log(1 + play_count) / log(1 + max_play_count_of_user)

It is 1.0 for the user's most played song and for a user whose songs all have
one play. Both terms lie in [0, 1], so edge_weight does too. Because it is a
function of the aggregates (play count, summed completion, per-user maximum),
it is recomputed after every merge and ingesting files one by one gives the
same weights as ingesting them together.
"""

from __future__ import annotations

import math

COMPLETION_WEIGHT = 0.7
PLAY_COUNT_WEIGHT = 0.3


def completion_of_play(ms_played: float, duration_ms: float) -> float:
    if duration_ms <= 0:
        raise ValueError("duration_ms must be positive")
    return min(max(ms_played, 0.0) / duration_ms, 1.0)


def normalized_play_count(play_count: int, max_play_count_of_user: int) -> float:
    if play_count < 1 or max_play_count_of_user < play_count:
        raise ValueError("need 1 <= play_count <= max_play_count_of_user")
    if max_play_count_of_user == 1:
        return 1.0
    return math.log1p(play_count) / math.log1p(max_play_count_of_user)


def edge_weight(completion_ratio: float, normalized_count: float) -> float:
    return COMPLETION_WEIGHT * completion_ratio + PLAY_COUNT_WEIGHT * normalized_count
