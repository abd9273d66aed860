"""The model registry in the configured SQL database (the SQLite file by default).

``model_versions`` holds one row per training run; ``model_promotions`` is the history of
promotions, newest last. The promoted version is the newest promotion not rolled back;
``rollback`` marks it rolled back, so the one promoted before answers again. Artifacts are
kept relative to the models directory and never resolve outside it.
"""

from __future__ import annotations

import json
import re
import time
import zlib
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import Boolean, Column, Integer, MetaData, String, Table, Text, insert, select, update
from sqlalchemy.engine import Connection, RowMapping

from adapters.common.atomic import atomic_file
from adapters.storage.database import SqlDatabase
from adapters.storage.runs import RunStore
from domain.errors import CorruptStore, EngineError, UnknownEntity
from domain.ports import ModelRegistry
from domain.training import MODEL_KINDS
from domain.versions import MAX_VERSION, ModelVersion

REGISTRY_LOCK_KEY = zlib.crc32(b"engine model registry")  # PostgreSQL advisory lock id


def _tables() -> tuple[MetaData, Table, Table]:
    metadata = MetaData()
    versions = Table(
        "model_versions", metadata,
        Column("version", Integer, primary_key=True, autoincrement=True),
        Column("kind", String, nullable=False), Column("created_at", String, nullable=False),
        Column("data_fingerprint", String, nullable=False), Column("settings", Text, nullable=False),
        Column("metrics", Text, nullable=False), Column("artifact", String, nullable=False))
    promotions = Table(
        "model_promotions", metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("version", Integer, nullable=False), Column("promoted_at", String, nullable=False),
        Column("rolled_back", Boolean, nullable=False, default=False))
    return metadata, versions, promotions


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class SqlModelRegistry(ModelRegistry):
    def __init__(self, url: str, models_dir: Path) -> None:
        metadata, self._versions, self._promotions = _tables()
        self._database = SqlDatabase(url, metadata)
        self.runs = RunStore(models_dir)
        self._adopted = False

    # -- writing ---------------------------------------------------------------------------
    def register(self, kind: str, artifact: Path, data_fingerprint: str, settings: Mapping[str, Any],
                 metrics: Mapping[str, float]) -> ModelVersion:
        relative = self.runs.relative(artifact)
        with self._writing() as conn:
            number = conn.execute(insert(self._versions).values(
                kind=kind, created_at=_now(), data_fingerprint=data_fingerprint,
                settings=json.dumps(dict(settings), default=str), metrics=json.dumps(dict(metrics)),
                artifact=relative)).inserted_primary_key[0]
        _note_version(Path(artifact), int(number))
        return self.get(int(number))

    def promote(self, version: int) -> ModelVersion:
        self.get(version)  # an unknown version is refused before anything changes
        with self._writing() as conn:
            current = self._current_promotion(conn)
            if current is None or current["version"] != version:
                conn.execute(insert(self._promotions).values(version=version, promoted_at=_now(),
                                                             rolled_back=False))
        return self.get(version)

    def rollback(self) -> ModelVersion:
        with self._writing() as conn:
            standing = conn.execute(select(self._promotions).where(~self._promotions.c.rolled_back)
                                    .order_by(self._promotions.c.id)).mappings().all()
            if not standing:
                raise EngineError("no version is promoted; nothing to roll back")
            current = standing[-1]["version"]
            earlier = [row for row in standing if row["version"] != current]
            if not earlier:
                raise EngineError(f"no promotion before v{current}'s stands; nothing to roll back to "
                                  "(promote another with `engine models promote V`)")
            back_to = earlier[-1]
            conn.execute(update(self._promotions).where(self._promotions.c.id > back_to["id"])
                         .values(rolled_back=True))
        return self.get(back_to["version"])

    # -- reading ---------------------------------------------------------------------------
    def versions(self) -> list[ModelVersion]:
        self._adopt_runs()
        with self._database.reading() as conn:
            rows = conn.execute(select(self._versions).order_by(self._versions.c.version)).mappings().all()
            status = self._status(conn)
        return [self._version(row, status) for row in rows]

    def get(self, version: int) -> ModelVersion:
        self._adopt_runs()
        with self._database.reading() as conn:
            return self._get(conn, version)

    def promoted(self) -> ModelVersion | None:
        """One connection, three small reads: every request of `engine serve` asks."""
        self._adopt_runs()
        with self._database.reading() as conn:
            current = self._current_promotion(conn)
            return None if current is None else self._get(conn, current["version"])

    # -- inside ----------------------------------------------------------------------------
    def _writing(self):  # noqa: ANN202 - a context manager of SqlDatabase
        self._adopt_runs()
        return self._database.write_transaction(REGISTRY_LOCK_KEY)

    def _get(self, conn: Connection, version: int) -> ModelVersion:
        row = None if not 1 <= version <= MAX_VERSION else conn.execute(
            select(self._versions).where(self._versions.c.version == version)).mappings().first()
        if row is None:
            known = conn.execute(select(self._versions.c.version)).scalars().all()
            listed = ", ".join(f"v{v}" for v in sorted(known)) or "none yet (run `engine train`)"
            raise UnknownEntity(f"no model version v{version}; known: {listed}")
        return self._version(row, self._status(conn))

    def _current_promotion(self, conn: Connection) -> RowMapping | None:
        return conn.execute(select(self._promotions).where(~self._promotions.c.rolled_back)
                            .order_by(self._promotions.c.id.desc()).limit(1)).mappings().first()

    def _status(self, conn: Connection) -> dict[int, str]:
        current = self._current_promotion(conn)
        status = {v: "retired" for v in conn.execute(select(self._promotions.c.version)).scalars()}
        if current is not None:
            status[current["version"]] = "promoted"
        return status

    def _version(self, row: RowMapping, status: dict[int, str]) -> ModelVersion:
        try:
            settings, metrics = json.loads(row["settings"]), json.loads(row["metrics"])
        except ValueError:
            raise CorruptStore(f"{self._database.shown()}: model version v{row['version']} has damaged "
                               "settings or metrics") from None
        return ModelVersion(version=row["version"], kind=row["kind"], created_at=row["created_at"],
                            data_fingerprint=row["data_fingerprint"], settings=settings, metrics=metrics,
                            artifact=row["artifact"], status=status.get(row["version"], "candidate"))

    def _adopt_runs(self) -> None:
        """Register, once, the runs trained before there was a registry, newest promoted, so that
        a data directory of an earlier release (or models copied without their registry) keeps
        answering. A run's report says ``"version": null`` from its publication until its
        training has registered it, so a run another training is registering right now is never
        adopted as well."""
        if self._adopted:
            return
        self._adopted = True
        with self._database.write_transaction(REGISTRY_LOCK_KEY) as conn:
            if conn.execute(select(self._versions.c.version).limit(1)).first() is not None:
                return
            runs = sorted((run.name, kind, run) for kind in MODEL_KINDS
                          if (run := self.runs.current(kind)) is not None and _adoptable(run))
            number = None
            for name, kind, run in runs:
                number = conn.execute(insert(self._versions).values(
                    kind=kind, created_at=_created_at(name), data_fingerprint="unknown",
                    settings="{}", metrics=json.dumps(_test_metrics(run)),
                    artifact=self.runs.relative(run))).inserted_primary_key[0]
            if number is not None:
                conn.execute(insert(self._promotions).values(version=number, promoted_at=_now(),
                                                             rolled_back=False))


def _created_at(run_name: str) -> str:
    stamp = re.match(r"run-(\d{8}T\d{6})", run_name)
    if not stamp:
        return _now()
    return datetime.strptime(stamp.group(1), "%Y%m%dT%H%M%S").replace(
        tzinfo=timezone.utc).isoformat(timespec="seconds")


def _report(run: Path) -> dict[str, Any] | None:
    try:
        report = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return report if isinstance(report, dict) else None


def _adoptable(run: Path) -> bool:
    """Whether a run is not being registered by its own training right now."""
    report = _report(run)
    return report is None or report.get("version", 0) is not None


def _note_version(run: Path, number: int) -> None:
    """The run's report learns its version (so that models copied without the registry are
    adopted by the next one)."""
    report = _report(run)
    if report is None:
        return
    with atomic_file(run / "metrics.json") as tmp:
        tmp.write_text(json.dumps({**report, "version": number}, indent=2) + "\n")


def _test_metrics(run: Path) -> dict[str, float]:
    test = (_report(run) or {}).get("test", {})
    if not isinstance(test, dict):
        return {}
    return {k: float(v) for k, v in test.items() if isinstance(v, int | float)}


class RecentPromotion(ModelRegistry):
    """A registry whose ``promoted()`` answer is reused for ``seconds``: a server asks it at
    every request, and a promotion by another process is then followed within that time
    (at once when it goes through this object)."""

    def __init__(self, registry: ModelRegistry, seconds: float = 1.0) -> None:
        self._registry = registry
        self._seconds = seconds
        self._answer: tuple[float, ModelVersion | None] | None = None

    def promoted(self) -> ModelVersion | None:
        answer = self._answer
        now = time.monotonic()
        if answer is None or now - answer[0] > self._seconds:
            answer = (now, self._registry.promoted())
            self._answer = answer
        return answer[1]

    def register(self, kind: str, artifact: Path, data_fingerprint: str, settings: Mapping[str, Any],
                 metrics: Mapping[str, float]) -> ModelVersion:
        return self._registry.register(kind, artifact, data_fingerprint, settings, metrics)

    def versions(self) -> list[ModelVersion]:
        return self._registry.versions()

    def get(self, version: int) -> ModelVersion:
        return self._registry.get(version)

    def promote(self, version: int) -> ModelVersion:
        promoted = self._registry.promote(version)
        self._answer = None
        return promoted

    def rollback(self) -> ModelVersion:
        promoted = self._registry.rollback()
        self._answer = None
        return promoted
