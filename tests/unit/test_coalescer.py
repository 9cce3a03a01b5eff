"""The Claude step's Coalescer: output parts become one stream write per interval, and closing
it never loses what was already taken from the buffer."""

from __future__ import annotations

import asyncio

from workflows.claude import Coalescer
from workflows.models import ChunkKind, StreamChunk


async def test_close_waits_for_the_write_in_flight() -> None:
    """A close while a write is in flight lets that write finish: its parts are already out of
    the buffer, so cancelling it (as close once did) dropped a step's last chunk."""
    written: list[StreamChunk] = []
    started, release = asyncio.Event(), asyncio.Event()

    async def write(chunk: StreamChunk) -> None:
        started.set()
        await release.wait()
        written.append(chunk)

    coalescer = Coalescer(write, step_id=1, step_name="s", attempt=1, interval=60, max_bytes=4)
    await coalescer.__aenter__()
    coalescer.add(ChunkKind.STATUS, "Bash: allowed")  # past max_bytes: flushed at once
    await asyncio.wait_for(started.wait(), 5)
    closing = asyncio.create_task(coalescer.close())
    release.set()
    await asyncio.wait_for(closing, 5)
    assert [p.text for c in written for p in c.parts] == ["Bash: allowed"]
    assert coalescer.writes == 1


async def test_parts_within_an_interval_are_one_write_and_close_flushes_the_rest() -> None:
    written: list[StreamChunk] = []

    async def write(chunk: StreamChunk) -> None:
        written.append(chunk)

    async with Coalescer(write, step_id=2, step_name="s", attempt=1, interval=60) as coalescer:
        for text in ("a", "b", "c"):
            coalescer.add(ChunkKind.TEXT, text)
        coalescer.add(ChunkKind.STATUS, "done")
    assert [(p.kind, p.text) for c in written for p in c.parts] == [
        (ChunkKind.TEXT, "abc"),
        (ChunkKind.STATUS, "done"),
    ]
    assert len(written) == 1 and written[0].seq == 0


async def test_a_cancelled_execution_cuts_the_write_in_flight() -> None:
    """Best effort (the execution was cancelled; DBOS refuses its writes): close does not wait."""
    release = asyncio.Event()
    started = asyncio.Event()

    async def write(chunk: StreamChunk) -> None:
        started.set()
        await release.wait()

    coalescer = Coalescer(write, step_id=3, step_name="s", attempt=1, interval=60, max_bytes=1)
    await coalescer.__aenter__()
    coalescer.add(ChunkKind.TEXT, "xy")
    await asyncio.wait_for(started.wait(), 5)
    await asyncio.wait_for(coalescer.close(best_effort=True), 5)  # returns with release unset
