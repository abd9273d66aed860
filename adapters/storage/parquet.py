"""InteractionRepository on parquet files: one file per table, one directory per version.

``save`` writes a complete new version directory, then atomically points
``CURRENT`` at it; readers and failed writes never see a half-saved dataset.
"""

from __future__ import annotations

import json
import shutil
import uuid
from dataclasses import asdict
from pathlib import Path

import pyarrow.parquet as pq

from adapters.atomic import atomic_file
from adapters.tables import TABLE_SCHEMAS, dataset_stats
from domain.model import RepositoryStats
from domain.ports import Catalogue, Dataset, InteractionRepository, SourceRecord

POINTER = "CURRENT"
SOURCES = "sources.json"


class ParquetInteractionRepository(InteractionRepository):
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _current(self) -> Path | None:
        pointer = self.root / POINTER
        if not pointer.exists():
            return None
        return self.root / pointer.read_text().strip()

    def load(self) -> Dataset | None:
        version = self._current()
        if version is None:
            return None
        tables = {name: pq.read_table(version / f"{name}.parquet", schema=schema)
                  for name, schema in TABLE_SCHEMAS.items()}
        interactions = tables.pop("interactions")
        sources = tuple(SourceRecord(**record)
                        for record in json.loads((version / SOURCES).read_text()))
        return Dataset(Catalogue(tables), interactions, sources)

    def save(self, dataset: Dataset) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        previous = self._current()
        version = self.root / f"v-{uuid.uuid4().hex[:12]}"
        version.mkdir()
        try:
            tables = {**dataset.catalogue.tables, "interactions": dataset.interactions}
            for name, schema in TABLE_SCHEMAS.items():
                pq.write_table(tables[name].cast(schema), version / f"{name}.parquet")
            (version / SOURCES).write_text(
                json.dumps([asdict(s) for s in dataset.sources], indent=1))
            with atomic_file(self.root / POINTER) as tmp:
                tmp.write_text(version.name + "\n")
        except BaseException:
            shutil.rmtree(version, ignore_errors=True)
            raise
        if previous is not None and previous != version:
            shutil.rmtree(previous, ignore_errors=True)

    def stats(self) -> RepositoryStats:
        return dataset_stats(self.load())

    def has_source(self, content_hash: str) -> bool:
        version = self._current()
        if version is None:
            return False
        records = json.loads((version / SOURCES).read_text())
        return any(r["content_hash"] == content_hash for r in records)
