"""The output pane reads lines it forgot back from the run's stream (issue #18 item 3).

A document keeps at most ``max_lines`` lines; scrolling to the top of them (or ``home``) reads
older ones back from the DBOS stream, scrolling below them (or ``end``) newer ones, up to the tail
which is followed again. A real run on SQLite writes a stream of more lines than the cap (made
small here), cut into entries mid-line, in two steps, one retried, with status lines between.
"""

from __future__ import annotations

import asyncio

from dbos import DBOS
from dbos._serialization import WorkflowSerializationFormat
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.widgets import Static

from tests.support.pilot import SIZE, until
from tui.app import AgentDeckApp
from tui.screens.detail import DetailScreen
from tui.supervisor import StreamBatch, Supervisor
from tui.widgets.output import FeedState, OutputPane, render
from workflows.models import STREAM_KEY, ChunkKind, ChunkPart, StreamChunk
from workflows.runtime import Runtime

CAP = 200  # lines kept (read back at once: a tenth, or two screens (~60) if more)
LINES = 800


def numbered(first: int, n: int, tag: str) -> str:
    return "".join(f"{tag}{i:05d} {'x' * (i % 47)}\n" for i in range(first, first + n))


async def write(step: int, attempt: int, seq: int, kind: ChunkKind, text: str) -> None:
    chunk = StreamChunk(
        step_id=step,
        step_name=f"part{step}",
        attempt=attempt,
        seq=seq,
        parts=(ChunkPart(kind=kind, text=text),),
    )
    await DBOS.write_stream_async(
        STREAM_KEY,
        chunk.model_dump(mode="json"),
        serialization_type=WorkflowSerializationFormat.PORTABLE,
    )


@DBOS.workflow(name="test.long_stream")
async def long_stream(lines: int) -> str:
    await DBOS.recv_async("go", timeout_seconds=600)
    text = numbered(0, lines, "L")
    pos = seq = 0
    while pos < len(text):
        size = 37 + (seq * 53) % 211  # cuts that fall mid-line
        step, attempt = (1, 1) if pos < len(text) // 3 else (2, 1 if pos < len(text) // 2 else 2)
        await write(step, attempt, seq, ChunkKind.TEXT, text[pos : pos + size])
        if seq % 17 == 5:
            await write(step, attempt, seq, ChunkKind.STATUS, f"status {seq}")
        pos, seq = pos + size, seq + 1
    await DBOS.recv_async("more", timeout_seconds=600)
    await write(3, 1, seq, ChunkKind.TEXT, numbered(0, 30, "M"))
    await DBOS.close_stream_async(STREAM_KEY)
    return "done"


async def expected(sup: Supervisor, wid: str) -> list[str]:
    """Every line of the run's output, rendered from its whole stream at once."""
    chunks: list[StreamChunk] = []
    offset, closed = 0, False
    while True:
        batches = await sup.read_streams({wid: offset})
        if not batches:
            break
        chunks += batches[0].chunks
        closed = closed or batches[0].closed
        offset = batches[0].next_offset
    return "".join(t for t, _ in render(FeedState(), chunks, closed)).split("\n")


def window(pane: OutputPane) -> list[str]:
    doc = pane.doc
    return [doc.line(i).plain for i in range(doc.line_count)]


def check(pane: OutputPane, lines: list[str]) -> None:
    """The kept lines are the stream's lines from the first one kept: in order, no gap."""
    doc = pane.doc
    assert doc.line_count <= CAP
    kept = window(pane)
    assert kept == lines[doc.dropped : doc.dropped + len(kept)]
    assert doc.below == len(lines) - doc.dropped - len(kept)  # 0: up to the tail


def top_line(pane: OutputPane) -> int:
    """The global index of the line at the top of the view."""
    return pane.doc.dropped + pane.doc.line_at(int(pane.scroll_y))


async def settled(pilot: Pilot[None], pane: OutputPane) -> None:
    await until(pilot, lambda: pane._reading is None)
    await pilot.pause()


class PaneApp(App[None]):
    """The output pane alone, reading a real run's stream as the run detail does."""

    def __init__(self, sup: Supervisor) -> None:
        super().__init__()
        self.sup = sup

    def compose(self) -> ComposeResult:
        pane = OutputPane(id="pane")
        pane.max_lines = CAP

        async def read(wid: str, offset: int) -> list[StreamBatch]:
            return await self.sup.read_streams({wid: offset})

        pane.stream_reader = read
        yield pane


async def feed_all(pane: OutputPane, sup: Supervisor, wid: str, offset: int = 0) -> int:
    while batches := await sup.read_streams({wid: offset}):
        for batch in batches:
            pane.feed(batch)
            offset = batch.next_offset
    return offset


async def test_paging_through_a_long_stream_reads_it_back_in_order(
    sup: Supervisor, runtime: Runtime
) -> None:
    handle = await DBOS.start_workflow_async(long_stream, LINES)
    wid = handle.workflow_id
    await DBOS.send_async(wid, "now", topic="go")
    await until_written(sup, wid, "L00799")
    lines = await expected(sup, wid)  # (the last one, being written, empty)
    assert len(lines) > LINES and "L00000" in lines[1]
    app = PaneApp(sup)
    async with app.run_test(size=(80, 32)) as pilot:
        pane = app.query_one(OutputPane)
        offset = await feed_all(pane, sup, wid)
        await pilot.pause()
        doc = pane.doc
        assert doc.dropped > 0 and doc.line_count <= CAP and pane.following
        check(pane, lines)

        # Up, a page at a time: older lines come back above, the line on top stays on top.
        pane.focus()
        for _ in range(100):
            before, first = top_line(pane), doc.dropped
            await pilot.press("pageup")
            await settled(pilot, pane)
            check(pane, lines)
            if doc.dropped < first:
                assert pane.scroll_y > 0  # read back above: the view did not jump to them
            if doc.dropped == 0 and pane.scroll_y == 0:
                break
            assert top_line(pane) < before
        assert doc.dropped == 0 and doc.detached and doc.line(1).plain.startswith("L00000")

        # Down again: newer lines come back below, up to the tail, which is followed again.
        for _ in range(100):
            before = top_line(pane)
            await pilot.press("pagedown")
            await settled(pilot, pane)
            check(pane, lines)
            if not doc.detached and pane.following:
                break
            assert top_line(pane) > before
        assert not doc.detached and pane.following

        # Home: the stream's first line; end: its tail, followed as the run writes more.
        await pilot.press("home")
        await settled(pilot, pane)
        assert doc.dropped == 0 and pane.scroll_y == 0 and doc.detached
        check(pane, lines)
        await DBOS.send_async(wid, "now", topic="more")
        assert await handle.get_result() == "done"
        offset = await feed_all(pane, sup, wid, offset)  # fed while away: counted, not kept
        lines = await expected(sup, wid)
        check(pane, lines)
        assert "M00029" not in doc.plain and doc.below > 0
        await pilot.press("end")
        await settled(pilot, pane)
        assert not doc.detached and pane.following
        check(pane, lines)
        shown = "".join(pane.render_line(y).text for y in range(pane.size.height))
        assert "M00029" in shown and "end of stream" in shown


async def until_written(sup: Supervisor, wid: str, needle: str) -> None:
    deadline = asyncio.get_running_loop().time() + 60
    while needle not in "\n".join(await expected(sup, wid)):
        assert asyncio.get_running_loop().time() < deadline, f"{needle} not written"
        await asyncio.sleep(0.05)


async def test_the_run_detail_reads_back_and_follows_the_tail_again(
    sup: Supervisor, runtime: Runtime
) -> None:
    handle = await DBOS.start_workflow_async(long_stream, LINES)
    wid = handle.workflow_id
    app = AgentDeckApp(sup, poll_interval=0.05)
    async with app.run_test(size=SIZE) as pilot:
        app.open_run(wid)
        await until(pilot, lambda: isinstance(app.screen, DetailScreen) and app.screen.is_mounted)
        screen = app.screen
        assert isinstance(screen, DetailScreen)
        pane = screen.query_one(OutputPane)
        pane.max_lines = CAP
        await DBOS.send_async(wid, "now", topic="go")
        await until(pilot, lambda: "L00799" in pane.doc.plain)
        lines = await expected(sup, wid)
        doc = pane.doc
        assert doc.dropped > 0 and pane.following
        title = screen.query_one("#output-title", Static)
        assert "earlier lines: scroll up or home" in str(title.render())

        # Scrolled to the top of the kept lines: older ones are read back above them.
        pane.focus()
        first = doc.dropped
        pane.scroll_to(y=0, animate=False, immediate=True)
        await until(pilot, lambda: doc.dropped < first)
        await settled(pilot, pane)
        check(pane, lines)
        assert pane.scroll_y > 0 and not pane.following

        await pilot.press("home")
        await settled(pilot, pane)
        assert doc.dropped == 0 and doc.detached and doc.line(1).plain.startswith("L00000")
        assert "L00000" in pane.render_line(1).text
        await until(pilot, lambda: "end returns to the tail" in str(title.render()))
        assert "earlier lines" not in str(title.render())

        await pilot.press("end")
        await settled(pilot, pane)
        assert not doc.detached and pane.following
        check(pane, lines)
        await DBOS.send_async(wid, "now", topic="more")
        await until(pilot, lambda: "end of stream" in doc.plain)
        shown = "".join(pane.render_line(y).text for y in range(pane.size.height))
        assert pane.following and "M00029" in shown
        check(pane, await expected(sup, wid))
        assert await handle.get_result() == "done"
