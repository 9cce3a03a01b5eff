"""Following runs' streams: new entries since given offsets, in one statement for many runs,
and waiting until a run may have written again (DBOS's stream notifications on PostgreSQL).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from workflows.models import STREAM_KEY, StreamChunk

from .connection import Connection
from .engine import STREAM_CLOSED
from .models import StreamBatch
from .runs import _parse
from .threads import in_thread
from .wakeups import StreamWakeups

__all__ = ["StreamReads"]


class StreamReads(Connection):
    """Stream reads (mixed into ``Supervisor``)."""

    async def read_streams(
        self, offsets: dict[str, int], *, key: str = STREAM_KEY
    ) -> list[StreamBatch]:
        """New entries of one stream key of many workflows since their offsets, in one query.

        agentdeck's own output stream comes back as ``chunks``; any other stream (a foreign
        app's) as raw decoded ``values``.
        """
        return await self._call("read streams", in_thread(self._stream_batches, offsets, key))

    #: With stream notifications trusted, the longest a follower waits without one.
    STREAM_FALLBACK_S = 0.25

    async def wait_streams(self, workflow_ids: Iterable[str], poll: float) -> None:
        """Until the given workflows may have written to a stream again.

        On PostgreSQL, once DBOS's stream notifications have been heard: when one of them
        writes, or after ``poll`` s (at least STREAM_FALLBACK_S, for writers that do not
        notify). Otherwise (SQLite, or no notification yet): after ``poll`` s.
        """
        wakeups = self._stream_wakeups()
        if wakeups is None or not wakeups.heard:
            await asyncio.sleep(poll)
            return
        await wakeups.wait(workflow_ids, max(poll, self.STREAM_FALLBACK_S))

    def _stream_wakeups(self) -> StreamWakeups | None:
        """The LISTEN thread, started by the first wait (only screens that follow streams)."""
        if self._wakeups is None and self._sql is not None and not self._sql.sqlite:
            self._wakeups = StreamWakeups(self._sql.engine, asyncio.get_running_loop())
            self._wakeups.start()
        return self._wakeups

    def _stream_batches(self, offsets: dict[str, int], key: str) -> list[StreamBatch]:
        """The query and the parsing of its entries, both in the worker thread (the run detail
        calls this every 20 ms while a run streams: nothing of it runs on the event loop)."""
        raw = self.sql.stream_since(offsets, key)
        batches = []
        for wid, entries in raw.items():
            chunks: list[StreamChunk] = []
            closed = False
            next_offset = offsets.get(wid, 0)
            values: list[tuple[int, Any]] = []
            for off, value in entries:
                next_offset = off + 1
                if value == STREAM_CLOSED:
                    closed = True
                    continue
                chunk = _parse(StreamChunk, value) if key == STREAM_KEY else None
                if chunk is not None:
                    chunks.append(chunk)
                else:
                    values.append((off, value))
            batches.append(
                StreamBatch(
                    workflow_id=wid,
                    chunks=tuple(chunks),
                    next_offset=next_offset,
                    closed=closed,
                    key=key,
                    values=tuple(values),
                )
            )
        return batches
