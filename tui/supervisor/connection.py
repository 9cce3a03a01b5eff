"""The data layer's connection: the DBOS client, the data core on its engine, and how every
call is bounded (reads and writes time out with a clear message) and its failures made one
redacted line. ``read_only`` refuses every write here, not only in key bindings.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable
from typing import TypeVar

from dbos import DBOSClient

from workflows.dbos_private import client_engine
from workflows.queues import wake_queues
from workflows.runtime import redact

from ..fastls import not_dbos, sqlite_path
from .codec import AppCodec
from .engine import SQL
from .errors import ReadOnlyError, SupervisorError, _one_line, _read_timeout, _write_timeout
from .wakeups import StreamWakeups

__all__ = ["Connection"]

T = TypeVar("T")

#: The writes (by their label) that put a run on a queue: launch, resume, take over, fork,
#: rewind, a schedule fired by hand.
ENQUEUING_WRITES = frozenset(
    {"launch", "resume", "take over", "fork", "release fork", "rewind", "trigger schedule"}
)


class Connection:
    """A DBOS system database, through ``DBOSClient`` and the data core (``.sql``)."""

    def __init__(
        self, db_url: str, *, read_only: bool = False, codec: AppCodec | None = None
    ) -> None:
        self.db_url = db_url
        self.read_only = read_only
        #: The app's own code, to decode its pickled classes (``--app-path``); closed with this.
        self.codec = codec
        self._client: DBOSClient | None = None
        self._sql: SQL | None = None
        self._wakeups: StreamWakeups | None = None
        self.display_url = redact(db_url)

    # -- connection -------------------------------------------------------------------------

    async def connect(self) -> None:
        if self._client is not None:
            return
        path = sqlite_path(self.db_url)
        if path and path != ":memory:" and not await asyncio.to_thread(os.path.exists, path):
            # Connecting would create an empty file: a mistyped path would leave one behind.
            raise SupervisorError(f"no database at {path} yet (a worker or --embedded makes it)")
        try:
            self._client = await asyncio.to_thread(
                DBOSClient,
                system_database_url=self.db_url,
                # No application of its own: a client scoped to none sees every app's rows
                # (attach to any DBOS app); launches name agentdeck as their owner instead.
                application_name=None,
                retry_connection_errors=False,
            )
        except Exception as exc:
            raise SupervisorError(f"cannot open {self.display_url}: {_one_line(exc)}") from None
        self._sql = SQL(client_engine(self._client))

    @property
    def client(self) -> DBOSClient:
        if self._client is None:
            raise SupervisorError("not connected")
        return self._client

    @property
    def sql(self) -> SQL:
        if self._sql is None:
            raise SupervisorError("not connected")
        return self._sql

    async def close(self) -> None:
        if self.codec is not None:
            await self.codec.close()
        if self._wakeups is not None:
            wakeups, self._wakeups = self._wakeups, None
            await asyncio.to_thread(wakeups.stop)
        if self._sql is not None:
            await asyncio.to_thread(self._sql.close_marker)
        if self._client is not None:
            client, self._client = self._client, None
            await asyncio.to_thread(client.destroy)

    def _check_write(self, what: str) -> None:
        if self.read_only:
            raise ReadOnlyError(f"read-only: refusing to {what}")

    async def _write(self, what: str, coro: Awaitable[T]) -> T:
        """A write with a bounded wait: a locked database answers in seconds, not never.

        SQLite waits up to DBOS's 30 s busy timeout (and retries) while another process holds
        the write lock. After ``AGENTDECK_WRITE_TIMEOUT_S`` (10 s) the user is told; the write
        itself goes on and lands when the lock is released (all writes here are idempotent).
        """
        task = asyncio.ensure_future(self._unbounded(what, coro))
        try:
            return await asyncio.wait_for(asyncio.shield(task), timeout=_write_timeout())
        except TimeoutError:
            raise SupervisorError(
                f"{what}: the database did not take the write within {_write_timeout():g} s "
                "(locked by another process?); it will be applied when the database frees up"
            ) from None

    async def _unbounded(self, what: str, coro: Awaitable[T]) -> T:
        try:
            result = await coro
        except Exception as exc:
            raise self._failure(what, exc) from None
        if what in ENQUEUING_WRITES:
            # An embedded dashboard's runtime takes the run now, not at its next queue poll
            # (a no-op when DBOS does not run in this process).
            wake_queues()
        return result

    def _failure(self, what: str, exc: BaseException) -> SupervisorError:
        text = _one_line(exc)
        if not_dbos(text):
            return SupervisorError(
                f"not a DBOS system database yet: {self.display_url} ({text}); "
                "a worker or --embedded creates its tables"
            )
        return SupervisorError(f"{what} failed: {text}")

    async def _call(self, what: str, coro: Awaitable[T]) -> T:
        """Await a data-layer call; any failure becomes a one-line, redacted SupervisorError.

        Reads are bounded too: DBOS runs its SQLite reads in write-locking transactions, so a
        database locked by another process would otherwise hold the poller for minutes.
        """
        try:
            return await asyncio.wait_for(coro, timeout=_read_timeout())
        except SupervisorError:
            raise
        except TimeoutError:
            raise SupervisorError(
                f"{what}: the database did not answer within {_read_timeout():g} s "
                "(locked by another process?)"
            ) from None
        except Exception as exc:
            raise self._failure(what, exc) from None
