"""``agentdeck ls`` without DBOS: the workflow list read straight from DBOS's system tables.

``agentdeck ls`` is a one-shot process, so what it imports is most of what it costs: DBOS with
SQLAlchemy takes about 0.4 s to import, the listing itself a tenth of that. This module opens a
connection with the standard library's ``sqlite3``, or ``psycopg`` (DBOS's own PostgreSQL
driver) without SQLAlchemy, and runs the data core's own reads on it (``tui.data``: the same
statements, the same filter language and the same row builder as the dashboard's list), all in
one read transaction (one snapshot).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from workflows.settings import (
    env_seconds,
    env_secrets,
    presence_ttl,
    redact,
    redact_with,
    resolve_db_url,
)

from .data import reads
from .data.decode import MESSAGE_ONLY_ERRORS
from .data.filters import FilterError
from .data.sql import DB

__all__ = [
    "MESSAGE_ONLY_ERRORS",
    "LsError",
    "list_rows",
    "open_db",
    "redact",
    "resolve_db_url",
]


class LsError(Exception):
    """A failure fit for one terminal line (secrets removed)."""


# --------------------------------------------------------------------------------------------
# Configuration and secrets: workflows.settings, which imports nothing heavy


def _read_timeout() -> float:
    return env_seconds("AGENTDECK_READ_TIMEOUT_S", 15.0)


def _one_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return redact(" ".join(lines)[:400] or type(exc).__name__)


# --------------------------------------------------------------------------------------------
# The database


def not_dbos(error: str) -> bool:
    """Whether a database error says DBOS's tables are not there (not, or not yet, a DBOS
    system database), on SQLite or PostgreSQL."""
    low = error.lower()
    return "no such table" in low or ("relation" in low and "does not exist" in low)


def sqlite_path(url: str) -> str:
    """The file of a ``sqlite:///`` URL ("" if it is not one; ``:memory:`` as is)."""
    m = re.match(r"sqlite(\+\w+)?:///(.*)$", url)
    if not m:
        return ""
    return m.group(2).split("?", 1)[0]


@contextmanager
def _open(db_url: str) -> Iterator[DB]:
    shown = redact(db_url)
    if db_url.startswith("sqlite"):
        import sqlite3

        path = sqlite_path(db_url)
        if not path or path == ":memory:":
            raise LsError(f"not a DBOS system database: {shown}")
        if not Path(path).exists():
            raise LsError(f"no database at {path} (start `agentdeck` once, or pass --db)")
        try:
            # Autocommit mode, so that BEGIN below is the one transaction (a snapshot).
            conn = sqlite3.connect(path, timeout=_read_timeout(), isolation_level=None)
        except sqlite3.Error as exc:
            raise LsError(f"cannot open {shown}: {_one_line(exc)}") from None
        try:
            with _errors(shown, sqlite3.Error):
                conn.execute("BEGIN")
                yield DB(conn, sqlite=True)
        finally:
            conn.close()
        return
    if not re.match(r"postgres(ql)?(\+\w+)?://", db_url):
        raise LsError(f"unsupported database URL {shown} (a SQLite path or postgresql://...)")
    import psycopg

    conninfo = re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql://", db_url)
    extra: dict[str, Any] = {"application_name": "agentdeck ls"}
    if "connect_timeout=" not in conninfo:
        extra["connect_timeout"] = 10
    try:
        pg = psycopg.connect(conninfo, **extra)
    except psycopg.Error as exc:
        raise LsError(f"cannot open {shown}: {_one_line(exc)}") from None
    # jsonb as text, as SQLite hands it over: most runs' attributes need no parsing (_summary).
    pg.adapters.register_loader("jsonb", psycopg.types.string.TextLoader)
    try:
        with _errors(shown, psycopg.Error):
            pg.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            pg.read_only = True
            pg.execute(f"SET LOCAL statement_timeout = {int(_read_timeout() * 1000)}")
            yield DB(pg, sqlite=False)
            pg.rollback()
    finally:
        pg.close()


#: A read-only snapshot connection as the data core's DB (``agentdeck stats`` too).
open_db = _open


@contextmanager
def _errors(shown: str, kind: type[BaseException]) -> Iterator[None]:
    """Database errors as one line: a locked or slow database, a database that is not DBOS's."""
    try:
        yield
    except kind as exc:
        text = _one_line(exc)
        low = text.lower()
        if "database is locked" in low or "statement timeout" in low:
            raise LsError(
                f"list workflows: the database did not answer within {_read_timeout():g} s "
                "(locked by another process?)"
            ) from None
        if not_dbos(low):
            raise LsError(f"not a DBOS system database: {shown} ({text})") from None
        if "file is not a database" in low:
            raise LsError(f"cannot open {shown}: {text}") from None
        raise LsError(f"list workflows failed: {text}") from None


# --------------------------------------------------------------------------------------------
# The listing


def list_rows(db_url: str, *, limit: int = 50, filter_text: str = "") -> list[dict[str, Any]]:
    """The first ``limit`` workflows the filter matches, newest first, as the dashboard's list
    rows dumped as JSON (the same statements and row builder: ``tui.data``).

    ``limit`` 0 lists every matching workflow. Raises :class:`LsError` with one line.
    """
    secrets = env_secrets()
    with _open(db_url) as db:
        try:
            listing = reads.list_page(
                db,
                reads.ListQuery(filter=filter_text, limit=limit or 10**12),
                ttl=presence_ttl(),
                redact=lambda text: redact_with(text, secrets),
                now=time.time(),
                light=True,
                count_cap=0,
            )
        except FilterError as exc:
            raise LsError(f"bad filter: {exc}") from None
    return listing.rows
