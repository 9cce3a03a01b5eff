"""The one refresh loop: a cheap change query per tick, the list only when something changed.

(And every few seconds while runs are in flight, to notice executors that stopped beating.)

Per tick, when nothing changed: one query (the change token). Ticks are every 250 ms, every
500 ms once nothing has changed for 5 s and no run is in flight. When a row changed: the list
(one query) plus events of the active rows and errors of failed rows (one query each). While
runs are active and nothing else changed: their events only (one query), so progress bars move.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from .messages import ConnectionChanged, Snapshot, SnapshotTaken
from .supervisor import Supervisor, SupervisorError, WorkflowRow

if TYPE_CHECKING:
    from textual.app import App

__all__ = ["Poller"]

log = logging.getLogger("agentdeck.poller")


class Poller:
    def __init__(
        self, app: App[None], source: Supervisor, *, interval: float = 0.25, limit: int = 500
    ) -> None:
        self.app = app
        self.source = source
        self.interval = interval
        self.limit = limit
        #: With runs in flight, re-list at least this often: a dead executor changes no row,
        #: only the age of its heartbeat.
        self.full_every = 5.0
        #: With no run in flight and nothing changed for ``settle_s``, tick this often instead
        #: (a kick, after any action here, still refreshes at once).
        self.idle_interval = 2 * interval
        self.settle_s = 5.0
        self._stop = asyncio.Event()
        self._kick = asyncio.Event()
        self.ticks = 0

    def stop(self) -> None:
        self._stop.set()
        self._kick.set()

    def kick(self) -> None:
        """Refresh now (after an action), without waiting for the next tick."""
        self._kick.set()

    async def run(self) -> None:
        token: tuple[object, ...] | None = None
        rows: list[WorkflowRow] = []
        connected = False
        failure = ""  # the failure last logged
        backoff = self.interval
        loop = asyncio.get_running_loop()
        listed_at = 0.0
        changed_at = loop.time()
        primed = False
        while not self._stop.is_set():
            try:
                if not connected:
                    await self.source.connect()
                if not primed:
                    # The first list does not wait for the change token (at 100k workflows its
                    # aggregate scans them all: bench/list_scroll.py). The token and a second
                    # list come next tick, once this one is on screen: no change is missed.
                    rows = await self.source.list_workflows(limit=self.limit)
                    self._publish(rows, len(rows))
                    primed = True
                else:
                    new_token = await self.source.change_token()
                    stale = loop.time() - listed_at > self.full_every and any(
                        r.active for r in rows
                    )
                    if new_token != token:
                        changed_at = loop.time()
                    if new_token != token or stale:
                        listed_at = loop.time()
                        rows = await self.source.list_workflows(limit=self.limit)
                        token = new_token
                        self._publish(rows, new_token[0])
                    elif any(r.active for r in rows):
                        fresh = await self.source.refresh_active(rows)
                        if fresh != rows:
                            rows = fresh
                            self._publish(rows, new_token[0])
                if not connected:
                    connected = True
                    self.app.post_message(ConnectionChanged(True, self.source.display_url))
                    if failure:
                        log.warning("refresh works again after: %s", failure)
                        failure = ""
                backoff = self.next_wait(rows, loop.time() - changed_at)
            except SupervisorError as exc:
                if connected or token is None:
                    self.app.post_message(ConnectionChanged(False, str(exc)))
                connected = False
                backoff = min(2.0, backoff * 2)
                if str(exc) != failure:  # once per failure, not every retry
                    failure = str(exc)
                    log.warning("refresh failed: %s", exc)
            self.ticks += 1
            self._kick.clear()
            try:
                await asyncio.wait_for(self._kick.wait(), timeout=backoff)
            except TimeoutError:
                pass

    def next_wait(self, rows: list[WorkflowRow], unchanged_s: float) -> float:
        """Seconds to the next tick: ``idle_interval`` once nothing has changed for
        ``settle_s`` and no listed run is in flight, else ``interval``."""
        if unchanged_s > self.settle_s and not any(r.active for r in rows):
            return self.idle_interval
        return self.interval

    def _publish(self, rows: list[WorkflowRow], total: int) -> None:
        clock = getattr(self.app, "clock", None)
        snap = Snapshot(rows=tuple(rows), total=total)
        if clock is not None:
            snap = Snapshot(rows=tuple(rows), total=total, taken_at=clock())
        self.app.post_message(SnapshotTaken(snap))
