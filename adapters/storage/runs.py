"""Training runs on disk: each run is one directory that appears whole.

``models/<kind>/CURRENT`` names the published run (``run-<UTC time>-<hex>``). A run is
written in a staging directory, renamed into place and only then pointed at, under the
kind's writer lock; so a reader sees the previous run or the complete new one, and two
trainings of one kind never mix their files. Earlier runs stay (each is a version in the
model registry); staging directories of killed runs and temporary files are removed by the
next publish.
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
from domain.errors import CheckpointError, CorruptStore
from domain.training import MODEL_KINDS

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

        return VersionedDirectory(self.models_dir / kind, RUN_NAME, damaged, noun="run", keep_versions=True)

    def relative(self, run: Path) -> str:
        """A run's directory as the registry records it: ``<kind>/<run name>``."""
        run = Path(run)
        return f"{run.parent.name}/{run.name}"

    def resolve(self, artifact: str) -> Path:
        """The directory of a run the registry names; never one outside the models directory."""
        kind, _, name = artifact.partition("/")
        if kind not in MODEL_KINDS or not RUN_NAME.fullmatch(name):
            raise CorruptStore(f"model registry: artifact {artifact[:80]!r} is no run of {self.models_dir}")
        run = self.models_dir / kind / name
        if run.is_symlink() or not run.is_dir():
            raise CheckpointError(f"{run}: this version's run is gone; promote another version "
                                  f"(`engine models list`) or retrain with `engine train --model {kind}`")
        return run

    def current(self, kind: str) -> Path | None:
        """The published run of ``kind``, None when there is none."""
        return self._runs(kind).current()

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
