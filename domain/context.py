"""Listening context: the hour of the week a play happened (or a recommendation is asked
for), the context a context-aware model adds to the listener's side of the score.

Hours are UTC, as the stored play times are (Spotify exports and Last.fm logs give UTC).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from domain.errors import InvalidSetting

HOURS_OF_WEEK = 168  # Monday 00:00-00:59 UTC is hour 0
_EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday (Monday = 0)


def hour_of_week(epoch_seconds: Any) -> Any:
    """The hour of the week (0 to 167) of UTC epoch seconds: an int, or an integer array
    element by element (only arithmetic operators, so numpy arrays pass through)."""
    return ((epoch_seconds // 86_400 + _EPOCH_WEEKDAY) % 7) * 24 + (epoch_seconds // 3_600) % 24


def parse_moment(text: str) -> int:
    """UTC epoch seconds of an ISO-8601 time (``2024-05-01T08:00``, ``...Z``, ``...+02:00``;
    without an offset it is taken as UTC); a clear error otherwise."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidSetting(f"--at {text!r}: not an ISO-8601 time; write it like 2024-05-01T08:00 "
                             "(UTC) or 2024-05-01T08:00+02:00") from None
    return epoch_seconds(moment)


def epoch_seconds(moment: datetime) -> int:
    """UTC epoch seconds of a time; one without an offset is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp())


def describe_hour(hour: int) -> str:
    """``Wednesday 08:00 UTC`` for an hour of the week."""
    days = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
    return f"{days[hour // 24]} {hour % 24:02d}:00 UTC"
