"""Load generation: research runs through DBOS, their Claude calls answered in-process and paced.

``PacedTransport`` is the offline model's in-process SDK transport
(``workflows.model_offline.transport.ScriptedTransport``: the SDK's real control protocol and
message parsing, the offline script's answers) with the token deltas released at ``tps`` tokens
per second per call, as the loopback server paces them for the real CLI, but without a CLI
process per call: 50 Claude Code CLIs at once do not fit on 2 cores, and what is measured here is
what the dashboard and the database do with the streams, not the CLI. Every transport reports
when its first and last token went out to a :class:`StreamLog`, so a bench knows how many calls
were streaming at any moment.

``approve_all`` answers every pending approval (the plan approval of a research run) as soon as
it shows up, through the data layer, as a person pressing ``a`` would.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workflows.model_offline.transport import ScriptedTransport

if TYPE_CHECKING:
    from claude_agent_sdk import Transport

    from tui.supervisor import Supervisor
    from workflows.models import ClaudeCall
    from workflows.runtime import Runtime

__all__ = [
    "PacedTransport",
    "StreamLog",
    "approve_all",
    "concurrency",
    "paced_factory",
    "research_runtime",
]

_DELTAS = {"text_delta", "thinking_delta"}


@dataclass
class StreamLog:
    """When each paced call streamed: ``(first token, last token)`` in ``time.time()``."""

    spans: list[tuple[float, float]] = field(default_factory=list)
    open: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def began(self) -> None:
        with self._lock:
            self.open += 1

    def ended(self, first: float, last: float) -> None:
        with self._lock:
            self.open -= 1
            self.spans.append((first, last))


class PacedTransport(ScriptedTransport):
    def __init__(self, call: ClaudeCall, tps: float, log: StreamLog | None) -> None:
        super().__init__(call)
        self.tps = tps
        self.log = log

    async def read_messages(self) -> AsyncIterator[dict[str, Any]]:
        start: float | None = None
        first = last = 0.0
        sent = 0
        try:
            async for msg in super().read_messages():
                event = msg.get("event") if msg.get("type") == "stream_event" else None
                delta = (event or {}).get("delta") or {}
                if delta.get("type") in _DELTAS:
                    now = time.monotonic()
                    if start is None:
                        start = now
                        first = time.time()
                        if self.log is not None:
                            self.log.began()
                    elif self.tps > 0:
                        # An absolute schedule: a late wake-up does not slow the stream down.
                        due = start + sent / self.tps
                        if due > now:
                            await asyncio.sleep(due - now)
                    sent += 1
                    last = time.time()
                yield msg
        finally:
            if start is not None and self.log is not None:
                self.log.ended(first, last)


def paced_factory(tps: float, log: StreamLog | None = None) -> Callable[[ClaudeCall], Transport]:
    def factory(call: ClaudeCall) -> Transport:
        return PacedTransport(call, tps, log)

    return factory


def concurrency(spans: list[tuple[float, float]], t0: float, t1: float) -> dict[str, float]:
    """Streams open at once between ``t0`` and ``t1``: peak and time-weighted mean."""
    edges: list[tuple[float, int]] = []
    for a, b in spans:
        if b < t0 or a > t1:
            continue
        edges += [(max(a, t0), 1), (min(b, t1), -1)]
    edges.sort()
    level = peak = 0
    area = 0.0
    prev = t0
    for t, step in edges:
        area += level * (t - prev)
        prev = t
        level += step
        peak = max(peak, level)
    area += level * (t1 - prev)
    return {"peak": peak, "mean": round(area / max(1e-9, t1 - t0), 1)}


def research_runtime(
    db_url: str,
    state_dir: Path,
    *,
    transport_factory: Callable[[ClaudeCall], Transport] | None,
    research_concurrency: int | None = None,
    tps: float = 0,
) -> Runtime:
    """An embedded runtime: ``transport_factory`` in-process, or None for the real CLI.

    ``research_concurrency`` sets ``AGENTDECK_RESEARCH_CONCURRENCY`` (research questions one
    process runs at once), read when the runtime registers its queues.
    """
    from workflows.runtime import Runtime, RuntimeSettings

    if research_concurrency is not None:
        os.environ["AGENTDECK_RESEARCH_CONCURRENCY"] = str(research_concurrency)
    return Runtime(
        RuntimeSettings(
            db_url=db_url,
            offline=True,
            offline_tps=tps,
            state_dir=state_dir,
            transport_factory=transport_factory,
        )
    )


async def approve_all(sup: Supervisor, stop: asyncio.Event, *, every: float = 0.1) -> int:
    """Approve every pending plan until ``stop`` is set; returns how many were approved."""
    from workflows.models import ApprovalAnswer, ApprovalDecision

    answered: set[str] = set()
    approve = ApprovalAnswer(decision=ApprovalDecision.APPROVE, by="bench")
    while not stop.is_set():
        for item in await sup.approvals():
            wid = item.row.workflow_id
            if wid not in answered:
                res = await sup.answer(wid, approve)
                if res.ok:
                    answered.add(wid)
        try:
            await asyncio.wait_for(stop.wait(), timeout=every)
        except TimeoutError:
            pass
    return len(answered)
