"""The insights' statements: one per figure over the runs created in the window that match the
filter, with buckets, nearest-rank percentiles and histograms computed in SQL (window functions,
which SQLite and PostgreSQL both have); the two figures SQL cannot read (pickled Claude results
and errors) decoded here from one bounded read each. Standard library only.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from workflows.settings import redact

from .decode import decode, error_text
from .filters import PRESENCE_WORKFLOW, Filter
from .insight_figures import (
    _BOOKKEEPING,
    _FAILED,
    _FAILED_SQL,
    _TERMINAL_SQL,
    CLAUDE_STEPS,
    DECODE_CAP,
    ErrorGroup,
    Expensive,
    Histogram,
    InsightsQuery,
    ModelUsage,
    QueueLoad,
    Spread,
    Wait,
    window_of,
)
from .rows import PROGRESS_EVENT
from .sql import DB
from .statements import FAILED_CONDITION, IN_FLIGHT_CONDITIONS


def _rounded(x: str) -> str:
    """A duration in ms rounded to at most 1 % (exact below 1 s), so that a window of runs
    groups into a few thousand distinct values per name whatever its size."""
    return (
        f"CASE WHEN {x} < 1000 THEN {x} WHEN {x} < 10000 THEN {x} / 10 * 10 "
        f"WHEN {x} < 100000 THEN {x} / 100 * 100 WHEN {x} < 1000000 THEN {x} / 1000 * 1000 "
        f"WHEN {x} < 10000000 THEN {x} / 10000 * 10000 ELSE {x} / 100000 * 100000 END"
    )


def _ranked(grouped: str) -> str:
    """Nearest-rank p50 / p95 and the max per ``g`` of ``grouped`` (a SELECT of ``g, x, c``:
    ``c`` values ``x``), as a SELECT of ``g, n, p50, p95, max``: a running sum over the distinct
    values instead of a sort of every row."""
    return (
        "SELECT g, n, min(CASE WHEN cum >= (50 * n + 99) / 100 THEN x END) AS p50, "
        "min(CASE WHEN cum >= (95 * n + 99) / 100 THEN x END) AS p95, max(x) AS top FROM ("
        "SELECT g, x, CAST(sum(c) OVER (PARTITION BY g ORDER BY x "
        "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS BIGINT) AS cum, "
        f"CAST(sum(c) OVER (PARTITION BY g) AS BIGINT) AS n FROM ({grouped}) q) r GROUP BY g, n"
    )


def _percentiles(values: str) -> str:
    """Count, p50, p95, max of ``x`` per ``g`` over ``values`` (a SELECT of ``g, x``, no NULLs)
    as a whole statement."""
    return _ranked(
        f"SELECT v.g AS g, {_rounded('v.x')} AS x, count(*) AS c FROM ({values}) v GROUP BY 1, 2"
    )


#: The runs of every status but SUCCESS, one part per DBOS partial index (its condition word for
#: word, else SQLite ignores the index), and how the window's range is written: on the column
#: where the index starts with ``created_at`` after the condition (the failed runs, PENDING), as
#: ``created_at + 0`` where it does not (ENQUEUED's index is by queue, DELAYED's by delay), so
#: that SQLite reads the small partial index and does not walk the window on ``created_at``.
_STATUS_PARTS = (
    (FAILED_CONDITION, "s.created_at"),
    *(
        (c, "s.created_at" if c == "s.status = 'PENDING'" else "s.created_at + 0")
        for c in IN_FLIGHT_CONDITIONS
    ),
)


def _s(ms: Any) -> float | None:
    return None if ms is None else round(float(ms) / 1000.0, 3)


class _Run:
    """One computation: the window's bounds, the compiled filter and the statement count."""

    def __init__(self, db: DB, q: InsightsQuery) -> None:
        self.db = db
        self.q = q
        now = time.time() if q.now is None else q.now
        span, self.bucket_s = window_of(q.window)
        self.until_ms = int(now * 1000)
        # Buckets start on whole multiples of their size (10:00, not 09:46): the window
        # reaches back to the start of the bucket that holds ``now - span``.
        bucket_ms = self.bucket_s * 1000
        self.since_ms = (self.until_ms - span * 1000) // bucket_ms * bucket_ms
        self.n = -(-(self.until_ms - self.since_ms) // bucket_ms)
        compiled = Filter(q.filter).compile(db, now=now)
        #: A filter narrows the runs (else every run but the presence rows).
        self.filtered = bool(Filter(q.filter).terms())
        self.params: dict[str, Any] = {
            **compiled.params,
            "i_since": self.since_ms,
            "i_until": self.until_ms,
            "i_bucket": self.bucket_s * 1000,
        }
        #: The window's runs (alias ``s``): DBOS's created_at index bounds it.
        self.where = f"s.created_at >= :i_since AND s.created_at < :i_until AND ({compiled.where})"

    def rows(self, text: str, **extra: Any) -> list[tuple[Any, ...]]:
        return self.db.rows(text, {**self.params, **extra})

    # -- runs per bucket ------------------------------------------------------------------

    def buckets(self) -> dict[int, list[int]]:
        """Per bucket: [started, succeeded, failed, cancelled] (only buckets with runs may be
        present). Without a filter, from DBOS's indexes alone (:meth:`indexed_buckets`);
        with one, one pass over the window's rows (:meth:`plain_buckets`)."""
        return self.plain_buckets() if self.filtered else self.indexed_buckets()

    def plain_buckets(self) -> dict[int, list[int]]:
        """One pass over the window's ``workflow_status`` rows (any filter): at 1M runs on
        PostgreSQL the heap is read whole (a sequential scan, ~350 ms)."""
        out: dict[int, list[int]] = {}
        for k, started, ok, failed, cancelled in self.rows(
            "SELECT (s.created_at - :i_since) / :i_bucket AS k, count(*), "
            "sum(CASE WHEN s.status = 'SUCCESS' THEN 1 ELSE 0 END), "
            f"sum(CASE WHEN s.status IN {_FAILED_SQL} THEN 1 ELSE 0 END), "
            "sum(CASE WHEN s.status = 'CANCELLED' THEN 1 ELSE 0 END) "
            f"FROM {{workflow_status}} s WHERE {self.where} GROUP BY k"
        ):
            out[int(k)] = [int(started), int(ok or 0), int(failed or 0), int(cancelled or 0)]
        return out

    def indexed_buckets(self) -> dict[int, list[int]]:
        """The same counts as :meth:`plain_buckets` with no filter, in one statement that reads
        only DBOS's indexes: every run per bucket from the ``created_at`` index (a count per
        bucket's range: an index-only scan, no per-row expression), and the runs of every
        other status than SUCCESS per bucket from DBOS's partial indexes (the failed ones,
        PENDING, ENQUEUED, DELAYED: ``statements.FAILED_CONDITION`` /
        ``IN_FLIGHT_CONDITIONS``, which cover those six statuses), reading the heap only for
        those rows (their ``name``, to leave out presence rows). Succeeded = every run − the
        other statuses. A presence row (``agentdeck.worker``) sleeps for ten years and is
        never SUCCESS, so it is always among the rows read from the heap, and taken off."""

        def lo(k: int) -> str:
            return f"CAST(:i_since AS BIGINT) + {k} * CAST(:i_bucket AS BIGINT)"

        # A branch per bucket (at most 49), not a count per row of a generated series: branches
        # of a UNION ALL are what PostgreSQL runs side by side (a Parallel Append of the
        # counts: 98 -> 57 ms at 1M runs, 30 d, on 2 cores); SQLite reads each range of its
        # covering index as before.
        every = " UNION ALL ".join(
            f"SELECT {k}, NULL, count(*), 0 FROM {{workflow_status}} s "
            f"WHERE s.created_at >= {lo(k)} AND s.created_at < {lo(k + 1)} "
            "AND s.created_at < :i_until"
            for k in range(self.n)
        )
        others = " UNION ALL ".join(
            "SELECT (s.created_at - :i_since) / :i_bucket, s.status, count(*), "
            "sum(CASE WHEN s.name = :i_presence THEN 1 ELSE 0 END) "
            f"FROM {{workflow_status}} s WHERE {cond} AND {at} >= :i_since "
            f"AND {at} < :i_until GROUP BY 1, 2"
            for cond, at in _STATUS_PARTS
        )
        # ``every`` in a subquery of its own: flattened into one Append with ``others``, the
        # planner ran none of it in parallel.
        rows = self.rows(
            f"SELECT * FROM ({every}) e UNION ALL {others}", i_presence=PRESENCE_WORKFLOW
        )
        out: dict[int, list[int]] = {}
        for k, status, n, presence in rows:
            c = out.setdefault(int(k), [0, 0, 0, 0])
            n, presence = int(n or 0), int(presence or 0)
            if status is None:  # every run: counted as succeeded until the others come off
                c[0] += n
                c[1] += n
                continue
            c[0] -= presence
            c[1] -= n
            if status in _FAILED:
                c[2] += n - presence
            elif status == "CANCELLED":
                c[3] += n - presence
        return {k: c for k, c in out.items() if c[0]}

    # -- durations --------------------------------------------------------------------------

    def run_duration(self) -> str:
        return (
            f"CASE WHEN s.status IN {_TERMINAL_SQL} "
            "THEN coalesce(s.completed_at, s.updated_at) - s.created_at END"
        )

    def by_name(self) -> list[Spread]:
        """Runs per name and status, and the percentiles of the finished ones: one scan of the
        window grouped by (name, status, rounded duration), then both from that."""
        x = self.run_duration()
        # PostgreSQL would inline the duration into each of the rounding's eleven uses of it
        # (per row): OFFSET 0 keeps the inner query whole, so it is computed once.
        fence = "" if self.db.sqlite else " OFFSET 0"
        grouped = (
            f"SELECT d.g, d.st, {_rounded('d.x')} AS x, count(*) AS c FROM ("
            f"SELECT s.name AS g, s.status AS st, {x} AS x FROM {{workflow_status}} s "
            f"WHERE {self.where}{fence}) d GROUP BY 1, 2, 3"
        )
        rows = self.rows(
            f"WITH b AS ({grouped}) "
            "SELECT g, st, CAST(sum(c) AS BIGINT), NULL, NULL, NULL FROM b GROUP BY g, st "
            "UNION ALL SELECT p.g, NULL, p.n, p.p50, p.p95, p.top FROM ("
            f"{_ranked('SELECT g, x, sum(c) AS c FROM b WHERE x IS NOT NULL GROUP BY g, x')}"
            ") p",
        )
        acc: dict[str, dict[str, Any]] = {}
        for g, st, n, p50, p95, top in rows:
            a = acc.setdefault(str(g), {"statuses": {}, "p50": None, "p95": None, "max": None})
            if st is not None:
                a["statuses"][str(st)] = int(n)
            else:
                a.update(p50=p50, p95=p95, max=top)
        return sorted(
            (
                Spread(
                    g,
                    sum(a["statuses"].values()),
                    _s(a["p50"]),
                    _s(a["p95"]),
                    _s(a["max"]),
                    dict(sorted(a["statuses"].items())),
                )
                for g, a in acc.items()
            ),
            key=lambda s: (-s.count, s.name),
        )

    def step_values(self) -> str:
        return (
            "SELECT o.function_name AS g, o.completed_at_epoch_ms - o.started_at_epoch_ms AS x "
            f"FROM {{workflow_status}} s JOIN {{operation_outputs}} o "
            "ON o.workflow_uuid = s.workflow_uuid "
            f"WHERE {self.where} AND o.completed_at_epoch_ms >= :i_since "
            "AND o.started_at_epoch_ms IS NOT NULL AND o.child_workflow_id IS NULL "
            "AND o.function_name NOT LIKE 'DBOS.%' AND o.function_name NOT IN :i_bookkeeping"
        )

    def by_step(self) -> list[Spread]:
        rows = self.rows(_percentiles(self.step_values()), i_bookkeeping=list(_BOOKKEEPING))
        return sorted(
            (Spread(str(g), int(n), _s(p50), _s(p95), _s(top)) for g, n, p50, p95, top in rows),
            key=lambda s: (-(s.p95_s or 0), s.name),
        )

    def histogram(self, kind: str, name: str, bins: int = 20) -> Histogram | None:
        if kind == "step":
            values = f"SELECT x FROM ({self.step_values()}) t WHERE t.g = :i_name"
            extra: dict[str, Any] = {"i_bookkeeping": list(_BOOKKEEPING)}
        else:
            values = (
                f"SELECT {self.run_duration()} AS x FROM {{workflow_status}} s "
                f"WHERE {self.where} AND s.name = :i_name"
            )
            extra = {}
        rows = self.rows(
            f"WITH v AS ({values}), b AS (SELECT min(x) AS lo, max(x) AS hi FROM v) "
            "SELECT b.lo, b.hi, CASE WHEN b.hi = b.lo THEN 0 "
            "WHEN (v.x - b.lo) * :i_bins / (b.hi - b.lo) >= :i_bins THEN :i_bins - 1 "
            "ELSE (v.x - b.lo) * :i_bins / (b.hi - b.lo) END AS k, count(*) "
            "FROM v, b WHERE v.x IS NOT NULL GROUP BY b.lo, b.hi, k",
            i_name=name,
            i_bins=bins,
            **extra,
        )
        if not rows:
            return None
        counts = [0] * bins
        for _, _, k, n in rows:
            counts[int(k)] += int(n)
        lo, hi = rows[0][0], rows[0][1]
        return Histogram(kind, name, _s(lo) or 0.0, _s(hi) or 0.0, tuple(counts))

    # -- cost -------------------------------------------------------------------------------

    def usage(self) -> tuple[dict[int, dict[str, list[float]]], list[ModelUsage], bool]:
        """Tokens and cost per bucket and model, from the Claude steps' outputs (decoded here:
        they are pickled ``ClaudeResult``s)."""
        rows = self.rows(
            "SELECT o.completed_at_epoch_ms, o.output, o.serialization "
            f"FROM {{workflow_status}} s JOIN {{operation_outputs}} o "
            "ON o.workflow_uuid = s.workflow_uuid "
            f"WHERE {self.where} AND o.function_name IN :i_claude AND o.output IS NOT NULL "
            "AND o.completed_at_epoch_ms >= :i_since "
            "ORDER BY s.created_at DESC LIMIT :i_cap",
            i_claude=list(CLAUDE_STEPS),
            i_cap=DECODE_CAP,
        )
        per_bucket: dict[int, dict[str, list[float]]] = {}
        totals: dict[str, list[float]] = {}
        for done_ms, output, ser in rows:
            for r in _claude_results(decode(output, ser, light=True)):
                k = min(
                    max(
                        int(
                            (int(done_ms or self.since_ms) - self.since_ms)
                            // (self.bucket_s * 1000)
                        ),
                        0,
                    ),
                    self.n - 1,
                )
                cell = per_bucket.setdefault(k, {}).setdefault(r["model"], [0, 0.0])
                tokens = r["input"] + r["output"] + r["cache"]
                cell[0] += tokens
                cell[1] += r["cost"]
                t = totals.setdefault(r["model"], [0, 0, 0, 0, 0.0])
                t[0] += 1
                t[1] += r["input"]
                t[2] += r["output"]
                t[3] += r["cache"]
                t[4] += r["cost"]
        models = [
            ModelUsage(m, int(t[0]), int(t[1]), int(t[2]), int(t[3]), round(t[4], 6))
            for m, t in sorted(totals.items(), key=lambda kv: -kv[1][4])
        ]
        return per_bucket, models, len(rows) >= DECODE_CAP

    def top_cost(self, limit: int = 10) -> list[Expensive]:
        cost = f"CAST({self.db.json_text_field('e.value', 'cost_usd')} AS {self.db.float_type})"
        rows = self.rows(
            f"SELECT s.workflow_uuid, s.name, s.status, {cost} AS c, s.created_at "
            f"FROM {{workflow_status}} s JOIN {{workflow_events}} e "
            "ON e.workflow_uuid = s.workflow_uuid AND e.key = :i_progress "
            "AND e.serialization = 'portable_json' "
            f"WHERE {self.where} AND {cost} > 0 ORDER BY c DESC, s.created_at DESC LIMIT :i_top",
            i_progress=PROGRESS_EVENT,
            i_top=limit,
        )
        return [
            Expensive(str(w), str(n), str(st), round(float(c), 6), int(at) / 1000.0)
            for w, n, st, c, at in rows
        ]

    # -- human wait -------------------------------------------------------------------------

    def waits(self) -> list[Wait]:
        """Our approvals wait from their ``approval`` step (the request is published right
        after it) to the first ``recv`` after it; another app's ``recv`` (a workflow with no
        ``approval`` / ``settings`` step) from the recv's start to its end. Open: the workflow
        is PENDING and that recv has no row yet."""
        ours = (
            "SELECT s.workflow_uuid AS w, s.name AS name, s.status AS st, "
            "a.completed_at_epoch_ms AS asked, (SELECT min(r.function_id) "
            "FROM {operation_outputs} r WHERE r.workflow_uuid = a.workflow_uuid "
            "AND r.function_id > a.function_id AND r.function_name = 'DBOS.recv') AS rid "
            "FROM {workflow_status} s JOIN {operation_outputs} a "
            f"ON a.workflow_uuid = s.workflow_uuid WHERE {self.where} "
            "AND a.function_name = 'approval' AND a.completed_at_epoch_ms >= :i_since"
        )
        foreign_wf = (
            "NOT EXISTS (SELECT 1 FROM {operation_outputs} m "
            "WHERE m.workflow_uuid = s.workflow_uuid AND m.function_name IN :i_ours)"
        )
        values = (
            f"SELECT CASE WHEN q.name = 'research.question' THEN 'tool' "
            "WHEN q.name = 'research' THEN 'plan' ELSE 'approval' END AS g, "
            "CASE WHEN r.completed_at_epoch_ms IS NULL THEN :i_now - q.asked "
            "ELSE r.completed_at_epoch_ms - q.asked END AS x, "
            "CASE WHEN r.completed_at_epoch_ms IS NULL THEN 1 ELSE 0 END AS open "
            f"FROM ({ours}) q LEFT JOIN {{operation_outputs}} r "
            "ON r.workflow_uuid = q.w AND r.function_id = q.rid "
            "WHERE r.completed_at_epoch_ms IS NOT NULL OR q.st = 'PENDING' "
            "UNION ALL "
            "SELECT 'recv', o.completed_at_epoch_ms - o.started_at_epoch_ms, 0 "
            "FROM {workflow_status} s JOIN {operation_outputs} o "
            f"ON o.workflow_uuid = s.workflow_uuid WHERE {self.where} "
            "AND o.function_name = 'DBOS.recv' AND o.completed_at_epoch_ms >= :i_since "
            f"AND {foreign_wf} "
            "UNION ALL "
            "SELECT 'recv', :i_now - o.started_at_epoch_ms, 1 "
            "FROM {workflow_status} s JOIN {operation_outputs} o "
            f"ON o.workflow_uuid = s.workflow_uuid WHERE {self.where} AND s.status = 'PENDING' "
            "AND o.function_name = 'DBOS.sleep' AND o.completed_at_epoch_ms >= :i_since "
            "AND o.completed_at_epoch_ms - o.started_at_epoch_ms < 1000 "
            "AND o.function_id = (SELECT max(m.function_id) FROM {operation_outputs} m "
            "WHERE m.workflow_uuid = s.workflow_uuid) "
            "AND NOT EXISTS (SELECT 1 FROM {operation_outputs} p "
            "WHERE p.workflow_uuid = s.workflow_uuid AND p.function_id = o.function_id - 1) "
            f"AND {foreign_wf}"
        )
        rows = self.rows(
            f"WITH v0 AS ({values}), "
            "v AS (SELECT g, CASE WHEN open = 0 THEN x END AS x, "
            "CASE WHEN open = 1 THEN x END AS ox FROM v0), "
            "r AS (SELECT g, x, ox, count(x) OVER (PARTITION BY g) AS n, "
            "row_number() OVER (PARTITION BY g ORDER BY CASE WHEN x IS NULL THEN 1 ELSE 0 END, "
            "x) AS rn FROM v) "
            "SELECT g, count(x), "
            "max(CASE WHEN x IS NOT NULL AND rn = (50 * n + 99) / 100 THEN x END), "
            "max(CASE WHEN x IS NOT NULL AND rn = (95 * n + 99) / 100 THEN x END), "
            "count(ox), max(ox) FROM r GROUP BY g",
            i_now=self.until_ms,
            i_ours=["approval", "settings"],
        )
        order = {"plan": 0, "tool": 1, "approval": 2, "recv": 3}
        return sorted(
            (
                Wait(str(g), int(n), _s(p50), _s(p95), int(no), _s(longest))
                for g, n, p50, p95, no, longest in rows
            ),
            key=lambda w: order.get(w.kind, 9),
        )

    # -- queues -----------------------------------------------------------------------------

    def queues(self) -> list[QueueLoad]:
        """Per queue and bucket end t: runs enqueued by t and not started by t (depth) and how
        long the oldest of them had waited."""
        # t.k is an integer: times the bucket in ms it overflows PostgreSQL's (4 bytes) from
        # the 25th day bucket of the 30-day window on.
        t = "min(:i_since + (CAST(t.k AS BIGINT) + 1) * :i_bucket, :i_until)"
        started = (
            "coalesce(s.started_at_epoch_ms, CASE WHEN s.status = 'ENQUEUED' THEN :i_until + 1 "
            "ELSE coalesce(s.completed_at, s.updated_at) END)"
        )
        if not self.db.sqlite:
            t = t.replace("min(", "least(")
        rows = self.rows(
            "WITH RECURSIVE t(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM t WHERE k + 1 < :i_n) "
            f"SELECT s.queue_name, t.k, count(t.k), max({t} - s.created_at) "
            f"FROM {{workflow_status}} s LEFT JOIN t ON s.created_at <= {t} AND {started} > {t} "
            f"WHERE s.queue_name IS NOT NULL AND {self.where} GROUP BY s.queue_name, t.k",
            i_n=self.n,
        )
        depth: dict[str, list[int]] = {}
        oldest: dict[str, list[float]] = {}
        for q, k, n, wait in rows:
            d = depth.setdefault(str(q), [0] * self.n)
            o = oldest.setdefault(str(q), [0.0] * self.n)
            if k is not None:
                d[int(k)] = int(n)
                o[int(k)] = _s(wait) or 0.0
        return [QueueLoad(q, tuple(depth[q]), tuple(oldest[q])) for q in sorted(depth)]

    # -- errors -----------------------------------------------------------------------------

    def errors(self, limit: int = 20) -> tuple[list[ErrorGroup], bool]:
        rows = self.rows(
            "SELECT s.workflow_uuid, s.created_at, coalesce(o.error, s.error), s.serialization "
            f"FROM {{workflow_status}} s LEFT JOIN {{workflow_output}} o "
            "ON o.workflow_uuid = s.workflow_uuid "
            f"WHERE {self.where} AND s.status IN :i_failed "
            "ORDER BY s.created_at DESC LIMIT :i_cap",
            i_failed=list(_FAILED),
            i_cap=DECODE_CAP,
        )
        groups: dict[str, list[Any]] = {}
        for wid, at, err, ser in rows:
            text = error_text(decode(err, ser, light=True), redact) if err else "(no error)"
            first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "(no error)")
            g = groups.setdefault(first[:200], [0, str(wid), int(at) / 1000.0])
            g[0] += 1  # rows come newest first: the first seen is the newest
        out = [ErrorGroup(line, n, wid, at) for line, (n, wid, at) in groups.items()]
        out.sort(key=lambda e: (-e.count, -e.newest_at))
        return out[:limit], len(rows) >= DECODE_CAP


def _claude_results(value: Any) -> list[dict[str, Any]]:
    """Model, tokens and cost of each Claude result in a decoded step output (a
    ``ClaudeResult``, a tuple holding one, or its dict form)."""
    items = list(value) if isinstance(value, tuple | list) else [value]
    out: list[dict[str, Any]] = []
    for item in items:
        if isinstance(item, Mapping):
            get: Any = item.get
        elif type(item).__name__ == "ClaudeResult":
            get = lambda k, d=None, _i=item: getattr(_i, k, d)  # noqa: E731
        else:
            continue
        usage = get("usage")
        if usage is None or get("model") is None:
            continue
        u = usage if isinstance(usage, Mapping) else vars(usage)
        out.append(
            {
                "model": str(get("model")),
                "input": int(u.get("input_tokens") or 0),
                "output": int(u.get("output_tokens") or 0),
                "cache": int(u.get("cache_read_input_tokens") or 0)
                + int(u.get("cache_creation_input_tokens") or 0),
                "cost": float(get("cost_usd") or 0.0),
            }
        )
    return out
