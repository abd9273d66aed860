"""Atomic writes: a reader sees the old files or the new ones, never a half-write."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_file(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; replace ``path`` with it on success."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@contextmanager
def atomic_directory_files(directory: Path) -> Iterator[Path]:
    """Yield a staging directory; on success move each file in it into ``directory``.

    Files are staged completely before any is moved, so a failure while writing
    leaves ``directory`` as it was.
    """
    directory.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=directory))
    try:
        yield staging
        for item in sorted(staging.iterdir()):
            os.replace(item, directory / item.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
