"""Small DataTable helpers shared by the tables of every screen."""

from __future__ import annotations

from typing import Any

from rich.text import Text, TextType
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, ColumnKey, RowKey

__all__ = ["PlainTable", "cursor_key"]


def _as_is(cell: object) -> object:
    return Text(cell) if isinstance(cell, str) else cell


class PlainTable(DataTable[Any]):
    """A ``DataTable`` that shows text cells as they are.

    ``DataTable`` reads a ``str`` cell as Rich markup: an event's value, a topic or a model name
    with ``[/x]`` in it raised a ``MarkupError`` and failed the screen. Every table here shows
    data, never markup (styled cells are ``Text``).
    """

    def add_row(
        self,
        *cells: Any,
        height: int | None = 1,
        key: str | None = None,
        label: TextType | None = None,
    ) -> RowKey:
        return super().add_row(*map(_as_is, cells), height=height, key=key, label=label)

    def update_cell(
        self,
        row_key: RowKey | str,
        column_key: ColumnKey | str,
        value: Any,
        *,
        update_width: bool = False,
    ) -> None:
        super().update_cell(row_key, column_key, _as_is(value), update_width=update_width)


def cursor_key(table: DataTable[Any]) -> str | None:
    """The row key under the cursor, or None for an empty table."""
    if table.row_count == 0:
        return None
    try:
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
    except CellDoesNotExist:
        return None
    return None if key is None else str(key)
