"""A keyed, virtual table on Textual's Line API: one cached strip per row, re-rendered only when
that row changes.

Textual's ``DataTable`` keys every render cache on a table-wide update counter, so a single
``update_cell`` re-renders every visible cell through Rich (``Padding`` + ``render_lines``, about
0.15 ms a cell): with runs in flight the workflow list changed at every poll and every duration
tick and spent 50 ms a refresh on it. Here a row is one :class:`~rich.text.Text` per cell, joined
and rendered once into a :class:`~textual.strip.Strip` when that row's cells change; the cursor and
the zebra stripes are styles applied under that strip (cached per style), and only the lines of
changed rows are marked dirty. Scrolling renders only rows never drawn before.

It keeps the part of ``DataTable``'s interface the screens use: ``cursor_row``, ``move_cursor``,
``row_count``, ``get_row_at`` and the ``RowHighlighted`` / ``RowSelected`` / ``HeaderSelected``
messages; rows are replaced as a whole with :meth:`RowTable.set_rows`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar

from rich.cells import cell_len, set_cell_size
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

__all__ = ["PAD", "Cell", "Column", "RowTable"]

#: What a cell holds: plain text or styled text.
Cell = str | Text
#: Blank cells either side of every column.
PAD = 1
#: Line breaks and tabs inside a cell show as spaces (a row is one line).
_FLAT = str.maketrans({"\n": " ", "\r": " ", "\t": " "})


@lru_cache(maxsize=512)
def _parsed(console: Console, style: str) -> Style:
    return console.get_style(style)


def _style(console: Console, style: str | Style) -> Style:
    return style if isinstance(style, Style) else _parsed(console, style)


@dataclass
class Column:
    """One column of a :class:`RowTable`: its key, its header label and its width."""

    key: str
    label: str
    #: Content width in cells (one cell of padding either side comes on top).
    width: int


class RowTable(ScrollView, can_focus=True):
    """Rows keyed by a string; a fixed header line; a row cursor.

    Built on Textual's Line API: each row is rendered once into a strip and kept until its
    cells change, so updating one row repaints one line (DataTable drops its whole render cache
    on any ``update_cell``).

    | Key(s) | Description |
    | :- | :- |
    | enter | Select the row under the cursor (posts ``RowSelected``). |
    | up, k | Move the cursor up. |
    | down, j | Move the cursor down. |
    | pageup | Move the cursor up a page. |
    | pagedown | Move the cursor down a page. |
    | home, g | Move the cursor to the first row. |
    | end, G | Move the cursor to the last row. |
    | left, right | Scroll sideways. |
    """

    DEFAULT_CSS = """
    RowTable {
        background: $surface;
        color: $foreground;
        height: auto;
        max-height: 100%;
        &:focus {
            background-tint: $foreground 5%;
            & > .rowtable--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .rowtable--header {
                background-tint: $foreground 5%;
            }
        }
        &:dark > .rowtable--even-row {
            background: $surface-darken-1 40%;
        }
        & > .rowtable--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        &:ansi > .rowtable--header {
            background: ansi_bright_blue;
            color: ansi_default;
        }
        & > .rowtable--even-row {
            background: $surface-lighten-1 50%;
        }
        & > .rowtable--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
    }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "rowtable--header",
        "rowtable--cursor",
        "rowtable--even-row",
        "rowtable--odd-row",
    }

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Select", show=False),
        Binding("up,k", "cursor_up", "Up", show=False),
        Binding("down,j", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home,g", "first", "First", show=False),
        Binding("end,G", "last", "Last", show=False),
        Binding("left", "scroll_left", "Left", show=False),
        Binding("right", "scroll_right", "Right", show=False),
    ]

    class _TableMessage(Message):
        def __init__(self, table: RowTable) -> None:
            super().__init__()
            self.table = table

        @property
        def control(self) -> RowTable:
            return self.table

    class RowHighlighted(_TableMessage):
        """The cursor moved to another row (or the row under it is another one).

        ``by_user``: moved by a key or a click, not by the program (``move_cursor``) or by
        the rows changing under it.
        """

        def __init__(
            self, table: RowTable, cursor_row: int, row_key: str, *, by_user: bool = False
        ) -> None:
            super().__init__(table)
            self.cursor_row = cursor_row
            self.row_key = row_key
            self.by_user = by_user

    class RowSelected(_TableMessage):
        """Enter, or a click, on a row."""

        def __init__(self, table: RowTable, cursor_row: int, row_key: str) -> None:
            super().__init__(table)
            self.cursor_row = cursor_row
            self.row_key = row_key

    class HeaderSelected(_TableMessage):
        """A click on a column's label."""

        def __init__(self, table: RowTable, column_key: str) -> None:
            super().__init__(table)
            self.column_key = column_key

    def __init__(
        self,
        columns: Sequence[Column] = (),
        *,
        zebra_stripes: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.zebra_stripes = zebra_stripes
        self.columns: list[Column] = list(columns)
        self._keys: list[str] = []
        self._index: dict[str, int] = {}
        self._cells: dict[str, tuple[Cell, ...]] = {}
        #: Row key → its content rendered once (no row style), at the table's full width.
        self._content: dict[str, Strip] = {}
        #: (row key, style kind) → the content with that row style under it.
        self._styled: dict[tuple[str, str], Strip] = {}
        self._header: Strip | None = None
        self._row_styles: dict[str, Style] = {}
        self._warming = False
        self._cursor = 0
        self._highlighted: str | None = None

    # -- content --------------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        """The number of rows shown."""
        return len(self._keys)

    @property
    def cursor_row(self) -> int:
        """The index of the row under the cursor."""
        return self._cursor

    @property
    def cursor_key(self) -> str | None:
        """The key of the row under the cursor, or None for an empty table."""
        return self._keys[self._cursor] if self._keys else None

    def get_row_at(self, index: int) -> list[Cell]:
        """The cells of the row at an index.

        Args:
            index: The row's index.

        Returns:
            Its cells, in column order.
        """
        return list(self._cells[self._keys[index]])

    def get_cell(self, key: str, column: str) -> Cell:
        """The cell of a row in a column.

        Args:
            key: the row's key.
            column: the column's key.

        Returns:
            What the cell holds (plain or styled text).
        """
        index = next(i for i, c in enumerate(self.columns) if c.key == column)
        return self._cells[key][index]

    def get_row_index(self, key: str) -> int:
        """The index of the row with key ``key``.

        Args:
            key: The row's key.

        Returns:
            Its index.

        Raises:
            KeyError: No row with that key is shown.
        """
        return self._index[key]

    def set_rows(self, rows: Sequence[tuple[str, Sequence[Cell]]]) -> None:
        """Show exactly ``rows``, in this order.

        A row whose cells are equal to what it showed keeps its rendered strip; only the lines of
        rows that changed, moved, came or went are repainted. The cursor stays on its row's key
        while that row is shown.

        Args:
            rows: (row key, cells in column order) for every row to show.
        """
        keep = self.cursor_key
        old_index = self._index
        keys = [key for key, _ in rows]
        index = {key: i for i, key in enumerate(keys)}
        dirty: set[int] = set()
        for key in [k for k in self._keys if k not in index]:
            self._forget(key)
        for i, (key, cells) in enumerate(rows):
            new = tuple(cells)
            if self._cells.get(key) != new:
                self._cells[key] = new
                self._forget_render(key)
                dirty.add(i)
            elif old_index.get(key) != i:
                dirty.add(i)
        resized = len(keys) != len(self._keys)
        self._keys, self._index = keys, index
        if resized:
            self._update_virtual_size()
            dirty.update(range(len(keys), len(old_index)))
        cursor = index.get(keep, self._cursor) if keep is not None else 0
        self._cursor = max(0, min(cursor, len(keys) - 1))
        self._refresh_rows(dirty)
        self._scroll_cursor_into_view()
        self._announce()
        if dirty:
            self._warm_later()

    def set_column_width(self, key: str, width: int) -> None:
        """Change one column's width (every row is rendered again).

        Args:
            key: The column's key.
            width: Its content width in cells (padding comes on top).
        """
        self.set_column_widths({key: width})

    def set_column_widths(self, widths: dict[str, int]) -> None:
        """Change columns' widths at once; when any changed, every row is rendered again
        (once, whatever the number of columns that changed).

        Args:
            widths: column key → content width in cells (padding comes on top).
        """
        changed = False
        for column in self.columns:
            width = widths.get(column.key, column.width)
            if column.width != width:
                column.width = width
                changed = True
        if changed:
            self._content.clear()
            self._styled.clear()
            self._header = None
            self._update_virtual_size()
            self.refresh()

    def _forget(self, key: str) -> None:
        self._cells.pop(key, None)
        self._forget_render(key)

    def _forget_render(self, key: str) -> None:
        self._content.pop(key, None)
        for kind in ("cursor", "even-row", "odd-row"):
            self._styled.pop((key, kind), None)

    @property
    def _table_width(self) -> int:
        return sum(c.width + 2 * PAD for c in self.columns)

    def _update_virtual_size(self) -> None:
        self.virtual_size = Size(self._table_width, len(self._keys) + 1)

    # -- cursor ---------------------------------------------------------------------------

    def move_cursor(self, *, row: int, animate: bool = False) -> None:
        """Put the cursor on ``row`` (clamped), scrolling it into view.

        Args:
            row: The row's index.
            animate: Ignored (the cursor never animates); kept for DataTable's signature.
        """
        del animate  # the cursor never animates; kept for DataTable's signature
        self._move(row, by_user=False)

    def _move(self, row: int, *, by_user: bool) -> None:
        if not self._keys:
            return
        row = max(0, min(row, len(self._keys) - 1))
        if row == self._cursor:
            return
        self._refresh_rows({self._cursor, row})
        self._cursor = row
        self._scroll_cursor_into_view()
        self._announce(by_user=by_user)

    def _announce(self, *, by_user: bool = False) -> None:
        key = self.cursor_key
        if key is not None and key != self._highlighted:
            self._highlighted = key
            self.post_message(self.RowHighlighted(self, self._cursor, key, by_user=by_user))
        elif key is None:
            self._highlighted = None

    @property
    def _body_height(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def _scroll_cursor_into_view(self) -> None:
        top = round(self.scroll_y)
        height = self._body_height
        if self._cursor < top:
            self.scroll_to(y=self._cursor, animate=False, immediate=True)
        elif self._cursor >= top + height:
            self.scroll_to(y=self._cursor - height + 1, animate=False, immediate=True)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._warm_later()

    def _warm_later(self) -> None:
        if not self._warming:
            self._warming = True
            self.call_after_refresh(self._warm)

    def _warm(self) -> None:
        """After a scroll has been painted, render the page below and the page above, so the
        next page down / page up only paints strips already made (a page at most per call, to
        keep the event loop free for the next key)."""
        self._warming = False
        top, height = round(self.scroll_y), self._body_height
        for start, stop in ((top + height, top + 2 * height), (top - height, top)):
            todo = [
                i
                for i in range(max(0, start), min(stop, len(self._keys)))
                if self._keys[i] not in self._content
            ]
            if todo:
                for i in todo:
                    self._row_strip(i)
                self._warm_later()
                return

    def action_cursor_up(self) -> None:
        self._move(self._cursor - 1, by_user=True)

    def action_cursor_down(self) -> None:
        self._move(self._cursor + 1, by_user=True)

    def action_page_up(self) -> None:
        self._move(self._cursor - self._body_height, by_user=True)

    def action_page_down(self) -> None:
        self._move(self._cursor + self._body_height, by_user=True)

    def action_first(self) -> None:
        self._move(0, by_user=True)

    def action_last(self) -> None:
        self._move(len(self._keys) - 1, by_user=True)

    def action_select_cursor(self) -> None:
        key = self.cursor_key
        if key is not None:
            self.post_message(self.RowSelected(self, self._cursor, key))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        if offset.y == 0:
            x = offset.x + round(self.scroll_x)
            for column in self.columns:
                x -= column.width + 2 * PAD
                if x < 0:
                    self.post_message(self.HeaderSelected(self, column.key))
                    break
            return
        row = round(self.scroll_y) + offset.y - 1
        if 0 <= row < len(self._keys):
            self._move(row, by_user=True)
            self.action_select_cursor()

    # -- rendering ------------------------------------------------------------------------

    def _refresh_rows(self, rows: set[int]) -> None:
        top = round(self.scroll_y)
        height = self._body_height
        width = max(self.virtual_size.width, self.size.width)
        for i in rows:
            if top <= i < top + height:
                self.refresh(Region(0, i - top + 1, width, 1))

    def _restyle(self) -> None:
        self._styled.clear()
        self._row_styles.clear()
        self._header = None

    def notify_style_update(self) -> None:
        # Focus, theme or CSS changed: the row styles under the strips may differ.
        self._restyle()
        super().notify_style_update()

    def on_focus(self, event: events.Focus) -> None:
        self._restyle()
        self.refresh()

    def on_blur(self, event: events.Blur) -> None:
        self._restyle()
        self.refresh()

    def _row_style(self, kind: str) -> Style:
        """The widget's style plus a component's (``""``: the widget's alone), cached until the
        styles change: both walk the DOM."""
        style = self._row_styles.get(kind)
        if style is None:
            style = self.rich_style
            if kind:
                style += self.get_component_rich_style(f"rowtable--{kind}")
            self._row_styles[kind] = style
        return style

    def on_resize(self, event: events.Resize) -> None:
        self._scroll_cursor_into_view()

    def _render_cells(self, cells: Sequence[Cell], style: Style | None = None) -> Strip:
        """One row as segments: each cell cut or padded to its column, one cell of padding
        either side. A cell with one style (most are) becomes one segment without going through
        Rich's text layout; a cell with spans is rendered by Rich."""
        console = self.app.console
        pad = Segment(" " * PAD)
        segments: list[Segment] = []
        for column, cell in zip(self.columns, cells, strict=False):
            segments.append(pad)
            width = column.width
            if isinstance(cell, Text) and cell.spans:
                piece = cell.copy()
                piece.no_wrap = True
                piece.truncate(width, overflow="ellipsis", pad=True)
                segments.extend(piece.render(console, end=""))
            else:
                plain = (cell if isinstance(cell, str) else cell.plain).translate(_FLAT)
                length = cell_len(plain)
                if length > width:
                    plain = set_cell_size(plain, width - 1) + "…" if width > 0 else ""
                elif length < width:
                    plain += " " * (width - length)
                cell_style = cell.style if isinstance(cell, Text) else ""
                segments.append(Segment(plain, _style(console, cell_style) if cell_style else None))
            segments.append(pad)
        strip = Strip(segments)
        if style is not None:
            strip = strip.apply_style(style)
        return strip.adjust_cell_length(self._table_width)

    def _header_strip(self) -> Strip:
        if self._header is None:
            style = self._row_style("header")
            self._header = self._render_cells([Text(c.label) for c in self.columns], style)
        return self._header

    def _row_strip(self, index: int) -> Strip:
        key = self._keys[index]
        if index == self._cursor:
            kind = "cursor"
        elif self.zebra_stripes and index % 2 == 0:
            kind = "even-row"
        else:
            kind = "odd-row"
        styled = self._styled.get((key, kind))
        if styled is None:
            content = self._content.get(key)
            if content is None:
                content = self._content[key] = self._render_cells(self._cells[key])
            style = self._row_style(kind)
            styled = content.apply_style(style)
            self._styled[(key, kind)] = styled
        return styled

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        scroll_x = round(self.scroll_x)
        if y == 0:
            strip = self._header_strip()
        else:
            index = round(self.scroll_y) + y - 1
            if not 0 <= index < len(self._keys):
                return Strip.blank(width, self._row_style(""))
            strip = self._row_strip(index)
        return strip.crop_extend(scroll_x, scroll_x + width, self._row_style(""))

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self._keys) + 1

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return self._table_width
