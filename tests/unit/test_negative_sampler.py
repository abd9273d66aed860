"""Negatives are songs the user has not heard in training, under both membership lookups."""

from __future__ import annotations

import numpy as np
import pytest

from adapters.training import sampling
from adapters.training.sampling import NegativeSampler


@pytest.mark.parametrize("limit", [sampling.DENSE_LIMIT, 0], ids=["bitmap", "hash"])
def test_membership_and_negatives(monkeypatch, limit):
    monkeypatch.setattr(sampling, "DENSE_LIMIT", limit)
    rng = np.random.default_rng(4)
    n_users, n_songs = 37, 61  # cells not a multiple of 8: the bitmap's last byte is partial
    users = rng.integers(0, n_users, 900)
    songs = rng.integers(0, n_songs, 900)
    sampler = NegativeSampler(users, songs, n_songs, seed=1)
    assert (sampler._dense is not None) == (limit > 0)
    every_user, every_song = np.divmod(np.arange(n_users * n_songs), n_songs)
    heard = set(zip(users.tolist(), songs.tolist(), strict=True))
    expected = np.array([(u, s) in heard
                         for u, s in zip(every_user.tolist(), every_song.tolist(), strict=True)])
    assert np.array_equal(sampler._heard(every_user, every_song), expected)
    asked = np.repeat(np.arange(n_users), 20)
    negatives = sampler.sample(asked)
    assert not any((u, s) in heard for u, s in zip(asked.tolist(), negatives.tolist(), strict=True))


def test_both_lookups_draw_the_same_negatives(monkeypatch):
    rng = np.random.default_rng(5)
    users, songs = rng.integers(0, 50, 2000), rng.integers(0, 80, 2000)
    asked = rng.integers(0, 50, 500)
    bitmap = NegativeSampler(users, songs, 80, seed=3).sample(asked)
    monkeypatch.setattr(sampling, "DENSE_LIMIT", 0)
    assert np.array_equal(NegativeSampler(users, songs, 80, seed=3).sample(asked), bitmap)
