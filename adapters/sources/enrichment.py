"""Genre enrichment for sources without genres: a CSV of artist name -> genres.

Columns: ``artist_name`` and ``genres`` (several, separated by ``;`` or ``|``) or
``genre`` (one per row). Artist names match case-insensitively after the
normalisation of ``domain.identity``; genre names are normalised the same way
everywhere. Matched artists' songs inherit their genres.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from adapters.common.tables import CATALOGUE_KEYS, CATALOGUE_SCHEMAS, upsert
from adapters.sources.csv_checks import check_columns
from adapters.sources.identity import normalize_genres, normalize_names
from adapters.sources.tabular import read_text_table
from domain.errors import InvalidInputFile
from domain.ports import Catalogue, Progress, SessionFeed


def read_artist_genres(path: Path) -> pa.Table:
    """(artist key, genre name) pairs, both normalised."""
    table = read_text_table(path, "artist genres file", ("artist_name",))
    if "genres" in table.column_names:
        listed = pc.split_pattern_regex(pc.fill_null(table.column("genres"), ""), r"[;|]")
        keys = pc.list_parent_indices(listed)
        genres = pc.list_flatten(listed)
        artists = pc.take(table.column("artist_name"), keys)
    else:
        check_columns(path, table.column_names, ("genre",))
        artists, genres = table.column("artist_name"), table.column("genre")
    pairs = pa.table({"artist_key": normalize_names(pc.fill_null(artists, "")),
                      "genre_name": normalize_genres(pc.fill_null(genres, ""))})
    pairs = pairs.filter(pc.and_(pc.not_equal(pairs.column("artist_key"), ""),
                                 pc.not_equal(pairs.column("genre_name"), "")))
    if pairs.num_rows == 0:
        raise InvalidInputFile(str(path), "no (artist_name, genre) pairs found")
    return pairs.group_by(["artist_key", "genre_name"]).aggregate([])


def enrich(catalogue: Catalogue, pairs: pa.Table) -> tuple[Catalogue, dict[str, float]]:
    artists = catalogue["artists"]
    keys = normalize_names(pc.fill_null(artists.column("artist_name"), ""))
    named = pa.table({"artist_id": artists.column("artist_id"), "artist_key": keys})
    matched = named.join(pairs, "artist_key", join_type="inner")
    genre_ids = pc.binary_join_element_wise("genre:", matched.column("genre_name"), "")
    artist_genres = pa.table({"artist_id": matched.column("artist_id"), "genre_id": genre_ids})
    songs = catalogue["songs"].select(["song_id", "artist_id"])
    song_genres = songs.join(artist_genres, "artist_id", join_type="inner").select(["song_id", "genre_id"])
    uses = artist_genres.group_by("genre_id").aggregate([("artist_id", "count")])
    genres = pa.table({
        "genre_id": uses.column("genre_id"),
        "genre_name": pc.utf8_slice_codeunits(uses.column("genre_id"), 6),
        "popularity": pc.divide(pc.cast(uses.column("artist_id_count"), pa.float64()),
                                max(artist_genres.num_rows, 1))})
    tables = dict(catalogue.tables)
    for name, table in (("genres", genres), ("artist_genres", artist_genres), ("song_genres", song_genres)):
        tables[name] = upsert(tables[name], table.cast(CATALOGUE_SCHEMAS[name]), CATALOGUE_KEYS[name])
    covered_artists = len(pc.unique(matched.column("artist_id")))
    covered_songs = len(pc.unique(song_genres.column("song_id"))) if song_genres.num_rows else 0
    coverage = {"artists": covered_artists / max(artists.num_rows, 1),
                "songs": covered_songs / max(catalogue["songs"].num_rows, 1)}
    return Catalogue(tables), coverage


class GenreEnrichedFeed(SessionFeed):
    """A feed whose catalogue gains genres from an artist-genres file."""

    def __init__(self, feed: SessionFeed, artist_genres: Path) -> None:
        self._feed = feed
        self._pairs = read_artist_genres(artist_genres)
        self.name, self.content_hash, self.rejects = feed.name, feed.content_hash, feed.rejects
        self.notes = list(feed.notes)

    @property
    def rows_read(self) -> int:
        return self._feed.rows_read

    def batches(self, progress: Progress) -> Iterator[pa.Table]:
        return self._feed.batches(progress)

    def catalogue(self) -> Catalogue:
        catalogue, coverage = enrich(self._feed.catalogue(), self._pairs)
        self.notes.append(f"genre enrichment matched {coverage['artists']:.1%} of artists, "
                          f"{coverage['songs']:.1%} of songs")
        return catalogue
