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

from adapters.common.tables import play_rows
from adapters.sources.catalogue_builder import CatalogueCollector, ids_or_names
from adapters.sources.csv_checks import bad_id, blank, parse_timestamp, require_file
from adapters.sources.feed import StreamingFeed, content_hash, first_failure
from adapters.sources.identity import artist_ids_from_names, song_ids_from_names
from adapters.sources.tabular import open_text_table
from domain.errors import InvalidInputFile
from domain.ports import Catalogue, Progress, SessionSource, SourceRequest

COLUMNS = ["user_id", "timestamp", "artist_mbid", "artist_name", "track_mbid", "track_name"]


class Lastfm1kFeed(StreamingFeed):
    def __init__(self, files: list[Path], rejects_path: Path | None) -> None:
        self.files = files
        super().__init__(str(files[0].parent if len(files) > 1 else files[0]),
                         content_hash([("log", f) for f in files], "lastfm-1k"), rejects_path)
        self.collector = CatalogueCollector()
        self.malformed: list[tuple[int | None, str]] = []
        self._readers = [open_text_table(f, "Last.fm-1K log", tuple(COLUMNS), delimiter="\t",
                                         names=COLUMNS, quoting=False, on_malformed=self._skip)
                         for f in files]

    def _skip(self, row) -> str:
        self.malformed.append((row.number, row.text))
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
                    (bad_id(raw.column("user_id")), "blank user or one with a control character"),
                    (pc.is_null(played_at), "unparseable or impossible timestamp"),
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
                self.reject_lines(self.malformed, "malformed line (not 6 tab-separated fields)", COLUMNS)
                self.malformed = []

    def catalogue(self) -> Catalogue:
        return self.collector.catalogue()


class Lastfm1kSource(SessionSource):
    def open(self, request: SourceRequest) -> Lastfm1kFeed:
        path = request.path or Path(".")
        try:
            files = (sorted(p for p in path.iterdir() if p.suffix in (".tsv", ".txt") and p.is_file())
                     if path.is_dir() else [require_file(path, "Last.fm-1K log", "check the path")])
        except OSError as error:
            raise InvalidInputFile(str(path), f"cannot be read ({error.strerror or error})") from None
        if not files:
            raise InvalidInputFile(str(path), "no .tsv or .txt files in this directory")
        return Lastfm1kFeed(files, request.rejects_path)
