"""Whole-file checks and row-level validation helpers shared by CSV sources."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from domain.errors import InvalidInputFile

NUMBER = r"^\s*-?\d+(\.\d*)?\s*$"
TIMESTAMP_FORMATS = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M")


def require_file(path: Path, what: str, hint: str) -> Path:
    if not path.exists():
        raise InvalidInputFile(str(path), f"{what} not found; {hint}")
    if not path.is_file():
        raise InvalidInputFile(str(path), f"{what} is not a file")
    if path.stat().st_size == 0:
        raise InvalidInputFile(str(path), f"{what} is empty; expected a CSV file with a header row")
    return path


def check_columns(path: Path, names: list[str], required: tuple[str, ...]) -> None:
    missing = [c for c in required if c not in names]
    if missing:
        found = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
        raise InvalidInputFile(
            str(path), f"missing required column(s) {', '.join(missing)} (found: {found})")


def blank(column: pa.Array) -> pa.Array:
    return pc.fill_null(pc.match_substring_regex(column, r"^\s*$"), True)


def parse_number(column: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(value as float64 with 0 where unparseable, mask of parseable cells)."""
    try:  # fast path: the whole batch is clean
        value = pc.cast(column, pa.float64())
        return pc.fill_null(value, 0.0), pc.is_valid(value)
    except pa.ArrowInvalid:
        pass
    ok = pc.fill_null(pc.match_substring_regex(column, NUMBER), False)
    text = pc.if_else(ok, pc.utf8_trim_whitespace(column), "0")
    return pc.cast(text, pa.float64()), ok


def parse_timestamp(column: pa.Array) -> pa.Array:
    """Epoch seconds (int64), null where the text is no ISO-8601 time; no zone means UTC."""
    # Try the zone-aware cast only when the data carries zones: its failure path is slow.
    sample = next((v for v in column.drop_null().slice(0, 1).to_pylist()), "")
    zoned = re.search(r"(Z|[+-]\d\d:?\d\d)$", sample.strip()) is not None
    target = pa.timestamp("ms", tz="UTC") if zoned else pa.timestamp("ms")
    try:  # fast path: the whole batch parses one way
        return pc.divide(pc.cast(pc.cast(column, target), pa.int64()), 1000)
    except pa.ArrowInvalid:
        pass
    text = pc.replace_substring_regex(pc.utf8_trim_whitespace(column), r"(\.\d+)?(Z|\+00:?00)$", "")
    parsed = [pc.strptime(text, format=f, unit="s", error_is_null=True) for f in TIMESTAMP_FORMATS]
    return pc.cast(pc.coalesce(*parsed), pa.int64())


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
