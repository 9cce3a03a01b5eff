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
        """Add a row at the bottom, its ``str`` cells shown as they are (not read as markup).

        Args:
            *cells: The cells, in column order (``Text`` for styled ones).
            height: The row's height in lines (``None``: as its cells need).
            key: The row's key.
            label: A label shown left of the row.

        Returns:
            The row's key.
        """
        return super().add_row(*map(_as_is, cells), height=height, key=key, label=label)

    def update_cell(
        self,
        row_key: RowKey | str,
        column_key: ColumnKey | str,
        value: Any,
        *,
        update_width: bool = False,
    ) -> None:
        """Replace one cell, a ``str`` shown as it is (not read as markup).

        Args:
            row_key: The row's key.
            column_key: The column's key.
            value: The new cell.
            update_width: Widen the column to fit it.

        Raises:
            CellDoesNotExist: No such row or column.
        """
        super().update_cell(row_key, column_key, _as_is(value), update_width=update_width)


def cursor_key(table: DataTable[Any]) -> str | None:
    """The row key under the cursor.

    Args:
        table: The table.

    Returns:
        The key, or ``None`` for an empty table.
    """
    if table.row_count == 0:
        return None
    try:
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
    except CellDoesNotExist:
        return None
    return None if key is None else str(key)
