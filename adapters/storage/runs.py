"""Training runs on disk: each run is one directory that appears whole.

``models/<kind>/CURRENT`` names the published run (``run-<UTC time>-<hex>``). A run is
written in a staging directory, renamed into place and only then pointed at, under the
kind's writer lock; so a reader sees the previous run or the complete new one, and two
trainings of one kind never mix their files. Staging directories of killed runs, older
runs and temporary files are removed by the next publish.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from filelock import FileLock

from adapters.storage.locks import writer_lock
from adapters.storage.versions import OWNER_LOCK, STAGING_PREFIX, VersionedDirectory
from domain.errors import CorruptStore

RUN_NAME = re.compile(r"run-[0-9TZ]+-[0-9a-f]+")


@dataclass(frozen=True)
class StagedRun:
    staging: Path  # written while training
    final: Path  # where it lives once published


class RunStore:
    def __init__(self, models_dir: Path) -> None:
        self.models_dir = Path(models_dir)

    def _runs(self, kind: str) -> VersionedDirectory:
        def damaged(path: Path, problem: str) -> CorruptStore:
            return CorruptStore(f"{path}: {problem}; retrain with `engine train --model {kind}`")

        return VersionedDirectory(self.models_dir / kind, RUN_NAME, damaged, noun="run")

    def current(self, kind: str) -> Path | None:
        """The published run of ``kind``, None when there is none."""
        return self._runs(kind).current()

    def latest_kind(self, kinds: tuple[str, ...]) -> str | None:
        """The kind whose published run is the most recent."""
        published = [(run.name, kind) for kind in kinds if (run := self.current(kind)) is not None]
        return max(published)[1] if published else None

    @contextmanager
    def new_run(self, kind: str) -> Iterator[StagedRun]:
        """A staging directory to write a run into; published as ``kind``'s run on success."""
        runs = self._runs(kind)
        runs.home.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        name = f"run-{stamp}-{uuid.uuid4().hex[:8]}"
        staging = runs.home / f"{STAGING_PREFIX}{name}"
        owner = FileLock(staging / OWNER_LOCK)
        with writer_lock(runs.home, f"the {kind} model"):  # so that no publish sees it unowned
            staging.mkdir()
            owner.acquire()
        try:
            yield StagedRun(staging, runs.home / name)
            with writer_lock(runs.home, f"the {kind} model"):
                (staging / OWNER_LOCK).unlink()
                os.replace(staging, runs.home / name)
                runs.publish(name)
        finally:
            owner.release()
            shutil.rmtree(staging, ignore_errors=True)
