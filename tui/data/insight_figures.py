"""The insights' figures: the window a query covers and the frozen results the screen, the
CLI and the tests read (``tui.data.insights`` computes them). Standard library only.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from .filters import FilterError

#: The windows the screen offers: name → (span, bucket) in seconds.
WINDOWS: dict[str, tuple[int, int]] = {
    "1h": (3600, 300),
    "24h": (86400, 3600),
    "7d": (7 * 86400, 6 * 3600),
    "30d": (30 * 86400, 86400),
}
#: Bucket sizes for any other span (``--since 90m``): the smallest giving at most 48 buckets.
_STEPS = (60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 7 * 86400)
_SPAN = re.compile(r"^(\d+(?:\.\d+)?)([mhdw])$")
_UNIT = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}

#: Steps whose output is a Claude result (or holds one): ``workflows.research`` / ``compare`` /
#: ``claude``.
CLAUDE_STEPS = ("plan", "research", "synthesize", "answer", "judge", "claude")
#: agentdeck's bookkeeping steps, left out of the per-step durations (with ``DBOS.*`` and
#: child-workflow rows).
_BOOKKEEPING = ("clock", "settings", "approval")
#: Rows decoded in Python per refresh (Claude step outputs, errors), newest first.
DECODE_CAP = 20_000
_FAILED = ("ERROR", "MAX_RECOVERY_ATTEMPTS_EXCEEDED")
_TERMINAL = ("SUCCESS", "ERROR", "CANCELLED", "MAX_RECOVERY_ATTEMPTS_EXCEEDED")
#: As literals in a statement: checked per row, a constant list is cheaper than a parameter
#: array on PostgreSQL (and it is DBOS's own names, never input).
_FAILED_SQL = "(" + ", ".join(f"'{v}'" for v in _FAILED) + ")"
_TERMINAL_SQL = "(" + ", ".join(f"'{v}'" for v in _TERMINAL) + ")"


def window_of(text: str) -> tuple[int, int]:
    """The span and bucket size of a window.

    Args:
        text: ``1h`` / ``24h`` / ``7d`` / ``30d`` or any ``90m`` / ``12h`` / ``3d`` / ``2w``
            (at most a year).

    Returns:
        (span, bucket) in seconds: the screen's own for its windows, else the smallest bucket
            giving at most 48 of them.

    Raises:
        FilterError: Anything else (the message says what is accepted).
    """
    text = text.strip().lower()
    if text in WINDOWS:
        return WINDOWS[text]
    m = _SPAN.match(text)
    if not m or float(m.group(1)) <= 0:
        raise FilterError(f"bad window '{text}' (1h, 24h, 7d, 30d, or e.g. 90m, 12h, 3d, 2w)")
    span = int(float(m.group(1)) * _UNIT[m.group(2)])
    if span > 366 * 86400:
        raise FilterError(f"window '{text}' is longer than a year")
    bucket = next((b for b in _STEPS if span / b <= 48), _STEPS[-1])
    return span, bucket


@dataclass(frozen=True)
class InsightsQuery:
    """What to aggregate: a window ending ``now``, the list's filter, the selected row of the
    duration tables (``("name" | "step", value)``) whose histogram is drawn."""

    window: str = "24h"
    filter: str = ""
    now: float | None = None
    selected: tuple[str, str] | None = None
    #: "all"; or "runs" (the runs per bucket alone: one statement, what a screen paints first)
    #: and then "rest" (everything else), which :func:`merge` puts together.
    parts: str = "all"


@dataclass(frozen=True)
class Bucket:
    """The runs started in one bucket of the window and the Claude usage completed in it."""

    start: float
    started: int = 0
    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0
    #: model → tokens (input + output + cache) / cost in USD of Claude steps completed in it.
    tokens: dict[str, int] = field(default_factory=dict)
    cost: dict[str, float] = field(default_factory=dict)

    @property
    def failure_rate(self) -> float | None:
        """Failed ÷ finished (succeeded, failed, cancelled); None when none finished."""
        ended = self.succeeded + self.failed + self.cancelled
        return self.failed / ended if ended else None


@dataclass(frozen=True)
class Spread:
    """Durations of one workflow name or step name: count and nearest-rank percentiles."""

    name: str
    count: int
    p50_s: float | None
    p95_s: float | None
    max_s: float | None
    #: Workflows only: runs per status (steps: empty).
    statuses: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Histogram:
    """Durations of one workflow or step name in equal bins from ``lo_s`` to ``hi_s``."""

    kind: str
    name: str
    lo_s: float
    hi_s: float
    counts: tuple[int, ...]


@dataclass(frozen=True)
class ModelUsage:
    """Claude calls, tokens and cost of one model over the window."""

    model: str
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_tokens: int = 0
    cost_usd: float = 0.0


@dataclass(frozen=True)
class Expensive:
    """One of the window's costliest runs."""

    workflow_id: str
    name: str
    status: str
    cost_usd: float
    created_at: float


@dataclass(frozen=True)
class Wait:
    """How long approvals of one kind waited for an answer (``plan``, ``tool``, ``recv``)."""

    kind: str
    answered: int
    p50_s: float | None
    p95_s: float | None
    open: int
    longest_open_s: float | None


@dataclass(frozen=True)
class QueueLoad:
    """A queue's depth (runs enqueued, not started) and oldest wait, sampled at each bucket's
    end."""

    queue: str
    depth: tuple[int, ...]
    oldest_s: tuple[float, ...]


@dataclass(frozen=True)
class ErrorGroup:
    """Failed runs whose error has the same first line: how many, and the newest."""

    first_line: str
    count: int
    newest_id: str
    newest_at: float


@dataclass(frozen=True)
class Insights:
    """Every figure of one window (the frozen result of :func:`~tui.data.insights.compute`)."""

    window: str
    filter: str
    since: float
    until: float
    bucket_s: int
    buckets: tuple[Bucket, ...] = ()
    by_name: tuple[Spread, ...] = ()
    by_step: tuple[Spread, ...] = ()
    models: tuple[ModelUsage, ...] = ()
    top_cost: tuple[Expensive, ...] = ()
    waits: tuple[Wait, ...] = ()
    queues: tuple[QueueLoad, ...] = ()
    errors: tuple[ErrorGroup, ...] = ()
    histogram: Histogram | None = None
    #: Statements this computation issued.
    statements: int = 0
    #: The decoded reads (usage, errors) stopped at :data:`DECODE_CAP` rows.
    capped: bool = False
    #: Every figure is here (not only one part of them: ``InsightsQuery.parts``).
    complete: bool = True

    @property
    def runs(self) -> int:
        """The runs started in the window."""
        return sum(b.started for b in self.buckets)

    def to_json(self) -> dict[str, Any]:
        """What ``agentdeck stats --json`` prints.

        Returns:
            The figures as plain JSON values, keyed by workflow name, step name, model, approval
                kind and queue where the screen shows tables.
        """
        return {
            "window": self.window,
            "filter": self.filter,
            "since": self.since,
            "until": self.until,
            "bucket_s": self.bucket_s,
            "runs": self.runs,
            "by_name": {
                s.name: {
                    "count": s.count,
                    "statuses": dict(s.statuses),
                    "p50_s": s.p50_s,
                    "p95_s": s.p95_s,
                    "max_s": s.max_s,
                }
                for s in self.by_name
            },
            "by_step": {
                s.name: {"count": s.count, "p50_s": s.p50_s, "p95_s": s.p95_s, "max_s": s.max_s}
                for s in self.by_step
            },
            "buckets": [{**asdict(b), "failure_rate": b.failure_rate} for b in self.buckets],
            "cost_by_model": {
                m.model: {k: v for k, v in asdict(m).items() if k != "model"} for m in self.models
            },
            "top_cost": [asdict(e) for e in self.top_cost],
            "approval_wait": {
                w.kind: {k: v for k, v in asdict(w).items() if k != "kind"} for w in self.waits
            },
            "queues": {
                q.queue: {"depth": list(q.depth), "oldest_s": list(q.oldest_s)} for q in self.queues
            },
            "errors": [asdict(e) for e in self.errors],
            "capped": self.capped,
            "statements": self.statements,
        }


# -- SQL helpers ---------------------------------------------------------------------------
