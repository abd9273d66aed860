"""HetRec 2011 Last.fm: user-artist play counts; artists are the recommendable items.

``user_artists.dat`` gives total plays per (user, artist); there are no single
plays, times or durations, so each pair becomes one row carrying its play count
with full completion. Each artist's three most used tags (``tags.dat`` is
latin-1), among the 200 most used tags overall, become its genres. Tagged
artists missing from ``artists.dat`` are ignored; so are the tag dates (some
years are bogus).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from adapters.common.tables import CATALOGUE_SCHEMAS, play_rows
from adapters.sources.csv_checks import bad_id, blank, parse_number
from adapters.sources.feed import StreamingFeed, content_hash, first_failure
from adapters.sources.identity import normalize_genres
from adapters.sources.tabular import open_text_table, read_text_table
from domain.plays import MAX_PLAY_COUNT
from domain.ports import Catalogue, Progress, SessionSource, SourceRequest

TAGS_PER_ARTIST = 3
# Genres come from a controlled vocabulary: the most used tags overall. The long tail of
# 9,749 free-form tags would make thousands of one-artist "genres".
GENRE_VOCABULARY = 200
TSV = {"delimiter": "\t", "quoting": False}


class LastfmHetrecFeed(StreamingFeed):
    def __init__(self, directory: Path, rejects_path: Path | None) -> None:
        self.plays_path = directory / "user_artists.dat"
        self.tags_path = directory / "tags.dat"
        self.tagged_path = directory / "user_taggedartists.dat"
        self.artists = read_text_table(directory / "artists.dat", "HetRec artists.dat", ("id", "name"), **TSV)
        self._plays = open_text_table(self.plays_path, "HetRec user_artists.dat",
                                      ("userID", "artistID", "weight"), **TSV)
        hashed = [(p.name, p) for p in (self.plays_path, directory / "artists.dat", self.tags_path,
                                         self.tagged_path) if p.is_file()]
        super().__init__(str(directory), content_hash(hashed, "lastfm-hetrec"), rejects_path)
        self.first_row = 2
        self.notes.append("items are artists: HetRec lists user-artist play counts, not songs")

    def chunks(self, progress: Progress) -> Iterator[tuple[pa.Table, pa.Array, pa.Table]]:
        progress.start(f"ingesting {self.plays_path.name}", total=self.plays_path.stat().st_size)
        known = self.artists.column("id")
        for record_batch in self._plays:
            raw = pa.Table.from_batches([record_batch])
            plays, ok = parse_number(raw.column("weight"), MAX_PLAY_COUNT)
            reason = first_failure([
                (bad_id(raw.column("userID")), "blank userID or one with a control character"),
                (blank(raw.column("artistID")), "blank artistID"),
                (pc.invert(pc.is_in(raw.column("artistID"), value_set=known)), "artistID not in artists.dat"),
                (pc.invert(ok), "non-numeric or out-of-range weight"),
                (pc.less_equal(plays, 0), "zero or negative weight"),
            ], raw.num_rows)
            clean = play_rows(raw.column("userID"), raw.column("artistID"),
                              plays=pc.cast(plays, pa.int64(), safe=False), keep=pc.is_null(reason))
            progress.advance(record_batch.nbytes)
            yield raw, reason, clean

    def catalogue(self) -> Catalogue:
        ids, names = self.artists.column("id"), self.artists.column("name")
        tables = {name: schema.empty_table() for name, schema in CATALOGUE_SCHEMAS.items()}
        tables["songs"] = pa.table({"song_id": ids, "song_name": names, "artist_id": ids,
                                    "duration_ms": pa.nulls(len(ids), pa.int64())},
                                   schema=CATALOGUE_SCHEMAS["songs"])
        tables["artists"] = pa.table({"artist_id": ids, "artist_name": names},
                                     schema=CATALOGUE_SCHEMAS["artists"])
        if self.tags_path.exists() and self.tagged_path.exists():
            tables.update(self._tag_genres(ids))
        return Catalogue(tables)

    def _tag_genres(self, known_artists: pa.ChunkedArray) -> dict[str, pa.Table]:
        tags = read_text_table(self.tags_path, "HetRec tags.dat", ("tagID", "tagValue"),
                               encoding="latin-1", **TSV)
        tagged = read_text_table(self.tagged_path, "HetRec user_taggedartists.dat",
                                 ("artistID", "tagID"), **TSV)
        tagged = tagged.filter(pc.is_in(tagged.column("artistID"), value_set=known_artists))
        genre_of_tag = pc.binary_join_element_wise("tag:", normalize_genres(tags.column("tagValue")), "")
        lookup = pc.index_in(tagged.column("tagID"), value_set=tags.column("tagID"))
        assignments = pa.table({"artist_id": tagged.column("artistID"),
                                "genre_id": pc.take(genre_of_tag, lookup)}).drop_null()
        overall = assignments.group_by("genre_id").aggregate([("artist_id", "count")]).sort_by(
            [("artist_id_count", "descending"), ("genre_id", "ascending")])
        vocabulary = overall.column("genre_id").slice(0, GENRE_VOCABULARY)
        assignments = assignments.filter(pc.is_in(assignments.column("genre_id"), value_set=vocabulary))
        counts = assignments.group_by(["artist_id", "genre_id"]).aggregate([("genre_id", "count")])
        ranked = counts.sort_by([("artist_id", "ascending"), ("genre_id_count", "descending"),
                                 ("genre_id", "ascending")])
        artist = ranked.column("artist_id").to_pylist()
        keep = [i for i in range(len(artist)) if i < TAGS_PER_ARTIST or
                artist[i - TAGS_PER_ARTIST] != artist[i]]
        top = ranked.take(pa.array(keep, pa.int64()))
        uses = top.group_by("genre_id").aggregate([("genre_id_count", "sum")])
        total = max(pc.sum(uses.column("genre_id_count_sum")).as_py() or 1, 1)
        genres = pa.table({
            "genre_id": uses.column("genre_id"),
            "genre_name": pc.utf8_slice_codeunits(uses.column("genre_id"), 4),
            "popularity": pc.divide(pc.cast(uses.column("genre_id_count_sum"), pa.float64()), total)},
            schema=CATALOGUE_SCHEMAS["genres"])
        pairs = top.select(["artist_id", "genre_id"])
        return {"genres": genres,
                "artist_genres": pairs.cast(CATALOGUE_SCHEMAS["artist_genres"]),
                "song_genres": pairs.rename_columns(["song_id", "genre_id"]).cast(
                    CATALOGUE_SCHEMAS["song_genres"])}


class LastfmHetrecSource(SessionSource):
    def open(self, request: SourceRequest) -> LastfmHetrecFeed:
        directory = request.path if request.path is not None else Path(".")
        if directory.is_file():
            directory = directory.parent
        return LastfmHetrecFeed(directory, request.rejects_path)
