"""The queue and schedule aggregates the DBOS API lacks: what is on each queue (and each
partition of a partitioned one) now, and each schedule's latest runs. One statement each.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import statements as st
from .sql import DB

__all__ = ["Counts", "in_flight", "latest_runs"]


@dataclass
class Counts:
    """What is on one queue (or one partition of it)."""

    running: int = 0
    delayed: int = 0
    dedup_held: int = 0
    by_priority: dict[int, int] = field(default_factory=dict)
    oldest_enqueued_ms: int | None = None
    window_starts: int = 0
    window_oldest_ms: int | None = None
    #: A partitioned queue's counts per partition key (the same fields, per partition).
    partitions: dict[str, Counts] = field(default_factory=dict)


def in_flight(
    db: DB, windows: Mapping[str, float], partition_windows: Mapping[str, float], now: float
) -> dict[str, Counts]:
    """What is on each queue now, per queue and per partition of partitioned queues, in one
    statement (:func:`~tui.data.statements.queues_in_flight`).

    Args:
        db: The connection to read with.
        windows: Queue → the period of its rate limit in seconds (queues limited as a whole).
        partition_windows: The same for queues limited per partition.
        now: The time the windows end at, in epoch seconds.

    Returns:
        Queue name → its counts (with its partitions' counts in :attr:`Counts.partitions`);
            a queue with nothing on it is absent.
    """
    out: dict[str, Counts] = {}
    for queue, status, priority, n, dedup, oldest, key in db.rows(
        *st.queues_in_flight(windows, partition_windows, now)
    ):
        c = out.setdefault(queue, Counts())
        if status == "WINDOW" and key is not None:
            _count(c.partitions.setdefault(key, Counts()), status, priority, n, dedup, oldest)
            continue
        _count(c, status, priority, n, dedup, oldest)
        if key is not None:
            _count(c.partitions.setdefault(key, Counts()), status, priority, n, dedup, oldest)
    return out


def _count(c: Counts, status: str, priority: Any, n: Any, dedup: Any, oldest: Any) -> None:
    """Add one row of the in-flight statement to a queue's (or a partition's) counts."""
    n = int(n)
    if status == "WINDOW":
        c.window_starts = n
        c.window_oldest_ms = int(oldest) if oldest is not None else None
        return
    c.dedup_held += int(dedup or 0)
    if status == "ENQUEUED":
        c.by_priority[int(priority)] = c.by_priority.get(int(priority), 0) + n
        if oldest is not None:
            first = int(oldest)
            if c.oldest_enqueued_ms is None or first < c.oldest_enqueued_ms:
                c.oldest_enqueued_ms = first
    elif status == "PENDING":
        c.running += n
    else:
        c.delayed += n


def latest_runs(
    db: DB, names: Sequence[str], n: int
) -> dict[str, list[tuple[str, str, float | None]]]:
    """The ``n`` newest runs of each schedule, in one statement.

    Args:
        db: The connection to read with.
        names: The schedules' names.
        n: How many runs per schedule.

    Returns:
        Schedule name → its runs, newest first, each (workflow id, status, created at in epoch
            seconds); a schedule that never ran is absent.
    """
    if not names:
        return {}
    out: dict[str, list[tuple[str, str, float | None]]] = {}
    for name, wid, status, created in db.rows(st.LATEST_SCHEDULE_RUNS, {"s": list(names), "n": n}):
        out.setdefault(name, []).append(
            (str(wid), str(status), created / 1000.0 if created else None)
        )
    return out
