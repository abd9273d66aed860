"""A throwaway PostgreSQL server for the tests: initdb into a temporary directory, listen on
a Unix socket there only, stop at the end. PostgreSQL refuses to run as root, so as root the
server runs as the ``postgres`` system user."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PORT = 5439


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    return str(candidates[-1]) if candidates else None


def missing() -> str | None:
    """Why no server can be started here, or None."""
    if not (_binary("initdb") and _binary("pg_ctl")):
        return "PostgreSQL's initdb and pg_ctl are not installed"
    try:
        import psycopg  # noqa: F401
    except ModuleNotFoundError:
        return "the psycopg driver is not installed (pip install 'engine[postgresql]')"
    return None


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


@contextmanager
def postgres_server(directory: Path) -> Iterator[str]:
    """Start a server with its data and socket in ``directory``; yield its SQLAlchemy URL."""
    directory.mkdir(parents=True, exist_ok=True)
    data = directory / "data"
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        for path in (directory, *directory.parents):
            if path == Path("/"):
                break
            path.chmod(path.stat().st_mode | 0o011)  # the server user must reach its socket directory
        os.chown(directory, user.pw_uid, user.pw_gid)
    run = {"check": True, "capture_output": True, "text": True}
    subprocess.run(_as_server_user([_binary("initdb"), "-D", str(data), "-A", "trust", "-U", "engine",
                                    "--no-sync", "-E", "UTF8"]), **run)
    subprocess.run(_as_server_user([
        _binary("pg_ctl"), "-D", str(data), "-w", "-l", str(directory / "server.log"), "-o",
        f"-k {directory} -p {PORT} -c listen_addresses='' -c fsync=off", "start"]), **run)
    try:
        yield f"postgresql+psycopg://engine@/postgres?host={directory}&port={PORT}"
    finally:
        subprocess.run(_as_server_user([_binary("pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                       capture_output=True)


def new_database(server_url: str) -> str:
    """Create an empty database on the server; its URL."""
    from sqlalchemy import create_engine, text

    name = f"test_{uuid.uuid4().hex[:12]}"
    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    engine.dispose()
    return server_url.replace("@/postgres?", f"@/{name}?")
