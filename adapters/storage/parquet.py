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
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from adapters.atomic import atomic_file
from adapters.storage.locks import LOCK_FILE, writer_lock
from adapters.tables import TABLE_SCHEMAS, dataset_stats
from domain.errors import CorruptStore
from domain.model import RepositoryStats
from domain.ports import Catalogue, Dataset, InteractionRepository, SourceRecord

POINTER = "CURRENT"
SOURCES = "sources.json"
VERSION_NAME = re.compile(r"v-[0-9a-f]{12}")
# A reader may race a writer that removes the version it is reading; it then reads the new one.
READ_ATTEMPTS = 3


class ParquetInteractionRepository(InteractionRepository):
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _damaged(self, path: Path, problem: str) -> CorruptStore:
        return CorruptStore(f"{path}: {problem}; the store cannot be read: restore {self.root} from a "
                            "backup, or remove it and run `engine ingest` again")

    def _current(self) -> Path | None:
        pointer = self.root / POINTER
        try:
            name = pointer.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as error:
            raise self._damaged(pointer, f"unreadable ({error})") from None
        version = self.root / name
        if not VERSION_NAME.fullmatch(name) or version.is_symlink() or not version.is_dir():
            raise self._damaged(pointer, f"names {name[:80]!r}, which is no version of this store")
        return version

    def load(self) -> Dataset | None:
        for attempt in range(READ_ATTEMPTS):
            version = self._current()
            if version is None:
                return None
            try:
                return self._read(version)
            except FileNotFoundError:
                if attempt == READ_ATTEMPTS - 1 or self._current() == version:
                    raise self._damaged(version, "files are missing") from None
        return None  # not reached

    def _read(self, version: Path) -> Dataset:
        tables = {}
        for name, schema in TABLE_SCHEMAS.items():
            path = version / f"{name}.parquet"
            try:
                tables[name] = pq.read_table(path, schema=schema)
            except FileNotFoundError:
                raise
            except (pa.ArrowException, OSError, ValueError) as error:
                raise self._damaged(path, f"damaged ({str(error).splitlines()[0][:160]})") from None
        interactions = tables.pop("interactions")
        return Dataset(Catalogue(tables), interactions, self._sources(version))

    def _sources(self, version: Path) -> tuple[SourceRecord, ...]:
        path = version / SOURCES
        try:
            return tuple(SourceRecord(**record) for record in json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise
        except (OSError, ValueError, TypeError) as error:
            raise self._damaged(path, f"damaged ({str(error).splitlines()[0][:160]})") from None

    def update(self, change: Callable[[Dataset | None], Dataset | None]) -> bool:
        with writer_lock(self.root, "the interaction store"):
            dataset = change(self.load())
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
            (version / SOURCES).write_text(
                json.dumps([asdict(s) for s in dataset.sources], indent=1), encoding="utf-8")
            with atomic_file(self.root / POINTER) as tmp:
                tmp.write_text(version.name + "\n", encoding="utf-8")
        except BaseException:
            shutil.rmtree(version, ignore_errors=True)
            raise
        self._clean(keep=version.name)

    def _clean(self, keep: str) -> None:
        """Under the writer lock everything but the current version is left over."""
        for entry in self.root.iterdir():
            if entry.name in (keep, POINTER, LOCK_FILE):
                continue
            if entry.is_dir() and not entry.is_symlink():
                if VERSION_NAME.fullmatch(entry.name):
                    shutil.rmtree(entry, ignore_errors=True)
            elif entry.name.endswith(".tmp"):
                entry.unlink(missing_ok=True)

    def stats(self) -> RepositoryStats:
        return dataset_stats(self.load())

    def has_source(self, content_hash: str) -> bool:
        for _ in range(READ_ATTEMPTS):
            version = self._current()
            if version is None:
                return False
            try:
                return any(record.content_hash == content_hash for record in self._sources(version))
            except FileNotFoundError:
                continue
        raise self._damaged(self.root / POINTER, "names a version whose files are missing")
