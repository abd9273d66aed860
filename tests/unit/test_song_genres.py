"""Songs' genres as slots: the same cosines as the dense multi-hot profiles they replace."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from adapters.common.song_genres import SongGenres, with_padding_column
from adapters.scoring import kernel
from adapters.scoring.retrieval import genre_basis, genre_items


def _random(seed: int, n_songs: int = 40, n_genres: int = 9):
    rng = np.random.default_rng(seed)
    songs = rng.integers(0, n_songs, 90)
    genres = rng.integers(0, n_genres, 90)
    dense = np.zeros((n_songs, n_genres))
    dense[songs, genres] = 1.0
    return SongGenres.from_pairs(songs, genres, n_songs, n_genres), dense, rng


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)


def test_slots_hold_each_songs_genres_once_and_nothing_else():
    genres, dense, _ = _random(0)
    assert np.array_equal(genres.counts(), dense.sum(1))
    songs, columns = genres.pairs()
    assert np.array_equal(np.stack([songs, columns]), np.stack(np.nonzero(dense)))
    assert all(set(genres.of(s)) == set(np.flatnonzero(dense[s])) for s in range(len(dense)))
    assert np.array_equal(genres.having_any([2, 5]), dense[:, [2, 5]].sum(1) > 0)
    listeners = np.arange(len(dense), dtype=np.float64)
    assert np.allclose(genres.per_genre(listeners), listeners @ dense)


@pytest.mark.parametrize("library", ["numpy", "torch"])
def test_genre_similarity_from_slots_is_the_cosine_of_the_dense_profiles(library):
    genres, dense, rng = _random(1)
    users = _unit(rng.random((5, dense.shape[1])) * (rng.random((5, dense.shape[1])) < 0.5))
    expected = users @ _unit(dense).T
    candidates = rng.integers(0, len(dense), (5, 7))
    arrays = [with_padding_column(users), genres.slots, genres.weights().astype(np.float64)]
    if library == "torch":
        arrays = [torch.from_numpy(a) for a in arrays]
    padded, slots, weights = arrays
    own = kernel.genre_similarity(padded, slots[candidates], weights[candidates])
    shared = kernel.genre_similarity(padded, slots[None], weights[None])
    assert np.allclose(np.asarray(own), np.take_along_axis(expected, candidates, 1))
    assert np.allclose(np.asarray(shared), expected)


def test_the_genre_basis_keeps_every_cosine_when_genres_are_few():
    genres, dense, rng = _random(2)
    users = _unit(rng.random((4, dense.shape[1])))
    basis = genre_basis(genres)
    assert np.allclose((users @ basis) @ genre_items(genres, basis).T, users @ _unit(dense).T, atol=1e-5)


def test_the_genre_basis_above_its_rank_keeps_the_leading_directions():
    genres, dense, _ = _random(3, n_songs=200, n_genres=60)
    basis = genre_basis(genres, rank=8)
    assert basis.shape == (60, 8)
    _, singular, right = np.linalg.svd(_unit(dense), full_matrices=False)
    # the same subspace as the dense profiles' top 8 right singular vectors
    overlap = np.linalg.svd(basis.T @ right[:8].T, compute_uv=False)
    assert singular[7] > singular[8] and np.allclose(overlap, 1.0, atol=1e-4)
