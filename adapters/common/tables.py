"""The one declared Arrow schema of every table the engine stores.

Adapters translate the outside world's names (``track_id``) into these
(``song_id``) at the edge; everything after ingest speaks this vocabulary.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from adapters.common.play_identity import KEY_TYPE, play_keys
from domain.model import RepositoryStats
from domain.ports import CATALOGUE_TABLES, Catalogue, Dataset

# One row per play; sources that only know totals (HetRec) give a row per pair with
# ``plays`` > 1 and the mean completion of those plays.
PLAY_ROWS = pa.schema([
    ("user_id", pa.string()),
    ("song_id", pa.string()),
    ("completion", pa.float64()),
    ("played_at", pa.int64()),  # epoch seconds, UTC; null when the source has no times
    ("plays", pa.int64()),
    ("play_key", KEY_TYPE),  # the play's identity (adapters.common.play_identity)
])

# The identities of the plays a store holds.
PLAY_KEYS = pa.schema([("play_key", KEY_TYPE)])

PLAY_AGGREGATES = pa.schema([
    ("user_id", pa.string()),
    ("song_id", pa.string()),
    ("play_count", pa.int64()),
    ("completion_sum", pa.float64()),
    ("first_played", pa.int64()),
    ("last_played", pa.int64()),
])

INTERACTIONS = pa.schema([
    *PLAY_AGGREGATES,
    ("completion_ratio", pa.float64()),
    ("edge_weight", pa.float64()),
])

CATALOGUE_SCHEMAS: dict[str, pa.Schema] = {
    "songs": pa.schema([("song_id", pa.string()), ("song_name", pa.string()),
                        ("artist_id", pa.string()), ("duration_ms", pa.int64())]),
    "artists": pa.schema([("artist_id", pa.string()), ("artist_name", pa.string())]),
    "genres": pa.schema([("genre_id", pa.string()), ("genre_name", pa.string()),
                         ("popularity", pa.float64())]),
    "artist_genres": pa.schema([("artist_id", pa.string()), ("genre_id", pa.string())]),
    "song_genres": pa.schema([("song_id", pa.string()), ("genre_id", pa.string())]),
    "user_preferences": pa.schema([("user_id", pa.string()), ("genre_id", pa.string()),
                                   ("affinity_score", pa.float64())]),
    "users": pa.schema([("user_id", pa.string()), ("user_type", pa.string())]),
}

CATALOGUE_KEYS: dict[str, tuple[str, ...]] = {
    "songs": ("song_id",),
    "artists": ("artist_id",),
    "genres": ("genre_id",),
    "artist_genres": ("artist_id", "genre_id"),
    "song_genres": ("song_id", "genre_id"),
    "user_preferences": ("user_id", "genre_id"),
    "users": ("user_id",),
}

TABLE_SCHEMAS: dict[str, pa.Schema] = {**CATALOGUE_SCHEMAS, "interactions": INTERACTIONS}

assert tuple(CATALOGUE_SCHEMAS) == CATALOGUE_TABLES


def play_rows(user: pa.Array, song: pa.Array, completion: pa.Array | float = 1.0,
              played_at: pa.Array | None = None, plays: pa.Array | None = None,
              keep: pa.Array | None = None, identity: tuple[pa.Array, ...] = ()) -> pa.Table:
    """PLAY_ROWS from columns; scalars and absent columns mean the same for every row
    (full completion, no time, one play), ``keep`` filters the rows. A play is the same
    play when its user, song, time, play count and the source's own ``identity`` columns
    (the raw ms played, a position in a session) are."""
    n = len(user)
    columns = [user, song,
               completion if isinstance(completion, pa.Array | pa.ChunkedArray)
               else pa.repeat(pa.scalar(float(completion)), n),
               played_at if played_at is not None else pa.nulls(n, pa.int64()),
               plays if plays is not None else pa.repeat(pa.scalar(1, pa.int64()), n)]
    if keep is not None:
        columns = [pc.filter(column, keep) for column in columns]
        identity = tuple(pc.filter(column, keep) for column in identity)
    user, song, _, played_at, plays = columns
    return pa.Table.from_arrays([*columns, play_keys(user, song, played_at, plays, *identity)],
                                schema=PLAY_ROWS)


def _composite_key(table: pa.Table, keys: tuple[str, ...]) -> pa.Array:
    if len(keys) == 1:
        return table.column(keys[0])
    return pc.binary_join_element_wise(*(table.column(k) for k in keys), "\x1f")


def upsert(current: pa.Table, new: pa.Table, keys: tuple[str, ...]) -> pa.Table:
    """Rows of ``new`` replace rows of ``current`` with the same key."""
    if new.num_rows == 0:
        return current
    new = new.cast(current.schema)
    replaced = pc.is_in(_composite_key(current, keys), value_set=_composite_key(new, keys))
    return pa.concat_tables([current.filter(pc.invert(replaced)), new]).combine_chunks()


def positions(column: pa.Array | pa.ChunkedArray, ids: list[str]) -> np.ndarray:
    """Index of each value of ``column`` in ``ids``; -1 where absent or null."""
    found = pc.index_in(column, value_set=pa.array(ids, pa.string()))
    return pc.fill_null(found, -1).to_numpy(zero_copy_only=False).astype(np.int64)


def empty_catalogue() -> Catalogue:
    return Catalogue({name: schema.empty_table() for name, schema in CATALOGUE_SCHEMAS.items()})


def dataset_stats(dataset: Dataset | None) -> RepositoryStats:
    if dataset is None:
        return RepositoryStats(0, 0, 0, 0, 0, 0, 0)
    interactions = dataset.interactions
    catalogue = dataset.catalogue
    users = pc.unique(pa.chunked_array(
        [*interactions.column("user_id").chunks, *catalogue["users"].column("user_id").chunks],
        pa.string()))
    plays = pc.sum(interactions.column("play_count")).as_py() or 0
    return RepositoryStats(
        users=len(users),
        songs=catalogue["songs"].num_rows,
        artists=catalogue["artists"].num_rows,
        genres=catalogue["genres"].num_rows,
        interactions=interactions.num_rows,
        plays=int(plays),
        sources=len(dataset.sources),
    )
