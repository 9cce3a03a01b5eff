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
- the fallback poll of ``recv``/``get_event`` waits, a class attribute of ``SystemDatabase``.

``tests/unit/test_dbos_private.py`` checks each of these against the installed DBOS, so an upgrade
that moves one fails there, loudly, and not somewhere in a screen.
"""

from __future__ import annotations

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
    "set_notification_fallback_poll",
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
