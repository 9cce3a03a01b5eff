"""Counting the SQL statements an engine sends to its database.

On SQLite the count comes from ``sqlite3``'s trace callback, set on every DBAPI connection the
engine opens (a ``connect`` listener; the pool is emptied first so every connection is new): it
sees every statement, including those on a raw connection kept outside the pool (agentdeck's
``PRAGMA data_version`` commit marker) and SQLAlchemy's pool pings, which the
``before_cursor_execute`` event does not. A connection already checked out when the meter starts
is not seen, so start it before the first query. On PostgreSQL the same is done with a cursor
class of psycopg's that records each statement, set on every connection the engine opens: the
data core's statements run on the pool's raw connections, which SQLAlchemy's
``before_cursor_execute`` event does not see.

Pool pings (``SELECT 1``, or ``;`` on psycopg, before each checkout: DBOS's engines use
``pool_pre_ping``) are counted apart, in ``pings``: ``count`` and ``texts`` are the statements
the code asked for.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from typing import Any

import sqlalchemy as sa

__all__ = ["StatementMeter", "normalize"]

#: Pool pings as each driver's dialect sends them (SQLite: ``SELECT 1``; psycopg: ``;``).
_PINGS = frozenset({"SELECT ?", ";"})
_LITERALS = re.compile(r"'(?:[^']|'')*'|\b\d+(?:\.\d+)?\b")


def normalize(sql: str, width: int = 100) -> str:
    """One line, literals replaced by ``?`` (the SQLite trace gives the statement expanded)."""
    return _LITERALS.sub("?", " ".join(sql.split()))[:width]


class StatementMeter:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.count = 0
        self.pings = 0
        self.texts: list[str] = []
        self.by_text: Counter[str] = Counter()
        self.keep_texts = True
        self._lock = threading.Lock()
        self._closed = False
        self.trace = engine.dialect.name == "sqlite"
        self._cursor = None if self.trace else _counting_cursor(self)
        sa.event.listen(engine, "connect", self._on_connect)
        engine.dispose()  # every connection from now on is a new, traced one

    def _record(self, sql: str) -> None:
        if self._closed:
            return
        text = normalize(sql)
        with self._lock:
            if text in _PINGS:
                self.pings += 1
                return
            self.count += 1
            self.by_text[text] += 1
            if self.keep_texts:
                self.texts.append(text)

    def _on_connect(self, dbapi_connection: Any, _record: Any) -> None:
        if self.trace:
            dbapi_connection.set_trace_callback(self._record)
        else:
            dbapi_connection.cursor_factory = self._cursor

    def close(self) -> None:
        """Stop counting (traced connections stay traced, but are no longer counted)."""
        self._closed = True
        sa.event.remove(self.engine, "connect", self._on_connect)


def _counting_cursor(meter: StatementMeter) -> Any:
    """A psycopg cursor class that records each statement it executes with ``meter``."""
    import psycopg

    def text(query: Any) -> str:
        if isinstance(query, bytes):
            return query.decode(errors="replace")
        return query if isinstance(query, str) else repr(query)

    class Counting(psycopg.Cursor[Any]):
        def execute(self, query: Any, params: Any = None, **kw: Any) -> Any:
            meter._record(text(query))
            return super().execute(query, params, **kw)

        def executemany(self, query: Any, params_seq: Any, **kw: Any) -> None:
            meter._record(text(query))
            super().executemany(query, params_seq, **kw)

    return Counting
