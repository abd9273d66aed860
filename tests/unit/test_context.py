from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.context import HOURS_OF_WEEK, describe_hour, hour_of_week, parse_moment
from domain.errors import InvalidSetting


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1)))
def test_the_hour_of_the_week_is_the_calendars(moment):
    moment = moment.replace(tzinfo=timezone.utc)
    hour = hour_of_week(int(moment.timestamp()))
    assert 0 <= hour < HOURS_OF_WEEK
    assert hour == moment.weekday() * 24 + moment.hour


def test_a_time_without_an_offset_is_utc_and_an_offset_is_honoured():
    utc = parse_moment("2024-05-01T08:00")  # a Wednesday
    assert describe_hour(hour_of_week(utc)) == "Wednesday 08:00 UTC"
    assert parse_moment("2024-05-01T10:00+02:00") == utc == parse_moment("2024-05-01T08:00:00Z")
    later = datetime(2024, 5, 1, 8, tzinfo=timezone.utc) + timedelta(days=6, hours=17)
    assert describe_hour(hour_of_week(int(later.timestamp()))) == "Wednesday 01:00 UTC"


@pytest.mark.parametrize("text", ["noon", "2024-13-01T08:00", ""])
def test_a_time_that_is_none_is_refused_naming_the_option(text):
    with pytest.raises(InvalidSetting, match="--at .*ISO-8601"):
        parse_moment(text)
