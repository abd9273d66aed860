"""InteractionRepository on parquet files: one file per table, one directory per version.

``save`` writes a complete new version directory, then atomically points
``CURRENT`` at it; readers and failed writes never see a half-saved dataset.
Writers hold the store's writer lock from the read to the save, so two ingests
into one data directory both land; versions and temporary files that a killed
writer left behind are removed by the next save.
"""

from __future__ import annotations

import json
import re
import shutil
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TypeVar

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from adapters.common.tables import CATALOGUE_SCHEMAS, INTERACTIONS, PLAY_KEYS, TABLE_SCHEMAS, dataset_stats
from adapters.storage.locks import writer_lock
from adapters.storage.versions import POINTER, VersionedDirectory
from domain.errors import CorruptStore, first_line
from domain.model import RepositoryStats
from domain.ports import Catalogue, Dataset, InteractionRepository, Listening, SourceRecord, StoreScope

SOURCES = "sources.json"
PLAY_KEYS_FILE = "play_keys.parquet"
VERSION_NAME = re.compile(r"v-[0-9a-f]{12}")
# A reader may race a writer that removes the version it is reading; it then reads the new one.
READ_ATTEMPTS = 3
T = TypeVar("T")


class ParquetInteractionRepository(InteractionRepository):
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._versions = VersionedDirectory(self.root, VERSION_NAME, self._damaged)

    def _damaged(self, path: Path, problem: str) -> CorruptStore:
        return CorruptStore(f"{path}: {problem}; the store cannot be read: restore {self.root} from a "
                            "backup, or remove it and run `engine ingest` again")

    def load(self) -> Dataset | None:
        return self._read_current(self._read)

    def _read_current(self, read: Callable[[Path], T]) -> T | None:
        """``read`` of the current version, None before the first save. A writer may remove
        the version while it is read; the version it published is read then."""
        for _ in range(READ_ATTEMPTS):
            version = self._versions.current()
            if version is None:
                return None
            try:
                return read(version)
            except FileNotFoundError:
                if self._versions.current() == version:
                    break  # no writer moved on: the files are gone
        raise self._damaged(self.root / POINTER, "names a version whose files are missing")

    def _read(self, version: Path, with_play_keys: bool = False) -> Dataset:
        tables = {name: self._table(version / f"{name}.parquet", schema)
                  for name, schema in TABLE_SCHEMAS.items()}
        interactions = tables.pop("interactions")
        play_keys = self._play_keys(version) if with_play_keys else None
        return Dataset(Catalogue(tables), interactions, self._sources(version), play_keys)

    def listening_of(self, user_ids: Sequence[str]) -> Listening:
        def read(version: Path) -> Listening:
            interactions = self._table(version / "interactions.parquet", INTERACTIONS,
                                       [("user_id", "in", list(user_ids))])
            songs = CATALOGUE_SCHEMAS["songs"]
            if interactions.num_rows == 0:
                return Listening(interactions, songs.empty_table())
            played = pc.unique(interactions.column("song_id")).to_pylist()
            return Listening(interactions, self._table(version / "songs.parquet", songs,
                                                       [("song_id", "in", played)]))

        found = self._read_current(read) if user_ids else None
        return found or Listening(INTERACTIONS.empty_table(), CATALOGUE_SCHEMAS["songs"].empty_table())

    def _table(self, path: Path, schema: pa.Schema, filters: list | None = None) -> pa.Table:
        try:
            return pq.read_table(path, schema=schema, filters=filters or None)
        except FileNotFoundError:
            raise
        except (pa.ArrowException, OSError, ValueError) as error:
            raise self._damaged(path, f"damaged ({first_line(error, 160)})") from None

    def _play_keys(self, version: Path) -> pa.Table:
        path = version / PLAY_KEYS_FILE
        if not path.exists() and version.is_dir():
            return PLAY_KEYS.empty_table()  # stored before plays had identities
        return self._table(path, PLAY_KEYS)

    def _sources(self, version: Path) -> tuple[SourceRecord, ...]:
        path = version / SOURCES
        try:
            return tuple(SourceRecord(**record) for record in json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise
        except (OSError, ValueError, TypeError) as error:
            raise self._damaged(path, f"damaged ({first_line(error, 160)})") from None

    def update(self, change: Callable[[Dataset | None], Dataset | None],
               scope: StoreScope | None = None) -> bool:
        # every write is a whole new version directory: the scope is no saving here
        with writer_lock(self.root, "the interaction store"):
            dataset = change(self._read_current(lambda version: self._read(version, with_play_keys=True)))
            if dataset is None:
                return False
            self._write(dataset)
            return True

    def save(self, dataset: Dataset) -> None:
        self.update(lambda _current: dataset)

    def _write(self, dataset: Dataset) -> None:
        version = self.root / f"v-{uuid.uuid4().hex[:12]}"
        version.mkdir()
        try:
            tables = {**dataset.catalogue.tables, "interactions": dataset.interactions}
            for name, schema in TABLE_SCHEMAS.items():
                pq.write_table(tables[name].cast(schema), version / f"{name}.parquet")
            play_keys = PLAY_KEYS.empty_table() if dataset.play_keys is None else dataset.play_keys
            pq.write_table(play_keys.cast(PLAY_KEYS), version / PLAY_KEYS_FILE)
            (version / SOURCES).write_text(
                json.dumps([asdict(s) for s in dataset.sources], indent=1), encoding="utf-8")
        except BaseException:
            shutil.rmtree(version, ignore_errors=True)
            raise
        self._versions.publish(version.name)

    def stats(self) -> RepositoryStats:
        return dataset_stats(self.load())

    def has_source(self, content_hash: str) -> bool:
        return bool(self._read_current(
            lambda version: any(record.content_hash == content_hash for record in self._sources(version))))
