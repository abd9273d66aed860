"""RecordPlays: plays a client sends, stored as ingest stores them and folded into the
model that answers, so the listener's next list reads them without a retrain."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from application.ingest_sessions import IngestCommand, IngestSessions
from domain.errors import CheckpointError
from domain.model import PlaysRecorded
from domain.ports import InteractionRepository, ModelLoader, ModelRegistry, SourceRequest


class RecordPlays:
    def __init__(self, ingest: IngestSessions, repository: InteractionRepository, loader: ModelLoader,
                 registry: ModelRegistry) -> None:
        self._ingest = ingest
        self._repository = repository
        self._loader = loader
        self._registry = registry

    def execute(self, plays: Sequence[Mapping[str, Any]]) -> PlaysRecorded:
        """Store ``plays`` whole (InvalidRecord names the first bad one; nothing is stored then),
        then fold their listeners into the promoted model when one is loaded or can be."""
        report = self._ingest.execute(IngestCommand(SourceRequest(options={"plays": list(plays)}),
                                                    strict=True, small=True))
        listeners = tuple(dict.fromkeys(str(play["user_id"]) for play in plays))
        stored = 0 if report.skipped else report.rows_read - report.plays_repeated
        folded: list[str] = []
        promoted = self._registry.promoted()
        if promoted is not None:
            try:
                model = self._loader.load(promoted)
            except CheckpointError:
                model = None  # stored all the same; a new listener is folded in at their first request
            if model is not None:
                folded = model.fold_in(self._repository.listening_of(listeners))
        interactions = report.interactions if not report.skipped else self._repository.stats().interactions
        return PlaysRecorded(len(plays), stored, listeners, tuple(folded),
                             None if promoted is None else promoted.version, interactions)
