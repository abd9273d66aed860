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

NUMBER = r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$"
# date, hour, minute, optional seconds and fraction, optional zone (Z, +HH:MM, +HHMM, +HH)
TIMESTAMP = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|[+-]\d{2}(:?\d{2})?)?$"
NO_TIME = "0000-00-00 00:00"  # what a cell of another shape is read as: no real time
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


def _as_text(column: pa.Array) -> pa.Array:
    # a cast from string to string copies every value: only columns of another type are cast
    return column if column.type == pa.string() else pc.cast(column, pa.string())


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
    column = _as_text(column)
    try:
        # Arrow's parser reads every decimal literal as the rule does and accepts beside them
        # only inf and nan, which the finiteness test refuses; where it takes the whole batch,
        # each cell's result is the rule's (a test holds them together)
        value = pc.cast(column, pa.float64())
        literal = pc.is_valid(value)
    except pa.ArrowInvalid:
        literal = pc.fill_null(pc.match_substring_regex(column, NUMBER), False)
        value = pc.cast(pc.if_else(literal, pc.utf8_trim_whitespace(column), "0"), pa.float64())
    ok = pc.and_(literal, pc.and_(pc.is_finite(value), pc.less_equal(pc.abs(value), maximum)))
    ok = pc.fill_null(ok, False)
    return pc.if_else(ok, value, 0.0), ok


def parse_timestamp(column: pa.Array) -> pa.Array:
    """Epoch seconds (int64), null where the cell is no real ISO-8601 time of a play; no zone
    means UTC."""
    text = pc.ascii_trim_whitespace(pc.fill_null(_as_text(column), ""))
    shaped = pc.match_substring_regex(text, TIMESTAMP)
    if pc.all(shaped).as_py():
        # Arrow's own parser is ten times faster and, where it accepts every cell of a batch
        # of this shape, reads each exactly as the rule below does (tests hold them together)
        for target in (pa.timestamp("s"), pa.timestamp("s", tz="UTC")):
            try:
                epoch = pc.cast(pc.cast(text, target), pa.int64())
            except pa.ArrowInvalid:
                continue
            return _play_time(epoch, pa.repeat(pa.scalar(True), len(text)))
    return times_by_parts(pc.if_else(shaped, text, NO_TIME))


def times_by_parts(text: pa.Array) -> pa.Array:
    """The rule itself, cell by cell, for trimmed cells of the TIMESTAMP shape (or NO_TIME)."""
    # the parts sit at fixed places: YYYY-MM-DD?HH:MM[:SS][.f][zone]
    head = pc.replace_substring(pc.utf8_slice_codeunits(text, 0, 19), " ", "T")
    with_seconds = pc.equal(pc.utf8_slice_codeunits(text, 16, 17), ":")
    parsed = pc.strptime(head, format="%Y-%m-%dT%H:%M:%S", unit="s", error_is_null=True)
    if not pc.all(with_seconds).as_py():
        minutes = pc.strptime(pc.utf8_slice_codeunits(head, 0, 16), format="%Y-%m-%dT%H:%M", unit="s",
                              error_is_null=True)
        parsed = pc.if_else(with_seconds, parsed, minutes)
    # strptime moves impossible dates (Feb 30 becomes Mar 1): the day and month must be the text's
    real = pc.and_(pc.equal(pc.day(parsed), _number_at(text, 8)),
                   pc.equal(pc.month(parsed), _number_at(text, 5)))
    zone = pc.ascii_trim_whitespace(pc.ascii_ltrim(pc.utf8_slice_codeunits(text, 16),
                                                   characters=":.0123456789"))
    epoch = pc.subtract(pc.cast(parsed, pa.int64()), _zone_offset(zone))
    return _play_time(epoch, pc.fill_null(real, False))


def _number_at(text: pa.Array, start: int) -> pa.Array:
    """The two digits at ``start`` of a shaped time, as a number."""
    return pc.cast(pc.utf8_slice_codeunits(text, start, start + 2), pa.int64())


def _play_time(epoch: pa.Array, real: pa.Array) -> pa.Array:
    """Epoch seconds where the text was a real date and the time lies between 1990 and now."""
    in_range = pc.and_(pc.greater_equal(epoch, EARLIEST_PLAY), pc.less_equal(epoch, latest_play()))
    return pc.if_else(pc.and_(real, pc.fill_null(in_range, False)), epoch, pa.scalar(None, pa.int64()))


def _zone_offset(zone: pa.Array) -> pa.Array:
    """Seconds east of UTC of 'Z', '+05:00', '-0330', '+05' (0 when absent)."""
    if pc.all(pc.is_in(zone, value_set=pa.array(["", "Z"]))).as_py():
        return pa.repeat(pa.scalar(0, pa.int64()), len(zone))  # UTC throughout: the common case
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
    column = _as_text(column)
    text = pc.utf8_trim_whitespace(pc.fill_null(column, ""))
    days = pa.nulls(len(column), pa.int64())
    for pattern, form in formats.items():
        matches = pc.fill_null(pc.match_substring_regex(text, pattern), False)
        parsed = pc.strptime(pc.if_else(matches, text, ""), format=form, unit="s", error_is_null=True)
        real = pc.fill_null(pc.equal(pc.strftime(parsed, format=form), text), False)
        days = pc.if_else(pc.and_(matches, real), pc.cast(parsed, pa.int64()), days)
    return _play_time(days, pc.is_valid(days))
