"""Play keys: stable, sensitive to every identity column, and the seen-set tells new from seen."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.common.play_identity import SeenPlays, play_keys


def _key(*values) -> int:
    return play_keys(*(pa.array([v]) for v in values))[0].as_py()


def test_keys_do_not_change_between_versions():
    # Stored keys are compared with the keys of later ingests; a change of the algorithm
    # (or of a library under it) would count every stored play a second time.
    assert _key("me", "spotify:track:1", 1_700_000_000, 1, 61_000) == play_keys(
        pa.chunked_array([["x"], ["me"]]), pa.array(["y", "spotify:track:1"]),
        pa.array([0, 1_700_000_000]), pa.array([1, 1]), pa.array([0, 61_000]))[1].as_py()
    assert _key("me", "spotify:track:1", 1_700_000_000, 1, 61_000) == -3_336_620_526_951_379_974


def test_every_identity_column_tells_plays_apart():
    base = ("me", "song", 1_700_000_000, 1, 61_000)
    keys = {_key(*base)}
    for position, other in enumerate(("you", "song 2", 1_700_000_001, 2, 61_001)):
        changed = list(base)
        changed[position] = other
        keys.add(_key(*changed))
    assert len(keys) == 6
    assert _key("me", None) != _key("me", "") and _key(None, "me") != _key("me", None)
    assert _key("me", 0.0) == _key("me", -0.0) and _key("me", None) != _key("me", 0.0)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(-50, 50), max_size=40), max_size=8),
       st.lists(st.integers(-50, 50), max_size=30, unique=True))
def test_first_seen_marks_exactly_the_keys_not_seen_before(batches, stored):
    seen_so_far = set(stored)
    seen = SeenPlays(np.array(stored, dtype=np.int64))
    for batch in batches:
        expected = []
        for key in batch:
            expected.append(key not in seen_so_far)
            seen_so_far.add(key)
        assert seen.first_seen(np.array(batch, dtype=np.int64)).tolist() == expected
    assert seen.all().tolist() == sorted(seen_so_far)
