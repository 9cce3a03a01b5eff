"""What a list row needs beside its status: its events (progress, approval), its error, whether
it waits in ``recv``, an input summary for another app's runs, and the row built from them all
(``rows_of``): at most four statements for any number of rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from workflows.settings import env_secrets

from .decode import Undecodable, decode
from .filters import PRESENCE_WORKFLOW
from .rows import APPROVAL_EVENT, PROGRESS_EVENT, build_row
from .rows import Presence as Heartbeats
from .sql import DB
from .summary import INPUT_CAP, input_summary

__all__ = ["errors", "events", "input_summaries", "recv_waits", "rows_of"]


def events(
    db: DB,
    ids: Sequence[str],
    keys: Sequence[str] = (PROGRESS_EVENT, APPROVAL_EVENT),
    *,
    light: bool = False,
) -> dict[str, dict[str, Any]]:
    """Current values of the given event keys of many workflows (one statement per batch).

    Args:
        db: The connection to read with.
        ids: The workflow ids.
        keys: The event keys to read (default: progress and approval).
        light: Decode without importing agentdeck's modules (``agentdeck ls``).

    Returns:
        Workflow id → event key → decoded value; a workflow without any of them is absent.
    """
    out: dict[str, dict[str, Any]] = {}
    for batch in db.batches(ids):
        for wid, key, value, ser in db.rows(
            "SELECT workflow_uuid, key, value, serialization FROM {workflow_events} "
            "WHERE workflow_uuid IN :w AND key IN :k",
            {"w": list(batch), "k": list(keys)},
        ):
            out.setdefault(wid, {})[key] = decode(value, ser, light=light)
    return out


def errors(db: DB, ids: Sequence[str], *, light: bool = False) -> dict[str, Any]:
    """Decoded errors of the given workflows.

    Args:
        db: The connection to read with.
        ids: The workflow ids (those that failed, usually).
        light: Decode without importing agentdeck's modules (``agentdeck ls``).

    Returns:
        Workflow id → decoded error; a workflow without an error is absent.
    """
    out: dict[str, Any] = {}
    for batch in db.batches(ids):
        for wid, err, ser in db.rows(
            "SELECT s.workflow_uuid, coalesce(o.error, s.error), s.serialization "
            "FROM {workflow_status} s LEFT JOIN {workflow_output} o "
            "ON o.workflow_uuid = s.workflow_uuid WHERE s.workflow_uuid IN :w",
            {"w": list(batch)},
        ):
            if err is not None:
                out[wid] = decode(err, ser, light=light)
    return out


def recv_waits(db: DB, ids: Sequence[str]) -> dict[str, tuple[int, float | None]]:
    """PENDING workflows blocked in ``recv`` / ``get_event``.

    While a workflow waits, DBOS has written the wait's timeout as a ``DBOS.sleep`` row at
    function id k+1 (output: the deadline; completed as soon as started) and nothing yet at
    k, the ``recv`` itself; a real ``DBOS.sleep`` completes at its wake-up time instead. The
    topic is not stored anywhere while it waits.

    Args:
        db: The connection to read with.
        ids: The workflow ids (PENDING ones; others are never found waiting).

    Returns:
        Workflow id → (the recv's function id, its deadline in epoch seconds or ``None`` when
            it cannot be decoded); a workflow not waiting is absent.
    """
    out: dict[str, tuple[int, float | None]] = {}
    for batch in db.batches(ids):
        for wid, fid, output, ser in db.rows(
            "SELECT o.workflow_uuid, o.function_id, o.output, o.serialization "
            "FROM {operation_outputs} o JOIN {workflow_status} s "
            "ON s.workflow_uuid = o.workflow_uuid AND s.status = 'PENDING' "
            "WHERE o.workflow_uuid IN :w AND o.function_name = 'DBOS.sleep' "
            "AND o.completed_at_epoch_ms - o.started_at_epoch_ms < 1000 "
            "AND o.function_id = (SELECT max(m.function_id) FROM {operation_outputs} m "
            "WHERE m.workflow_uuid = o.workflow_uuid) "
            "AND NOT EXISTS (SELECT 1 FROM {operation_outputs} p "
            "WHERE p.workflow_uuid = o.workflow_uuid AND p.function_id = o.function_id - 1)",
            {"w": list(batch)},
        ):
            deadline: float | None
            try:
                value = decode(output, ser)
                deadline = float(value) if not isinstance(value, Undecodable) else None
            except (TypeError, ValueError):
                deadline = None
            out[wid] = (int(fid) - 1, deadline)
    return out


def input_summaries(db: DB, ids: Sequence[str], *, light: bool = False) -> dict[str, str]:
    """The inputs of the given workflows, decoded and summarised (``'bob', 'only bob'``).

    For list rows that have no summary of their own (other apps' runs). One statement per
    1,000 ids; an input stored longer than ``INPUT_CAP`` is not read, only its size shown.

    Args:
        db: The connection to read with.
        ids: The workflow ids.
        light: Decode without importing agentdeck's modules (``agentdeck ls``).

    Returns:
        Workflow id → its input in one line, secrets hidden.
    """
    secrets = env_secrets()
    size = "length" if db.sqlite else "octet_length"  # PostgreSQL's needs no detoasting
    stored = "coalesce(i.inputs, s.inputs)"
    out: dict[str, str] = {}
    for batch in db.batches(ids):
        for wid, n, inputs, ser in db.rows(
            f"SELECT s.workflow_uuid, {size}({stored}), CASE WHEN {size}({stored}) <= :cap "
            f"THEN {stored} END, s.serialization FROM {{workflow_status}} s "
            "LEFT JOIN {workflow_input} i ON i.workflow_uuid = s.workflow_uuid "
            "WHERE s.workflow_uuid IN :w",
            {"w": list(batch), "cap": INPUT_CAP},
        ):
            out[wid] = input_summary(n, decode(inputs, ser, light=light), secrets)
    return out


def _has_summary(attrs: Any) -> bool:
    if attrs is None:
        return False
    if isinstance(attrs, str):
        return '"summary"' in attrs
    return bool(isinstance(attrs, dict) and attrs.get("summary"))


def rows_of(
    db: DB,
    statuses: Sequence[tuple[Any, ...]],
    beats: Heartbeats,
    redact: Callable[[str], str],
    *,
    light: bool = False,
) -> list[dict[str, Any]]:
    """Full list rows for some ``workflow_status`` rows: four more statements at most.

    Args:
        db: The connection to read with.
        statuses: ``workflow_status`` rows in :data:`~tui.data.rows.LIST_COLUMNS` order
            (presence rows among them are left out).
        beats: The executors' heartbeats, to judge stranded runs.
        redact: Removes secrets from text (summaries, errors).
        light: Decode without importing agentdeck's modules (``agentdeck ls``).

    Returns:
        One row per run, in the order given: dicts with the fields of ``WorkflowRow``.
    """
    listed = [s for s in statuses if s[2] != PRESENCE_WORKFLOW]
    ids = [s[0] for s in listed]
    ev = events(db, ids, light=light)
    errs = errors(db, [s[0] for s in listed if s[1] == "ERROR"], light=light)
    waits = recv_waits(db, [s[0] for s in listed if s[1] == "PENDING"])
    # Rows without a summary of their own (other apps' runs): their input, in one statement.
    summaries = input_summaries(db, [s[0] for s in listed if not _has_summary(s[12])], light=light)
    out = []
    for s in listed:
        wid = s[0]
        wait = waits.get(wid)
        out.append(
            build_row(
                s,
                ev.get(wid, {}),
                errs.get(wid),
                (wait is not None, wait[1] if wait else None),
                beats,
                redact,
                summaries.get(wid, ""),
            )
        )
    return out
