"""Whole-file checks and the one place that turns raw text cells into typed values.

Every rule applies to each cell on its own, whatever the rest of its batch holds:
a number is a decimal literal that is finite and within the column's bound, a time
is an ISO-8601 date and time on the real calendar (``2024-02-30`` is refused, not
moved to March) between 1990 and now, and only an empty cell is missing (``NA``,
``nan`` or ``NULL`` are text: a user or a title may be called that). Ids hold no
line breaks or other control characters.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from domain.errors import InvalidInputFile
from domain.plays import EARLIEST_PLAY, latest_play

NUMBER = r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d{1,3})?\s*$"
# date, hour, minute, optional seconds and fraction, optional zone (Z, +HH:MM, +HHMM, +HH)
TIMESTAMP = (r"^\s*(?P<date>\d{4}-\d{2}-\d{2})[T ](?P<hm>\d{2}:\d{2})(?::(?P<s>\d{2})(?:\.\d+)?)?"
             r"\s*(?P<zone>Z|[+-]\d{2}(?::?\d{2})?)?\s*$")
CONTROL = r"[\x00-\x1f\x7f]"
NULL_VALUES = [""]  # the only text read as missing


def require_file(path: Path, what: str, hint: str) -> Path:
    try:
        if not path.exists():
            raise InvalidInputFile(str(path), f"{what} not found; {hint}")
        if not path.is_file():
            raise InvalidInputFile(str(path), f"{what} is not a file")
        if path.stat().st_size == 0:
            raise InvalidInputFile(str(path), f"{what} is empty; expected a CSV file with a header row")
    except OSError as error:  # a symlink loop, a name too long, no permission
        raise InvalidInputFile(str(path), f"{what} cannot be read ({error.strerror})") from None
    return path


def check_columns(path: Path, names: list[str], required: tuple[str, ...]) -> None:
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InvalidInputFile(str(path), f"column(s) {', '.join(repeated)} appear more than once in the "
                               "header; name each column once")
    missing = [c for c in required if c not in names]
    if missing:
        found = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
        raise InvalidInputFile(
            str(path), f"missing required column(s) {', '.join(missing)} (found: {found})")


def blank(column: pa.Array) -> pa.Array:
    return pc.fill_null(pc.match_substring_regex(column, r"^\s*$"), True)


def has_control(column: pa.Array) -> pa.Array:
    """Cells holding a line break or another control character."""
    return pc.fill_null(pc.match_substring_regex(column, CONTROL), False)


def bad_id(column: pa.Array) -> pa.Array:
    """Blank ids and ids holding line breaks or other control characters."""
    return pc.or_(blank(column), has_control(column))


def parse_number(column: pa.Array, maximum: float = float("inf")) -> tuple[pa.Array, pa.Array]:
    """(value as float64, 0 where not ok; mask of cells that are finite decimals within
    [-maximum, maximum])."""
    column = pc.cast(column, pa.string())
    literal = pc.fill_null(pc.match_substring_regex(column, NUMBER), False)
    value = pc.cast(pc.if_else(literal, pc.utf8_trim_whitespace(column), "0"), pa.float64())
    ok = pc.and_(literal, pc.and_(pc.is_finite(value), pc.less_equal(pc.abs(value), maximum)))
    return pc.if_else(ok, value, 0.0), ok


def parse_timestamp(column: pa.Array) -> pa.Array:
    """Epoch seconds (int64), null where the cell is no real ISO-8601 time of a play; no zone
    means UTC."""
    column = pc.cast(column, pa.string())
    parts = pc.extract_regex(pc.fill_null(column, ""), TIMESTAMP)
    date, hm, seconds, zone = (pc.struct_field(parts, name) for name in ("date", "hm", "s", "zone"))
    seconds = pc.if_else(pc.equal(pc.fill_null(seconds, ""), ""), "00", seconds)
    local = pc.binary_join_element_wise(date, "T", hm, ":", seconds, "")
    parsed = pc.strptime(local, format="%Y-%m-%dT%H:%M:%S", unit="s", error_is_null=True)
    # strptime moves impossible dates (Feb 30 becomes Mar 1): only a round trip is the real calendar
    real = pc.equal(pc.strftime(parsed, format="%Y-%m-%dT%H:%M:%S"), local)
    epoch = pc.subtract(pc.cast(parsed, pa.int64()), _zone_offset(zone))
    return _play_time(epoch, pc.fill_null(real, False))


def _play_time(epoch: pa.Array, real: pa.Array) -> pa.Array:
    """Epoch seconds where the text was a real date and the time lies between 1990 and now."""
    in_range = pc.and_(pc.greater_equal(epoch, EARLIEST_PLAY), pc.less_equal(epoch, latest_play()))
    return pc.if_else(pc.and_(real, pc.fill_null(in_range, False)), epoch, pa.scalar(None, pa.int64()))


def _zone_offset(zone: pa.Array) -> pa.Array:
    """Seconds east of UTC of 'Z', '+05:00', '-0330', '+05' (0 when absent)."""
    zone = pc.replace_substring(pc.fill_null(zone, ""), ":", "")
    zone = pc.if_else(pc.equal(zone, "Z"), "+0000", zone)
    zone = pc.if_else(pc.equal(pc.utf8_length(zone), 3), pc.binary_join_element_wise(zone, "00", ""), zone)
    zone = pc.if_else(pc.equal(zone, ""), "+0000", zone)
    hours = pc.cast(pc.utf8_slice_codeunits(zone, 1, 3), pa.int64())
    minutes = pc.cast(pc.utf8_slice_codeunits(zone, 3, 5), pa.int64())
    offset = pc.add(pc.multiply(hours, 3600), pc.multiply(minutes, 60))
    return pc.if_else(pc.equal(pc.utf8_slice_codeunits(zone, 0, 1), "-"), pc.negate(offset), offset)


def real_days(column: pa.Array, formats: dict[str, str]) -> pa.Array:
    """Epoch seconds of dates in any of ``formats`` (regex -> strptime format), null for
    impossible or out-of-range dates."""
    column = pc.cast(column, pa.string())
    text = pc.utf8_trim_whitespace(pc.fill_null(column, ""))
    days = pa.nulls(len(column), pa.int64())
    for pattern, form in formats.items():
        matches = pc.fill_null(pc.match_substring_regex(text, pattern), False)
        parsed = pc.strptime(pc.if_else(matches, text, ""), format=form, unit="s", error_is_null=True)
        real = pc.fill_null(pc.equal(pc.strftime(parsed, format=form), text), False)
        days = pc.if_else(pc.and_(matches, real), pc.cast(parsed, pa.int64()), days)
    return _play_time(days, pc.is_valid(days))
