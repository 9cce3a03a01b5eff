"""The output pane: one view, one document per source, switched without wrapping what is hidden."""

from __future__ import annotations

from typing import Any

from rich.style import Style
from rich.text import Text
from textual.app import App, ComposeResult

from tui.widgets.output import OutputPane


class Counting(OutputPane):
    wrapped: int = 0

    def wrap(self, line: Text, width: int) -> Any:
        self.wrapped += 1
        return super().wrap(line, width)


class PaneApp(App[None]):
    def compose(self) -> ComposeResult:
        yield Counting(id="pane")


def lines(prefix: str, n: int) -> list[tuple[str, str | Style]]:
    return [(f"{prefix} line {i}\n", "") for i in range(n)]


async def test_a_hidden_document_is_wrapped_after_the_paint_not_on_the_key() -> None:
    app = PaneApp()
    async with app.run_test(size=(60, 12)) as pilot:
        pane = app.query_one(Counting)
        pane.view_for("run").append_many(lines("run", 50))
        await pilot.pause()
        assert pane.wrapped >= 50
        pane.wrapped = 0
        child = pane.view_for("child")
        child.append_many(lines("child", 200))
        assert pane.wrapped == 0 and child.line_count == 201  # kept, not wrapped yet
        await pilot.pause()
        assert pane.wrapped == 201  # wrapped once the screen was painted
        pane.select("child")  # what a key on the timeline does: nothing left to wrap
        await pilot.pause()
        assert pane.wrapped == 201
        assert "child line 199" in "".join(pane.render_line(y).text for y in range(12))
        # Appending to the shown document wraps only the line appended to and the new ones.
        pane.wrapped = 0
        child.append_many(lines("more", 1)[:1])
        assert pane.wrapped == 2  # "more line 0" joined the last line; a new empty one began


async def test_each_document_keeps_its_place_and_the_tail_is_followed() -> None:
    app = PaneApp()
    async with app.run_test(size=(60, 12)) as pilot:
        pane = app.query_one(Counting)
        run = pane.view_for("run")
        run.append_many(lines("run", 100))
        await pilot.pause()
        assert pane.scroll_y == pane.max_scroll_y > 0  # following the tail
        pane.scroll_to(y=10, animate=False, immediate=True)
        pane.view_for("child").append_many(lines("child", 30))
        pane.select("child")
        await pilot.pause()
        assert pane.scroll_y == pane.max_scroll_y  # a new document starts at its tail
        run.append_many(lines("later", 5))  # arrives while hidden
        pane.select("run")
        await pilot.pause()
        assert pane.scroll_y == 10  # where the user left it: scrolled up, not following
        assert "later line 4" in run.plain
