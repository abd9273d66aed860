"""Catalogue tables gathered while streaming sources that name songs inside the play log."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from adapters.common.tables import CATALOGUE_SCHEMAS
from domain.ports import Catalogue


class CatalogueCollector:
    """Keeps the first seen name of every song and artist, batch by batch."""

    def __init__(self) -> None:
        self._songs: list[pa.Table] = []
        self._artists: list[pa.Table] = []

    def add(self, keep: pa.Array, song_id: pa.Array, song_name: pa.Array | None = None,
            artist_id: pa.Array | None = None, artist_name: pa.Array | None = None) -> None:
        """Songs (and artists) of the rows ``keep`` marks; absent names stay unknown."""
        nothing = pa.nulls(len(song_id), pa.string())
        columns = {"song_id": song_id, "song_name": song_name, "artist_id": artist_id,
                   "artist_name": artist_name}
        rows = pa.table({k: nothing if v is None else v for k, v in columns.items()}).filter(keep)
        song_id, song_name, artist_id, artist_name = rows.columns
        songs = pa.table({"song_id": song_id, "song_name": song_name, "artist_id": artist_id})
        self._songs.append(songs.group_by("song_id", use_threads=False).aggregate(
            [("song_name", "first"), ("artist_id", "first")]))
        artists = pa.table({"artist_id": artist_id, "artist_name": artist_name}).drop_null()
        self._artists.append(artists.group_by("artist_id", use_threads=False).aggregate(
            [("artist_name", "first")]))

    def catalogue(self) -> Catalogue:
        tables = {name: schema.empty_table() for name, schema in CATALOGUE_SCHEMAS.items()}
        if self._songs:
            songs = pa.concat_tables(self._songs).group_by("song_id", use_threads=False).aggregate(
                [("song_name_first", "first"), ("artist_id_first", "first")])
            tables["songs"] = pa.table({
                "song_id": songs.column("song_id"), "song_name": songs.column("song_name_first_first"),
                "artist_id": songs.column("artist_id_first_first"),
                "duration_ms": pa.nulls(songs.num_rows, pa.int64())}, schema=CATALOGUE_SCHEMAS["songs"])
        if self._artists:
            artists = pa.concat_tables(self._artists).group_by("artist_id", use_threads=False).aggregate(
                [("artist_name_first", "first")])
            tables["artists"] = pa.table({"artist_id": artists.column("artist_id"),
                                          "artist_name": artists.column("artist_name_first_first")},
                                         schema=CATALOGUE_SCHEMAS["artists"])
        return Catalogue(tables)


def ids_or_names(ids: pa.Array, derived: pa.Array) -> pa.Array:
    """The source's own id where it has one, the name-derived id otherwise."""
    return pc.if_else(pc.fill_null(pc.equal(pc.utf8_trim_whitespace(ids), ""), True), derived, ids)
