"""DBOS queues used by the workflows (declared in the system database at launch).

* ``agentdeck-launch`` (``workflows.names.LAUNCH_QUEUE``): every launch, resume and fork. A rate
  limit (``AGENTDECK_LAUNCH_RATE``, default 50 starts per 60 s, across all workers), a per-worker
  concurrency (``AGENTDECK_LAUNCH_CONCURRENCY``, default none), priorities (DBOS dequeues the
  lowest number first; a run without one counts as 0, ahead of every numbered one) and
  deduplication ids (:func:`dedup_id`: one identical request queued or running at a time).
* ``agentdeck-research``: the research questions of every run, ``AGENTDECK_RESEARCH_CONCURRENCY``
  (default 2) at once per worker.

The limits are what DBOS enforces; this module only says what they are.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from typing import Any

from dbos import DBOS
from pydantic import BaseModel

from .config import rate_of, settings, source_of

# DBOS's priority range: 1 is dequeued first, 2,147,483,647 last (none counts as 0).
from .dbos_private import MAX_PRIORITY, MIN_PRIORITY, QueueRateLimit, wake_queue_threads
from .names import LAUNCH_QUEUE, RESEARCH_QUEUE

__all__ = [
    "DEFAULT_LAUNCH_RATE",
    "LAUNCH_RATE_ENV",
    "MAX_PRIORITY",
    "MIN_PRIORITY",
    "RESEARCH_QUEUE",
    "debounce_key",
    "dedup_id",
    "launch_concurrency",
    "launch_rate",
    "parse_rate",
    "register_queues",
    "research_concurrency",
    "wake_queues",
]

#: How often each runtime polls the launch queue for work: DBOS's default. Each poll of a queue
#: is ~3 ms of CPU (SQLAlchemy building DBOS's statements); at 0.2 s an idle embedded dashboard
#: spent 4.3 % of a core on its polls, at 0.5 s 2.6 % (bench/idle.py). A launch from another
#: process waits up to this long for a runtime to take it (one from this process wakes the
#: queue threads: :func:`wake_queues`).
QUEUE_POLL_S = 1.0
#: How often each runtime polls the research queue and DBOS's internal queue. Research questions
#: are enqueued by the research workflow, which wakes its own runtime's queue threads when it
#: enqueues them and when one ends (:func:`wake_queues`), so the poll only finds what that missed
#: and what other workers left; the internal queue holds startup recovery and DBOS's schedule
#: firings (our launches, resumes and forks go to the launch queue). 5 s: an idle embedded
#: dashboard at ~1.4 % of a core instead of ~1.9 % (docs/measured.md, *Idle*).
QUIET_QUEUE_POLL_S = 5.0
#: A woken poll may have read the queue just before the enqueue committed (the thread was
#: polling, not waiting): the queue threads are woken once more this much later.
WAKE_AGAIN_S = 0.1
LAUNCH_RATE_ENV = "AGENTDECK_LAUNCH_RATE"
#: The seed default: at most 50 launches start per 60 s, whatever the number of workers.
DEFAULT_LAUNCH_RATE: QueueRateLimit = {"limit": 50, "period": 60.0}

log = logging.getLogger("agentdeck.queues")


def research_concurrency() -> int:
    """Research questions one worker runs at once (the ``research_concurrency`` setting)."""
    return settings().research_concurrency


def parse_rate(raw: str) -> QueueRateLimit | None:
    """``"50/60"`` → 50 starts per 60 s; ``"off"``, ``"0"`` or empty → no limit.

    Raises ValueError with a one-line message for anything else.
    """
    rate = rate_of(raw)
    return None if rate is None else {"limit": rate[0], "period": rate[1]}


def launch_concurrency() -> int | None:
    """Runs one process takes from the launch queue at once (unset: no limit).

    A run waiting for approval holds its slot, so the default is no limit; research steps are
    bounded separately (``research_concurrency``).
    """
    return settings().launch_concurrency


def launch_rate() -> QueueRateLimit | None:
    """The launch queue's rate limit (the ``launch_rate`` setting, validated when read)."""
    return parse_rate(settings().launch_rate)


def register_queues() -> None:
    """Declare both queues, and write the settings this runtime's environment gives.

    DBOS keeps a queue's settings in one row of the system database that every worker re-reads
    as it polls, so ``worker_concurrency`` is per worker but its value is one for all. A runtime
    creates a missing queue with the defaults; of an existing one it changes only what its
    environment sets (``agentdeck worker --concurrency 3`` sets the research queue's worker
    concurrency and nothing else), so a dashboard or a ``launch --wait`` started later does not
    reset what the workers were given. The polling interval is this code's, not a setting: it is
    brought up to date in every runtime.
    """
    research = DBOS.register_queue(
        RESEARCH_QUEUE,
        polling_interval_sec=QUIET_QUEUE_POLL_S,
        on_conflict="never_update",
        worker_concurrency=research_concurrency(),
    )
    launch = DBOS.register_queue(
        LAUNCH_QUEUE,
        polling_interval_sec=QUEUE_POLL_S,
        on_conflict="never_update",
        worker_concurrency=launch_concurrency(),
        limiter=launch_rate(),
    )
    for queue, poll_s in ((research, QUIET_QUEUE_POLL_S), (launch, QUEUE_POLL_S)):
        if queue.polling_interval_sec != poll_s:
            queue.set_polling_interval_sec(poll_s)
    if source_of("research_concurrency") != "default":
        research.set_worker_concurrency(research_concurrency())
    if source_of("launch_concurrency") != "default":
        launch.set_worker_concurrency(launch_concurrency())
    if source_of("launch_rate") != "default":
        launch.set_limiter(launch_rate())


def wake_queues() -> bool:
    """Have this process's DBOS runtime take queued work now, not at its next poll: after an
    enqueue made here (a launch from an embedded dashboard, a research run's questions) and when
    a research question ends (its slot is free). The queue threads poll at once with DBOS's own
    dequeue (its limits and accounting), and once more ``WAKE_AGAIN_S`` later in case one was
    mid-poll. A no-op (False) where DBOS does not run: an attached dashboard's launches wait for
    the workers' poll (``QUEUE_POLL_S``)."""
    if not wake_queue_threads():
        return False
    timer = threading.Timer(WAKE_AGAIN_S, wake_queue_threads)
    timer.daemon = True
    timer.start()
    return True


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def dedup_id(kind: str, req: BaseModel) -> str:
    """The deduplication id of a launch: the kind and a hash of the validated input.

    Two launches with the same input (after validation: whitespace stripped, defaults filled)
    share it, so DBOS refuses the second while the first is queued or running.
    """
    return f"{kind}:{_digest(req.model_dump(mode='json'))}"


def debounce_key(kind: str, req: BaseModel) -> str:
    """What makes two launches "the same" for debouncing: the topic (or question), compared
    without case and extra spaces; an input without either is compared whole."""
    data = req.model_dump(mode="json")
    subject = data.get("topic", data.get("question"))
    if isinstance(subject, str):
        return f"{kind}:{_digest(' '.join(subject.casefold().split()))}"
    return f"{kind}:{_digest(data)}"
