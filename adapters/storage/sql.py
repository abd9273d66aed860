"""InteractionRepository on SQLAlchemy Core: SQLite by default, PostgreSQL by URL.

Table definitions are derived from the Arrow schemas in ``adapters.common.tables`` so
the two stores cannot drift. ``save`` replaces everything in one transaction;
``update`` reads and writes in one transaction that holds the database's write
lock from the start (SQLite ``BEGIN IMMEDIATE``, a PostgreSQL advisory lock), so
concurrent writers, on one machine or several, queue instead of losing data.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, fields
from pathlib import Path

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
    create_engine,
    delete,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError, SQLAlchemyError

from adapters.common.tables import CATALOGUE_KEYS, PLAY_KEYS, TABLE_SCHEMAS, dataset_stats
from domain.errors import CorruptStore, InvalidSetting, StoreBusy, first_line
from domain.model import RepositoryStats
from domain.ports import Catalogue, Dataset, InteractionRepository, SourceRecord

_SQL_TYPES = {pa.string(): String, pa.int64(): BigInteger, pa.float64(): Float}
_KEYS = {**CATALOGUE_KEYS, "interactions": ("user_id", "song_id"), "play_keys": ("play_key",)}
INSERT_CHUNK = 20_000
SQLITE_WAIT_S = 900  # how long a writer waits for another one's transaction
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


class SqlAlchemyInteractionRepository(InteractionRepository):
    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: Engine | None = None
        self._metadata, self._tables = _metadata()

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            with self._errors():
                self._engine = self._connect()
        return self._engine

    def _connect(self) -> Engine:
        try:
            url = make_url(self.url)
        except ArgumentError:
            raise InvalidSetting(f"storage.url {self.url!r} is no database URL; give one like "
                                 "sqlite:///path/engine.db or postgresql+psycopg://user@host/db") from None
        backend = url.get_backend_name()
        options = {}
        if backend == "sqlite":
            if url.database not in (None, "", ":memory:"):
                database = Path(url.database)
                if database.is_dir():
                    raise InvalidSetting(f"storage.url {self.url!r}: {database} is a directory")
                database.parent.mkdir(parents=True, exist_ok=True)
            options["connect_args"] = {"timeout": SQLITE_WAIT_S}
        try:
            engine = create_engine(url, **options)
        except NoSuchModuleError:
            raise InvalidSetting(f"storage.url {self._shown()}: unknown database {backend!r}; "
                                 "use sqlite or postgresql") from None
        except ModuleNotFoundError as missing:
            raise InvalidSetting(f"storage.url {self._shown()} needs the {missing.name} driver, which is "
                                 "not installed: pip install 'engine[postgresql]'") from None
        try:
            self._metadata.create_all(engine)
        except SQLAlchemyError:
            # another process created the tables between the check and the CREATE; they exist now
            self._metadata.create_all(engine)
        return engine

    def _shown(self) -> str:
        try:
            return make_url(self.url).render_as_string(hide_password=True)
        except ArgumentError:
            return repr(self.url)

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Database trouble a user can cause or fix becomes one line, not a traceback."""
        try:
            yield
        except OperationalError as error:
            message = first_line(error.orig or error)
            if "locked" in message:
                raise StoreBusy(f"{self._shown()}: another engine command holds the database ({message}); "
                                "wait for it, then try again") from None
            raise CorruptStore(f"{self._shown()}: cannot use the database ({message})") from None
        except SQLAlchemyError as error:
            message = first_line(getattr(error, "orig", None) or error)
            raise CorruptStore(f"{self._shown()}: cannot use the database ({message}); point "
                               "storage.url at an engine database or a new file") from None

    @contextmanager
    def _write_transaction(self) -> Iterator[Connection]:
        with self._errors(), self.engine.connect() as conn:
            if self.engine.dialect.name == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock now, not at the first write
            else:
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": WRITER_LOCK_KEY})
            try:
                yield conn
            except BaseException:
                conn.rollback()
                raise
            conn.commit()

    def load(self) -> Dataset | None:
        with self._errors(), self.engine.connect() as conn:
            return self._load(conn)

    def _load(self, conn: Connection, with_play_keys: bool = False) -> Dataset | None:
        source_rows = conn.execute(select(self._tables["sources"])).mappings().all()
        if not source_rows:
            return None
        loaded = {name: self._read_table(conn, name, schema) for name, schema in TABLE_SCHEMAS.items()}
        interactions = loaded.pop("interactions")
        sources = tuple(SourceRecord(**{f.name: r[f.name] for f in fields(SourceRecord)})
                        for r in source_rows)
        play_keys = self._read_table(conn, "play_keys", PLAY_KEYS) if with_play_keys else None
        return Dataset(Catalogue(loaded), interactions, sources, play_keys)

    def _read_table(self, conn: Connection, name: str, schema: pa.Schema) -> pa.Table:
        table = self._tables[name]
        order = [table.c[k] for k in _KEYS[name]]
        rows = conn.execute(select(table).order_by(*order)).all()
        columns = list(zip(*rows, strict=True)) if rows else [[] for _ in schema]
        return pa.table([pa.array(col, f.type) for col, f in zip(columns, schema, strict=True)],
                        schema=schema)

    def update(self, change: Callable[[Dataset | None], Dataset | None]) -> bool:
        with self._write_transaction() as conn:
            current = self._load(conn, with_play_keys=True)
            dataset = change(current)
            if dataset is None:
                return False
            self._save(conn, dataset, current.play_keys if current else PLAY_KEYS.empty_table())
            return True

    def save(self, dataset: Dataset) -> None:
        with self._write_transaction() as conn:
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

    def _save_play_keys(self, conn: Connection, play_keys: pa.Table | None, stored: pa.ChunkedArray) -> None:
        """Only the difference is written: a store holds a key for every play it ever took."""
        wanted = (PLAY_KEYS.empty_table() if play_keys is None else play_keys).column("play_key")
        table = self._tables["play_keys"]
        gone = pc.filter(stored, pc.invert(pc.is_in(stored, value_set=wanted))).to_pylist()
        for offset in range(0, len(gone), INSERT_CHUNK):
            conn.execute(delete(table).where(table.c.play_key.in_(gone[offset:offset + INSERT_CHUNK])))
        added = pc.filter(wanted, pc.invert(pc.is_in(wanted, value_set=stored)))
        self._insert(conn, "play_keys", pa.table({"play_key": added}))

    def _insert(self, conn: Connection, name: str, rows: pa.Table) -> None:
        for offset in range(0, rows.num_rows, INSERT_CHUNK):
            conn.execute(insert(self._tables[name]), rows.slice(offset, INSERT_CHUNK).to_pylist())

    def stats(self) -> RepositoryStats:
        return dataset_stats(self.load())

    def has_source(self, content_hash: str) -> bool:
        sources = self._tables["sources"]
        with self._errors(), self.engine.connect() as conn:
            found = conn.execute(select(func.count()).select_from(sources)
                                 .where(sources.c.content_hash == content_hash)).scalar_one()
        return found > 0
