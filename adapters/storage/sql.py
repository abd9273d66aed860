"""InteractionRepository on SQLAlchemy Core: SQLite today, PostgreSQL by URL.

Table definitions are derived from the Arrow schemas in ``adapters.tables`` so
the two stores cannot drift. ``save`` replaces everything in one transaction.
"""

from __future__ import annotations

from dataclasses import asdict, fields
from pathlib import Path

import pyarrow as pa
from sqlalchemy import (
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
)
from sqlalchemy.engine import Engine, make_url

from adapters.tables import CATALOGUE_KEYS, TABLE_SCHEMAS, dataset_stats
from domain.model import RepositoryStats
from domain.ports import Catalogue, Dataset, InteractionRepository, SourceRecord

_SQL_TYPES = {pa.string(): String, pa.int64(): Integer, pa.float64(): Float}
_KEYS = {**CATALOGUE_KEYS, "interactions": ("user_id", "song_id")}
INSERT_CHUNK = 20_000


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
    return metadata, tables


class SqlAlchemyInteractionRepository(InteractionRepository):
    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: Engine | None = None
        self._metadata, self._tables = _metadata()

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            url = make_url(self.url)
            if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
                Path(url.database).parent.mkdir(parents=True, exist_ok=True)
            self._engine = create_engine(url)
            self._metadata.create_all(self._engine)
        return self._engine

    def load(self) -> Dataset | None:
        with self.engine.connect() as conn:
            source_rows = conn.execute(select(self._tables["sources"])).mappings().all()
            if not source_rows:
                return None
            loaded = {}
            for name, schema in TABLE_SCHEMAS.items():
                table = self._tables[name]
                order = [table.c[k] for k in _KEYS[name]]
                rows = conn.execute(select(table).order_by(*order)).all()
                columns = list(zip(*rows, strict=True)) if rows else [[] for _ in schema]
                loaded[name] = pa.table(
                    [pa.array(col, f.type) for col, f in zip(columns, schema, strict=True)],
                    schema=schema)
        interactions = loaded.pop("interactions")
        sources = tuple(SourceRecord(**{f.name: r[f.name] for f in fields(SourceRecord)})
                        for r in source_rows)
        return Dataset(Catalogue(loaded), interactions, sources)

    def save(self, dataset: Dataset) -> None:
        tables = {**dataset.catalogue.tables, "interactions": dataset.interactions}
        with self.engine.begin() as conn:
            for name, schema in TABLE_SCHEMAS.items():
                conn.execute(delete(self._tables[name]))
                rows = tables[name].cast(schema)
                for offset in range(0, rows.num_rows, INSERT_CHUNK):
                    chunk = rows.slice(offset, INSERT_CHUNK).to_pylist()
                    conn.execute(insert(self._tables[name]), chunk)
            conn.execute(delete(self._tables["sources"]))
            if dataset.sources:
                conn.execute(insert(self._tables["sources"]), [asdict(s) for s in dataset.sources])

    def stats(self) -> RepositoryStats:
        return dataset_stats(self.load())

    def has_source(self, content_hash: str) -> bool:
        sources = self._tables["sources"]
        with self.engine.connect() as conn:
            found = conn.execute(select(func.count()).select_from(sources)
                                 .where(sources.c.content_hash == content_hash)).scalar_one()
        return found > 0
