"""A play's identity: a 64-bit key from the values that make it the same play wherever it
arrives (listener, song, time, and what each source adds: ms played, a play count, a
position in a session). The store keeps the keys of the plays it holds, so the same play
seen twice, in one ingest or in two, counts once.

Keys are stored, so they must not change between versions of this code or of a library
(a test pins them): text is hashed by pandas' SipHash-2-4 with its fixed key, once per
distinct value of a batch, numbers by their 64-bit pattern, and the columns are combined
with the SplitMix64 mixer.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

KEY_TYPE = pa.int64()  # SQL databases have no unsigned 64-bit column
_NULL = np.uint64(0x6A09E667F3BCC908)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix(x: np.ndarray) -> np.ndarray:
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _text_hashes(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    import pandas as pd  # a third of a second to import: only commands that hash pay it

    encoded = pc.dictionary_encode(column)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    distinct = encoded.dictionary.to_numpy(zero_copy_only=False).astype(object)
    per_value = np.append(pd.util.hash_array(distinct, categorize=False), _NULL)
    indices = pc.fill_null(encoded.indices, len(encoded.dictionary))
    return per_value[indices.to_numpy(zero_copy_only=False)]


def _number_hashes(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    is_float = pa.types.is_floating(column.type)
    values = pc.cast(column, pa.float64() if is_float else pa.int64())
    if is_float:
        values = pc.add(values, 0.0)  # -0.0 and 0.0 are one value
    bits = np.asarray(pc.fill_null(values, 0).to_numpy(zero_copy_only=False)).view(np.uint64)
    return np.where(pc.is_null(values).to_numpy(zero_copy_only=False), _NULL, bits)


def play_keys(*columns: pa.ChunkedArray | pa.Array) -> pa.Array:
    """One key per row from the identity columns (text or numbers; nulls allowed)."""
    key = np.zeros(len(columns[0]), dtype=np.uint64)
    for column in columns:
        hashes = _text_hashes(column) if pa.types.is_string(column.type) else _number_hashes(column)
        key = _mix(key * _GOLDEN ^ hashes)
    return pa.array(key.view(np.int64), KEY_TYPE)


class SeenPlays:
    """The keys of the stored plays and of those accepted so far; tells the new from the seen.

    Kept as a few sorted runs of geometrically growing size (merged as they fill), with a
    map of the keys' low bits in front: most keys of a new input miss the map, and only
    those that hit it are looked up in the runs (a binary search over millions of keys
    costs a cache miss a step).
    """

    def __init__(self, stored: np.ndarray) -> None:
        self._runs: list[np.ndarray] = []
        self._bits = np.zeros(0, dtype=bool)
        self._count = 0
        if len(stored):
            self._add(np.sort(stored))

    def first_seen(self, keys: np.ndarray) -> np.ndarray:
        """True for each key seen neither before nor earlier in ``keys``; those are now seen."""
        unique, first = np.unique(keys, return_index=True)
        fresh = np.ones(len(unique), dtype=bool)
        if self._count:
            maybe = np.flatnonzero(self._in_bitmap(unique))
            candidates = unique[maybe]
            for run in self._runs:
                at = np.minimum(np.searchsorted(run, candidates), len(run) - 1)
                fresh[maybe[run[at] == candidates]] = False
        mask = np.zeros(len(keys), dtype=bool)
        mask[first[fresh]] = True
        if fresh.any():
            self._add(unique[fresh])
        return mask

    def _slots(self, keys: np.ndarray) -> np.ndarray:
        return (keys.view(np.uint64) & np.uint64(len(self._bits) - 1)).astype(np.intp)

    def _in_bitmap(self, keys: np.ndarray) -> np.ndarray:
        return self._bits[self._slots(keys)]

    def _add(self, run: np.ndarray) -> None:
        self._runs.append(run)
        self._count += len(run)
        while len(self._runs) > 1 and len(self._runs[-2]) <= 2 * len(self._runs[-1]):
            last = self._runs.pop()
            # timsort ("stable") merges two sorted runs in linear time
            self._runs[-1] = np.sort(np.concatenate([self._runs[-1], last]), kind="stable")
        if len(self._bits) < 4 * self._count:  # a byte a slot, 4 to 8 slots a key: 1 in 5 to 9 hits
            self._bits = np.zeros(max(1 << 16, 1 << int(np.ceil(np.log2(8 * self._count)))), dtype=bool)
            for held in self._runs:
                self._bits[self._slots(held)] = True
        else:
            self._bits[self._slots(run)] = True

    def all(self) -> np.ndarray:
        """Every key, stored and new, sorted."""
        if not self._runs:
            return np.empty(0, dtype=np.int64)
        return np.sort(np.concatenate(self._runs), kind="stable")
