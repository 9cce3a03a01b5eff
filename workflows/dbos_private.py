"""Every use of DBOS's private surface, in one place (checked against dbos 3.4.0).

DBOS's public API (``dbos.__all__``) covers most of what agentdeck needs: errors come from
``dbos.error``, ``WorkflowSerializationFormat`` from ``dbos``, queues and schedules from
``DBOSClient.list_queues_async`` / ``list_schedules_async``. What it does not expose is here,
and nowhere else in ``workflows`` or ``tui``:

- the priority bounds DBOS validates enqueues against (``dbos._context``);
- the rate limit's type (``dbos._queue.QueueRateLimit``, a TypedDict of ``limit``/``period``);
- a listed queue's limits *as read* (``Queue``'s public getters re-read the queue's row, a
  blocking query each; ``list_queues`` has just read it);
- the SQLAlchemy engine of a client's system database (the data layer's own statements run on
  its pooled connections: one pool, one set of credentials);
- the fallback poll of ``recv``/``get_event`` waits, a class attribute of ``SystemDatabase``;
- the polling interval of DBOS's internal queue (in memory, per process: recovery, schedule
  firings), which ``DBOS.register_queue`` does not cover;
- waking this process's queue threads for a poll now (:func:`wake_queue_threads`): DBOS polls
  its queues on a timer and has no public way to say "there is work"; the queue threads' stop
  event (``queue_thread``'s argument) is made wakeable without being set.

``tests/unit/test_dbos_private.py`` checks each of these against the installed DBOS, so an upgrade
that moves one fails there, loudly, and not somewhere in a screen.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa
from dbos._context import MaxPriority, MinPriority
from dbos._queue import QueueRateLimit

if TYPE_CHECKING:
    from dbos import DBOSClient, Queue

__all__ = [
    "CHECKED_DBOS_VERSION",
    "MAX_PRIORITY",
    "MIN_PRIORITY",
    "QueueLimits",
    "QueueRateLimit",
    "client_engine",
    "queue_limits",
    "make_queue_threads_wakeable",
    "set_internal_queue_poll",
    "set_notification_fallback_poll",
    "wake_queue_threads",
]

#: The DBOS release every private use below was read against.
CHECKED_DBOS_VERSION = "3.4.0"

#: DBOS's bounds for a workflow's priority (``dbos._context.MinPriority`` / ``MaxPriority``).
MIN_PRIORITY: int = MinPriority
MAX_PRIORITY: int = MaxPriority


@dataclass(frozen=True)
class QueueLimits:
    """A queue's limits as ``list_queues`` read them (no further query)."""

    concurrency: int | None
    worker_concurrency: int | None
    limiter: QueueRateLimit | None
    partition_concurrency: int | None
    partition_worker_concurrency: int | None
    partition_limiter: QueueRateLimit | None


def queue_limits(q: Queue) -> QueueLimits:
    """The limits a listed queue was built from (``Queue._concurrency`` and its siblings)."""
    return QueueLimits(
        concurrency=q._concurrency,
        worker_concurrency=q._worker_concurrency,
        limiter=q._limiter,
        partition_concurrency=q._partition_concurrency,
        partition_worker_concurrency=q._partition_worker_concurrency,
        partition_limiter=q._partition_limiter,
    )


def client_engine(client: DBOSClient) -> sa.Engine:
    """The SQLAlchemy engine of a client's system database (``client._sys_db.engine``)."""
    return client._sys_db.engine


def set_notification_fallback_poll(seconds: float) -> None:
    """How often ``recv``/``get_event`` waits re-read the database when a notification may have
    been dropped (``SystemDatabase._notification_fallback_polling_interval``, 60 s in DBOS)."""
    from dbos._sys_db import SystemDatabase

    SystemDatabase._notification_fallback_polling_interval = seconds


def set_internal_queue_poll(seconds: float) -> None:
    """How often this process polls DBOS's internal queue (``_dbos_internal_queue``: startup
    recovery, DBOS schedule firings, resumes and forks given no queue). The queue is DBOS's own,
    in memory (not a row of the ``queues`` table), built on first use with DBOS's 1 s default;
    call this after ``DBOS(config=...)`` and before ``DBOS.launch()``, whose queue thread reads
    it at each poll (``Queue._polling_interval_sec``)."""
    from dbos._dbos import _get_dbos_instance

    if seconds <= 0:
        raise ValueError("a polling interval must be positive")
    _get_dbos_instance()._registry.get_internal_queue()._polling_interval_sec = seconds


class _WakeableEvent(threading.Event):
    """A ``threading.Event`` whose waiters can also be woken without it being set: ``wait``
    then returns False (not set), where ``Event.wait`` would return True (woken) and DBOS's
    queue threads would take that for a stop. Waiters wait on their own condition, so a wake
    reaches only threads that entered ``wait`` after the event was made wakeable."""

    _wake: threading.Condition

    def wait(self, timeout: float | None = None) -> bool:
        with self._wake:
            if not self.is_set():
                self._wake.wait(timeout)
            return self.is_set()

    def set(self) -> None:
        super().set()
        with self._wake:
            self._wake.notify_all()

    def wake(self) -> None:
        with self._wake:
            self._wake.notify_all()


def _queue_stop_event() -> threading.Event | None:
    """The event DBOS's queue manager thread and every queue worker thread wait on between
    polls (``queue_thread``'s first argument), or None when DBOS is not running here."""
    from dbos import _dbos
    from dbos._queue import queue_thread

    dbos = _dbos._dbos_global_instance
    if dbos is None or not dbos._launched:
        return None
    for thread in list(dbos._background_threads):
        # threading.Thread keeps target and args until run() returns.
        if getattr(thread, "_target", None) is queue_thread and thread.is_alive():
            event = thread._args[0]  # type: ignore[attr-defined]
            return event if isinstance(event, threading.Event) else None
    return None


def make_queue_threads_wakeable() -> bool:
    """Let :func:`wake_queue_threads` wake this process's queue threads (call after
    ``DBOS.launch()``): their stop event becomes a :class:`_WakeableEvent` (same state, same
    ``set``/``is_set``). Each thread waiting at that moment finishes its wait as before; from
    its next wait on, it can be woken. False when DBOS is not running here."""
    event = _queue_stop_event()
    if event is None:
        return False
    if not isinstance(event, _WakeableEvent):
        event._wake = threading.Condition(threading.Lock())  # type: ignore[attr-defined]
        event.__class__ = _WakeableEvent
    return True


def wake_queue_threads() -> bool:
    """Have this process's DBOS queue threads poll now rather than at their next interval.

    Each queue's worker thread waits ``stop_event.wait(polling_interval)`` between polls (and
    the queue manager, ``wait(1.0)``); woken, a wait returns False (not stopped), so each thread
    polls its queue at once, with DBOS's own dequeue (its limits, its accounting), then waits a
    full interval again. A thread that is polling at that moment is not woken, and may have read
    the queue before the caller's enqueue committed: a caller that must not wait a full interval
    wakes them again shortly after.

    Returns False, doing nothing, when DBOS is not running in this process (an attached
    dashboard: its launches are taken by the workers' polling) or its queue threads were not
    made wakeable (:func:`make_queue_threads_wakeable`).
    """
    event = _queue_stop_event()
    if not isinstance(event, _WakeableEvent) or event.is_set():
        return False
    event.wake()
    return True
