"""`make screenshots`: every screen and dialog of the real app, on canned data, as SVG.

The same shots are the SVG snapshot tests (tests/screens/test_snapshots.py), so the pictures in the
README are exactly what the tests check.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Input

from tui.app import AgentDeckApp

from .canned import FAILED, GUARD_ROWS, NOW, TOOL_WAITING, WAITING, CannedSupervisor

__all__ = ["SHOTS", "Shot", "canned_app", "main"]


def canned_app(*, empty: bool = False) -> AgentDeckApp:
    os.environ["TZ"] = "UTC"
    time.tzset()
    app = AgentDeckApp(
        CannedSupervisor(empty=empty),
        mode="embedded",
        model_label="offline scripted model",
        clock=lambda: NOW,
        poll_interval=0.05,
    )
    return app


async def settle(pilot: Pilot[None]) -> None:
    """Wait for the canned data to reach the screen; stop cursors blinking."""
    app = pilot.app
    assert isinstance(app, AgentDeckApp)
    for _ in range(100):
        if app.connected:
            break
        await pilot.pause(0.02)
    await pilot.pause(0.2)
    for _ in range(200):  # a screen that reads in steps says when it is done (insights)
        if getattr(app.screen, "settled", True):
            break
        await pilot.pause(0.02)
    for box in app.screen.query(Input):
        box.cursor_blink = False
    # Deferred scrolls (a stream view following its end) land after a refresh; their scrollbars
    # are painted one refresh later still.
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()
    await pilot.pause()


def keys(*names: str) -> Callable[[Pilot[None]], Awaitable[None]]:
    async def run(pilot: Pilot[None]) -> None:
        await settle(pilot)
        for name in names:
            await pilot.press(name)
            await pilot.pause(0.05)
        await settle(pilot)

    return run


def launch_options(priority: str, debounce: str) -> Callable[[Pilot[None]], Awaitable[None]]:
    """The launch form with a topic and the queue options filled in, submitted (canned data
    refuses the launch itself, so bad values show their inline errors)."""

    async def run(pilot: Pilot[None]) -> None:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        form = pilot.app.screen
        form.query_one("#f-topic", Input).value = "durable execution"
        form.query_one("#f-priority", Input).value = priority
        form.query_one("#f-debounce", Input).value = debounce
        await pilot.press("ctrl+s")
        await settle(pilot)
        form.query_one("#f-priority", Input).focus()
        form.query_one("#f-anyway").scroll_visible(animate=False)
        await settle(pilot)

    return run


def open_run(workflow_id: str, *more: str) -> Callable[[Pilot[None]], Awaitable[None]]:
    async def run(pilot: Pilot[None]) -> None:
        await settle(pilot)
        app = pilot.app
        assert isinstance(app, AgentDeckApp)
        app.open_run(workflow_id)
        await settle(pilot)
        for name in more:
            await pilot.press(name)
            await pilot.pause(0.05)
        await settle(pilot)

    return run


def with_tool_approval(*names: str) -> Callable[[Pilot[None]], Awaitable[None]]:
    """The canned rows plus a research question waiting for a tool approval (Bash), then keys."""

    async def run(pilot: Pilot[None]) -> None:
        app = pilot.app
        assert isinstance(app, AgentDeckApp) and isinstance(app.source, CannedSupervisor)
        app.source.rows = (*app.source.rows, TOOL_WAITING)
        await settle(pilot)
        for name in names:
            await pilot.press(name)
            await pilot.pause(0.05)
        await settle(pilot)

    return run


def with_guards(*names: str) -> Callable[[Pilot[None]], Awaitable[None]]:
    """The canned rows plus a run paused at its budget and a question stopped at a tool loop."""

    async def run(pilot: Pilot[None]) -> None:
        app = pilot.app
        assert isinstance(app, AgentDeckApp) and isinstance(app.source, CannedSupervisor)
        app.source.rows = (*app.source.rows, *GUARD_ROWS)
        await settle(pilot)
        for name in names:
            await pilot.press(name)
            await pilot.pause(0.05)
        await settle(pilot)

    return run


def launch_kind(kind: str) -> Callable[[Pilot[None]], Awaitable[None]]:
    """The launch form switched to another workflow type."""

    async def run(pilot: Pilot[None]) -> None:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        from textual.widgets import Select

        pilot.app.screen.query_one("#kind", Select).value = kind
        await settle(pilot)

    return run


@dataclass(frozen=True)
class Shot:
    name: str
    run_before: Callable[[Pilot[None]], Awaitable[None]]
    size: tuple[int, int] = (140, 40)
    empty: bool = False
    theme: str = ""
    extra: dict[str, str] = field(default_factory=dict)


SHOTS: tuple[Shot, ...] = (
    Shot("workflows", keys()),
    Shot("workflows_empty", keys(), empty=True),
    Shot("workflows_filtered", keys("slash", *"status:error,cancelled", "enter")),
    Shot("workflows_children", keys("t")),
    Shot("workflows_light", keys(), theme="textual-light"),
    Shot("workflows_small", keys(), size=(60, 20)),
    Shot("workflows_large", keys(), size=(200, 60)),
    Shot("detail_waiting", open_run(WAITING.workflow_id)),
    Shot("detail_report", open_run("research-c3d2a1b0f9e8")),
    Shot("detail_output", open_run("research-c3d2a1b0f9e8", "o")),
    Shot("detail_find", open_run("research-c3d2a1b0f9e8", "slash", *"durable", "enter")),
    Shot("detail_failed", open_run(FAILED.workflow_id)),
    Shot("detail_events", open_run(WAITING.workflow_id, "e")),
    Shot("detail_small", open_run(WAITING.workflow_id), size=(60, 20)),
    Shot("approve", open_run(WAITING.workflow_id, "a")),
    Shot("inbox", keys("i")),
    Shot("queues", keys("Q")),
    Shot("schedules", keys("S")),
    Shot("launch", keys("n")),
    Shot("launch_invalid", keys("n", "a", "b", "enter")),
    Shot("fork", open_run(FAILED.workflow_id, "f")),
    Shot("confirm_cancel", keys("2", "c")),
    Shot("workflows_marked", keys("space", "down", "space")),
    Shot("bulk_resume", keys("4", "asterisk", "r")),
    Shot("help", keys("question_mark")),
    Shot("palette", keys("ctrl+p", *"fork")),
    Shot("inbox_tool", with_tool_approval("i")),
    Shot("approve_tool", with_tool_approval("i", "down", "enter")),
    Shot("queues_launch", keys("Q", "down")),
    Shot("launch_queue_options", launch_options("0", "2.5")),
    Shot("compare", open_run("compare-4f1e2d3c5b6a"), size=(160, 44)),
    Shot("lineage", open_run("research-c3d2a1b0f9e8~fork", "L")),
    Shot("diff", open_run("research-c3d2a1b0f9e8~fork", "d")),
    Shot("diff_all", open_run("research-c3d2a1b0f9e8~fork", "d", "c")),
    Shot("fork_settings", open_run("research-c3d2a1b0f9e8", "f", "tab", *"claude-opus-4-1")),
    Shot("launch_compare", launch_kind("compare")),
    Shot("export", open_run("research-c3d2a1b0f9e8", "x")),
    Shot("insights", keys("I"), size=(140, 60)),
    Shot("detail_costs", open_run("research-c3d2a1b0f9e8", "dollar")),
    Shot("insights_light", keys("I"), theme="textual-light"),
    Shot("insights_small", keys("I"), size=(60, 20)),
    Shot("workflows_guards", with_guards()),
    Shot("inbox_guards", with_guards("i")),
    Shot("approve_budget", with_guards("i", "down", "enter")),
    Shot("approve_loop", with_guards("i", "down", "down", "enter")),
)


async def _take(shot: Shot, out: Path) -> Path:
    app = canned_app(empty=shot.empty)
    if shot.theme:
        app.theme = shot.theme
    async with app.run_test(size=shot.size) as pilot:
        await shot.run_before(pilot)
        path = out / f"{shot.name}.svg"
        app.save_screenshot(str(path))
    return path


def main() -> None:
    out = Path("screenshots")
    out.mkdir(exist_ok=True)
    for shot in SHOTS:
        path = asyncio.run(_take(shot, out))
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
