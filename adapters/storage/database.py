"""One SQL database by URL (SQLite file or PostgreSQL server) for the stores kept in it: the
interaction store and the model registry. Connects on first use, creates its tables, queues
writers, and turns database trouble a user can cause into one line."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import MetaData, create_engine, inspect, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError, SQLAlchemyError

from domain.errors import CorruptStore, InvalidSetting, StoreBusy, first_line

SQLITE_WAIT_S = 900  # how long a writer waits for another one's transaction
SCHEMA_LOCK_KEY = zlib.crc32(b"engine schema")  # PostgreSQL advisory lock id


class SqlDatabase:
    def __init__(self, url: str, metadata: MetaData, setting: str = "storage.url") -> None:
        self.url = url
        self._metadata = metadata
        self._setting = setting  # how users set the URL, for messages
        self._engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            with self.errors():
                self._engine = self._connect()
        return self._engine

    def _connect(self) -> Engine:
        try:
            url = make_url(self.url)
        except ArgumentError:
            raise InvalidSetting(f"{self._setting} {self.url!r} is no database URL; give one like "
                                 "sqlite:///path/engine.db or postgresql+psycopg://user@host/db") from None
        backend = url.get_backend_name()
        options = {}
        if backend == "sqlite":
            if url.database not in (None, "", ":memory:"):
                database = Path(url.database)
                if database.is_dir():
                    raise InvalidSetting(f"{self._setting} {self.url!r}: {database} is a directory")
                database.parent.mkdir(parents=True, exist_ok=True)
            options["connect_args"] = {"timeout": SQLITE_WAIT_S}
        try:
            engine = create_engine(url, **options)
        except NoSuchModuleError:
            raise InvalidSetting(f"{self._setting} {self.shown()}: unknown database {backend!r}; "
                                 "use sqlite or postgresql") from None
        except ModuleNotFoundError as missing:
            raise InvalidSetting(f"{self._setting} {self.shown()} needs the {missing.name} driver, which "
                                 "is not installed: pip install 'engine[postgresql]'") from None
        self._create_missing_tables(engine)
        return engine

    def _create_missing_tables(self, engine: Engine) -> None:
        """Tables are created under the write lock, so that processes starting at once do not race
        between the check and the CREATE; a store whose tables exist takes no lock (a reader does
        not wait behind a writer)."""
        if set(self._metadata.tables) <= set(inspect(engine).get_table_names()):
            return
        with _locked_transaction(engine, SCHEMA_LOCK_KEY) as conn:
            self._metadata.create_all(conn)  # checks again, now that no one else can create them

    def shown(self) -> str:
        """The URL without its password."""
        try:
            return make_url(self.url).render_as_string(hide_password=True)
        except ArgumentError:
            return repr(self.url)

    @contextmanager
    def errors(self) -> Iterator[None]:
        """Database trouble a user can cause or fix becomes one line, not a traceback."""
        try:
            yield
        except OperationalError as error:
            message = first_line(error.orig or error)
            if "locked" in message:
                raise StoreBusy(f"{self.shown()}: another engine command holds the database ({message}); "
                                "wait for it, then try again") from None
            raise CorruptStore(f"{self.shown()}: cannot use the database ({message})") from None
        except SQLAlchemyError as error:
            message = first_line(getattr(error, "orig", None) or error)
            raise CorruptStore(f"{self.shown()}: cannot use the database ({message}); point "
                               f"{self._setting} at an engine database or a new file") from None

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        with self.errors(), self.engine.connect() as conn:
            yield conn

    @contextmanager
    def write_transaction(self, lock_key: int) -> Iterator[Connection]:
        """A transaction that holds the write lock from its start (SQLite ``BEGIN IMMEDIATE``, a
        PostgreSQL advisory lock named by ``lock_key``), so that writers queue."""
        with self.errors(), _locked_transaction(self.engine, lock_key) as conn:
            yield conn


@contextmanager
def _locked_transaction(engine: Engine, lock_key: int) -> Iterator[Connection]:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock now, not at the first write
        else:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key})
        try:
            yield conn
        except BaseException:
            conn.rollback()
            raise
        conn.commit()
