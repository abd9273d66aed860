"""Plays a client posted (``POST /v1/plays``), read as a Spotify export is read.

Each play names its listener (``user_id``) and its song, by ``song_id`` or by
``artist_name`` and ``song_name`` (the song then gets the name-derived id, as Spotify
exports do), with ``ms_played`` and ``played_at`` (ISO-8601; no zone means UTC); an optional
``duration_ms`` gives the song's length. Without it, a song's length is estimated as in a
Spotify export: its longest play in the same post.

A post is stored whole or not at all: the first play that ingest would reject fails it,
naming the play and the field (``plays[3].ms_played``). A play posted twice counts once
(play identity: listener, song, time and ms played).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from adapters.sources.csv_checks import blank, has_control
from adapters.sources.spotify_history import RAW, SpotifyHistoryFeed, milliseconds
from domain.errors import InvalidRecord
from domain.ports import Progress, SessionFeed, SessionSource, SourceRequest

FIELDS = ("user_id", "song_id", "artist_name", "song_name", "ms_played", "played_at", "duration_ms")
NOT_MILLISECONDS = "ms_played is not a number of milliseconds within a day"
# the field at fault for each reason a Spotify export's play is rejected
FIELD_OF_REASON = {"missing ms_played": "ms_played", "zero-length play": "ms_played",
                   "unparseable or impossible time": "played_at", "no track name or URI": "song_id"}


class PostedPlaysFeed(SpotifyHistoryFeed):
    def __init__(self, plays: Sequence[Mapping[str, Any]]) -> None:
        self.plays = [{name: play.get(name) for name in FIELDS} for play in plays]
        super().__init__([], "posted plays", None)
        canonical = json.dumps(self.plays, sort_keys=True, default=str).encode()
        self.content_hash = hashlib.sha256(b"posted-plays\0" + canonical).hexdigest()
        self.first_row = 0  # rows are numbered as the list is: plays[0] first

    def raw_rows(self, progress: Progress) -> pa.Table:
        plays = self.plays
        n = len(plays)
        users = pa.array([p["user_id"] for p in plays], pa.string())
        bad_user = pc.or_(blank(users), has_control(users))
        for index, bad in enumerate(bad_user.to_pylist()):
            if bad:
                raise InvalidRecord(f"plays[{index}].user_id", "give the listener's id: not blank, "
                                    "without line breaks or control characters")
        for index, play in enumerate(plays):
            if not play["song_id"] and not (play["artist_name"] and play["song_name"]):
                raise InvalidRecord(f"plays[{index}].song_id",
                                    "name the song: song_id, or artist_name and song_name")
        ms_played = [milliseconds(p["ms_played"]) for p in plays]
        return pa.table({
            "file": ["request"] * n, "user_id": users,
            "played_at": [None if p["played_at"] is None else str(p["played_at"]) for p in plays],
            "ms_played": ms_played,
            "artist_name": [p["artist_name"] for p in plays],
            "track_name": [p["song_name"] for p in plays],
            "track_uri": [p["song_id"] for p in plays],
            "podcast": [False] * n,
            "problem": [NOT_MILLISECONDS if p["ms_played"] is not None and ms is None else None
                        for p, ms in zip(plays, ms_played, strict=True)]}, schema=RAW)

    def completion(self, raw: pa.Table, song_id: pa.Array, good: pa.Array) -> pa.Array:
        estimated = super().completion(raw, song_id, good)
        duration = pa.array([p["duration_ms"] for p in self.plays], pa.float64())
        given = pc.min_element_wise(pc.divide(pc.cast(raw.column("ms_played"), pa.float64()),
                                              pc.max_element_wise(duration, 1.0)), 1.0)
        return pc.if_else(pc.is_valid(duration), given, estimated)

    def _reject(self, raw: pa.Table, reason: pa.Array, bad: pa.Array, first: int) -> None:
        index = pc.index(bad, True).as_py()
        why = reason[index].as_py()
        raise InvalidRecord(f"plays[{first + index}].{FIELD_OF_REASON.get(why, 'ms_played')}",
                            f"{why}; nothing was stored")


class PostedPlaysSource(SessionSource):
    def open(self, request: SourceRequest) -> SessionFeed:
        return PostedPlaysFeed(request.options["plays"])
