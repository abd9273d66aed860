"""Spotify "Download your data" streaming history, account or extended format.

PATH is one JSON file, a listener's directory of them, or a directory holding
one directory per listener (named after the listener). ``--user`` names the
listener of a single file or directory. Files read:

- account data ``StreamingHistory*.json``: ``endTime``, ``artistName``, ``trackName``,
  ``msPlayed`` (files named ``*podcast*`` hold podcast episodes);
- extended history ``Streaming_History_Audio_*.json`` / ``endsong_*.json``: ``ts``,
  ``ms_played``, ``master_metadata_track_name``, ``master_metadata_album_artist_name``,
  ``spotify_track_uri``, ``episode_name`` ...

Podcast episodes and zero-length plays are counted and left out. The exports carry
no track length, so a track's duration is estimated as the longest play of it seen
in the same ingest, and completion = ms_played / that longest play. Songs keep their
Spotify URI where the file has one, a name-derived id otherwise.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from adapters.common.tables import play_rows
from adapters.sources.catalogue_builder import CatalogueCollector, ids_or_names
from adapters.sources.csv_checks import CONTROL, blank, parse_timestamp
from adapters.sources.feed import StreamingFeed, content_hash, first_failure
from adapters.sources.identity import artist_ids_from_names, song_ids_from_names
from domain.errors import InvalidInputFile, InvalidSetting
from domain.plays import MAX_PLAY_MS
from domain.ports import Catalogue, Progress, SessionSource, SourceRequest

PATTERNS = ("StreamingHistory*.json", "Streaming_History_Audio_*.json", "endsong_*.json")
RAW = pa.schema([("file", pa.string()), ("user_id", pa.string()), ("played_at", pa.string()),
                 ("ms_played", pa.int64()), ("artist_name", pa.string()), ("track_name", pa.string()),
                 ("track_uri", pa.string()), ("podcast", pa.bool_()), ("problem", pa.string())])
BATCH_ROWS = 250_000


def _files(directory: Path) -> list[Path]:
    found = {f for pattern in PATTERNS for f in directory.glob(pattern)}
    return sorted(f for f in found if f.is_file())


def _records(path: Path) -> list:
    try:
        text = path.read_bytes().decode("utf-8-sig")  # some tools save the export with a BOM
        records = json.loads(text)
    except OSError as error:  # a directory or a symlink loop under an export's name
        raise InvalidInputFile(str(path), f"cannot be read ({error.strerror or error})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InvalidInputFile(str(path), f"not a Spotify JSON export ({error})") from None
    except RecursionError:
        raise InvalidInputFile(str(path), "not a Spotify JSON export (nested too deeply)") from None
    if not isinstance(records, list):
        raise InvalidInputFile(str(path), "not a Spotify JSON export (expected a list of plays)")
    return records


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def milliseconds(value: object) -> int | None:
    """A JSON number of milliseconds within a day, else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value) or abs(value) > MAX_PLAY_MS:
        return None
    return int(value)


def _rows(path: Path, user: str) -> pa.Table:
    records = _records(path)
    extended = any(isinstance(r, dict) and "ts" in r for r in records[:10])
    whole_file_podcast = "podcast" in path.name.lower()
    fields = (("ts", "ms_played", "master_metadata_album_artist_name", "master_metadata_track_name",
               "spotify_track_uri") if extended else
              ("endTime", "msPlayed", "artistName", "trackName", None))
    time_field, ms_field, artist_field, track_field, uri_field = fields
    dicts = [r if isinstance(r, dict) else {} for r in records]
    get = dict.get
    given_ms = [get(r, ms_field) for r in dicts]
    ms_played = [milliseconds(value) for value in given_ms]
    columns = {
        "played_at": [_text(get(r, time_field)) for r in dicts],
        "ms_played": ms_played,
        "artist_name": [_text(get(r, artist_field)) for r in dicts],
        "track_name": [_text(get(r, track_field)) for r in dicts],
        "track_uri": [_text(get(r, uri_field)) if uri_field else None for r in dicts],
        "podcast": ([bool(get(r, "episode_name") or get(r, "spotify_episode_uri")) or
                     (get(r, track_field) is None and get(r, uri_field) is None) for r in dicts]
                    if extended else [whole_file_podcast] * len(dicts)),
        # why a record is no play at all, before its values are looked at
        "problem": ["not a play record (expected a JSON object)" if not isinstance(record, dict) else
                    f"{ms_field} is not a number of milliseconds within a day"
                    if given is not None and ms is None else None
                    for record, given, ms in zip(records, given_ms, ms_played, strict=True)],
    }
    n = len(records)
    return pa.table({"file": [path.name] * n, "user_id": [user] * n, **columns}, schema=RAW)


class SpotifyHistoryFeed(StreamingFeed):
    def __init__(self, listeners: list[tuple[str, list[Path]]], name: str, rejects_path: Path | None):
        self.listeners = listeners
        super().__init__(name, content_hash([(user, f) for user, fs in listeners for f in fs],
                                            "spotify-history"), rejects_path)
        self.first_row = 1  # rejects count plays across all files read, with the file named
        self.collector = CatalogueCollector()

    def raw_rows(self, progress: Progress) -> pa.Table:
        """Every record read, as ``RAW`` rows."""
        files = [(user, f) for user, fs in self.listeners for f in fs]
        progress.start("reading Spotify exports", total=len(files))
        tables = []
        for user, path in files:
            tables.append(_rows(path, user))
            progress.advance()
        return pa.concat_tables(tables)

    def chunks(self, progress: Progress) -> Iterator[tuple[pa.Table, pa.Array, pa.Table]]:
        raw = self.raw_rows(progress)
        played_at = parse_timestamp(raw.column("played_at"))
        reason = first_failure([
            (pc.is_valid(raw.column("problem")), raw.column("problem")),
            (pc.fill_null(raw.column("podcast"), False), "podcast episode"),
            (pc.is_null(raw.column("ms_played")), "missing ms_played"),
            (pc.less_equal(raw.column("ms_played"), 0), "zero-length play"),
            (pc.is_null(played_at), "unparseable or impossible time"),
            (pc.and_(blank(raw.column("track_name")), blank(raw.column("track_uri"))),
             "no track name or URI"),
        ], raw.num_rows)
        good = pc.is_null(reason)
        artist = pc.fill_null(raw.column("artist_name"), "")
        song_id = ids_or_names(raw.column("track_uri"), song_ids_from_names(artist, pc.fill_null(
            raw.column("track_name"), "")))
        completion = self.completion(raw, song_id, good)
        clean = play_rows(raw.column("user_id"), song_id, completion, played_at, keep=good,
                          identity=(raw.column("ms_played"),))
        named = pc.and_(good, pc.invert(blank(raw.column("track_name"))))
        self.collector.add(named, song_id, raw.column("track_name"), artist_ids_from_names(artist),
                           raw.column("artist_name"))
        clean_start = 0
        for start in range(0, raw.num_rows, BATCH_ROWS):
            clean_rows = pc.sum(good.slice(start, BATCH_ROWS)).as_py() or 0
            yield (raw.slice(start, BATCH_ROWS), reason.slice(start, BATCH_ROWS),
                   clean.slice(clean_start, clean_rows))
            clean_start += clean_rows

    def completion(self, raw: pa.Table, song_id: pa.Array, good: pa.Array) -> pa.Array:
        """Each play's completion: ms played over the song's longest play in this input."""
        ms_played = raw.column("ms_played")
        plays = pa.table({"song_id": song_id, "ms": pc.cast(ms_played, pa.float64())}).filter(good)
        longest = plays.group_by("song_id", use_threads=False).aggregate([("ms", "max")])
        if longest.num_rows == 0:  # every record was refused
            return pa.repeat(pa.scalar(0.0), len(song_id))
        position = pc.index_in(song_id, value_set=longest.column("song_id"))
        estimate = pc.take(longest.column("ms_max"), pc.fill_null(position, 0))
        played = pc.cast(pc.fill_null(ms_played, 0), pa.float64())
        ratio = pc.divide(played, pc.max_element_wise(estimate, 1.0))
        return pc.min_element_wise(ratio, 1.0)

    def catalogue(self) -> Catalogue:
        return self.collector.catalogue()


class SpotifyHistorySource(SessionSource):
    def open(self, request: SourceRequest) -> SpotifyHistoryFeed:
        path = request.path or Path(".")
        user = request.options.get("user")
        if user is not None and (not user.strip() or re.search(CONTROL, user)):
            raise InvalidSetting(f"--user {user!r}: give a listener name without line breaks or "
                                 "control characters")
        try:
            listeners = self._listeners(path, user)
        except OSError as error:  # a symlink loop, no permission
            raise InvalidInputFile(str(path), f"cannot be read ({error.strerror or error})") from None
        if not listeners:
            raise InvalidInputFile(str(path), "no StreamingHistory*.json, Streaming_History_Audio_*.json "
                                   "or endsong_*.json files here or in its subdirectories")
        return SpotifyHistoryFeed(listeners, str(path), request.rejects_path)

    @staticmethod
    def _listeners(path: Path, user: str | None) -> list[tuple[str, list[Path]]]:
        if not path.exists():
            raise InvalidInputFile(str(path), "not found; give a Spotify export file or directory")
        if path.is_file():
            return [(user or path.resolve().parent.name, [path])]
        if _files(path):
            return [(user or path.resolve().name, _files(path))]
        return [(d.name, _files(d)) for d in sorted(path.iterdir()) if d.is_dir() and _files(d)]
