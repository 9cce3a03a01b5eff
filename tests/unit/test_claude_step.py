"""The Claude step's stream when the CLI does not stream: the whole answer still reaches it.

After a broken stream the Claude Code CLI asks again without streaming, so a complete answer
can arrive with no stream events. These run ``run_claude`` outside DBOS (chunks collected by a
writer) through the in-process SDK transport, with its stream events dropped or cut short.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from workflows.claude import Endpoint, configure_endpoint, current_endpoint, run_claude
from workflows.model_offline.script import answer, thinking_for
from workflows.model_offline.transport import ScriptedTransport
from workflows.models import ChunkKind, ClaudeCall, StreamChunk
from workflows.prompts import plan_call


class Unstreamed(ScriptedTransport):
    """Sends the first ``keep`` stream events only (None: all), then the messages."""

    keep: int | None = 0

    def __init__(self, call: ClaudeCall) -> None:
        super().__init__(call)
        self._sent = 0

    def _event(self, event: dict[str, Any]) -> None:
        if self.keep is None or self._sent < self.keep:
            super()._event(event)
        self._sent += 1


@pytest.fixture
def endpoint() -> Iterator[None]:
    before = current_endpoint()
    configure_endpoint(Endpoint(label="test", offline=True, transport_factory=Unstreamed))
    try:
        yield
    finally:
        configure_endpoint(before)


async def run(call: ClaudeCall) -> tuple[str, dict[ChunkKind, str]]:
    chunks: list[StreamChunk] = []

    async def write(chunk: StreamChunk) -> None:
        chunks.append(chunk)

    result = await run_claude(call, step_name=call.task, write=write)
    shown: dict[ChunkKind, str] = {}
    for c in chunks:
        for p in c.parts:
            shown[p.kind] = shown.get(p.kind, "") + p.text
    return result.text, shown


@pytest.mark.parametrize("keep", [None, 0, 6], ids=["streamed", "no events", "cut short"])
async def test_the_stream_shows_the_whole_answer_once(
    endpoint: None, keep: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Unstreamed, "keep", keep)
    call = plan_call("durable execution", 3, model="claude-sonnet-4-5")
    text, shown = await run(call)
    assert text == answer("plan", call.prompt)
    assert shown[ChunkKind.TEXT] == text  # all of it, and only once
    assert shown[ChunkKind.THINKING] == thinking_for("plan", call.prompt)
