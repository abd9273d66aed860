"""Processes that open a new store at once all find its tables: they are created under the write
lock, not raced between the check and the CREATE (racing, SQLite failed within ten tries)."""

from __future__ import annotations

import multiprocessing

import pytest

from adapters.storage.sql import SqlAlchemyInteractionRepository
from tests import postgres

OPENERS = 8
TRIES = 10


def _open(url: str, start) -> str:
    start.wait()
    try:
        assert SqlAlchemyInteractionRepository(url).load() is None  # a new store: tables, no data
    except Exception as error:  # noqa: BLE001 - reported to the parent, which asserts on it
        return repr(error)
    return "opened"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_processes_opening_a_new_store_at_once_all_open_it(request, tmp_path, backend):
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, context.Pool(OPENERS) as pool:
        for attempt in range(TRIES):
            url = (postgres.new_database(request.getfixturevalue("postgres_url")) if backend == "postgresql"
                   else f"sqlite:///{tmp_path / f'engine-{attempt}.db'}")
            start = manager.Barrier(OPENERS)
            assert pool.starmap(_open, [(url, start)] * OPENERS) == ["opened"] * OPENERS
