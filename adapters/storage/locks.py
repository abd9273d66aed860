"""One writer at a time per store: a lock file held for a whole read-modify-write.

``filelock`` locks with ``flock``: the operating system releases the lock when its
holder dies, so a killed writer never leaves the store locked.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from domain.errors import StoreBusy

log = logging.getLogger(__name__)
LOCK_FILE = ".writer.lock"
# Another writer is normally done within minutes (an ingest of millions of plays, a save);
# past this, something is stuck and the user should hear of it.
WAIT_S = 900.0


@contextmanager
def writer_lock(directory: Path, what: str, wait_s: float = WAIT_S) -> Iterator[None]:
    """Hold ``directory``'s writer lock; wait for another writer, then give up with StoreBusy."""
    directory.mkdir(parents=True, exist_ok=True)
    lock = FileLock(directory / LOCK_FILE)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        log.warning("another engine command is writing %s; waiting for it to finish", directory)
        try:
            lock.acquire(timeout=wait_s)
        except Timeout:
            raise StoreBusy(f"{directory}: another engine command has been writing {what} for over "
                            f"{wait_s:.0f} s (lock {directory / LOCK_FILE}); wait for it or stop it, "
                            "then try again") from None
    try:
        yield
    finally:
        lock.release()


def is_held(lock_path: Path) -> bool:
    """Whether a live process holds this lock file (a dead holder's lock is free)."""
    lock = FileLock(lock_path)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return True
    lock.release()
    return False
