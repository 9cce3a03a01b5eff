"""RowTable, the Line-API table under the workflow list and the timeline, in a real Textual app."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import App, ComposeResult

from tui.widgets.rowtable import Cell, Column, RowTable


def rows(n: int, tag: str = "") -> list[tuple[str, tuple[Cell, ...]]]:
    return [(f"k{i}", (f"row {i}{tag}", Text(f"v{i}", style="bold"))) for i in range(n)]


class TableApp(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[Any] = []

    def compose(self) -> ComposeResult:
        yield RowTable([Column("name", "NAME", 12), Column("value", "VALUE", 6)], id="t")

    def on_row_table_row_highlighted(self, event: RowTable.RowHighlighted) -> None:
        self.messages.append(("highlighted", event.row_key))

    def on_row_table_row_selected(self, event: RowTable.RowSelected) -> None:
        self.messages.append(("selected", event.row_key))

    def on_row_table_header_selected(self, event: RowTable.HeaderSelected) -> None:
        self.messages.append(("header", event.column_key))


class Counting(RowTable):
    """Counts the rows it renders (the expensive part the table exists to avoid)."""

    rendered: list[str]

    def _render_cells(self, cells: Any, style: Any = None) -> Any:
        self.rendered.append(str(cells[0]))
        return super()._render_cells(cells, style)


class CountingApp(TableApp):
    def compose(self) -> ComposeResult:
        table = Counting([Column("name", "NAME", 12), Column("value", "VALUE", 6)], id="t")
        table.rendered = []
        yield table


async def test_only_changed_rows_are_rendered_again() -> None:
    app = CountingApp()
    async with app.run_test(size=(40, 12)) as pilot:
        table = app.query_one(Counting)
        table.focus()
        table.set_rows(rows(30))
        await pilot.pause()
        table.rendered.clear()
        changed = rows(30)
        changed[3] = ("k3", ("row 3 changed", Text("v3", style="bold")))
        table.set_rows(changed)
        await pilot.pause()
        assert table.rendered == ["row 3 changed"]
        assert "row 3 changed" in str(table.get_cell("k3", "name"))


async def test_cursor_follows_its_row_and_keys_move_it() -> None:
    app = TableApp()
    async with app.run_test(size=(40, 12)) as pilot:
        table = app.query_one(RowTable)
        table.focus()
        table.set_rows(rows(30))
        await pilot.press("down", "down")
        assert table.cursor_key == "k2"
        # A new row on top: the cursor stays on k2, now one further down.
        table.set_rows([("new", ("new", "")), *rows(30)])
        assert table.cursor_key == "k2" and table.cursor_row == 3
        await pilot.press("pagedown")
        body = table.scrollable_content_region.height - 1
        assert table.cursor_row == 3 + body
        assert table.scroll_y > 0  # scrolled so the cursor shows
        await pilot.press("G")
        assert table.cursor_key == "k29"
        await pilot.press("g")
        assert table.cursor_key == "new"
        await pilot.press("enter")
        await pilot.pause()
        assert ("selected", "new") in app.messages
        assert ("highlighted", "k2") in app.messages
        # The row under the cursor goes away: the cursor stays in range.
        table.set_rows(rows(2))
        assert table.cursor_key in {"k0", "k1"}
        table.set_rows([])
        assert table.cursor_key is None and table.row_count == 0


async def test_clicks_select_rows_and_headers() -> None:
    app = TableApp()
    async with app.run_test(size=(40, 12)) as pilot:
        table = app.query_one(RowTable)
        table.set_rows(rows(5))
        await pilot.click(RowTable, offset=(2, 3))  # line 3 = the third row (k2)
        await pilot.pause()
        assert ("selected", "k2") in app.messages and table.cursor_key == "k2"
        await pilot.click(RowTable, offset=(16, 0))  # VALUE starts at 12 + 2
        await pilot.pause()
        assert ("header", "value") in app.messages


async def test_cells_are_cut_padded_and_flattened() -> None:
    app = TableApp()
    async with app.run_test(size=(40, 6)) as pilot:
        table = app.query_one(RowTable)
        table.set_rows([("a", ("a very long name indeed", "x")), ("b", ("two\nlines", "y"))])
        await pilot.pause()
        first = table.render_line(1).text
        second = table.render_line(2).text
        assert first.startswith(" a very long…  x")
        assert second.startswith(" two lines    ")
        assert table.render_line(0).text.startswith(" NAME          VALUE ")
