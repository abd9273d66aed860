"""In-memory repository for unit tests of the use cases."""

from __future__ import annotations

from collections.abc import Callable

from adapters.common.tables import dataset_stats
from domain.model import RepositoryStats
from domain.ports import Dataset, InteractionRepository


class InMemoryInteractionRepository(InteractionRepository):
    def __init__(self) -> None:
        self._dataset: Dataset | None = None

    def load(self) -> Dataset | None:
        return self._dataset

    def save(self, dataset: Dataset) -> None:
        self._dataset = dataset

    def update(self, change: Callable[[Dataset | None], Dataset | None]) -> bool:
        changed = change(self._dataset)
        if changed is not None:
            self._dataset = changed
        return changed is not None

    def stats(self) -> RepositoryStats:
        return dataset_stats(self._dataset)

    def has_source(self, content_hash: str) -> bool:
        return self._dataset is not None and self._dataset.has_source(content_hash)
