"""What every session source shares: row accounting, the rejects file, content hashes."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from domain.errors import InvalidInputFile, first_line
from domain.ports import Progress, RejectLog, SessionFeed


def content_hash(files: Iterable[tuple[str, Path]], *settings: object) -> str:
    """SHA-256 over everything that decides what an ingest stores: each file's bytes with the
    role it plays (or the listener it belongs to), and the settings that change how it is
    read. File names do not count: the same bytes under another name are the same input."""
    parts = sorted(f"{role}\0{_file_digest(path)}" for role, path in files)
    digest = hashlib.sha256("\n".join(parts).encode())
    digest.update(repr(settings).encode())
    return digest.hexdigest()


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(4 << 20):
                digest.update(chunk)
    except OSError as error:
        raise InvalidInputFile(str(path), f"cannot be read ({error.strerror or error})") from None
    return digest.hexdigest()


def first_failure(checks: list[tuple[pa.Array, str | pa.Array]], rows: int) -> pa.Array:
    """The reason of the first failed check per row (checks in order), null when all pass;
    a reason may be one text for all rows or a text per row."""
    reason = pa.nulls(rows, pa.string())
    for failed, why in reversed(checks):
        reason = pc.if_else(pc.fill_null(failed, True), why, reason)
    return reason


class StreamingFeed(SessionFeed):
    """Subclasses yield (raw rows, reason per raw row or null, clean play rows) per chunk;
    this class counts rows and writes rejected ones, with their position, to the rejects file."""

    first_row = 1  # number of the first data row as a person counts it in the file

    def __init__(self, name: str, digest: str, rejects_path: Path | None) -> None:
        self.name = name
        self.content_hash = digest
        self.rejects = RejectLog(path=rejects_path)
        self.notes: list[str] = []
        self._rows_read = 0
        self._writer: pacsv.CSVWriter | None = None

    @property
    def rows_read(self) -> int:
        return self._rows_read

    def chunks(self, progress: Progress) -> Iterator[tuple[pa.Table, pa.Array, pa.Table]]:
        raise NotImplementedError

    def batches(self, progress: Progress) -> Iterator[pa.Table]:
        try:
            for raw, reason, clean in self.chunks(progress):
                first = self.first_row + self._rows_read
                self._rows_read += raw.num_rows
                bad = pc.is_valid(reason)
                if pc.any(bad).as_py():
                    self._reject(raw, reason, bad, first)
                yield clean
        except pa.ArrowInvalid as error:  # a file that stops parsing part way
            raise InvalidInputFile(self.name, f"unreadable near row {self.first_row + self._rows_read}: "
                                   f"{first_line(error)}") from None
        finally:
            if self._writer is not None:
                self._writer.close()
                self._writer = None
            progress.finish()

    def reject(self, why: str, count: int = 1) -> None:
        """Count rows left out before they became raw rows (e.g. whole JSON records)."""
        self.rejects.reasons[why] = self.rejects.reasons.get(why, 0) + count
        self.rejects.count += count

    def reject_lines(self, lines: list[tuple[int | None, str]], why: str, columns: list[str]) -> None:
        """Lines the reader could not split into ``columns``: their text goes in the first one."""
        if not lines:
            return
        self.reject(why, len(lines))
        table = pa.table({"line": pa.array([n for n, _ in lines], pa.int64()),
                          "reason": [why] * len(lines), columns[0]: [text for _, text in lines],
                          **{c: pa.nulls(len(lines), pa.string()) for c in columns[1:]}})
        self._write_rejected(table)

    def _reject(self, raw: pa.Table, reason: pa.Array, bad: pa.Array, first: int) -> None:
        rows = pa.array(range(first, first + raw.num_rows), pa.int64())
        rejected = raw.add_column(0, "line", rows).add_column(1, "reason", reason).filter(bad)
        for why, n in zip(*pc.value_counts(rejected.column("reason")).flatten(), strict=True):
            self.reject(why.as_py(), n.as_py())
        self._write_rejected(rejected)

    def _write_rejected(self, rejected: pa.Table) -> None:
        if self.rejects.path is None:
            return
        rejected = rejected.cast(pa.schema([(f.name, f.type if f.name == "line" else pa.string())
                                            for f in rejected.schema]))
        if self._writer is None:
            self.rejects.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = pacsv.CSVWriter(self.rejects.path, rejected.schema)
        self._writer.write_table(rejected)
