"""The statements of the dashboard's data layer beside the list's (``reads``): a run's payload,
events, steps and streams, the change token, the queue and schedule aggregates, a bulk resume's
steps. Written once, as :class:`~tui.data.sql.DB` renders them for every driver: ``{table}``
fields, ``:name`` parameters, ``IN :name`` for a list.

Texts only; ``runs`` and ``queues`` run them and shape what comes back. (The list's own
statements, a page, counts, events, errors and waits, are in ``reads``; the filter's WHERE
clause in ``filters``.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "ALL_EVENTS",
    "FAILED_CONDITION",
    "IN_FLIGHT_CONDITIONS",
    "TOKEN_NEW",
    "TOKEN_STATUS",
    "TOKEN_TOTAL",
    "CHILD_INPUTS",
    "FAILED_STEPS",
    "LAST_STEPS",
    "LATEST_SCHEDULE_RUNS",
    "MARKER_PG",
    "MARKER_SQLITE",
    "PAYLOAD",
    "PENDING_TOPICS",
    "RUN_STEP_OUTPUTS",
    "STEP_OUTPUTS",
    "STREAM_KEYS",
    "queues_in_flight",
    "stream_since",
]

# -- the change token ------------------------------------------------------------------------

#: A number that moves whenever another connection commits (SQLite, on a connection kept for it).
MARKER_SQLITE = "PRAGMA data_version"
#: The next transaction id: moves when any transaction that wrote commits (PostgreSQL).
MARKER_PG = "SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint"
#: The conditions of DBOS's partial indexes, word for word (SQLite uses a partial index only
#: when the query states its condition; DBOS 3.4 has no index on ``status`` alone): the runs in
#: flight, one per status (``idx_workflow_status_pending``; ``idx_workflow_status_in_flight_v2``,
#: of ENQUEUED and PENDING runs; ``idx_workflow_status_delayed``), and the failed runs
#: (``idx_workflow_status_failed``).
IN_FLIGHT_CONDITIONS = (
    "s.status = 'PENDING'",
    "s.status IN ('ENQUEUED', 'PENDING') AND s.status = 'ENQUEUED'",
    "s.status = 'DELAYED'",
)
FAILED_CONDITION = "s.status IN ('ERROR', 'CANCELLED', 'MAX_RECOVERY_ATTEMPTS_EXCEEDED')"
#: What moves when a run starts, changes state or ends, read from those indexes only: the runs
#: in flight per status with their latest update, and the failed runs per status. Its cost
#: follows the runs in flight and the failed ones, not the size of the database.
TOKEN_STATUS = " UNION ALL ".join(
    f"SELECT s.status, count(*), coalesce(max({upd}), 0) FROM {{workflow_status}} s "
    f"WHERE {cond} AND s.name <> :presence GROUP BY s.status"
    for cond, upd in (
        *((c, "s.updated_at") for c in IN_FLIGHT_CONDITIONS),
        (FAILED_CONDITION, "0"),
    )
)
#: Every run, and the newest creation time (the whole created_at index: now and then only).
TOKEN_TOTAL = (
    "SELECT count(*), coalesce(max(created_at), 0) FROM {workflow_status} WHERE name <> :presence"
)
#: Runs created since the newest one counted (the created_at index, from its end).
TOKEN_NEW = (
    "SELECT count(*), coalesce(max(created_at), 0) FROM {workflow_status} "
    "WHERE created_at > :since AND name <> :presence"
)

# -- one run ---------------------------------------------------------------------------------

#: A run's stored (inputs, output, error) and how they are serialized.
PAYLOAD = (
    "SELECT coalesce(i.inputs, s.inputs), coalesce(o.output, s.output), "
    "coalesce(o.error, s.error), s.serialization FROM {workflow_status} s "
    "LEFT JOIN {workflow_input} i ON i.workflow_uuid = s.workflow_uuid "
    "LEFT JOIN {workflow_output} o ON o.workflow_uuid = s.workflow_uuid "
    "WHERE s.workflow_uuid = :w"
)
#: A run's children, their names and inputs (DBOS's parent index).
CHILD_INPUTS = (
    "SELECT s.workflow_uuid, s.name, coalesce(i.inputs, s.inputs), s.serialization "
    "FROM {workflow_status} s LEFT JOIN {workflow_input} i "
    "ON i.workflow_uuid = s.workflow_uuid WHERE s.parent_workflow_id = :p"
)
#: Every event of a run.
ALL_EVENTS = (
    "SELECT key, value, serialization FROM {workflow_events} WHERE workflow_uuid = :w ORDER BY key"
)
#: Topics of messages sent to a run and not consumed yet.
PENDING_TOPICS = (
    "SELECT DISTINCT topic FROM {notifications} WHERE destination_uuid = :w AND NOT consumed"
)
#: The steps of many runs in order, with their outputs and the children they started.
STEP_OUTPUTS = (
    "SELECT workflow_uuid, function_name, output, serialization, child_workflow_id "
    "FROM {operation_outputs} WHERE workflow_uuid IN :w ORDER BY workflow_uuid, function_id"
)
#: Every step output of one run, by step number (an export decodes them all).
RUN_STEP_OUTPUTS = (
    "SELECT function_id, output, serialization FROM {operation_outputs} "
    "WHERE workflow_uuid = :w ORDER BY function_id"
)
#: Every stream key a run wrote (no DBOS API lists them).
STREAM_KEYS = "SELECT DISTINCT key FROM {streams} WHERE workflow_uuid = :w"


def stream_since(offsets: Mapping[str, int], key: str, limit: int) -> tuple[str, dict[str, Any]]:
    """Entries of one stream key at or past each run's offset, for many runs in one statement.

    Args:
        offsets: Workflow id → the first offset not read yet.
        key: The stream key (``agentdeck.output``).
        limit: The most entries read at once (the reader comes back for the rest).

    Returns:
        The statement and its parameters; rows are (workflow id, offset, value, serialization)
            in workflow and offset order.
    """
    clauses = []
    params: dict[str, Any] = {"key": key, "limit": limit}
    for i, (wid, off) in enumerate(offsets.items()):
        clauses.append(f'(workflow_uuid = :w{i} AND "offset" >= :o{i})')
        params[f"w{i}"], params[f"o{i}"] = wid, off
    return (
        'SELECT workflow_uuid, "offset", value, serialization FROM {streams} '
        f"WHERE key = :key AND ({' OR '.join(clauses)}) "
        'ORDER BY workflow_uuid, "offset" LIMIT :limit'
    ), params


# -- a bulk resume's steps -------------------------------------------------------------------

#: The first failed step of each run.
FAILED_STEPS = (
    "SELECT workflow_uuid, min(function_id) FROM {operation_outputs} "
    "WHERE workflow_uuid IN :w AND error IS NOT NULL GROUP BY workflow_uuid"
)
#: The last step of each run.
LAST_STEPS = (
    "SELECT workflow_uuid, max(function_id) FROM {operation_outputs} "
    "WHERE workflow_uuid IN :w GROUP BY workflow_uuid"
)

# -- queues and schedules --------------------------------------------------------------------

_IN_FLIGHT = (
    "SELECT queue_name, status, COALESCE(priority, 0), count(*), "
    "sum(CASE WHEN deduplication_id IS NOT NULL THEN 1 ELSE 0 END), min(updated_at), "
    "queue_partition_key FROM {workflow_status} "
    "WHERE status IN ('DELAYED', 'ENQUEUED', 'PENDING') AND queue_name IS NOT NULL "
    "GROUP BY queue_name, status, COALESCE(priority, 0), queue_partition_key"
)
_WINDOW = (
    "SELECT queue_name, 'WINDOW', 0, count(*), 0, min(started_at_epoch_ms), {key} "
    "FROM {{workflow_status}} WHERE rate_limited = TRUE AND queue_name = :{q} "
    "AND started_at_epoch_ms > :{t} AND status NOT IN ('ENQUEUED', 'DELAYED')"
)


def queues_in_flight(
    windows: Mapping[str, float], partition_windows: Mapping[str, float], now: float
) -> tuple[str, dict[str, Any]]:
    """What is on each queue now, per queue and per partition of partitioned queues, in one
    ``UNION ALL``: DELAYED, ENQUEUED (by priority) and PENDING workflows with the deduplication
    ids they hold, then the starts inside each rate limit's window.

    The first branch is served by DBOS's partial indexes on (queue_name, status, priority,
    created_at) and, for partition keys, (queue_name, status, queue_partition_key, ...) for
    ENQUEUED and PENDING rows (DELAYED ones have their own); the window branches by its partial
    index on (queue_name, started_at_epoch_ms) WHERE rate_limited, and count what DBOS's
    limiter counts. "Waiting since" is ``updated_at``: a resumed run re-enters the queue then.

    Args:
        windows: Queue → the period of its rate limit in seconds (queues limited as a whole).
        partition_windows: The same for queues limited per partition.
        now: The time the windows end at, in epoch seconds.

    Returns:
        The statement and its parameters. Rows: (queue, status or 'WINDOW', priority, count,
            dedup ids held, oldest updated_at or window start, partition key).
    """
    parts = [_IN_FLIGHT]
    params: dict[str, Any] = {}
    for i, (queue, period) in enumerate(sorted(windows.items())):
        params[f"q{i}"], params[f"t{i}"] = queue, int((now - period) * 1000)
        parts.append(_WINDOW.format(key="NULL", q=f"q{i}", t=f"t{i}") + " GROUP BY queue_name")
    for i, (queue, period) in enumerate(sorted(partition_windows.items())):
        params[f"pq{i}"], params[f"pt{i}"] = queue, int((now - period) * 1000)
        parts.append(
            _WINDOW.format(key="queue_partition_key", q=f"pq{i}", t=f"pt{i}")
            + " AND queue_partition_key IS NOT NULL GROUP BY queue_name, queue_partition_key"
        )
    return " UNION ALL ".join(parts), params


#: The ``:n`` newest runs of each schedule in ``:s``, newest first.
LATEST_SCHEDULE_RUNS = (
    "SELECT schedule_name, workflow_uuid, status, created_at FROM ("
    "SELECT schedule_name, workflow_uuid, status, created_at, ROW_NUMBER() OVER ("
    "PARTITION BY schedule_name ORDER BY created_at DESC, workflow_uuid DESC) AS rn "
    "FROM {workflow_status} WHERE schedule_name IN :s"
    ") latest WHERE rn <= :n ORDER BY schedule_name, rn"
)
