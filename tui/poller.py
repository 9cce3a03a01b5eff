"""The one refresh loop: a cheap change query per tick; the list's window and the runs in flight
only when something changed.

(And every few seconds while runs are in flight, to notice executors that stopped beating.)

Per tick, when nothing changed: one query (the change token). Ticks are every 250 ms, every
500 ms once nothing has changed for 5 s and no run is in flight. When a row changed, or the
screen asked for another window (``set_query``): the window (one query, plus a capped count
when it is not the whole match), the runs in flight (one), and events of their rows, errors of
failed rows and ``recv`` waits of pending ones (one each). While runs are active and nothing
else changed: their events only, so progress bars move. The cost does not grow with the number
of workflows in the database: a window is a keyset page of an index.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from .data.reads import ListQuery
from .messages import ConnectionChanged, Snapshot, SnapshotTaken
from .supervisor import ListPage, SupervisorError, WorkflowRow
from .supervisor.contract import Source

if TYPE_CHECKING:
    from textual.app import App

__all__ = ["Poller"]

log = logging.getLogger("agentdeck.poller")

Token = tuple[int, int, tuple[tuple[str, int], ...]]


class Poller:
    def __init__(
        self, app: App[None], source: Source, *, interval: float = 0.25, limit: int = 200
    ) -> None:
        self.app = app
        self.source = source
        self.interval = interval
        #: What the list screen shows (``set_query``): filter, order, window.
        self.query = ListQuery(filter="is:top", limit=limit)
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

    def set_query(self, query: ListQuery) -> None:
        """Show another window of the list (a filter, an order, a page): read it now."""
        if query != self.query:
            self.query = query
            self.kick()

    async def run(self) -> None:
        token: Token | None = None
        live: list[WorkflowRow] = []
        page = ListPage()
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
                    page, live = await self._read(live)
                    self._publish(live, page, None)
                    primed = True
                else:
                    new_token = await self.source.change_token()
                    stale = loop.time() - listed_at > self.full_every and _active(live, page)
                    if new_token != token:
                        changed_at = loop.time()
                    if new_token != token or stale or page.query != self.query:
                        listed_at = loop.time()
                        page, live = await self._read(live)
                        token = new_token
                        self._publish(live, page, new_token)
                    elif _active(live, page):
                        fresh_live = await self.source.refresh_active(live)
                        fresh_page = await self.source.refresh_active(list(page.rows))
                        if fresh_live != live or fresh_page != list(page.rows):
                            live = fresh_live
                            page = page.model_copy(update={"rows": tuple(fresh_page)})
                            self._publish(live, page, new_token)
                if not connected:
                    connected = True
                    self.app.post_message(ConnectionChanged(True, self.source.display_url))
                    if failure:
                        log.warning("refresh works again after: %s", failure)
                        failure = ""
                backoff = self.next_wait([*live, *page.rows], loop.time() - changed_at)
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

    async def _read(self, live: list[WorkflowRow]) -> tuple[ListPage, list[WorkflowRow]]:
        query = self.query
        page = await self.source.list_page(query)
        # Runs in flight last time are read again by id: one that ended is seen ending.
        new_live = await self.source.live_rows([r.workflow_id for r in live if r.active])
        return page, new_live

    def next_wait(self, rows: list[WorkflowRow], unchanged_s: float) -> float:
        """Seconds to the next tick: ``idle_interval`` once nothing has changed for
        ``settle_s`` and no listed run is in flight, else ``interval``."""
        if unchanged_s > self.settle_s and not any(r.active for r in rows):
            return self.idle_interval
        return self.interval

    def _publish(self, live: list[WorkflowRow], page: ListPage, token: Token | None) -> None:
        clock = getattr(self.app, "clock", None)
        total, per_status = (token[0], token[2]) if token is not None else (0, ())
        snap = Snapshot(rows=tuple(live), total=total, per_status=per_status, page=page)
        if clock is not None:
            snap = Snapshot(
                rows=tuple(live), total=total, per_status=per_status, page=page, taken_at=clock()
            )
        self.app.post_message(SnapshotTaken(snap))


def _active(live: list[WorkflowRow], page: ListPage) -> bool:
    return any(r.active for r in live) or any(r.active for r in page.rows)
