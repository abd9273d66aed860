"""Spotify Music Streaming Sessions Dataset (MSSD) training logs.

Sessions stand in for users unless ``--user-column`` names another column. The
skip flags are the completion signal, earliest first: ``skip_1`` (played very
briefly) 0.05, ``skip_2`` (briefly) 0.25, ``skip_3`` (most of the track) 0.75,
otherwise (``not_skipped``) 1.0. Play time is ``date`` (YYYY-MM-DD, or DD-MM-YY as
some copies have it) plus ``hour_of_day``. The logs carry no artists or titles.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from adapters.common.tables import play_rows
from adapters.sources.catalogue_builder import CatalogueCollector
from adapters.sources.csv_checks import bad_id, parse_number, real_days
from adapters.sources.feed import StreamingFeed, content_hash, first_failure
from adapters.sources.tabular import open_text_table
from domain.ports import Catalogue, Progress, SessionSource, SourceRequest

SKIP_COMPLETION = (("skip_1", 0.05), ("skip_2", 0.25), ("skip_3", 0.75))
REQUIRED = ("session_id", "track_id_clean", "skip_1", "skip_2", "skip_3", "date", "hour_of_day")
# strptime's %Y takes "15" as the year 15, so each form is told apart by its shape first
DATE_FORMATS = {r"^\d{4}-\d{2}-\d{2}$": "%Y-%m-%d", r"^\d{2}-\d{2}-\d{2}$": "%d-%m-%y"}


def _flag(column: pa.Array) -> pa.Array:
    return pc.is_in(pc.utf8_lower(pc.fill_null(column, "")), value_set=pa.array(["true", "1"]))


class MssdFeed(StreamingFeed):
    def __init__(self, path: Path, user_column: str, rejects_path: Path | None) -> None:
        self.path = path
        self.user_column = user_column
        self._reader = open_text_table(path, "MSSD log", (*REQUIRED, user_column))
        super().__init__(str(path), content_hash([("log", path)], "mssd", user_column), rejects_path)
        self.first_row = 2
        self.collector = CatalogueCollector()
        if user_column == "session_id":
            self.notes.append("listeners are MSSD sessions (no user ids in the log)")

    def chunks(self, progress: Progress) -> Iterator[tuple[pa.Table, pa.Array, pa.Table]]:
        progress.start(f"ingesting {self.path.name}", total=self.path.stat().st_size)
        for record_batch in self._reader:
            raw = pa.Table.from_batches([record_batch])
            day = real_days(raw.column("date"), DATE_FORMATS)
            hour, hour_ok = parse_number(raw.column("hour_of_day"), 23)
            reason = first_failure([
                (bad_id(raw.column(self.user_column)), f"blank {self.user_column} or one with a control "
                                                       "character"),
                (bad_id(raw.column("track_id_clean")), "blank track_id_clean or one with a control "
                                                        "character"),
                (pc.is_null(day), "unparseable date"),
                (pc.or_(pc.invert(hour_ok), pc.less(hour, 0)),
                 "hour_of_day not in 0..23"),
            ], raw.num_rows)
            completion = pa.repeat(pa.scalar(1.0), raw.num_rows)
            for column, value in reversed(SKIP_COMPLETION):
                completion = pc.if_else(_flag(raw.column(column)), value, completion)
            played_at = pc.add(day, pc.multiply(pc.cast(hour, pa.int64(), safe=False), 3600))
            good = pc.is_null(reason)
            song = raw.column("track_id_clean")
            self.collector.add(good, song)
            # a song played twice in one session at one hour is two plays where positions tell them apart
            position = (raw.column("session_position") if "session_position" in raw.column_names
                        else pa.nulls(raw.num_rows, pa.string()))
            clean = play_rows(raw.column(self.user_column), song, completion, played_at, keep=good,
                              identity=(position,))
            progress.advance(record_batch.nbytes)
            yield raw, reason, clean

    def catalogue(self) -> Catalogue:
        return self.collector.catalogue()


class MssdSource(SessionSource):
    def open(self, request: SourceRequest) -> MssdFeed:
        return MssdFeed(request.path or Path("."), request.options.get("user_column") or "session_id",
                        request.rejects_path)
