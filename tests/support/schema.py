"""An empty DBOS system database in memory (DBOS's own SQLite migrations), for tests of SQL."""

from __future__ import annotations

import sqlite3

from tui.data.sql import DB

__all__ = ["empty_db"]


def empty_db() -> DB:
    from dbos._migration import sqlite_migrations  # the schema DBOS itself creates

    conn = sqlite3.connect(":memory:", check_same_thread=False)
    for m in sqlite_migrations:
        conn.executescript(m)
    return DB(conn, sqlite=True)
