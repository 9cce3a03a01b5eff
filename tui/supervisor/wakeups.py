"""Stream wake-ups on PostgreSQL: DBOS's own notification of each stream write, not a poll.

DBOS (with ``use_listen_notify``, its default on PostgreSQL) sends ``NOTIFY
dbos_streams_channel, '<workflow id>::<key>'`` for stream writes, coalesced off its write path
every 10 ms. A run's detail screen reads its streams when one of its workflows wrote instead of
every 20 ms: a chunk waits ~5 ms instead of ~10 ms on average for its read, and a screen
following a quiet run issues no reads at all.

Nothing is trusted blindly: until the channel has delivered a first notification (writers that
run without LISTEN/NOTIFY never send one), callers keep polling; after that a wait still ends at
a fallback timeout, so a writer that does not notify is read at least that often.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

__all__ = ["CHANNEL", "StreamWakeups"]

log = logging.getLogger("agentdeck.wakeups")

CHANNEL = "dbos_streams_channel"
#: Drop remembered notifications past this many (only ever costs one fallback wait).
_PENDING_CAP = 10_000


class StreamWakeups:
    """A thread that LISTENs on DBOS's streams channel and wakes the waiters of a workflow."""

    def __init__(self, engine: sa.Engine, loop: asyncio.AbstractEventLoop) -> None:
        self.engine = engine
        self.loop = loop
        #: A notification has arrived: the writers notify, waits can rely on them.
        self.heard = False
        #: Notifications received (the bench and tests read it).
        self.received = 0
        self._waiters: dict[str, set[asyncio.Event]] = {}
        #: Workflows that wrote since someone last waited on them (a write during a read).
        self._pending: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="agentdeck-listen", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=3)

    async def wait(self, ids: Iterable[str], within: float) -> bool:
        """Until one of ``ids`` writes to a stream (True) or ``within`` s pass (False)."""
        wanted = set(ids)
        if self._pending & wanted:
            self._pending -= wanted
            return True
        event = asyncio.Event()
        for wid in wanted:
            self._waiters.setdefault(wid, set()).add(event)
        try:
            await asyncio.wait_for(event.wait(), within)
            return True
        except TimeoutError:
            return False
        finally:
            for wid in wanted:
                waiting = self._waiters.get(wid)
                if waiting is not None:
                    waiting.discard(event)
                    if not waiting:
                        del self._waiters[wid]
            self._pending -= wanted

    def _wake(self, wid: str) -> None:  # on the event loop
        self.heard = True
        self.received += 1
        waiting = self._waiters.get(wid)
        if waiting:
            for event in waiting:
                event.set()
        else:
            if len(self._pending) >= _PENDING_CAP:
                self._pending.clear()
            self._pending.add(wid)

    def _post(self, callback: Any, *args: Any) -> None:
        try:
            self.loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            self._stop.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            raw: Any = None
            try:
                raw = self.engine.raw_connection()
                pg: Any = raw.driver_connection  # psycopg's (None once detached)
                raw.detach()  # this connection LISTENs: never back into the pool
                pg.autocommit = True
                pg.execute(f"LISTEN {CHANNEL}")
                while not self._stop.is_set():
                    for note in pg.notifies(timeout=0.5):
                        self._post(self._wake, str(note.payload).partition("::")[0])
            except Exception as exc:  # the database went away: listen again once it is back
                if not self._stop.is_set():
                    log.info("stream notifications lost (%s): reconnecting", type(exc).__name__)
                    self._post(self._lost)
                    self._stop.wait(1.0)
            finally:
                if raw is not None:
                    try:
                        raw.close()
                    except Exception:
                        pass

    def _lost(self) -> None:
        self.heard = False  # poll until a notification proves the channel again
