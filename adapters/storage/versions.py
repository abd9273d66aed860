"""A directory of complete versions, one of which a ``CURRENT`` pointer names.

Both the interaction store (``v-<hex>``) and each model kind's runs (``run-<time>-<hex>``)
are kept this way: a version is written whole beside the others, then the pointer is
swapped atomically, under the directory's writer lock. The pointer may only name a
version of this directory, never a path outside it. Publishing removes what is left
over: temporary files, staging directories whose writer has died and, unless the directory
keeps its versions (model runs do: the registry names them), the other versions.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

from adapters.common.atomic import atomic_file
from adapters.storage.locks import is_held
from domain.errors import EngineError

POINTER = "CURRENT"
STAGING_PREFIX = ".staging-"
OWNER_LOCK = ".owner.lock"  # held by the process that writes a staging directory


class VersionedDirectory:
    def __init__(self, home: Path, version_name: re.Pattern[str],
                 damaged: Callable[[Path, str], EngineError], noun: str = "version",
                 keep_versions: bool = False) -> None:
        self.home = Path(home)
        self._keep_versions = keep_versions  # publishing leaves earlier versions in place
        self._version_name = version_name
        self._noun = noun  # what a version is called in messages: "version", "run"
        self._damaged = damaged  # the error to raise, given the file and what is wrong with it

    def current(self) -> Path | None:
        """The version the pointer names, None before the first publish."""
        pointer = self.home / POINTER
        try:
            name = pointer.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as error:
            raise self._damaged(pointer, f"unreadable ({error})") from None
        version = self.home / name
        if not self._version_name.fullmatch(name) or version.is_symlink() or not version.is_dir():
            raise self._damaged(pointer, f"names {name[:80]!r}, which is no {self._noun} of this store")
        return version

    def publish(self, name: str) -> None:
        """Point at the complete version ``name`` and remove what is left over; the caller
        holds the writer lock."""
        with atomic_file(self.home / POINTER) as tmp:
            tmp.write_text(name + "\n", encoding="utf-8")
        for entry in self.home.iterdir():
            if entry.name == name or entry.is_symlink():
                continue
            if entry.is_dir():
                leftover = (self._version_name.fullmatch(entry.name) and not self._keep_versions or
                            entry.name.startswith(STAGING_PREFIX) and not is_held(entry / OWNER_LOCK))
                if leftover:
                    shutil.rmtree(entry, ignore_errors=True)
            elif entry.name.endswith(".tmp"):
                entry.unlink(missing_ok=True)
