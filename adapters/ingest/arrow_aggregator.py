"""Per-(user, song) aggregation of play rows with pyarrow, in memory bounded by pairs.

Each batch is reduced to partial aggregates at once; partials are compacted
whenever they reach twice the distinct pairs seen so far, so memory follows the
number of distinct (user, song) pairs, plus 8 bytes of identity per play. Plays whose
identity the store or an earlier row already has are left out before they are summed,
and merging with what the repository holds uses the same reduction, which is what
makes ingesting files one by one equal to ingesting them together.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from adapters.common.play_identity import SeenPlays
from adapters.common.tables import CATALOGUE_KEYS, INTERACTIONS, PLAY_AGGREGATES, PLAY_KEYS, PLAY_ROWS, upsert
from domain.edge_weight import COMPLETION_WEIGHT, PLAY_COUNT_WEIGHT
from domain.ports import Catalogue, Dataset, InteractionAggregator, NewPlays, SourceRecord, StoreScope

KEYS = ["user_id", "song_id"]


def _reduce_plays(batch: pa.Table) -> pa.Table:
    weighted = batch.append_column("weighted_completion", pc.multiply(
        batch.column("completion"), pc.cast(batch.column("plays"), pa.float64())))
    grouped = weighted.group_by(KEYS, use_threads=False).aggregate([
        ("plays", "sum"), ("weighted_completion", "sum"),
        ("played_at", "min"), ("played_at", "max"),
    ])
    return _as_aggregates(grouped, ["plays_sum", "weighted_completion_sum",
                                    "played_at_min", "played_at_max"])


def _reduce_aggregates(partials: pa.Table) -> pa.Table:
    grouped = partials.group_by(KEYS, use_threads=False).aggregate([
        ("play_count", "sum"), ("completion_sum", "sum"),
        ("first_played", "min"), ("last_played", "max"),
    ])
    return _as_aggregates(grouped, ["play_count_sum", "completion_sum_sum",
                                    "first_played_min", "last_played_max"])


def _as_aggregates(grouped: pa.Table, value_columns: list[str]) -> pa.Table:
    columns = [grouped.column("user_id"), grouped.column("song_id"),
               *(grouped.column(name) for name in value_columns)]
    return pa.Table.from_arrays(columns, schema=PLAY_AGGREGATES)


def with_edge_weights(aggregates: pa.Table) -> pa.Table:
    """Add completion_ratio and edge_weight as ``domain.edge_weight`` defines them."""
    aggregates = aggregates.sort_by([("user_id", "ascending"), ("song_id", "ascending")])
    play_count = aggregates.column("play_count")
    completion_ratio = pc.divide(aggregates.column("completion_sum"), pc.cast(play_count, pa.float64()))
    per_user = aggregates.group_by("user_id", use_threads=False).aggregate([("play_count", "max")])
    position = pc.index_in(aggregates.column("user_id"), value_set=per_user.column("user_id"))
    max_of_user = pc.cast(pc.take(per_user.column("play_count_max"), position), pa.float64())
    count = pc.cast(play_count, pa.float64())
    normalized = pc.if_else(
        pc.equal(max_of_user, 1.0), 1.0,
        pc.divide(pc.log1p(count), pc.log1p(max_of_user)))
    weight = pc.add(pc.multiply(completion_ratio, COMPLETION_WEIGHT),
                    pc.multiply(normalized, PLAY_COUNT_WEIGHT))
    table = aggregates.append_column("completion_ratio", completion_ratio)
    table = table.append_column("edge_weight", weight)
    return table.cast(INTERACTIONS)


class ArrowInteractionAggregator(InteractionAggregator):
    def __init__(self, min_compact_rows: int = 1_000_000) -> None:
        self._min_compact_rows = min_compact_rows

    def aggregate(self, batches: Iterator[pa.Table], current: Dataset | None) -> NewPlays:
        seen = SeenPlays(_stored_keys(current))
        partials: list[pa.Table] = []
        pending = 0
        repeated = 0
        compact_at = self._min_compact_rows
        for batch in batches:
            if batch.num_rows == 0:
                continue
            first = seen.first_seen(batch.column("play_key").to_numpy())
            repeated += int(len(first) - first.sum())
            partial = _reduce_plays(batch.filter(pa.array(first)))
            partials.append(partial)
            pending += partial.num_rows
            if pending > compact_at:
                partials = [_reduce_aggregates(pa.concat_tables(partials))]
                pending = partials[0].num_rows
                # Partials never grow beyond about twice the distinct pairs seen so far.
                compact_at = max(self._min_compact_rows, 2 * pending)
        totals = (_reduce_aggregates(pa.concat_tables(partials)) if partials
                  else PLAY_AGGREGATES.empty_table())
        keys = pa.Table.from_arrays([pa.array(seen.all())], schema=PLAY_KEYS)
        return NewPlays(totals, keys, repeated)

    def merge(self, current: Dataset | None, catalogue: Catalogue, plays: NewPlays,
              source: SourceRecord) -> Dataset:
        if current is None:
            merged_catalogue = catalogue
            aggregates = plays.totals
            sources: tuple[SourceRecord, ...] = ()
        else:
            merged_catalogue = Catalogue({
                name: upsert(current.catalogue[name], catalogue[name], CATALOGUE_KEYS[name])
                for name in CATALOGUE_KEYS})
            existing = current.interactions.select(PLAY_AGGREGATES.names).cast(PLAY_AGGREGATES)
            aggregates = _reduce_aggregates(pa.concat_tables([existing, plays.totals]))
            sources = current.sources
        return Dataset(merged_catalogue, with_edge_weights(aggregates), (*sources, source),
                       plays.play_keys)


    def scope(self, batches: Sequence[pa.Table]) -> StoreScope:
        rows = pa.concat_tables(batches) if batches else PLAY_ROWS.empty_table()
        return StoreScope(tuple(pc.unique(rows.column("user_id")).to_pylist()), rows.select(["play_key"]))


def _stored_keys(current: Dataset | None) -> np.ndarray:
    if current is None or current.play_keys is None:
        return np.empty(0, dtype=np.int64)
    return current.play_keys.column("play_key").to_numpy()
