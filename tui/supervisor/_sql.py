"""Every SQL statement agentdeck issues against DBOS's own tables, in one place.

Used where the DBOS API has no call (events of many workflows at once, stream entries of many
workflows since given offsets, a cheap change token). Works on SQLite (tables unqualified) and
PostgreSQL (schema ``dbos``). Values are decoded per their ``serialization`` column; a value that
cannot be decoded here becomes an :class:`Undecodable` placeholder, never an exception.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa

from ..data import reads
from ..data.decode import Undecodable, decode
from ..data.sql import DB

T = TypeVar("T")


__all__ = [
    "SQL",
    "RecvWait",
    "Undecodable",
    "decode",
]

log = logging.getLogger("agentdeck.sql")
STREAM_CLOSED = "__DBOS_STREAM_CLOSED__"


@dataclass(frozen=True)
class RecvWait:
    """A PENDING workflow blocked in ``recv`` (or ``get_event``), seen from the tables."""

    function_id: int
    deadline: float | None


class SQL:
    """Raw reads on the DBOS system tables through an existing SQLAlchemy engine."""

    def __init__(self, engine: sa.Engine, schema: str = "dbos") -> None:
        self.engine = engine
        self.sqlite = engine.dialect.name == "sqlite"
        self._p = "" if self.sqlite else f'"{schema}".'
        #: Count of statements issued (bench/ reads it).
        self.statements = 0
        self._marker_conn: Any = None
        # The marker connection is used from worker threads (asyncio.to_thread) and closed from
        # another: sqlite3 objects must never be used by two threads at once (it segfaults).
        self._marker_lock = threading.Lock()
        self._marker: int | None = None
        self._token: tuple[int, int, tuple[tuple[str, int], ...]] | None = None

    def with_db(self, fn: Callable[[DB], T]) -> T:
        """Run ``fn`` with the data core's :class:`DB` over one pooled connection (in the
        calling thread: call it from a worker thread)."""
        with self.engine.connect() as conn:
            db = DB(conn.connection.dbapi_connection, sqlite=self.sqlite)
            try:
                return fn(db)
            finally:
                self.statements += db.statements

    def _t(self, name: str) -> str:
        return f"{self._p}{name}"

    def _run(self, stmt: sa.TextClause, params: dict[str, Any]) -> Sequence[Any]:
        self.statements += 1
        lists: list[sa.BindParameter[Any]] = [
            sa.bindparam(k, expanding=True) for k, v in params.items() if isinstance(v, list)
        ]
        if lists:
            stmt = stmt.bindparams(*lists)
        with self.engine.connect() as conn:
            return conn.execute(stmt, params).fetchall()

    @staticmethod
    def _in(name: str, values: Iterable[Any]) -> tuple[str, dict[str, Any]]:
        """``IN {sql}`` for a list, as one expanding parameter: the statement's text is the
        same for any length, so SQLAlchemy caches it once. (One ``:w0, :w1, ...`` parameter
        per value made each length a new compiled statement, hundreds of parameters each,
        kept in the engine's cache: half the objects a full garbage collection walked.)"""
        return f":{name}", {name: list(values)}

    def commit_marker(self) -> int | None:
        """A number that changes whenever anyone commits a write, read without scanning a table.

        SQLite: ``PRAGMA data_version`` on a connection kept for it (it changes when *another*
        connection commits). PostgreSQL: the next transaction id (``pg_current_snapshot()``'s
        xmax), which moves when any transaction that wrote commits. None if unavailable.
        """
        try:
            if self.sqlite:
                with self._marker_lock:
                    if self._marker_conn is None:
                        self._marker_conn = self.engine.raw_connection()
                    cur = self._marker_conn.cursor()
                    cur.execute("PRAGMA data_version")
                    row = cur.fetchone()
                    cur.close()
            else:
                with self.engine.connect() as conn:
                    row = conn.execute(
                        sa.text("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint")
                    ).fetchone()
        except Exception:
            self.close_marker()
            raise
        finally:
            self.statements += 1
        return int(row[0]) if row is not None else None

    def close_marker(self) -> None:
        with self._marker_lock:
            if self._marker_conn is not None:
                try:
                    self._marker_conn.close()
                finally:
                    self._marker_conn = None

    def change_token(self) -> tuple[int, int, tuple[tuple[str, int], ...]]:
        """(row count, latest updated_at, rows per status) of workflow_status.

        One cheap statement when nothing was committed since the last call (the commit
        marker), else one aggregate over workflow_status.

        ``updated_at`` has whole-second resolution on SQLite, so a run that fails and is
        resumed to success within one second leaves count and max unchanged: the per-status
        counts catch it. Executor heartbeats (``agentdeck.worker`` rows) are left out: they
        change every few seconds and are not runs anyone supervises.
        """
        marker = self.commit_marker()
        if marker is not None and marker == self._marker and self._token is not None:
            return self._token
        rows = self._run(
            sa.text(
                "SELECT status, count(*), coalesce(max(updated_at), 0) "
                f"FROM {self._t('workflow_status')} WHERE name <> :presence "
                "GROUP BY status ORDER BY status"
            ),
            {"presence": "agentdeck.worker"},
        )
        per_status = tuple((str(st), int(n)) for st, n, _ in rows)
        latest = max((int(m) for _, _, m in rows), default=0)
        self._marker = marker
        self._token = (sum(n for _, n in per_status), latest, per_status)
        return self._token

    #: Ids per IN list: PostgreSQL takes at most 65,535 parameters per statement.
    BATCH = 1000

    def _batches(self, ids: Sequence[str]) -> list[Sequence[str]]:
        return [ids[i : i + self.BATCH] for i in range(0, len(ids), self.BATCH)]

    def events(self, workflow_ids: Sequence[str], keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Current values of the given event keys for many workflows (one query per 1,000)."""
        out: dict[str, dict[str, Any]] = {}
        for batch in self._batches(workflow_ids):
            out.update(self._events_batch(batch, keys))
        return out

    def errors(self, workflow_ids: Sequence[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for batch in self._batches(workflow_ids):
            out.update(self._errors_batch(batch))
        return out

    def waiting_in_recv(self, workflow_ids: Sequence[str]) -> dict[str, RecvWait]:
        out: dict[str, RecvWait] = {}
        for batch in self._batches(workflow_ids):
            out.update(self._waiting_in_recv_batch(batch))
        return out

    def _events_batch(
        self, workflow_ids: Sequence[str], keys: Sequence[str]
    ) -> dict[str, dict[str, Any]]:
        """Current values of the given event keys for many workflows, in one query."""
        if not workflow_ids or not keys:
            return {}
        ids, p1 = self._in("w", workflow_ids)
        ks, p2 = self._in("k", keys)
        rows = self._run(
            sa.text(
                "SELECT workflow_uuid, key, value, serialization "
                f"FROM {self._t('workflow_events')} "
                f"WHERE workflow_uuid IN {ids} AND key IN {ks}"
            ),
            {**p1, **p2},
        )
        out: dict[str, dict[str, Any]] = {}
        for wid, key, value, ser in rows:
            out.setdefault(wid, {})[key] = decode(value, ser)
        return out

    def _errors_batch(self, workflow_ids: Sequence[str]) -> dict[str, Any]:
        """Decoded errors of the given workflows (for the rows of a list, in one query)."""
        if not workflow_ids:
            return {}
        ids, params = self._in("w", workflow_ids)
        s, o = self._t("workflow_status"), self._t("workflow_output")
        rows = self._run(
            sa.text(
                f"SELECT s.workflow_uuid, coalesce(o.error, s.error), s.serialization FROM {s} s "
                f"LEFT JOIN {o} o ON o.workflow_uuid = s.workflow_uuid "
                f"WHERE s.workflow_uuid IN {ids}"
            ),
            params,
        )
        out: dict[str, Any] = {}
        for wid, err, ser in rows:
            if err is None:
                continue
            value = decode(err, ser)
            if isinstance(value, dict) and "message" in value:
                value = f"{value.get('name', 'Error')}: {value['message']}"
            out[wid] = value
        return out

    def _waiting_in_recv_batch(self, workflow_ids: Sequence[str]) -> dict[str, RecvWait]:
        """PENDING workflows blocked in ``recv`` / ``get_event``, found from DBOS's own rows.

        While a workflow waits, DBOS has written the wait's timeout as a ``DBOS.sleep`` row at
        function id k+1 (output: the deadline; completed as soon as started) and nothing yet at
        k, the ``recv`` itself; a real ``DBOS.sleep`` completes at its wake-up time instead. The
        topic is not stored anywhere while it waits.
        """
        if not workflow_ids:
            return {}
        ids, params = self._in("w", workflow_ids)
        o, s = self._t("operation_outputs"), self._t("workflow_status")
        rows = self._run(
            sa.text(
                f"SELECT o.workflow_uuid, o.function_id, o.output, o.serialization FROM {o} o "
                f"JOIN {s} s ON s.workflow_uuid = o.workflow_uuid AND s.status = 'PENDING' "
                f"WHERE o.workflow_uuid IN {ids} AND o.function_name = 'DBOS.sleep' "
                "AND o.completed_at_epoch_ms - o.started_at_epoch_ms < 1000 "
                f"AND o.function_id = (SELECT max(m.function_id) FROM {o} m "
                "WHERE m.workflow_uuid = o.workflow_uuid) "
                f"AND NOT EXISTS (SELECT 1 FROM {o} p WHERE p.workflow_uuid = o.workflow_uuid "
                "AND p.function_id = o.function_id - 1)"
            ),
            params,
        )
        out: dict[str, RecvWait] = {}
        for wid, fid, output, ser in rows:
            deadline: float | None
            try:
                value = decode(output, ser)
                deadline = float(value) if not isinstance(value, Undecodable) else None
            except (TypeError, ValueError):
                deadline = None
            out[wid] = RecvWait(function_id=int(fid) - 1, deadline=deadline)
        return out

    def input_summaries(self, workflow_ids: Sequence[str]) -> dict[str, str]:
        """Summaries of the given workflows' decoded inputs (``tui.data.reads.input_summaries``)."""
        return self.with_db(lambda db: reads.input_summaries(db, workflow_ids))

    def pending_named(self, name: str) -> list[tuple[str, dict[str, Any]]]:
        """(executor id, attributes) of the PENDING workflows called ``name``.

        ``status = 'PENDING'`` is spelled out so the database can use DBOS's partial index on
        pending rows; ``list_workflows(status=...)`` binds the status, and SQLite then walks every
        row by creation time (20 ms at 100k workflows, on each list refresh: bench/list_scroll.py).
        """
        rows = self._run(
            sa.text(
                f"SELECT executor_id, attributes FROM {self._t('workflow_status')} "
                "WHERE status = 'PENDING' AND name = :name"
            ),
            {"name": name},
        )
        out: list[tuple[str, dict[str, Any]]] = []
        for executor, attrs in rows:
            if isinstance(attrs, str):  # SQLite keeps JSON as text; PostgreSQL's jsonb is a dict
                try:
                    attrs = json.loads(attrs)
                except ValueError:
                    attrs = None
            out.append((str(executor or ""), attrs if isinstance(attrs, dict) else {}))
        return out

    def pending_topics(self, workflow_id: str) -> list[str]:
        """Topics of messages sent to a workflow and not consumed yet."""
        rows = self._run(
            sa.text(
                f"SELECT DISTINCT topic FROM {self._t('notifications')} "
                "WHERE destination_uuid = :w AND NOT consumed"
            ),
            {"w": workflow_id},
        )
        return [str(r[0]) for r in rows]

    def payload(self, workflow_id: str) -> tuple[Any, Any, Any]:
        """A workflow's decoded (inputs, output, error); undecodable ones as placeholders."""
        s, i, o = self._t("workflow_status"), self._t("workflow_input"), self._t("workflow_output")
        rows = self._run(
            sa.text(
                "SELECT coalesce(i.inputs, s.inputs), coalesce(o.output, s.output), "
                f"coalesce(o.error, s.error), s.serialization FROM {s} s "
                f"LEFT JOIN {i} i ON i.workflow_uuid = s.workflow_uuid "
                f"LEFT JOIN {o} o ON o.workflow_uuid = s.workflow_uuid "
                "WHERE s.workflow_uuid = :w"
            ),
            {"w": workflow_id},
        )
        if not rows:
            return None, None, None
        inputs, output, error, ser = rows[0]
        return decode(inputs, ser), decode(output, ser), decode(error, ser)

    def child_inputs(self, parent_id: str) -> dict[str, tuple[str, Any]]:
        """(name, decoded inputs) of each child workflow of ``parent_id``, in one query on
        DBOS's parent index; undecodable inputs as placeholders (``list_workflows`` with its
        inputs would log a warning for each, on every reload of the run detail)."""
        s, i = self._t("workflow_status"), self._t("workflow_input")
        rows = self._run(
            sa.text(
                "SELECT s.workflow_uuid, s.name, coalesce(i.inputs, s.inputs), s.serialization "
                f"FROM {s} s LEFT JOIN {i} i ON i.workflow_uuid = s.workflow_uuid "
                "WHERE s.parent_workflow_id = :p"
            ),
            {"p": parent_id},
        )
        return {wid: (str(name), decode(inputs, ser)) for wid, name, inputs, ser in rows}

    def all_events(self, workflow_id: str) -> dict[str, Any]:
        rows = self._run(
            sa.text(
                f"SELECT key, value, serialization FROM {self._t('workflow_events')} "
                "WHERE workflow_uuid = :w ORDER BY key"
            ),
            {"w": workflow_id},
        )
        return {key: decode(value, ser) for key, value, ser in rows}

    def step_outputs(self, workflow_ids: Sequence[str]) -> dict[str, list[tuple[str, Any, str]]]:
        """Each workflow's steps in order, as (function name, decoded output, child workflow
        id or ""), for many workflows at once (one query per 1,000)."""
        out: dict[str, list[tuple[str, Any, str]]] = {}
        for batch in self._batches(workflow_ids):
            sql, params = self._in("w", batch)
            rows = self._run(
                sa.text(
                    "SELECT workflow_uuid, function_name, output, serialization, "
                    f"child_workflow_id FROM {self._t('operation_outputs')} "
                    f"WHERE workflow_uuid IN {sql} ORDER BY workflow_uuid, function_id"
                ),
                params,
            )
            for wid, name, output, ser, child in rows:
                out.setdefault(wid, []).append((str(name), decode(output, ser), child or ""))
        return out

    def stream_since(
        self, offsets: dict[str, int], key: str, *, limit: int = 2000
    ) -> dict[str, list[tuple[int, Any]]]:
        """Stream entries at or past each workflow's offset, for many workflows in one query.

        The closing sentinel comes back as the string ``__DBOS_STREAM_CLOSED__``.
        """
        if not offsets:
            return {}
        clauses = []
        params: dict[str, Any] = {"key": key, "limit": limit}
        for i, (wid, off) in enumerate(offsets.items()):
            clauses.append(f'(workflow_uuid = :w{i} AND "offset" >= :o{i})')
            params[f"w{i}"], params[f"o{i}"] = wid, off
        rows = self._run(
            sa.text(
                f'SELECT workflow_uuid, "offset", value, serialization FROM {self._t("streams")} '
                f"WHERE key = :key AND ({' OR '.join(clauses)}) "
                f'ORDER BY workflow_uuid, "offset" LIMIT :limit'
            ),
            params,
        )
        out: dict[str, list[tuple[int, Any]]] = {}
        for wid, off, value, ser in rows:
            out.setdefault(wid, []).append((int(off), decode(value, ser)))
        return out

    def stream_keys(self, workflow_id: str) -> list[str]:
        """Every stream key a workflow wrote (no DBOS API lists them)."""
        rows = self._run(
            sa.text(f"SELECT DISTINCT key FROM {self._t('streams')} WHERE workflow_uuid = :w"),
            {"w": workflow_id},
        )
        return [r[0] for r in rows]

    def step_attempts(self, workflow_id: str, key: str) -> dict[int, int]:
        """Highest attempt number seen per step, from our stream's chunk tags."""
        out: dict[int, int] = {}
        for _off, value in self.stream_since({workflow_id: 0}, key, limit=100_000).get(
            workflow_id, []
        ):
            if isinstance(value, dict) and "step_id" in value:
                sid, att = int(value.get("step_id", 0)), int(value.get("attempt", 1))
                out[sid] = max(out.get(sid, 1), att)
        return out
