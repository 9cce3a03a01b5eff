"""PostgreSQL for the ``--pg`` runs: fresh, empty databases, dropped afterwards.

On the server of ``$AGENTDECK_TEST_PG_URL`` when it is set (nothing is started), else on a
throwaway server started for the run (``tests/pg.py``: ``initdb`` into a temp directory, fsync and
synchronous_commit off, stopped and removed at the end). DBOS creates its ``dbos`` schema in the
database on launch. Nothing here prints the URL: it holds a password.
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from . import REPO_ROOT

__all__ = ["PgDatabase", "PgServer", "pg_database", "pg_server"]


@dataclass(frozen=True)
class PgDatabase:
    url: str
    #: ``throwaway`` or ``$AGENTDECK_TEST_PG_URL``.
    server: str
    version: str
    start_s: float | None

    def describe(self) -> dict[str, object]:
        return {"server": self.server, "version": self.version, "server_start_s": self.start_s}


def _repo_on_path() -> None:
    """``tests`` is not installed and the scripts run with ``bench/`` as ``sys.path[0]``."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.append(str(REPO_ROOT))


@dataclass(frozen=True)
class PgServer:
    base_url: str
    where: str
    start_s: float | None
    #: The throwaway server's data directory (its ``postmaster.pid``); None for an external one.
    data_dir: Path | None

    def postmaster_pid(self) -> int | None:
        if self.data_dir is None:
            return None
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    @contextmanager
    def database(self, prefix: str = "agentdeck_bench") -> Iterator[PgDatabase]:
        import psycopg
        from psycopg import sql

        name = f"{prefix}_{secrets.token_hex(6)}"
        with psycopg.connect(self.base_url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            row = conn.execute("SHOW server_version").fetchone()
        version = str(row[0]) if row else "?"
        url = urlunsplit(urlsplit(self.base_url)._replace(path=f"/{name}"))
        try:
            yield PgDatabase(url=url, server=self.where, version=version, start_s=self.start_s)
        finally:
            with psycopg.connect(self.base_url, autocommit=True, connect_timeout=10) as conn:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )


@contextmanager
def pg_server() -> Iterator[PgServer]:
    _repo_on_path()
    from tests.pg import PG_URL_ENV, ThrowawayPostgres

    external = os.environ.get(PG_URL_ENV)
    if external:
        yield PgServer(base_url=external, where=f"${PG_URL_ENV}", start_s=None, data_dir=None)
        return
    server = ThrowawayPostgres()
    try:
        base = server.start()
        start_s = round(server.start_seconds, 2) if server.start_seconds is not None else None
        yield PgServer(base_url=base, where="throwaway", start_s=start_s, data_dir=server.data_dir)
    finally:
        server.stop()


@contextmanager
def pg_database(prefix: str = "agentdeck_bench") -> Iterator[PgDatabase]:
    with pg_server() as server, server.database(prefix) as db:
        yield db
