"""Reading the run detail's timeline and step box as a person does."""

from __future__ import annotations

from textual.pilot import Pilot
from textual.widgets import Static

from tui.app import AgentDeckApp
from tui.screens.detail import DetailScreen
from tui.widgets.timeline import Timeline, TimelineItem

__all__ = ["box", "detail_screen", "hint", "named", "put_cursor", "shown_row", "timeline"]


def detail_screen(app: AgentDeckApp) -> DetailScreen:
    screen = app.screen
    assert isinstance(screen, DetailScreen)
    return screen


def timeline(app: AgentDeckApp) -> Timeline:
    return detail_screen(app).query_one(Timeline)


def box(app: AgentDeckApp) -> str:
    """The step box under the timeline, as shown."""
    return str(detail_screen(app).query_one("#step-detail", Static).render())


def hint(app: AgentDeckApp) -> str:
    return str(detail_screen(app).query_one("#timeline-hint", Static).render())


def shown_row(t: Timeline, key: str) -> str:
    """Row ``key`` of the timeline as it is painted (header line first, then the rows)."""
    return t.render_line(t.get_row_index(key) + 1 - round(t.scroll_y)).text


def named(t: Timeline, name: str) -> list[TimelineItem]:
    return [i for i in t.items.values() if i.name == name]


async def put_cursor(pilot: Pilot[None], t: Timeline, key: str) -> None:
    t.focus()
    t.move_cursor(row=t.get_row_index(key))
    await pilot.pause()
