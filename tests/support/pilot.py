"""Driving the dashboard as a person does (Pilot): an app on a data layer, waiting on what the
screen shows, selecting and opening runs. Shared by the Pilot tests."""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.pilot import Pilot

from tui.app import AgentDeckApp
from tui.screens.detail import DetailScreen
from tui.supervisor import Supervisor
from tui.widgets.workflow_table import WorkflowTable
from workflows.runtime import Runtime

__all__ = ["SIZE", "make_app", "notices", "open_detail", "select", "table", "until"]

SIZE = (140, 40)


def make_app(sup: Supervisor, runtime: Runtime) -> AgentDeckApp:
    return AgentDeckApp(sup, runtime=runtime, poll_interval=0.05)


async def until(pilot: Pilot[None], cond: Callable[[], object], within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within} s")
        await pilot.pause(0.05)


def table(app: AgentDeckApp) -> WorkflowTable:
    return app.screen.query_one(WorkflowTable)


async def select(pilot: Pilot[None], app: AgentDeckApp, wid: str) -> None:
    await until(pilot, lambda: wid in table(app).rows_by_id)
    t = table(app)
    t.move_cursor(row=t.get_row_index(wid))
    await pilot.pause()


async def open_detail(pilot: Pilot[None], app: AgentDeckApp, wid: str) -> None:
    """Select ``wid`` in the list and open its run detail (enter), as a person would."""
    await select(pilot, app, wid)
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(app.screen, DetailScreen))


def notices(app: AgentDeckApp) -> str:
    return " | ".join(n.message for n in app._notifications)
