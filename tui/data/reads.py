"""The reads of the list: a page of any filter in any supported order, counts, and what a row
needs beside its status (events, errors, ``recv`` waits, the executors' heartbeats).

Pages use keyset pagination on the order's key, ending in ``(created_at, workflow_uuid)``: no
OFFSET scans, so the oldest page of a million costs what the newest does. ``started`` (newest
first) and ``status`` order every matching run; ``name`` and ``duration`` have no index in DBOS,
so they order the :data:`SORT_WINDOW` newest matching runs (the screen says so).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .filters import PRESENCE_WORKFLOW, Compiled, Filter, Presence
from .row_extras import errors, events, input_summaries, recv_waits, rows_of
from .rows import (
    LIST_COLUMNS,
    PROGRESS_EVENT,
    presence_rows,
)
from .rows import Presence as Heartbeats
from .sql import DB
from .statements import IN_FLIGHT_CONDITIONS

__all__ = [
    "SORTS",
    "SORT_WINDOW",
    "Key",
    "Page",
    "count",
    "events",
    "errors",
    "heartbeats",
    "input_summaries",
    "page",
    "presence_filter",
    "recv_waits",
    "rows_of",
]

#: What a row's key is: the order's own value (none for ``started``), created_at, id.
Key = tuple[Any, ...]
Sort = Literal["started", "status", "name", "duration", "cost"]
SORTS: tuple[Sort, ...] = ("started", "status", "name", "duration", "cost")
#: ``name``, ``duration`` and ``cost`` order this many of the newest matching runs.
SORT_WINDOW = 10_000
_ACTIVE = ("PENDING", "ENQUEUED", "DELAYED")


def _sort_expr(db: DB, sort: Sort) -> tuple[str, bool] | None:
    """The order's leading expression and whether it is ascending (None: newest first)."""
    if sort == "status":
        return "coalesce(s.status, '')", True
    if sort == "name":
        return "coalesce(s.name, '')", True
    if sort == "duration":
        return (
            "(coalesce(s.completed_at, CASE WHEN s.status IN :k_active THEN :k_now "
            "ELSE s.updated_at END) - s.created_at)",
            False,
        )
    if sort == "cost":
        cost = db.json_text_field("e.value", "cost_usd")
        return (
            f"coalesce((SELECT CAST({cost} AS {db.float_type}) FROM {{workflow_events}} e "
            "WHERE e.workflow_uuid = s.workflow_uuid AND e.key = :k_progress "
            "AND e.serialization = 'portable_json'), 0)",
            False,
        )
    return None


@dataclass(frozen=True)
class Page:
    """Status rows of one page (newest-first order of the sort), and each row's key."""

    rows: list[tuple[Any, ...]]
    keys: list[Key]
    #: The page ends where the matching runs end (nothing further in that direction).
    at_end: bool
    #: ``name``/``duration``: only the newest SORT_WINDOW matching runs were ordered.
    windowed: bool = False


def page(
    db: DB,
    where: Compiled,
    *,
    sort: Sort = "started",
    after: Key | None = None,
    before: Key | None = None,
    inclusive: bool = False,
    oldest: bool = False,
    limit: int = 200,
    now_ms: int = 0,
) -> Page:
    """One page of the matching runs, in the sort's order.

    Args:
        db: The connection to read with.
        where: The compiled filter.
        sort: The order (see :data:`SORTS`).
        after: Rows that come after this key (the next page); ``inclusive`` keeps the key's
            own row (re-reading a page in place).
        before: Rows that come before this key (the previous page), returned in order.
        inclusive: With ``after``, start at the key's own row instead of past it.
        oldest: The last page of the order.
        limit: Rows per page.
        now_ms: "Now" for the duration of runs still in flight, in epoch milliseconds.

    Returns:
        The page's ``workflow_status`` rows (:data:`~tui.data.rows.LIST_COLUMNS`) in the
            order, each row's key for the next read, whether the matches end there and whether
            only the newest :data:`SORT_WINDOW` were ordered.
    """
    params: dict[str, Any] = dict(where.params)
    lead = _sort_expr(db, sort)
    parts: list[tuple[str, bool]] = []  # (expression, ascending) of the order
    if lead is not None:
        parts.append(lead)
        if sort == "duration":
            params["k_active"], params["k_now"] = list(_ACTIVE), now_ms
        if sort == "cost":
            params["k_progress"] = PROGRESS_EVENT
    parts += [("s.created_at", False), ("s.workflow_uuid", False)]
    # SQLite walks the created_at index for the order unless told not to (+x is not an index
    # column): for failed runs, the partial index of failed runs finds them and they are few.
    # One failed status (a literal) is left alone: SQLite then reads that index, (status,
    # created_at), in the list's order and stops at the page's end instead of sorting every
    # match (at 100k workflows, 2,000 failed: 2.3 -> 0.5 ms; the sort grows with the matches).
    # Likewise for queued and running runs, through DBOS's index of runs in flight (the
    # Running tab at 100k: 51 -> 0.1 ms; walking created_at read every run to fill a page).
    hints = where.hints
    off_index = db.sqlite and (
        ("failed" in hints and "failed_in_order" not in hints) or "in_flight" in hints
    )
    ordered = [(("+" if off_index and e == "s.created_at" else "") + e, asc) for e, asc in parts]
    clauses = [where.where]
    windowed = False
    if sort in ("name", "duration", "cost"):
        floor = db.one(
            f"SELECT s.created_at FROM {{workflow_status}} s WHERE {where.where} "
            "ORDER BY s.created_at DESC LIMIT 1 OFFSET :k_skip",
            {**where.params, "k_skip": SORT_WINDOW - 1},
        )
        if floor is not None:
            windowed = True
            clauses.append("s.created_at >= :k_floor")
            params["k_floor"] = floor[0]
    reverse = before is not None or oldest
    anchor = before if before is not None else after
    if anchor is not None:
        # The next page's bound on created_at would also lead SQLite to that index; for runs in
        # flight, it is written off the index too (the failed-runs index has created_at).
        bound = ordered if db.sqlite and "in_flight" in hints else parts
        clauses.append(
            _keyset(bound, anchor, params, backwards=before is not None, inclusive=inclusive)
        )
    order = ", ".join(f"{expr} {'ASC' if asc != reverse else 'DESC'}" for expr, asc in ordered)
    extra = f", {lead[0]}" if lead is not None else ""
    params["k_limit"] = limit + 1
    found = db.rows(
        f"SELECT {LIST_COLUMNS}{extra} FROM {{workflow_status}} s "
        f"WHERE {' AND '.join(clauses)} ORDER BY {order} LIMIT :k_limit",
        params,
    )
    at_end = len(found) <= limit
    found = found[:limit]
    if reverse:
        found.reverse()
    width = len(LIST_COLUMNS.split(","))
    keys = [((r[width],) if lead is not None else ()) + (r[6], r[0]) for r in found]
    return Page([r[:width] for r in found], keys, at_end, windowed)


def _keyset(
    parts: list[tuple[str, bool]],
    key: Key,
    params: dict[str, Any],
    *,
    backwards: bool,
    inclusive: bool,
) -> str:
    """Rows strictly after ``key`` in the order (before it with ``backwards``)."""
    ors: list[str] = []
    for i, (expr, asc) in enumerate(parts):
        params[f"k{i}"] = key[i]
        op = ">" if asc != backwards else "<"
        same = [f"{parts[j][0]} = :k{j}" for j in range(i)]
        ors.append(" AND ".join([*same, f"{expr} {op} :k{i}"]))
    if inclusive:
        ors.append(" AND ".join(f"{expr} = :k{j}" for j, (expr, _) in enumerate(parts)))
    clause = "(" + " OR ".join(f"({x})" for x in ors) + ")"
    if parts[0][0] == "s.created_at":
        # The range on created_at alone is what the index can use.
        op = ">=" if backwards else "<="
        clause = f"(s.created_at {op} :k0 AND {clause})"
    return clause


def count(db: DB, where: Compiled, *, cap: int | None = 10_000) -> tuple[int, bool]:
    """How many runs match a filter, counted up to a cap.

    Args:
        db: The connection to read with.
        where: The compiled filter.
        cap: Count no further than this (an index scan stops there); ``None`` counts exactly.

    Returns:
        (count, whether it stopped at ``cap``).
    """
    if cap is None:
        row = db.one(
            f"SELECT count(*) FROM {{workflow_status}} s WHERE {where.where}", where.params
        )
        return (int(row[0]) if row else 0), False
    row = db.one(
        f"SELECT count(*) FROM (SELECT 1 FROM {{workflow_status}} s WHERE {where.where} "
        "LIMIT :k_cap) t",
        {**where.params, "k_cap": cap + 1},
    )
    n = int(row[0]) if row else 0
    return min(n, cap), n > cap


def heartbeats(db: DB, ttl: float) -> Heartbeats:
    """The executors' presence rows (``status = 'PENDING'`` spelled out: DBOS's partial index).

    Args:
        db: The connection to read with.
        ttl: Seconds after its last heartbeat that an executor counts as gone.

    Returns:
        Executor id → (last heartbeat, app version, alive).
    """
    return presence_rows(
        [
            (r[0], r[1])
            for r in db.rows(
                "SELECT executor_id, attributes FROM {workflow_status} "
                "WHERE status = 'PENDING' AND name = :name",
                {"name": PRESENCE_WORKFLOW},
            )
        ],
        ttl,
    )


def presence_filter(beats: Heartbeats) -> Presence:
    """The heartbeats as the filter compiler takes them, for ``is:stranded``.

    Args:
        beats: The executors' heartbeats, as :func:`heartbeats` reads them.

    Returns:
        The live executors and the app versions they serve; ``any`` is False (nothing judged)
            when no executor ever announced itself.
    """
    return Presence(
        alive=frozenset(e for e, (_, _, ok) in beats.items() if ok),
        versions=frozenset(v for _, v, ok in beats.values() if ok and v),
        any=bool(beats),
    )


def by_ids(db: DB, ids: Sequence[str]) -> list[tuple[Any, ...]]:
    """``workflow_status`` rows of the given ids, newest first.

    Args:
        db: The connection to read with.
        ids: The workflow ids (one statement per :attr:`~tui.data.sql.DB.BATCH` on SQLite).

    Returns:
        The rows found, in :data:`~tui.data.rows.LIST_COLUMNS` order; unknown ids are absent.
    """
    out: list[tuple[Any, ...]] = []
    for batch in db.batches(ids):
        out += db.rows(
            f"SELECT {LIST_COLUMNS} FROM {{workflow_status}} s WHERE s.workflow_uuid IN :w",
            {"w": list(batch)},
        )
    out.sort(key=lambda r: (r[6] or 0, r[0]), reverse=True)
    return out


#: The runs in flight, one part per status, each on one of DBOS's partial indexes
#: (``statements.IN_FLIGHT_CONDITIONS``). Each reads only the runs in flight; ``s.status IN
#: (...)`` read every run (a full scan on PostgreSQL, the whole ``created_at`` index on SQLite:
#: 230 ms at 1M workflows, 60 ms at 100k; now < 1 ms).
_IN_FLIGHT = IN_FLIGHT_CONDITIONS


def live(db: DB, also: Sequence[str], *, limit: int = 1000) -> list[tuple[Any, ...]]:
    """Every run in flight (newest ``limit``) and the given ones (which were, last time).

    Args:
        db: The connection to read with.
        also: Ids to read whatever their status (the runs in flight at the last read, so
            their end is seen).
        limit: The most runs in flight read.

    Returns:
        ``workflow_status`` rows in :data:`~tui.data.rows.LIST_COLUMNS` order: the runs in
            flight newest first, then those of ``also`` not among them.
    """
    # Ordered on created_at + 0, outside the parts: ordered on the column itself, SQLite would
    # walk the created_at index in each part instead of its partial index.
    parts = " UNION ALL ".join(
        f"SELECT {LIST_COLUMNS}, s.created_at + 0 AS k_order FROM {{workflow_status}} s "
        f"WHERE {cond} AND s.name <> :presence"
        for cond in _IN_FLIGHT
    )
    found = [
        r[:-1]
        for r in db.rows(
            f"SELECT * FROM ({parts}) t ORDER BY k_order DESC LIMIT :limit",
            {"presence": PRESENCE_WORKFLOW, "limit": limit},
        )
    ]
    seen = {r[0] for r in found}
    rest = [w for w in also if w not in seen]
    return found + by_ids(db, rest) if rest else found


def matching_ids(db: DB, where: Compiled, *, limit: int | None = None) -> list[str]:
    """Ids of every run the filter matches (a bulk action's set), newest first.

    Args:
        db: The connection to read with.
        where: The compiled filter.
        limit: The most ids returned (``None``: all of them).

    Returns:
        The workflow ids, newest first.
    """
    params = dict(where.params)
    tail = ""
    if limit is not None:
        tail, params["k_limit"] = " LIMIT :k_limit", limit
    return [
        str(r[0])
        for r in db.rows(
            f"SELECT s.workflow_uuid FROM {{workflow_status}} s WHERE {where.where} "
            f"ORDER BY s.created_at DESC{tail}",
            params,
        )
    ]


def compile_filter(db: DB, text: str, ttl: float, *, now: float) -> tuple[Compiled, Heartbeats]:
    """The filter compiled, with the heartbeats read first when ``is:stranded`` needs them.

    Args:
        db: The connection to read with (and compile for).
        text: The filter as typed.
        ttl: Seconds after its last heartbeat that an executor counts as gone.
        now: The time relative ``since:`` / ``until:`` values count back from.

    Returns:
        The compiled filter and the heartbeats it was compiled with.

    Raises:
        FilterError: A bad term (the message names it).
    """
    f = Filter(text)
    beats = heartbeats(db, ttl)
    return f.compile(db, now=now, presence=presence_filter(beats)), beats


@dataclass(frozen=True)
class ListQuery:
    """What the list shows: a filter, an order, and which window of the matching runs.

    ``mode`` "top" is the first ``limit`` runs of the order (new runs appear there),
    "around" ``limit // 2`` runs each side of ``anchor`` (a row's key, its row included),
    "oldest" the last ``limit``.
    """

    filter: str = ""
    sort: Sort = "started"
    mode: Literal["top", "around", "oldest"] = "top"
    anchor: Key | None = None
    limit: int = 200


@dataclass(frozen=True)
class Listing:
    """A page of full rows (dicts) and how many runs match."""

    rows: list[dict[str, Any]]
    keys: list[Key]
    at_end: bool
    at_top: bool
    matching: int
    capped: bool
    windowed: bool


def list_page(
    db: DB,
    query: ListQuery,
    *,
    ttl: float,
    redact: Callable[[str], str],
    now: float,
    light: bool = False,
    count_cap: int | None = 10_000,
) -> Listing:
    """One window of the list, its rows built, and the count of matching runs.

    Args:
        db: The connection to read with.
        query: The filter, order and window to read.
        ttl: Seconds after its last heartbeat that an executor counts as gone.
        redact: Removes secrets from text (summaries, errors).
        now: The current time in epoch seconds (relative filter times, durations in flight).
        light: Decode values without importing agentdeck's modules (``agentdeck ls``).
        count_cap: Count the matching runs no further than this (``None``: exactly).

    Returns:
        The window's rows (dicts with the fields of ``WorkflowRow``), their keys, whether the
            window reaches either end of the order, and how many runs match.

    Raises:
        FilterError: A bad filter (the message names the term).
    """
    where, beats = compile_filter(db, query.filter, ttl, now=now)
    now_ms = int(now * 1000)
    if query.mode == "around" and query.anchor is not None:
        half = max(1, query.limit // 2)
        above = page(db, where, sort=query.sort, before=query.anchor, limit=half, now_ms=now_ms)
        below = page(
            db,
            where,
            sort=query.sort,
            after=query.anchor,
            inclusive=True,
            limit=query.limit - half,
            now_ms=now_ms,
        )
        got = Page(above.rows + below.rows, above.keys + below.keys, below.at_end, below.windowed)
        at_top = above.at_end
    else:
        oldest = query.mode == "oldest"
        got = page(db, where, sort=query.sort, oldest=oldest, limit=query.limit, now_ms=now_ms)
        at_top = got.at_end if oldest else True
        if oldest:
            got = Page(got.rows, got.keys, True, got.windowed)
    if at_top and got.at_end:
        matching, capped = len(got.rows), False  # the window holds every match
    else:
        matching, capped = count(db, where, cap=count_cap)
    rows = rows_of(db, got.rows, beats, redact, light=light)
    return Listing(rows, got.keys, got.at_end, at_top, matching, capped, got.windowed)
