"""Reads of one run (and of a few at once) beside the list's: its payload, events, children,
steps and streams, the change token, and the steps a bulk resume starts from.

Each function takes a :class:`~tui.data.sql.DB` and runs statements of ``statements``; values
are decoded per their ``serialization`` column, and one that cannot be decoded here becomes an
:class:`~tui.data.decode.Undecodable` placeholder, never an exception.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import statements as st
from .decode import decode
from .sql import DB

__all__ = [
    "RECOUNT_S",
    "STREAM_CLOSED",
    "TokenMemo",
    "all_events",
    "change_token",
    "child_inputs",
    "failed_steps",
    "last_steps",
    "payload",
    "pending_topics",
    "run_step_outputs",
    "step_attempts",
    "step_outputs",
    "stream_keys",
    "stream_since",
]

#: The value DBOS writes to close a stream.
STREAM_CLOSED = "__DBOS_STREAM_CLOSED__"
#: The executors' heartbeat workflow, left out of the change token.
_PRESENCE = "agentdeck.worker"

ChangeToken = tuple[int, int, tuple[tuple[str, int], ...]]


def commit_marker(db: DB) -> int | None:
    """A number that changes whenever anyone commits a write, read without scanning a table.

    Args:
        db: The connection to read with (on SQLite, one kept for it: ``data_version`` moves
            only for other connections' commits).

    Returns:
        SQLite's ``data_version`` or PostgreSQL's next transaction id; ``None`` when the
            database returned no row.
    """
    row = db.one(st.MARKER_SQLITE if db.sqlite else st.MARKER_PG)
    return int(row[0]) if row is not None else None


#: Count every run again after this many seconds (deletions show then); in between, the runs
#: created since the newest one counted are added.
RECOUNT_S = 60.0


@dataclass
class TokenMemo:
    """What the change token remembers between reads: the count of every run, when it was
    made, and the newest creation time it covered."""

    total: int = 0
    newest: int = 0
    counted_at: float | None = None


def change_token(db: DB, memo: TokenMemo | None = None, now: float | None = None) -> ChangeToken:
    """(runs, latest change, runs per status in flight or failed) of workflow_status.

    The token moves when a run is created (the newest ``created_at``), when a run in flight
    changes or leaves flight (their counts and latest ``updated_at``), and when the failed runs
    change: each read from an index of DBOS's, so its cost does not grow with the database
    (the aggregate over every row it replaced took 277 ms at 1M workflows on PostgreSQL). The
    count of every run is made once per :data:`RECOUNT_S` and kept up to date in between by the
    runs created since.

    Args:
        db: The connection to read with.
        memo: What the previous read remembered, updated in place (None: count everything now).
        now: The time (``time.monotonic()``), for the recount.

    Returns:
        (runs, latest change in ms, ((status, runs), ...) for the statuses in flight or failed).
    """
    memo = memo if memo is not None else TokenMemo()
    now = time.monotonic() if now is None else now
    rows = db.rows(st.TOKEN_STATUS, {"presence": _PRESENCE})
    if memo.counted_at is None or now - memo.counted_at >= RECOUNT_S:
        total, newest = db.one(st.TOKEN_TOTAL, {"presence": _PRESENCE}) or (0, 0)
        memo.total, memo.newest, memo.counted_at = int(total), int(newest), now
    else:
        new, newest = db.one(st.TOKEN_NEW, {"since": memo.newest, "presence": _PRESENCE}) or (0, 0)
        if new:
            memo.total += int(new)
            memo.newest = max(memo.newest, int(newest))
    per_status = tuple(sorted((str(status), int(n)) for status, n, _ in rows))
    latest = max([memo.newest, *(int(m) for _, _, m in rows)])
    return memo.total, latest, per_status


def payload(db: DB, workflow_id: str) -> tuple[Any, Any, Any]:
    """A run's decoded inputs, output and error.

    Args:
        db: The connection to read with.
        workflow_id: The run.

    Returns:
        (inputs, output, error), undecodable ones as placeholders; all ``None`` for an
            unknown run.
    """
    row = db.one(st.PAYLOAD, {"w": workflow_id})
    if row is None:
        return None, None, None
    inputs, output, error, ser = row
    return decode(inputs, ser), decode(output, ser), decode(error, ser)


def child_inputs(db: DB, parent_id: str) -> dict[str, tuple[str, Any]]:
    """The name and decoded inputs of each child workflow of a run.

    One statement on DBOS's parent index (``list_workflows`` with its inputs would log a
    warning for each undecodable one, on every reload of the run detail).

    Args:
        db: The connection to read with.
        parent_id: The parent run.

    Returns:
        Child workflow id → (workflow name, decoded inputs).
    """
    return {
        wid: (str(name), decode(inputs, ser))
        for wid, name, inputs, ser in db.rows(st.CHILD_INPUTS, {"p": parent_id})
    }


def all_events(db: DB, workflow_id: str) -> dict[str, Any]:
    """Every event a run has published, decoded.

    Args:
        db: The connection to read with.
        workflow_id: The run.

    Returns:
        Event key → its current value (placeholders where undecodable), by key.
    """
    return {
        key: decode(value, ser) for key, value, ser in db.rows(st.ALL_EVENTS, {"w": workflow_id})
    }


def pending_topics(db: DB, workflow_id: str) -> list[str]:
    """Topics of messages sent to a workflow and not consumed yet.

    Args:
        db: The connection to read with.
        workflow_id: The run the messages were sent to.

    Returns:
        Each topic once.
    """
    return [str(r[0]) for r in db.rows(st.PENDING_TOPICS, {"w": workflow_id})]


def run_step_outputs(db: DB, workflow_id: str) -> dict[int, Any]:
    """Every step's decoded output of one run (an export decodes them all).

    Args:
        db: The connection to read with.
        workflow_id: The run.

    Returns:
        Step number (DBOS's function id) → decoded output, placeholders where undecodable.
    """
    rows = db.rows(st.RUN_STEP_OUTPUTS, {"w": workflow_id})
    return {int(fid): decode(out, ser) for fid, out, ser in rows}


def step_outputs(db: DB, ids: Sequence[str]) -> dict[str, list[tuple[str, Any, str]]]:
    """Each run's steps in order, for many runs at once (one statement per batch).

    Args:
        db: The connection to read with.
        ids: The runs.

    Returns:
        Workflow id → its steps in order, each (function name, decoded output, child workflow
            id or ``""``); a run without steps is absent.
    """
    out: dict[str, list[tuple[str, Any, str]]] = {}
    for batch in db.batches(ids):
        for wid, name, output, ser, child in db.rows(st.STEP_OUTPUTS, {"w": list(batch)}):
            out.setdefault(wid, []).append((str(name), decode(output, ser), child or ""))
    return out


def stream_since(
    db: DB, offsets: Mapping[str, int], key: str, *, limit: int = 2000
) -> dict[str, list[tuple[int, Any]]]:
    """Stream entries at or past each run's offset, for many runs in one statement.

    Args:
        db: The connection to read with.
        offsets: Workflow id → the first offset not read yet.
        key: The stream key (``agentdeck.output``).
        limit: The most entries read at once, over all runs (the caller reads again from the
            new offsets for the rest).

    Returns:
        Workflow id → its (offset, decoded value) entries in order; the closing sentinel
            comes back as :data:`STREAM_CLOSED`; a run with nothing new is absent.
    """
    if not offsets:
        return {}
    out: dict[str, list[tuple[int, Any]]] = {}
    for wid, off, value, ser in db.rows(*st.stream_since(offsets, key, limit)):
        out.setdefault(wid, []).append((int(off), decode(value, ser)))
    return out


def stream_keys(db: DB, workflow_id: str) -> list[str]:
    """Every stream key a run wrote (no DBOS API lists them).

    Args:
        db: The connection to read with.
        workflow_id: The run.

    Returns:
        The keys, each once, in no particular order.
    """
    return [r[0] for r in db.rows(st.STREAM_KEYS, {"w": workflow_id})]


def step_attempts(db: DB, workflow_id: str, key: str) -> dict[int, int]:
    """Highest attempt number seen per step, from agentdeck's stream's chunk tags.

    Args:
        db: The connection to read with.
        workflow_id: The run.
        key: The stream key its Claude steps write to.

    Returns:
        Step id → the highest attempt tagged (1 when only the first ran); steps that wrote no
            chunk are absent.
    """
    out: dict[int, int] = {}
    for _off, value in stream_since(db, {workflow_id: 0}, key, limit=100_000).get(workflow_id, []):
        if isinstance(value, dict) and "step_id" in value:
            sid, att = int(value.get("step_id", 0)), int(value.get("attempt", 1))
            out[sid] = max(out.get(sid, 1), att)
    return out


def _per_run(db: DB, text: str, ids: Sequence[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for batch in db.batches(ids):
        for wid, fid in db.rows(text, {"w": list(batch)}):
            out[str(wid)] = int(fid)
    return out


def failed_steps(db: DB, ids: Sequence[str]) -> dict[str, int]:
    """The first failed step of each run that has one (where a bulk resume restarts a failed run).

    Args:
        db: The connection to read with.
        ids: The runs.

    Returns:
        Workflow id → the function id of its first step with an error.
    """
    return _per_run(db, st.FAILED_STEPS, ids)


def last_steps(db: DB, ids: Sequence[str]) -> dict[str, int]:
    """The last step of each run that has steps.

    Args:
        db: The connection to read with.
        ids: The runs.

    Returns:
        Workflow id → the function id of its last recorded step.
    """
    return _per_run(db, st.LAST_STEPS, ids)
