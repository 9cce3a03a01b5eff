"""The data core (``tui.data``) on the pooled connections of DBOS's own engine.

Every statement the dashboard issues against DBOS's tables is in ``tui.data``; this runs them
on the raw DBAPI connections of the client's SQLAlchemy engine (``DB``: rendered for sqlite3 or
psycopg, as ``agentdeck ls`` runs them on its own) and counts them. Call its methods from a
worker thread (``asyncio.to_thread``): each is a blocking read.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa

from ..data import reads, runs
from ..data.sql import DB, PG_SCHEMA

__all__ = ["SQL", "STREAM_CLOSED", "RecvWait"]

T = TypeVar("T")
STREAM_CLOSED = runs.STREAM_CLOSED


@dataclass(frozen=True)
class RecvWait:
    """A PENDING workflow blocked in ``recv`` (or ``get_event``), seen from the tables."""

    function_id: int
    deadline: float | None


class SQL:
    """The data core's reads through an existing SQLAlchemy engine (DBOS's)."""

    def __init__(self, engine: sa.Engine, schema: str = PG_SCHEMA) -> None:
        self.engine = engine
        self.sqlite = engine.dialect.name == "sqlite"
        self.schema = schema
        #: Count of statements issued (bench/ and tests read it).
        self.statements = 0
        self._marker_conn: Any = None
        # The marker connection is used from worker threads (asyncio.to_thread) and closed from
        # another: sqlite3 objects must never be used by two threads at once (it segfaults).
        self._marker_lock = threading.Lock()
        self._marker: int | None = None
        self._token: tuple[int, int, tuple[tuple[str, int], ...]] | None = None
        self._token_memo = runs.TokenMemo()

    def with_db(self, fn: Callable[[DB], T]) -> T:
        """Run ``fn`` with the data core's :class:`DB` over one pooled connection (in the
        calling thread: call it from a worker thread)."""
        with self.engine.connect() as conn:
            db = DB(conn.connection.dbapi_connection, sqlite=self.sqlite, schema=self.schema)
            try:
                return fn(db)
            finally:
                self.statements += db.statements

    # -- the change token ---------------------------------------------------------------------

    def commit_marker(self) -> int | None:
        """A number that changes whenever anyone commits a write, read without scanning a table.

        SQLite: ``PRAGMA data_version`` on a connection kept for it (it changes when *another*
        connection commits). PostgreSQL: the next transaction id (``pg_current_snapshot()``'s
        xmax), which moves when any transaction that wrote commits. None if unavailable.
        """
        if not self.sqlite:
            return self.with_db(runs.commit_marker)
        try:
            with self._marker_lock:
                if self._marker_conn is None:
                    self._marker_conn = self.engine.raw_connection()
                db = DB(self._marker_conn, sqlite=True)
                try:
                    return runs.commit_marker(db)
                finally:
                    self.statements += db.statements
        except Exception:
            self.close_marker()
            raise

    def close_marker(self) -> None:
        with self._marker_lock:
            if self._marker_conn is not None:
                try:
                    self._marker_conn.close()
                finally:
                    self._marker_conn = None

    def change_token(self) -> tuple[int, int, tuple[tuple[str, int], ...]]:
        """(runs, latest change, runs per status in flight or failed) of workflow_status.

        One cheap statement when nothing was committed since the last call (the commit
        marker), else two reads of DBOS's indexes (``tui.data.runs.change_token``), whose cost
        follows the runs in flight and the failed ones, not the size of the database.

        ``updated_at`` has whole-second resolution on SQLite, so a run that fails and is
        resumed to success within one second leaves count and max unchanged: the per-status
        counts catch it. Executor heartbeats (``agentdeck.worker`` rows) are left out: they
        change every few seconds and are not runs anyone supervises.
        """
        marker = self.commit_marker()
        if marker is not None and marker == self._marker and self._token is not None:
            return self._token
        self._token = self.with_db(lambda db: runs.change_token(db, self._token_memo))
        self._marker = marker
        return self._token

    # -- what list rows need beside their status ----------------------------------------------

    def events(self, workflow_ids: Sequence[str], keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Current values of the given event keys for many workflows (one statement a batch)."""
        if not workflow_ids or not keys:
            return {}
        return self.with_db(lambda db: reads.events(db, workflow_ids, keys))

    def errors(self, workflow_ids: Sequence[str]) -> dict[str, Any]:
        """Decoded errors of the given workflows; a portable error as ``Name: message``."""
        if not workflow_ids:
            return {}
        out = self.with_db(lambda db: reads.errors(db, workflow_ids))
        for wid, value in out.items():
            if isinstance(value, dict) and "message" in value:
                out[wid] = f"{value.get('name', 'Error')}: {value['message']}"
        return out

    def waiting_in_recv(self, workflow_ids: Sequence[str]) -> dict[str, RecvWait]:
        """PENDING workflows blocked in ``recv`` / ``get_event`` (``reads.recv_waits``)."""
        if not workflow_ids:
            return {}
        found = self.with_db(lambda db: reads.recv_waits(db, workflow_ids))
        return {wid: RecvWait(fid, deadline) for wid, (fid, deadline) in found.items()}

    def input_summaries(self, workflow_ids: Sequence[str]) -> dict[str, str]:
        """Summaries of the given workflows' decoded inputs (``reads.input_summaries``)."""
        if not workflow_ids:
            return {}
        return self.with_db(lambda db: reads.input_summaries(db, workflow_ids))

    def heartbeats(self, ttl: float) -> dict[str, tuple[float, str, bool]]:
        """The executors' presence rows: id → (last heartbeat, app version, alive)."""
        return self.with_db(lambda db: reads.heartbeats(db, ttl))

    # -- one run (``tui.data.runs``) -----------------------------------------------------------

    def pending_topics(self, workflow_id: str) -> list[str]:
        return self.with_db(lambda db: runs.pending_topics(db, workflow_id))

    def payload(self, workflow_id: str) -> tuple[Any, Any, Any]:
        return self.with_db(lambda db: runs.payload(db, workflow_id))

    def child_inputs(self, parent_id: str) -> dict[str, tuple[str, Any]]:
        return self.with_db(lambda db: runs.child_inputs(db, parent_id))

    def all_events(self, workflow_id: str) -> dict[str, Any]:
        return self.with_db(lambda db: runs.all_events(db, workflow_id))

    def step_outputs(self, workflow_ids: Sequence[str]) -> dict[str, list[tuple[str, Any, str]]]:
        if not workflow_ids:
            return {}
        return self.with_db(lambda db: runs.step_outputs(db, workflow_ids))

    def stream_since(
        self, offsets: dict[str, int], key: str, *, limit: int = 2000
    ) -> dict[str, list[tuple[int, Any]]]:
        return self.with_db(lambda db: runs.stream_since(db, offsets, key, limit=limit))

    def stream_keys(self, workflow_id: str) -> list[str]:
        return self.with_db(lambda db: runs.stream_keys(db, workflow_id))

    def step_attempts(self, workflow_id: str, key: str) -> dict[int, int]:
        return self.with_db(lambda db: runs.step_attempts(db, workflow_id, key))
