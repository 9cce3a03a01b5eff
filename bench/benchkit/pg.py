"""PostgreSQL for the ``--pg`` runs: a fresh, empty database, dropped afterwards.

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
from urllib.parse import urlsplit, urlunsplit

from . import REPO_ROOT

__all__ = ["PgDatabase", "pg_database"]


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


@contextmanager
def pg_database(prefix: str = "agentdeck_bench") -> Iterator[PgDatabase]:
    import psycopg
    from psycopg import sql

    _repo_on_path()
    from tests.pg import PG_URL_ENV, ThrowawayPostgres

    external = os.environ.get(PG_URL_ENV)
    server: ThrowawayPostgres | None = None
    if external:
        base, where = external, f"${PG_URL_ENV}"
    else:
        server = ThrowawayPostgres()
        base, where = server.start(), "throwaway"
    name = f"{prefix}_{secrets.token_hex(6)}"
    try:
        with psycopg.connect(base, autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            row = conn.execute("SHOW server_version").fetchone()
        version = str(row[0]) if row else "?"
        url = urlunsplit(urlsplit(base)._replace(path=f"/{name}"))
        try:
            yield PgDatabase(
                url=url,
                server=where,
                version=version,
                start_s=round(server.start_seconds, 2)
                if server is not None and server.start_seconds is not None
                else None,
            )
        finally:
            with psycopg.connect(base, autocommit=True, connect_timeout=10) as conn:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )
    finally:
        if server is not None:
            server.stop()
