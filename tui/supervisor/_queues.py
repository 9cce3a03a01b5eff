"""Queues and schedules: what waits, what runs, and what fires next.

Configuration comes from DBOS (``list_queues_async``, ``list_schedules_async``). Counts come
from SQL, because ``DBOSClient`` has no call for "how many per queue" or "the latest N runs of
every schedule": one aggregate statement per refresh each (``tui.data.queues``; the texts are
in ``tui.data.statements``). The queue statement counts, per queue and per partition of a
partitioned queue, the DELAYED, ENQUEUED (by priority) and PENDING runs, the deduplication ids
they hold, and the starts inside each rate limit's current window (a queue's and each
partition's), all in one ``UNION ALL``. A refresh of the queue view is two queries; of the
schedule view, two.

A source may serve recorded rows instead (``tests.support.canned`` for snapshots): anything that
implements :class:`RecordedQueues` is asked for its rows and DBOS is not touched.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar, runtime_checkable
from zoneinfo import ZoneInfo

from croniter import croniter  # type: ignore[import-untyped]
from pydantic import BaseModel, ConfigDict

from workflows.dbos_private import queue_limits
from workflows.runtime import redact

from ..data.queues import Counts, in_flight, latest_runs
from .errors import SupervisorError
from .threads import in_thread

if TYPE_CHECKING:
    from .source import Supervisor

__all__ = [
    "PartitionRow",
    "QueueRow",
    "RecordedQueues",
    "ScheduleRow",
    "ScheduleRun",
    "next_run",
    "queue_rows",
    "schedule_rows",
]

#: How many of each schedule's latest runs a row carries.
LAST_RUNS = 3

T = TypeVar("T")


class _Snap(BaseModel):
    model_config = ConfigDict(frozen=True)


class PartitionRow(_Snap):
    """One partition of a partitioned queue (a tenant, say): what is on it now."""

    key: str
    running: int = 0
    enqueued: int = 0
    delayed: int = 0
    #: ENQUEUED workflows per priority, lowest first; 0 = no priority.
    queued_by_priority: tuple[tuple[int, int], ...] = ()
    oldest_wait_s: float | None = None
    #: Starts in the partition rate limit's current window (None: no partition rate limit).
    rate_used: int | None = None
    rate_frees_at: float | None = None


class QueueRow(_Snap):
    """One queue: its limits as registered in DBOS, and what is on it now."""

    name: str
    #: False for a queue seen only on workflows (DBOS's internal queue, say): limits unknown.
    registered: bool = True
    global_concurrency: int | None = None
    worker_concurrency: int | None = None
    rate_limit: int | None = None
    rate_period_s: float | None = None
    #: Starts counted against the rate limit in its current window (None: no rate limit).
    rate_used: int | None = None
    #: When the oldest start of the window leaves it (a slot frees up then), epoch seconds.
    rate_frees_at: float | None = None
    #: Some ENQUEUED workflow on it has a priority (DBOS then dequeues by priority).
    priority_in_use: bool = False
    #: ENQUEUED workflows per priority, lowest (dequeued first) first; 0 = no priority.
    queued_by_priority: tuple[tuple[int, int], ...] = ()
    enqueued: int = 0
    #: PENDING workflows with this queue name (dequeued, running somewhere).
    running: int = 0
    #: DELAYED workflows (a debounced launch waiting for its start time).
    delayed: int = 0
    #: In-flight workflows holding a deduplication id (an identical launch is refused).
    dedup_held: int = 0
    #: Age of the longest-waiting ENQUEUED workflow (since it last entered the queue).
    oldest_wait_s: float | None = None
    #: Limits that apply to each partition on its own (DBOS ``partition_*``; any of them set
    #: makes the queue partitioned).
    partition_concurrency: int | None = None
    partition_worker_concurrency: int | None = None
    partition_rate_limit: int | None = None
    partition_rate_period_s: float | None = None
    #: The partitions with work on them now, by key.
    partitions: tuple[PartitionRow, ...] = ()

    @property
    def partitioned(self) -> bool:
        """Registered with per-partition limits, or seen with partition keys on its runs."""
        return bool(self.partitions) or any(
            v is not None
            for v in (
                self.partition_concurrency,
                self.partition_worker_concurrency,
                self.partition_rate_limit,
            )
        )

    def partition_full(self, p: PartitionRow) -> bool:
        """As many of the partition's runs running as its global limit allows."""
        return self.partition_concurrency is not None and p.running >= self.partition_concurrency

    def partition_rate_full(self, p: PartitionRow) -> bool:
        return self.partition_rate_limit is not None and (p.rate_used or 0) >= (
            self.partition_rate_limit
        )

    @property
    def saturated(self) -> bool:
        """As many running as the global limit allows."""
        return self.global_concurrency is not None and self.running >= self.global_concurrency

    @property
    def rate_full(self) -> bool:
        """The rate limit's window has no start left: queued runs wait for a slot."""
        return self.rate_limit is not None and (self.rate_used or 0) >= self.rate_limit


class ScheduleRun(_Snap):
    workflow_id: str
    status: str
    created_at: float | None = None


class ScheduleRow(_Snap):
    """One cron schedule, when it fires next, and how its latest runs went (newest first)."""

    name: str
    workflow_name: str
    cron: str
    timezone: str = "UTC"
    queue: str = ""
    status: Literal["active", "paused"] = "active"
    #: None while paused (or for a cron expression croniter cannot read).
    next_run_at: float | None = None
    last_fired_at: float | None = None
    last_runs: tuple[ScheduleRun, ...] = ()
    #: What a firing does, for schedules of agentdeck.yaml (topic, questions, approval).
    detail: str = ""


@runtime_checkable
class RecordedQueues(Protocol):
    """A source that serves recorded queue and schedule rows instead of reading DBOS."""

    def recorded_queues(self, now: float) -> list[QueueRow]: ...

    def recorded_schedules(self, now: float) -> list[ScheduleRow]: ...


def next_run(cron: str, *, after: float, tz: str | None = None) -> float | None:
    """The first time ``cron`` fires after ``after`` (epoch seconds), as DBOS's scheduler
    computes it: 5 or 6 fields (seconds first), evaluated in ``tz`` (default UTC)."""
    try:
        zone = ZoneInfo(tz) if tz else UTC
        it = croniter(cron, datetime.fromtimestamp(after, zone), second_at_beginning=True)
        nxt: datetime = it.get_next(datetime)
    except Exception:  # an expression DBOS would refuse to run: no next time
        return None
    return nxt.timestamp()


async def _call(what: str, aw: Awaitable[T]) -> T:
    try:
        return await aw
    except SupervisorError:
        raise
    except Exception as exc:
        text = str(exc) or type(exc).__name__
        raise SupervisorError(redact(f"{what} failed: {type(exc).__name__}: {text}")) from None


async def queue_rows(sup: Supervisor, *, now: float | None = None) -> list[QueueRow]:
    """Every registered queue plus any queue with work on it, by name (two queries)."""
    now = time.time() if now is None else now
    if isinstance(sup, RecordedQueues):
        return sup.recorded_queues(now)
    queues = await _call("list queues", sup.client.list_queues_async())
    rows: dict[str, QueueRow] = {}
    windows: dict[str, float] = {}
    partition_windows: dict[str, float] = {}
    for q in queues:
        # Queue's public getters re-read the row (a blocking query each); list_queues has just
        # read it, so take the values it was built from (workflows.dbos_private).
        limits = queue_limits(q)
        limiter, per = limits.limiter, limits.partition_limiter
        rows[q.name] = QueueRow(
            name=q.name,
            global_concurrency=limits.concurrency,
            worker_concurrency=limits.worker_concurrency,
            rate_limit=int(limiter["limit"]) if limiter else None,
            rate_period_s=float(limiter["period"]) if limiter else None,
            rate_used=0 if limiter else None,
            partition_concurrency=limits.partition_concurrency,
            partition_worker_concurrency=limits.partition_worker_concurrency,
            partition_rate_limit=int(per["limit"]) if per else None,
            partition_rate_period_s=float(per["period"]) if per else None,
        )
        if limiter:
            windows[q.name] = float(limiter["period"])
        if per:
            partition_windows[q.name] = float(per["period"])
    counts = await _call(
        "count queued workflows",
        in_thread(sup.sql.with_db, lambda db: in_flight(db, windows, partition_windows, now)),
    )
    for name, c in counts.items():
        base = rows.get(name) or QueueRow(name=name, registered=False)
        period = windows.get(name)
        per_period = partition_windows.get(name)
        rows[name] = base.model_copy(
            update={
                "enqueued": sum(c.by_priority.values()),
                "running": c.running,
                "delayed": c.delayed,
                "dedup_held": c.dedup_held,
                "priority_in_use": any(p > 0 for p in c.by_priority),
                "queued_by_priority": tuple(sorted(c.by_priority.items())),
                "oldest_wait_s": None
                if c.oldest_enqueued_ms is None
                else max(0.0, now - c.oldest_enqueued_ms / 1000.0),
                "rate_used": c.window_starts if period is not None else base.rate_used,
                "rate_frees_at": c.window_oldest_ms / 1000.0 + period
                if period is not None and c.window_oldest_ms is not None
                else None,
                "partitions": tuple(
                    _partition(key, p, per_period, now) for key, p in sorted(c.partitions.items())
                ),
            }
        )
    return sorted(rows.values(), key=lambda r: (not r.registered, r.name))


def _partition(key: str, c: Counts, period: float | None, now: float) -> PartitionRow:
    return PartitionRow(
        key=key,
        running=c.running,
        enqueued=sum(c.by_priority.values()),
        delayed=c.delayed,
        queued_by_priority=tuple(sorted(c.by_priority.items())),
        oldest_wait_s=None
        if c.oldest_enqueued_ms is None
        else max(0.0, now - c.oldest_enqueued_ms / 1000.0),
        rate_used=c.window_starts if period is not None else None,
        rate_frees_at=c.window_oldest_ms / 1000.0 + period
        if period is not None and c.window_oldest_ms is not None
        else None,
    )


async def schedule_rows(sup: Supervisor, *, now: float | None = None) -> list[ScheduleRow]:
    """Every schedule with its next run and latest runs, by name (two queries)."""
    now = time.time() if now is None else now
    if isinstance(sup, RecordedQueues):
        return sup.recorded_schedules(now)
    schedules = await _call("list schedules", sup.client.list_schedules_async())
    names = [s["schedule_name"] for s in schedules]
    runs = await _call(
        "read schedule runs",
        in_thread(sup.sql.with_db, lambda db: latest_runs(db, names, LAST_RUNS)),
    )
    out = []
    for s in schedules:
        active = str(s.get("status") or "ACTIVE").upper() == "ACTIVE"
        tz = s.get("cron_timezone") or None
        out.append(
            ScheduleRow(
                name=s["schedule_name"],
                workflow_name=s["workflow_name"],
                cron=s["schedule"],
                timezone=tz or "UTC",
                queue=s.get("queue_name") or "",
                status="active" if active else "paused",
                next_run_at=next_run(s["schedule"], after=now, tz=tz) if active else None,
                last_fired_at=_iso_to_epoch(s.get("last_fired_at")),
                last_runs=tuple(
                    ScheduleRun(workflow_id=wid, status=status, created_at=created)
                    for wid, status, created in runs.get(s["schedule_name"], ())
                ),
                detail=_schedule_detail(s.get("context")),
            )
        )
    return sorted(out, key=lambda r: r.name)


def _schedule_detail(context: Any) -> str:
    """A research schedule's request in a few words (other schedules: nothing)."""
    if not isinstance(context, dict) or "topic" not in context:
        return ""
    approve = "auto-approve" if context.get("auto_approve") else "asks approval"
    return redact(f"{context['topic']} · {context.get('questions', 3)}q · {approve}")[:120]


def _iso_to_epoch(value: Any) -> float | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()
