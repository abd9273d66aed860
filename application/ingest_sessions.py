"""IngestSessions: raw plays -> aggregated interactions in the repository, all or nothing."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone

from domain.errors import InvalidInputFile, RejectedRows
from domain.model import IngestReport
from domain.ports import (
    Dataset,
    InteractionAggregator,
    InteractionRepository,
    Progress,
    SessionSource,
    SilentProgress,
    SourceRecord,
    SourceRequest,
)


@dataclass(frozen=True)
class IngestCommand:
    request: SourceRequest
    strict: bool = False
    # a small input (posted plays): read whole first, then stored by a write that touches
    # only its listeners and plays (``InteractionRepository.update``'s scope)
    small: bool = False


class IngestSessions:
    def __init__(self, source: SessionSource, aggregator: InteractionAggregator,
                 repository: InteractionRepository) -> None:
        self._source = source
        self._aggregator = aggregator
        self._repository = repository

    def execute(self, command: IngestCommand, progress: Progress | None = None) -> IngestReport:
        started = time.perf_counter()
        progress = progress or SilentProgress()
        feed = self._source.open(command.request)
        if self._repository.has_source(feed.content_hash):
            return self._skipped(feed.name, feed.content_hash, started)
        repeated: list[int] = []
        scope = None
        if command.small:
            read = list(feed.batches(progress))
            scope = self._aggregator.scope(read)

        def merged(current: Dataset | None) -> Dataset | None:
            # Read under the writer lock, so that what the store holds cannot change meanwhile:
            # another ingest of the same input may have won, and plays it holds count once.
            if current is not None and current.has_source(feed.content_hash):
                return None
            batches = iter(read) if command.small else feed.batches(progress)
            plays = self._aggregator.aggregate(batches, current)
            if feed.rows_read == 0:
                raise InvalidInputFile(feed.name, "holds no plays (a header or an empty list only); "
                                       "nothing was ingested")
            if command.strict and feed.rejects.count:
                raise RejectedRows(
                    f"{feed.name}: {feed.rejects.count} row(s) rejected in strict mode "
                    f"(see {feed.rejects.path}); nothing was ingested. Fix the rows or drop --strict.")
            record = SourceRecord(
                content_hash=feed.content_hash, name=feed.name, rows_read=feed.rows_read,
                rows_rejected=feed.rejects.count,
                ingested_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
            repeated.append(plays.repeated)
            return self._aggregator.merge(current, feed.catalogue(), plays, record)

        if not self._repository.update(merged, scope):
            return self._skipped(feed.name, feed.content_hash, started)
        stats = self._repository.stats()
        rejects = feed.rejects
        return IngestReport(
            source=feed.name, rows_read=feed.rows_read, rows_rejected=rejects.count,
            interactions=stats.interactions, plays=stats.plays, skipped=False,
            rejects_file=str(rejects.path) if rejects.count and rejects.path else None,
            content_hash=feed.content_hash, wall_s=time.perf_counter() - started,
            plays_repeated=repeated[0], reject_reasons=dict(rejects.reasons), notes=tuple(feed.notes))

    @staticmethod
    def _skipped(name: str, content_hash: str, started: float) -> IngestReport:
        return IngestReport(name, 0, 0, 0, 0, skipped=True, rejects_file=None,
                            content_hash=content_hash, wall_s=time.perf_counter() - started)
