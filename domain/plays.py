"""What a play can be: the bounds every importer checks raw values against."""

from __future__ import annotations

from datetime import datetime, timezone

# Longer than a day is no single play (the longest tracks and live sets run a few hours).
MAX_PLAY_MS = 24 * 3600 * 1000
# HetRec's busiest user-artist pair has about 350,000 plays; a billion is garbage.
MAX_PLAY_COUNT = 10**9
# Streaming logs start in the 2000s (Last.fm 2002, Spotify 2008); earlier times are broken clocks.
EARLIEST_PLAY = int(datetime(1990, 1, 1, tzinfo=timezone.utc).timestamp())
# A play cannot end after the ingest that reads it; a day of slack absorbs clock skew.
FUTURE_SLACK_S = 24 * 3600


def latest_play(now: datetime | None = None) -> int:
    return int((now or datetime.now(timezone.utc)).timestamp()) + FUTURE_SLACK_S
