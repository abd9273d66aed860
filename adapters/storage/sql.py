"""InteractionRepository on SQLAlchemy Core: SQLite by default, PostgreSQL by URL.

Table definitions are derived from the Arrow schemas in ``adapters.common.tables`` so
the two stores cannot drift; PostgreSQL takes bulk loads by COPY. ``save`` replaces
everything in one transaction;
``update`` reads and writes in one transaction that holds the database's write
lock from the start (SQLite ``BEGIN IMMEDIATE``, a PostgreSQL advisory lock), so
concurrent writers, on one machine or several, queue instead of losing data.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, fields
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    delete,
    func,
    insert,
    select,
    tuple_,
    union,
)
from sqlalchemy.engine import Connection

from adapters.common.tables import (
    CATALOGUE_KEYS,
    CATALOGUE_SCHEMAS,
    INTERACTIONS,
    PLAY_KEYS,
    TABLE_SCHEMAS,
    empty_catalogue,
)
from adapters.storage.database import SqlDatabase
from domain.model import RepositoryStats
from domain.ports import Catalogue, Dataset, InteractionRepository, Listening, SourceRecord, StoreScope

_SQL_TYPES = {pa.string(): String, pa.int64(): BigInteger, pa.float64(): Float}
_KEYS = {**CATALOGUE_KEYS, "interactions": ("user_id", "song_id"), "play_keys": ("play_key",)}
INSERT_CHUNK = 20_000
WRITER_LOCK_KEY = zlib.crc32(b"engine interaction store")  # PostgreSQL advisory lock id


def _metadata() -> tuple[MetaData, dict[str, Table]]:
    metadata = MetaData()
    tables = {
        name: Table(name, metadata, *(
            Column(field.name, _SQL_TYPES[field.type], primary_key=field.name in _KEYS[name],
                   nullable=field.name not in _KEYS[name])
            for field in schema))
        for name, schema in TABLE_SCHEMAS.items()
    }
    tables["sources"] = Table(
        "sources", metadata,
        Column("content_hash", String, primary_key=True), Column("name", String),
        Column("rows_read", Integer), Column("rows_rejected", Integer),
        Column("ingested_at", String))
    tables["play_keys"] = Table("play_keys", metadata, Column("play_key", BigInteger, primary_key=True))
    return metadata, tables


def _chunks(values: list, size: int = 5_000) -> list[list]:
    """``values`` in lists short enough for one IN (...) of any SQL database."""
    return [values[start:start + size] for start in range(0, len(values), size)]


def _sources(rows: Sequence[Any]) -> tuple[SourceRecord, ...]:
    return tuple(SourceRecord(**{f.name: r[f.name] for f in fields(SourceRecord)}) for r in rows)


def _arrow(rows: Sequence[Any], schema: pa.Schema) -> pa.Table:
    """Rows of a SELECT of a whole table as an Arrow table of ``schema``."""
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in schema]
    return pa.table([pa.array(col, f.type) for col, f in zip(columns, schema, strict=True)], schema=schema)


class SqlAlchemyInteractionRepository(InteractionRepository):
    def __init__(self, url: str) -> None:
        self.url = url
        metadata, self._tables = _metadata()
        self._database = SqlDatabase(url, metadata)

    def load(self) -> Dataset | None:
        with self._database.reading() as conn:
            return self._load(conn)

    def _load(self, conn: Connection, with_play_keys: bool = False) -> Dataset | None:
        source_rows = conn.execute(select(self._tables["sources"])).mappings().all()
        if not source_rows:
            return None
        loaded = {name: self._read_table(conn, name, schema) for name, schema in TABLE_SCHEMAS.items()}
        interactions = loaded.pop("interactions")
        play_keys = self._read_table(conn, "play_keys", PLAY_KEYS) if with_play_keys else None
        return Dataset(Catalogue(loaded), interactions, _sources(source_rows), play_keys)

    def listening_of(self, user_ids: Sequence[str]) -> Listening:
        interactions, songs = self._tables["interactions"], self._tables["songs"]
        wanted = list(dict.fromkeys(user_ids))
        theirs = interactions.c.user_id.in_(wanted)
        with self._database.reading() as conn:
            rows = conn.execute(select(interactions).where(theirs).order_by(
                interactions.c.user_id, interactions.c.song_id)).all() if wanted else []
            played = select(interactions.c.song_id).where(theirs)
            song_rows = conn.execute(select(songs).where(songs.c.song_id.in_(played))
                                     .order_by(songs.c.song_id)).all() if rows else []
        return Listening(_arrow(rows, INTERACTIONS), _arrow(song_rows, CATALOGUE_SCHEMAS["songs"]))

    def _read_table(self, conn: Connection, name: str, schema: pa.Schema) -> pa.Table:
        table = self._tables[name]
        order = [table.c[k] for k in _KEYS[name]]
        return _arrow(conn.execute(select(table).order_by(*order)).all(), schema)

    def update(self, change: Callable[[Dataset | None], Dataset | None],
               scope: StoreScope | None = None) -> bool:
        with self._database.write_transaction(WRITER_LOCK_KEY) as conn:
            current = (self._load(conn, with_play_keys=True) if scope is None
                       else self._load_scope(conn, scope))
            dataset = change(current)
            if dataset is None:
                return False
            stored_keys = current.play_keys if current and current.play_keys else PLAY_KEYS.empty_table()
            if scope is None:
                self._save(conn, dataset, stored_keys)
            else:
                self._save_scope(conn, dataset, scope, stored_keys, current.sources if current else ())
            return True

    def _load_scope(self, conn: Connection, scope: StoreScope) -> Dataset | None:
        """What a scoped write reads: the scope's listeners and play keys, every source."""
        source_rows = conn.execute(select(self._tables["sources"])).mappings().all()
        if not source_rows:
            return None
        interactions, keys = self._tables["interactions"], self._tables["play_keys"]
        rows = [row for users in _chunks(list(scope.user_ids)) for row in conn.execute(
            select(interactions).where(interactions.c.user_id.in_(users)))]
        wanted = scope.play_keys.column("play_key").to_pylist()
        stored = [row for chunk in _chunks(wanted) for row in conn.execute(
            select(keys).where(keys.c.play_key.in_(chunk)))]
        return Dataset(empty_catalogue(), _arrow(rows, INTERACTIONS), _sources(source_rows),
                       _arrow(stored, PLAY_KEYS))

    def _save_scope(self, conn: Connection, dataset: Dataset, scope: StoreScope, stored_keys: pa.Table,
                    stored_sources: tuple[SourceRecord, ...]) -> None:
        """Replace the scope's listeners' interactions; upsert catalogue rows; add keys, sources."""
        interactions = self._tables["interactions"]
        for users in _chunks(list(scope.user_ids)):
            conn.execute(delete(interactions).where(interactions.c.user_id.in_(users)))
        theirs = pc.is_in(dataset.interactions.column("user_id"),
                          value_set=pa.array(scope.user_ids, pa.string()))
        self._insert(conn, "interactions", dataset.interactions.filter(theirs).cast(INTERACTIONS))
        for name, keys in CATALOGUE_KEYS.items():
            rows = dataset.catalogue[name].cast(CATALOGUE_SCHEMAS[name])
            if rows.num_rows == 0:
                continue
            table = self._tables[name]
            key_rows = list(zip(*(rows.column(k).to_pylist() for k in keys), strict=True))
            for chunk in _chunks(key_rows):
                conn.execute(delete(table).where(tuple_(*(table.c[k] for k in keys)).in_(chunk)))
            self._insert(conn, name, rows)
        self._save_play_keys(conn, dataset.play_keys, stored_keys.column("play_key"), remove_gone=False)
        known = {source.content_hash for source in stored_sources}
        new_sources = [asdict(s) for s in dataset.sources if s.content_hash not in known]
        if new_sources:
            conn.execute(insert(self._tables["sources"]), new_sources)

    def save(self, dataset: Dataset) -> None:
        with self._database.write_transaction(WRITER_LOCK_KEY) as conn:
            self._save(conn, dataset, self._read_table(conn, "play_keys", PLAY_KEYS))

    def _save(self, conn: Connection, dataset: Dataset, stored_keys: pa.Table) -> None:
        tables = {**dataset.catalogue.tables, "interactions": dataset.interactions}
        for name, schema in TABLE_SCHEMAS.items():
            conn.execute(delete(self._tables[name]))
            self._insert(conn, name, tables[name].cast(schema))
        conn.execute(delete(self._tables["sources"]))
        if dataset.sources:
            conn.execute(insert(self._tables["sources"]), [asdict(s) for s in dataset.sources])
        self._save_play_keys(conn, dataset.play_keys, stored_keys.column("play_key"))

    def _save_play_keys(self, conn: Connection, play_keys: pa.Table | None, stored: pa.ChunkedArray,
                        remove_gone: bool = True) -> None:
        """Only the difference is written: a store holds a key for every play it ever took."""
        wanted = (PLAY_KEYS.empty_table() if play_keys is None else play_keys).column("play_key")
        table = self._tables["play_keys"]
        gone = pc.filter(stored, pc.invert(pc.is_in(stored, value_set=wanted))).to_pylist()
        for chunk in _chunks(gone if remove_gone else []):
            conn.execute(delete(table).where(table.c.play_key.in_(chunk)))
        added = pc.filter(wanted, pc.invert(pc.is_in(wanted, value_set=stored)))
        self._insert(conn, "play_keys", pa.table({"play_key": added}))

    def _insert(self, conn: Connection, name: str, rows: pa.Table) -> None:
        if rows.num_rows and conn.dialect.name == "postgresql":
            self._copy(conn, name, rows)
            return
        for offset in range(0, rows.num_rows, INSERT_CHUNK):
            conn.execute(insert(self._tables[name]), rows.slice(offset, INSERT_CHUNK).to_pylist())

    @staticmethod
    def _copy(conn: Connection, name: str, rows: pa.Table) -> None:
        """PostgreSQL takes a bulk load by COPY (psycopg 3), in the transaction of the write."""
        columns = ", ".join(f'"{column}"' for column in rows.column_names)
        cursor = conn.connection.driver_connection.cursor()
        with cursor.copy(f'COPY "{name}" ({columns}) FROM STDIN') as copy:
            for offset in range(0, rows.num_rows, INSERT_CHUNK):
                chunk = rows.slice(offset, INSERT_CHUNK)
                for row in zip(*(chunk.column(c).to_pylist() for c in chunk.column_names), strict=True):
                    copy.write_row(row)

    def stats(self) -> RepositoryStats:
        """Counted by the database (a small write is followed by stats: no full read)."""
        t = self._tables
        with self._database.reading() as conn:
            def count(statement: Any) -> int:
                return int(conn.execute(select(func.count()).select_from(statement)).scalar_one())

            listeners = union(select(t["interactions"].c.user_id), select(t["users"].c.user_id)).subquery()
            total = func.coalesce(func.sum(t["interactions"].c.play_count), 0)
            plays = conn.execute(select(total)).scalar_one()
            return RepositoryStats(
                users=count(listeners), songs=count(t["songs"]), artists=count(t["artists"]),
                genres=count(t["genres"]), interactions=count(t["interactions"]), plays=int(plays),
                sources=count(t["sources"]))

    def has_source(self, content_hash: str) -> bool:
        sources = self._tables["sources"]
        with self._database.reading() as conn:
            found = conn.execute(select(func.count()).select_from(sources)
                                 .where(sources.c.content_hash == content_hash)).scalar_one()
        return found > 0
