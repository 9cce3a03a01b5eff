"""Counting the SQL statements an engine sends to its database.

On SQLite the count comes from ``sqlite3``'s trace callback, set on every DBAPI connection the
engine opens (a ``connect`` listener; the pool is emptied first so every connection is new): it
sees every statement, including those on a raw connection kept outside the pool (agentdeck's
``PRAGMA data_version`` commit marker) and SQLAlchemy's pool pings, which the
``before_cursor_execute`` event does not. A connection already checked out when the meter starts
is not seen, so start it before the first query. Elsewhere (PostgreSQL) SQLAlchemy's
``before_cursor_execute`` event counts (it does not see pool pings).

Pool pings (``SELECT 1`` before each checkout: DBOS's engines use ``pool_pre_ping``) are counted
apart, in ``pings``: ``count`` and ``texts`` are the statements the code asked for.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from typing import Any

import sqlalchemy as sa

__all__ = ["StatementMeter", "normalize"]

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
        if self.trace:
            sa.event.listen(engine, "connect", self._on_connect)
            engine.dispose()  # every connection from now on is a new, traced one
        else:
            sa.event.listen(engine, "before_cursor_execute", self._before)

    def _record(self, sql: str) -> None:
        if self._closed:
            return
        text = normalize(sql)
        with self._lock:
            if text == "SELECT ?":
                self.pings += 1
                return
            self.count += 1
            self.by_text[text] += 1
            if self.keep_texts:
                self.texts.append(text)

    def _on_connect(self, dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.set_trace_callback(self._record)

    def _before(self, *args: Any) -> None:
        self._record(str(args[2]))

    def close(self) -> None:
        """Stop counting (traced connections stay traced, but are no longer counted)."""
        self._closed = True
        if self.trace:
            sa.event.remove(self.engine, "connect", self._on_connect)
        else:
            sa.event.remove(self.engine, "before_cursor_execute", self._before)
