"""The insights: aggregates of the runs created in a time window, computed by the database.

Every chart is one statement over the ``workflow_status`` rows created in ``[since, until)``
(DBOS's ``created_at`` index) that match the list's filter (``filters.Filter``, compiled to the
same WHERE clause); step rows are also bounded by ``completed_at_epoch_ms >= since`` (indexed by
DBOS, and met by every step of a run created in the window). Buckets, percentiles and histograms
are computed in SQL (nearest-rank percentiles over durations rounded to 1 %, with window
functions, which SQLite and PostgreSQL both have). Two figures cannot be: a Claude step's
tokens, cost and model are inside its pickled output, and a run's error is a pickled exception.
For those, one statement reads the needed column of the window's rows (at most
:data:`DECODE_CAP` of them, newest first) and Python decodes and adds them up; the result says
when the cap cut it short.

Standard library only (the data core): ``agentdeck stats`` runs it over plain ``sqlite3`` /
``psycopg`` connections, the dashboard on its engine's raw connections, on a worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .decode import decode
from .insight_figures import (
    CLAUDE_STEPS,
    DECODE_CAP,
    WINDOWS,
    Bucket,
    ErrorGroup,
    Expensive,
    Histogram,
    Insights,
    InsightsQuery,
    ModelUsage,
    QueueLoad,
    Spread,
    Wait,
    window_of,
)
from .insight_sql import _claude_results, _Run
from .sql import DB

__all__ = [
    "CLAUDE_STEPS",
    "DECODE_CAP",
    "WINDOWS",
    "Bucket",
    "ErrorGroup",
    "Expensive",
    "Histogram",
    "Insights",
    "InsightsQuery",
    "ModelUsage",
    "QueueLoad",
    "Spread",
    "StepCost",
    "Wait",
    "compute",
    "histogram",
    "merge",
    "step_costs",
    "window_of",
]


def compute(db: DB, q: InsightsQuery) -> Insights:
    """Every figure of the window, or the part ``q.parts`` says.

    Runs in the calling thread: call it from a worker thread.

    Args:
        db: The connection to read with.
        q: The window, filter, selected row and part to compute.

    Returns:
        The figures; ``complete`` is False for a ``parts="runs"`` or ``"rest"`` result (see
            :func:`merge`), ``capped`` True when a decoded read stopped at :data:`DECODE_CAP`.

    Raises:
        FilterError: A bad filter or window (the message names it).
    """
    before = db.statements
    run = _Run(db, q)
    runs, rest = q.parts in ("all", "runs"), q.parts in ("all", "rest")
    counts = run.buckets() if runs else {}
    per_bucket, models, capped_usage = run.usage() if rest else ({}, [], False)
    buckets = []
    for k in range(run.n):
        c = counts.get(k, [0, 0, 0, 0])
        cells = per_bucket.get(k, {})
        buckets.append(
            Bucket(
                start=(run.since_ms + k * run.bucket_s * 1000) / 1000.0,
                started=c[0],
                succeeded=c[1],
                failed=c[2],
                cancelled=c[3],
                tokens={m: int(v[0]) for m, v in sorted(cells.items())},
                cost={m: round(v[1], 6) for m, v in sorted(cells.items())},
            )
        )
    found = Insights(
        window=q.window,
        filter=q.filter,
        since=run.since_ms / 1000.0,
        until=run.until_ms / 1000.0,
        bucket_s=run.bucket_s,
        buckets=tuple(buckets),
    )
    if not rest:
        return replace(found, statements=db.statements - before, complete=False)
    errors, capped_errors = run.errors()
    return replace(
        found,
        by_name=tuple(run.by_name()),
        by_step=tuple(run.by_step()),
        models=tuple(models),
        top_cost=tuple(run.top_cost()),
        waits=tuple(run.waits()),
        queues=tuple(run.queues()),
        errors=tuple(errors),
        histogram=run.histogram(*q.selected) if q.selected else None,
        statements=db.statements - before,
        capped=capped_usage or capped_errors,
        complete=runs,
    )


def merge(runs: Insights, rest: Insights) -> Insights:
    """The ``parts="runs"`` and ``parts="rest"`` results of one query as one.

    Args:
        runs: The ``parts="runs"`` result (the runs per bucket).
        rest: The ``parts="rest"`` result (everything else), of the same window.

    Returns:
        ``rest`` with the runs per bucket of ``runs``, marked complete.
    """
    buckets = tuple(
        replace(b, started=r.started, succeeded=r.succeeded, failed=r.failed, cancelled=r.cancelled)
        for b, r in zip(rest.buckets, runs.buckets, strict=True)
    )
    return replace(
        rest, buckets=buckets, statements=runs.statements + rest.statements, complete=True
    )


def histogram(db: DB, q: InsightsQuery) -> Histogram | None:
    """Only the selected row's histogram (one statement): when the selection moves.

    Args:
        db: The connection to read with.
        q: The query, with ``selected`` the row of the duration tables to draw.

    Returns:
        The histogram of that row's durations; ``None`` when nothing is selected or nothing
            finished in the window.

    Raises:
        FilterError: A bad filter or window (the message names it).
    """
    if q.selected is None:
        return None
    return _Run(db, q).histogram(*q.selected)


# -- one run's steps ----------------------------------------------------------------------


@dataclass(frozen=True)
class StepCost:
    """What one Claude step of a run (or of one of its children) took: time, tokens, cost."""

    workflow_id: str
    step_id: int
    name: str
    started_at: float | None
    completed_at: float | None
    model: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    failed: bool = False

    @property
    def tokens(self) -> int:
        """Input and output tokens together (cache reads count as input)."""
        return self.input_tokens + self.output_tokens

    def seconds(self, now: float) -> float | None:
        """How long the step ran, or has run so far.

        Args:
            now: The time a step still running is measured to, in epoch seconds.

        Returns:
            The seconds; ``None`` for a step with no start time.
        """
        if self.started_at is None:
            return None
        return max(0.0, (self.completed_at or now) - self.started_at)


def step_costs(db: DB, workflow_id: str) -> list[StepCost]:
    """The Claude steps of a run and of its children (a research run's questions, a compare
    run's branches) in the order they started: one statement, outputs decoded here.

    Args:
        db: The connection to read with.
        workflow_id: The run.

    Returns:
        One entry per Claude step; a step without a decodable result has no model, tokens or
            cost.
    """
    rows = db.rows(
        "SELECT o.workflow_uuid, o.function_id, o.function_name, o.started_at_epoch_ms, "
        "o.completed_at_epoch_ms, o.output, o.error, o.serialization "
        "FROM {workflow_status} s JOIN {operation_outputs} o ON o.workflow_uuid = s.workflow_uuid "
        "WHERE (s.workflow_uuid = :w OR s.parent_workflow_id = :w) "
        "AND o.function_name IN :claude "
        "ORDER BY o.started_at_epoch_ms, o.workflow_uuid, o.function_id",
        {"w": workflow_id, "claude": list(CLAUDE_STEPS)},
    )
    out: list[StepCost] = []
    for wid, fid, name, started, completed, output, error, ser in rows:
        found = _claude_results(decode(output, ser, light=True)) if output else []
        r = found[0] if found else None
        out.append(
            StepCost(
                workflow_id=str(wid),
                step_id=int(fid),
                name=str(name),
                started_at=None if started is None else int(started) / 1000.0,
                completed_at=None if completed is None else int(completed) / 1000.0,
                model=r["model"] if r else "",
                input_tokens=(r["input"] + r["cache"]) if r else 0,
                output_tokens=r["output"] if r else 0,
                cost_usd=r["cost"] if r else 0.0,
                failed=error is not None,
            )
        )
    return out
