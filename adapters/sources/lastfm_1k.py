"""Last.fm-1K listening log: tab-separated, no header, one scrobble per line.

Columns: user, ISO timestamp, artist MBID, artist name, track MBID, track name.
MBIDs may be empty: the track then gets a name-derived id (``domain.identity``),
likewise the artist. Scrobbles carry no duration, so each counts as one full play.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from adapters.sources.catalogue_builder import CatalogueCollector, ids_or_names
from adapters.sources.csv_checks import blank, parse_timestamp
from adapters.sources.feed import StreamingFeed, content_hash, first_failure
from adapters.sources.identity import artist_ids_from_names, song_ids_from_names
from adapters.sources.tabular import open_text_table
from adapters.tables import play_rows
from domain.ports import Catalogue, Progress, SessionSource, SourceRequest

COLUMNS = ["user_id", "timestamp", "artist_mbid", "artist_name", "track_mbid", "track_name"]


class Lastfm1kFeed(StreamingFeed):
    def __init__(self, files: list[Path], rejects_path: Path | None) -> None:
        self.files = files
        super().__init__(str(files[0].parent if len(files) > 1 else files[0]), content_hash(files),
                         rejects_path)
        self.collector = CatalogueCollector()
        self.malformed = 0
        self._readers = [open_text_table(f, "Last.fm-1K log", tuple(COLUMNS), delimiter="\t",
                                         names=COLUMNS, quoting=False, on_malformed=self._skip)
                         for f in files]

    def _skip(self, row) -> str:
        self.malformed += 1
        return "skip"

    def chunks(self, progress: Progress) -> Iterator[tuple[pa.Table, pa.Array, pa.Table]]:
        progress.start("ingesting Last.fm-1K", total=sum(f.stat().st_size for f in self.files))
        for reader in self._readers:
            for record_batch in reader:
                raw = pa.Table.from_batches([record_batch])
                played_at = parse_timestamp(raw.column("timestamp"))
                no_track = pc.and_(blank(raw.column("track_mbid")), blank(raw.column("track_name")))
                no_artist = pc.and_(blank(raw.column("artist_mbid")), blank(raw.column("artist_name")))
                reason = first_failure([
                    (blank(raw.column("user_id")), "blank user"),
                    (pc.is_null(played_at), "unparseable timestamp"),
                    (no_track, "no track MBID or name"),
                    (no_artist, "no artist MBID or name"),
                ], raw.num_rows)
                good = pc.is_null(reason)
                artist_name = pc.fill_null(raw.column("artist_name"), "")
                track_name = pc.fill_null(raw.column("track_name"), "")
                artist_id = ids_or_names(raw.column("artist_mbid"), artist_ids_from_names(artist_name))
                song_id = ids_or_names(raw.column("track_mbid"), song_ids_from_names(artist_name, track_name))
                self.collector.add(good, song_id, raw.column("track_name"), artist_id,
                                   raw.column("artist_name"))
                clean = play_rows(raw.column("user_id"), song_id, played_at=played_at, keep=good)
                progress.advance(record_batch.nbytes)
                yield raw, reason, clean
        if self.malformed:
            self.reject("malformed line (not 6 tab-separated fields)", self.malformed)

    def catalogue(self) -> Catalogue:
        return self.collector.catalogue()


class Lastfm1kSource(SessionSource):
    def open(self, request: SourceRequest) -> Lastfm1kFeed:
        path = request.path or Path(".")
        files = sorted(p for p in path.iterdir() if p.suffix in (".tsv", ".txt")) if path.is_dir() else [path]
        if not files:
            from domain.errors import InvalidInputFile

            raise InvalidInputFile(str(path), "no .tsv files in this directory")
        return Lastfm1kFeed(files, request.rejects_path)
