"""Per-user random split of interactions into train / validation / test.

Each user with at least three songs keeps at least one song in every part; users
with fewer stay in training only (they cannot be evaluated). The split is saved
beside the model so that evaluation reuses exactly the same held-out songs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

TRAIN, VALIDATION, TEST = "train", "validation", "test"


@dataclass(frozen=True)
class Split:
    train: pa.Table
    validation: pa.Table
    test: pa.Table

    def assignment(self) -> pa.Table:
        parts = []
        for name, table in ((TRAIN, self.train), (VALIDATION, self.validation), (TEST, self.test)):
            keys = table.select(["user_id", "song_id"])
            parts.append(keys.append_column("part", pa.array([name] * keys.num_rows, pa.string())))
        return pa.concat_tables(parts)

    def counts(self) -> dict[str, int]:
        return {TRAIN: self.train.num_rows, VALIDATION: self.validation.num_rows,
                TEST: self.test.num_rows}


def split_interactions(interactions: pa.Table, validation: float = 0.15, test: float = 0.15,
                       seed: int = 0) -> Split:
    rng = np.random.default_rng(seed)
    users = pc.dictionary_encode(interactions.column("user_id")).combine_chunks()
    codes = users.indices.to_numpy()
    order = np.lexsort((rng.random(len(codes)), codes))
    sizes = np.bincount(codes)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    rank = np.empty(len(codes), dtype=np.int64)
    rank[order] = np.arange(len(codes)) - starts[codes[order]]
    size = sizes[codes]
    evaluable = size >= 3
    n_test = np.where(evaluable, np.maximum(1, np.round(size * test)), 0)
    n_validation = np.where(evaluable, np.maximum(1, np.round(size * validation)), 0)
    is_test = rank < n_test
    is_validation = ~is_test & (rank < n_test + n_validation)
    is_train = ~is_test & ~is_validation
    return Split(interactions.filter(pa.array(is_train)),
                 interactions.filter(pa.array(is_validation)),
                 interactions.filter(pa.array(is_test)))


def from_assignment(interactions: pa.Table, assignment: pa.Table) -> Split:
    """Rebuild a saved split against the interactions it was made from."""
    joined = interactions.join(assignment, ["user_id", "song_id"], join_type="inner")
    part = joined.column("part")
    return Split(*(joined.filter(pc.equal(part, name)).drop_columns(["part"])
                   for name in (TRAIN, VALIDATION, TEST)))
