"""The seed's raw layout: raw_sessions.csv plus the metadata files beside it.

Sessions stream in Arrow record batches, every column read as text so that one
bad cell rejects one row, not the file. Rejected rows go to a CSV with their
line number and reason. ``ms_played`` longer than the track counts as a full
play (completion 1.0).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from adapters.common.tables import CATALOGUE_SCHEMAS, play_rows
from adapters.sources.csv_checks import (
    blank,
    has_control,
    parse_number,
    parse_timestamp,
    require_file,
)
from adapters.sources.feed import StreamingFeed, content_hash, first_failure
from adapters.sources.tabular import open_text_table, read_text_table
from domain.errors import InvalidInputFile
from domain.plays import MAX_PLAY_MS
from domain.ports import Catalogue, Progress, SessionSource, SourceRequest

SESSION_COLUMNS = ("user_id", "track_id", "timestamp", "ms_played", "track_duration_ms")
DEFAULT_FILES = {
    "sessions": "raw_sessions.csv",
    "tracks": "tracks.csv",
    "genres": "genres.csv",
    "artist_genres": "artist_genres.csv",
    "song_genres": "song_genres.csv",
    "user_preferences": "user_genre_preferences.csv",
    "users": "users.csv",
}
REQUIRED_FILES = ("sessions", "tracks")


def _text(table: pa.Table, name: str) -> pa.Array:
    return pc.utf8_trim_whitespace(table.column(name))


# Bounds of the numbers in the metadata files: (lowest, highest).
METADATA_RANGES = {"duration_ms": (0, MAX_PLAY_MS), "affinity_score": (0.0, 1.0), "popularity": (0.0, 1e9)}


def _number(table: pa.Table, name: str, kind: pa.DataType, path: Path) -> pa.Array:
    """A metadata column as numbers; an empty cell is unknown, anything else out of its
    range makes the file unusable (its row is named)."""
    low, high = METADATA_RANGES[name]
    column = table.column(name)
    value, ok = parse_number(column, high)
    given = pc.invert(blank(column))
    wrong = pc.and_(given, pc.or_(pc.invert(ok), pc.less(value, low)))
    if pc.any(wrong).as_py():
        row = pc.index(wrong, True).as_py()
        raise InvalidInputFile(str(path), f"row {row + 2}: {name} {column[row].as_py()!r} is not a number "
                               f"from {low:g} to {high:g}; fix or empty the cell")
    return pc.if_else(pc.and_(given, ok), pc.cast(value, kind, safe=False), pa.scalar(None, kind))


def _ids(table: pa.Table, name: str, path: Path) -> pa.Array:
    """An id column of a metadata file; ids with line breaks or control characters are refused."""
    column = table.column(name)
    broken = has_control(column)
    if pc.any(broken).as_py():
        row = pc.index(broken, True).as_py()
        raise InvalidInputFile(str(path), f"row {row + 2}: {name} {column[row].as_py()!r} holds a line "
                               "break or control character")
    return pc.utf8_trim_whitespace(column)


def _catalogue_table(name: str, columns: dict[str, pa.Array]) -> pa.Table:
    schema = CATALOGUE_SCHEMAS[name]
    return pa.table({field.name: columns[field.name] for field in schema}).cast(schema)


class SeedCsvFeed(StreamingFeed):
    first_row = 2  # line 1 is the header

    def __init__(self, files: dict[str, Path], rejects_path: Path | None) -> None:
        self._files = files
        sessions = files["sessions"]
        self._tracks = read_text_table(files["tracks"], "tracks.csv", ("track_id",))
        self._known_songs = pc.unique(_ids(self._tracks, "track_id", files["tracks"]))
        self._reader = open_text_table(sessions, "sessions file", SESSION_COLUMNS)
        present = [(role, path) for role, path in files.items() if path.is_file()]
        super().__init__(str(sessions), content_hash(present, "seed"), rejects_path)

    def catalogue(self) -> Catalogue:
        tracks = self._tracks
        has = tracks.column_names.__contains__
        none = pa.nulls(tracks.num_rows, pa.string())
        songs = _catalogue_table("songs", {
            "song_id": _text(tracks, "track_id"),
            "song_name": tracks.column("track_name") if has("track_name") else none,
            "artist_id": _text(tracks, "artist_id") if has("artist_id") else none,
            "duration_ms": _number(tracks, "duration_ms", pa.int64(), self._files["tracks"])
            if has("duration_ms")
            else pa.nulls(tracks.num_rows, pa.int64()),
        })
        if has("artist_id"):
            artist_rows = tracks.filter(pc.invert(blank(tracks.column("artist_id"))))
            names = (artist_rows.column("artist_name") if has("artist_name")
                     else pa.nulls(artist_rows.num_rows, pa.string()))
            artists = pa.table({"artist_id": _ids(artist_rows, "artist_id", self._files["tracks"]),
                                "artist_name": names})
            artists = artists.group_by("artist_id", use_threads=False).aggregate(
                [("artist_name", "first")]).rename_columns(["artist_id", "artist_name"])
            artists = _catalogue_table("artists", dict(zip(artists.column_names, artists.columns,
                                                           strict=True)))
        else:
            artists = CATALOGUE_SCHEMAS["artists"].empty_table()
        tables = {"songs": songs.filter(pc.invert(blank(songs.column("song_id")))),
                  "artists": artists}
        tables.update(self._optional_tables())
        return Catalogue(tables)

    def _optional_tables(self) -> dict[str, pa.Table]:
        specs = {
            "genres": (("genre_id", "genre_name"), ("popularity",)),
            "artist_genres": (("artist_id", "genre_id"), ()),
            "song_genres": (("track_id", "genre_id"), ()),
            "user_preferences": (("user_id", "genre_id", "affinity_score"), ()),
            "users": (("user_id", "user_type"), ()),
        }
        tables: dict[str, pa.Table] = {}
        for name, (required, optional) in specs.items():
            path = self._files.get(name)
            if path is None or not path.exists():
                tables[name] = CATALOGUE_SCHEMAS[name].empty_table()
                continue
            raw = read_text_table(path, path.name, required)
            columns: dict[str, pa.Array] = {}
            for column in (*required, *optional):
                target = "song_id" if column == "track_id" else column
                if column not in raw.column_names:
                    columns[target] = pa.nulls(raw.num_rows, pa.float64())
                elif CATALOGUE_SCHEMAS[name].field(target).type == pa.float64():
                    columns[target] = _number(raw, column, pa.float64(), path)
                elif column in required:
                    columns[target] = _ids(raw, column, path)
                else:
                    columns[target] = _text(raw, column)
            tables[name] = _catalogue_table(name, columns)
        return tables

    def chunks(self, progress: Progress) -> Iterator[tuple[pa.Table, pa.Array, pa.Table]]:
        path = self._files["sessions"]
        progress.start(f"ingesting {path.name}", total=path.stat().st_size)
        for record_batch in self._reader:
            batch = pa.Table.from_batches([record_batch]).select(list(SESSION_COLUMNS))
            reason, clean = self._validate(batch)
            progress.advance(record_batch.nbytes * 0.9)
            yield batch, reason, clean

    def _validate(self, batch: pa.Table) -> tuple[pa.Array, pa.Table]:
        user = batch.column("user_id")
        song = batch.column("track_id")
        played_at = parse_timestamp(batch.column("timestamp"))
        ms_played, ms_ok = parse_number(batch.column("ms_played"), MAX_PLAY_MS)
        duration, duration_ok = parse_number(batch.column("track_duration_ms"), MAX_PLAY_MS)
        reason = first_failure([
            (blank(user), "blank user_id"),
            (has_control(user), "user_id holds a line break or control character"),
            (blank(song), "blank track_id"),
            (pc.invert(pc.is_in(song, value_set=self._known_songs)), "track_id not in tracks.csv"),
            (pc.is_null(played_at), "unparseable or impossible timestamp"),
            (pc.invert(ms_ok), "non-numeric or out-of-range ms_played"),
            (pc.less(ms_played, 0), "negative ms_played"),
            (pc.invert(duration_ok), "missing, non-numeric or out-of-range track_duration_ms"),
            (pc.less_equal(duration, 0), "zero or negative track_duration_ms"),
        ], batch.num_rows)
        completion = pc.min_element_wise(pc.divide(ms_played, pc.max_element_wise(duration, 1.0)), 1.0)
        clean = play_rows(user, song, completion, played_at, keep=pc.is_null(reason), identity=(ms_played,))
        return reason, clean


class SeedCsvSource(SessionSource):
    """Opens a directory in the generator's layout, or explicit files."""

    def open(self, request: SourceRequest) -> SeedCsvFeed:
        files: dict[str, Path] = {}
        if request.path is not None:
            if request.path.is_file():
                files["sessions"] = request.path
            else:
                files = {role: request.path / name for role, name in DEFAULT_FILES.items()}
        files.update(request.files)
        if "sessions" not in files:
            raise InvalidInputFile(DEFAULT_FILES["sessions"], "no sessions file given; give PATH")
        files.setdefault("tracks", files["sessions"].parent / DEFAULT_FILES["tracks"])
        for role in REQUIRED_FILES:
            require_file(files[role], f"{DEFAULT_FILES[role]} ({role})",
                         f"pass it with --{role} or point at a directory that holds it")
        return SeedCsvFeed(files, request.rejects_path)

