"""DBOS queues used by the workflows (declared in the system database at launch).

* ``agentdeck-launch`` (``workflows.runtime.LAUNCH_QUEUE``): every launch, resume and fork. A rate
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
import os
import re
from typing import Any

from dbos import DBOS
from pydantic import BaseModel

# DBOS's priority range: 1 is dequeued first, 2,147,483,647 last (none counts as 0).
from .dbos_private import MAX_PRIORITY, MIN_PRIORITY, QueueRateLimit
from .runtime import LAUNCH_QUEUE, launch_concurrency

__all__ = [
    "DEFAULT_LAUNCH_RATE",
    "LAUNCH_RATE_ENV",
    "MAX_PRIORITY",
    "MIN_PRIORITY",
    "RESEARCH_QUEUE",
    "debounce_key",
    "dedup_id",
    "launch_rate",
    "parse_rate",
    "register_queues",
    "research_concurrency",
]

RESEARCH_QUEUE = "agentdeck-research"
#: How often each runtime polls each queue for work: DBOS's default. Each poll is three
#: statements and pool pings; at 0.2 s an idle embedded dashboard spent 4.3 % of a core on them,
#: at 0.5 s 2.6 % (bench/idle.py). A launch waits up to this long for a runtime to take it.
QUEUE_POLL_S = 1.0
LAUNCH_RATE_ENV = "AGENTDECK_LAUNCH_RATE"
#: The seed default: at most 50 launches start per 60 s, whatever the number of workers.
DEFAULT_LAUNCH_RATE: QueueRateLimit = {"limit": 50, "period": 60.0}
_OFF = {"", "0", "off", "none", "no"}

log = logging.getLogger("agentdeck.queues")


def research_concurrency() -> int:
    try:
        return max(1, int(os.environ.get("AGENTDECK_RESEARCH_CONCURRENCY", "2")))
    except ValueError:
        return 2


def parse_rate(raw: str) -> QueueRateLimit | None:
    """``"50/60"`` → 50 starts per 60 s; ``"off"``, ``"0"`` or empty → no limit.

    Raises ValueError with a one-line message for anything else.
    """
    text = raw.strip().lower()
    if text in _OFF:
        return None
    m = re.fullmatch(r"(\d+)\s*/\s*(\d+(?:\.\d+)?)\s*s?", text)
    if not m:
        raise ValueError(f"expected LIMIT/SECONDS such as 50/60 or 'off', not {raw!r}")
    limit, period = int(m.group(1)), float(m.group(2))
    if limit == 0:
        return None
    if period <= 0:
        raise ValueError(f"the period of {raw!r} must be more than 0 seconds")
    return {"limit": limit, "period": period}


def launch_rate() -> QueueRateLimit | None:
    """The launch queue's rate limit from ``AGENTDECK_LAUNCH_RATE`` (a bad value: the default)."""
    raw = os.environ.get(LAUNCH_RATE_ENV)
    if raw is None:
        return DEFAULT_LAUNCH_RATE.copy()
    try:
        return parse_rate(raw)
    except ValueError as exc:
        log.warning("ignoring %s: %s; using 50/60", LAUNCH_RATE_ENV, exc)
        return DEFAULT_LAUNCH_RATE.copy()


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
    env = os.environ.get
    research = DBOS.register_queue(
        RESEARCH_QUEUE, polling_interval_sec=QUEUE_POLL_S, on_conflict="never_update",
        worker_concurrency=research_concurrency(),
    )  # fmt: skip
    launch = DBOS.register_queue(
        LAUNCH_QUEUE, polling_interval_sec=QUEUE_POLL_S, on_conflict="never_update",
        worker_concurrency=launch_concurrency(), limiter=launch_rate(),
    )  # fmt: skip
    for queue in (research, launch):
        if queue.polling_interval_sec != QUEUE_POLL_S:
            queue.set_polling_interval_sec(QUEUE_POLL_S)
    if env("AGENTDECK_RESEARCH_CONCURRENCY"):
        research.set_worker_concurrency(research_concurrency())
    if env("AGENTDECK_LAUNCH_CONCURRENCY"):
        launch.set_worker_concurrency(launch_concurrency())
    if env(LAUNCH_RATE_ENV):
        launch.set_limiter(launch_rate())


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
