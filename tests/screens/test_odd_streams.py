"""Odd stream content: a 1 MB chunk, non-UTF-8 bytes, an entry that is not a chunk."""

from __future__ import annotations

from dbos import DBOS
from dbos._serialization import WorkflowSerializationFormat

from tests.support.pilot import SIZE, until
from tui.app import AgentDeckApp
from tui.screens.detail import DetailScreen
from tui.supervisor import Supervisor
from tui.widgets.output import OutputPane
from workflows.models import (
    STREAM_KEY,
    ChunkKind,
    ChunkPart,
    StreamChunk,
)
from workflows.runtime import Runtime


@DBOS.workflow(name="test.odd_stream")
async def odd_stream() -> str:
    text = "x" * 1_000_000 + "END"
    parts = (ChunkPart(kind=ChunkKind.TEXT, text=text),)
    big = StreamChunk(step_id=1, step_name="big", attempt=1, seq=0, parts=parts)
    await DBOS.write_stream_async(
        STREAM_KEY,
        big.model_dump(mode="json"),
        serialization_type=WorkflowSerializationFormat.PORTABLE,
    )
    await DBOS.write_stream_async("raw", b"\xff\xfe not utf-8 \x80")
    await DBOS.write_stream_async(STREAM_KEY, {"not": "a chunk"})
    return "done"


async def test_a_1mb_chunk_and_non_utf8_bytes_render(sup: Supervisor, runtime: Runtime) -> None:
    handle = await DBOS.start_workflow_async(odd_stream)
    assert await handle.get_result() == "done"
    wid = handle.workflow_id
    # The test loop itself called DBOS: leave the runtime to the fixture, not the app.
    app = AgentDeckApp(sup, poll_interval=0.05)
    async with app.run_test(size=SIZE) as pilot:
        app.open_run(wid)
        await until(pilot, lambda: isinstance(app.screen, DetailScreen) and app.screen.is_mounted)
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, DetailScreen)
        view = screen.query_one(OutputPane).view_for(wid)
        await until(pilot, lambda: "END" in view.plain and "not utf-8" in view.plain)
        assert "{'not': 'a chunk'}" in view.plain  # malformed entries shown raw, not dropped
        await pilot.press("end", "home")
        assert app.is_running
