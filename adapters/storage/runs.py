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

from adapters.atomic import atomic_file
from adapters.storage.locks import LOCK_FILE, is_held, writer_lock
from domain.errors import CorruptStore

POINTER = "CURRENT"
RUN_NAME = re.compile(r"run-[0-9TZ]+-[0-9a-f]+")
STAGING_PREFIX = ".staging-"
OWNER_LOCK = ".owner.lock"  # held by the training process while it writes its staging directory


@dataclass(frozen=True)
class StagedRun:
    staging: Path  # written while training
    final: Path  # where it lives once published


class RunStore:
    def __init__(self, models_dir: Path) -> None:
        self.models_dir = Path(models_dir)

    def current(self, kind: str) -> Path | None:
        """The published run of ``kind``, None when there is none."""
        pointer = self.models_dir / kind / POINTER
        try:
            name = pointer.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as error:
            raise CorruptStore(f"{pointer}: unreadable ({error}); retrain with "
                               f"`engine train --model {kind}`") from None
        run = self.models_dir / kind / name
        if not RUN_NAME.fullmatch(name) or run.is_symlink() or not run.is_dir():
            raise CorruptStore(f"{pointer}: names {name[:80]!r}, which is no run of this store; "
                               f"retrain with `engine train --model {kind}`")
        return run

    def latest_kind(self, kinds: tuple[str, ...]) -> str | None:
        """The kind whose published run is the most recent."""
        published = [(run.name, kind) for kind in kinds if (run := self.current(kind)) is not None]
        return max(published)[1] if published else None

    @contextmanager
    def new_run(self, kind: str) -> Iterator[StagedRun]:
        """A staging directory to write a run into; published as ``kind``'s run on success."""
        home = self.models_dir / kind
        home.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        name = f"run-{stamp}-{uuid.uuid4().hex[:8]}"
        staging = home / f"{STAGING_PREFIX}{name}"
        owner = FileLock(staging / OWNER_LOCK)
        with writer_lock(home, f"the {kind} model"):  # so that no cleaning sees it unowned
            staging.mkdir()
            owner.acquire()
        try:
            yield StagedRun(staging, home / name)
            with writer_lock(home, f"the {kind} model"):
                (staging / OWNER_LOCK).unlink()
                os.replace(staging, home / name)
                with atomic_file(home / POINTER) as tmp:
                    tmp.write_text(name + "\n", encoding="utf-8")
                self._clean(home, keep=name)
        finally:
            owner.release()
            shutil.rmtree(staging, ignore_errors=True)

    @staticmethod
    def _clean(home: Path, keep: str) -> None:
        for entry in home.iterdir():
            if entry.name in (keep, POINTER, LOCK_FILE):
                continue
            if entry.name.startswith(STAGING_PREFIX) and is_held(entry / OWNER_LOCK):
                continue  # another training still writes it
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
