"""Every SQL statement agentdeck issues against DBOS's system tables, written once.

Statements are written with ``{table}`` fields (unqualified on SQLite, schema ``dbos`` on
PostgreSQL) and ``:name`` parameters; a parameter whose value is a list is written ``IN :name``.
:class:`DB` renders them for the driver under it: ``sqlite3`` (named parameters, a list
expanded into ``(:name_0, :name_1, ...)``) or ``psycopg`` (``%(name)s``, a list as
``= ANY(%(name)s)``). The dashboard's data layer runs them on the raw DBAPI connections of its
SQLAlchemy engine, ``agentdeck ls`` on its own connections: the same text either way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["DB", "PG_SCHEMA", "TABLES"]

#: DBOS's system schema on PostgreSQL.
PG_SCHEMA = "dbos"
TABLES = (
    "workflow_status",
    "workflow_input",
    "workflow_output",
    "workflow_events",
    "operation_outputs",
    "notifications",
    "streams",
)

_LIST = re.compile(r"\b(NOT\s+)?IN\s+:(\w+)")
_PARAM = re.compile(r"(?<![:\w]):(\w+)")


class DB:
    """One DBAPI connection (``sqlite3`` or ``psycopg``) and how to write SQL for it.

    Args:
        conn: The connection; only ``cursor()`` / ``execute`` / ``fetchall`` are used.
        sqlite: Whether it is SQLite (else PostgreSQL).
        schema: DBOS's schema on PostgreSQL.
    """

    def __init__(self, conn: Any, *, sqlite: bool, schema: str = PG_SCHEMA) -> None:
        self.conn = conn
        self.sqlite = sqlite
        prefix = "" if sqlite else f'"{schema}".'
        self.tables = {name: f"{prefix}{name}" for name in TABLES}
        #: Statements issued through this object (bench/ reads it).
        self.statements = 0

    # -- dialect fragments ------------------------------------------------------------------

    @property
    def like(self) -> str:
        """Case-insensitive LIKE (SQLite's LIKE already ignores ASCII case)."""
        return "LIKE" if self.sqlite else "ILIKE"

    @property
    def float_type(self) -> str:
        """The SQL type of a double-precision float, for casts."""
        return "REAL" if self.sqlite else "double precision"

    def json_field(self, column: str, field: str) -> str:
        """A text field of a JSON column (``attributes``: JSON text on SQLite, jsonb on PG).

        Args:
            column: The column, as the statement names it (``s.attributes``).
            field: The top-level field to read.

        Returns:
            An SQL expression for the field's value as text.
        """
        if self.sqlite:
            return f"json_extract({column}, '$.{field}')"
        return f"({column} ->> '{field}')"

    def json_text_field(self, column: str, field: str) -> str:
        """A text field of a text column that holds JSON (an event's portable value).

        Args:
            column: The column, as the statement names it (``e.value``).
            field: The top-level field to read.

        Returns:
            An SQL expression for the field's value as text.
        """
        if self.sqlite:
            return f"json_extract({column}, '$.{field}')"
        return f"({column}::jsonb ->> '{field}')"

    # -- rendering and running --------------------------------------------------------------

    def render(self, text: str, params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """The statement and parameters as this driver takes them.

        Args:
            text: The statement, with ``{table}`` fields, ``:name`` parameters and ``IN :name``
                for a list.
            params: The parameters by name; a list or tuple value fills an ``IN :name``.

        Returns:
            The statement text and the parameters to pass to the cursor's ``execute``.
        """
        sql = text.format_map(self.tables) if "{" in text else text
        out = dict(params)

        def expand(m: re.Match[str]) -> str:
            negated, name = bool(m.group(1)), m.group(2)
            values = params.get(name)
            if not isinstance(values, list | tuple):
                return m.group(0)
            if not self.sqlite:
                out[name] = list(values)
                return f"<> ALL(:{name})" if negated else f"= ANY(:{name})"
            out.pop(name, None)
            if not values:  # x IN () is false, x NOT IN () true
                return "NOT IN (SELECT 1 WHERE 0)" if negated else "IN (SELECT 1 WHERE 0)"
            for i, v in enumerate(values):
                out[f"{name}_{i}"] = v
            marks = ", ".join(f":{name}_{i}" for i in range(len(values)))
            return f"{'NOT ' if negated else ''}IN ({marks})"

        sql = _LIST.sub(expand, sql)
        if not self.sqlite:
            sql = _PARAM.sub(lambda m: f"%({m.group(1)})s", sql.replace("%", "%%"))
        return sql, out

    def rows(self, text: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Run one statement and fetch every row.

        Args:
            text: The statement, as :meth:`render` takes it.
            params: Its parameters by name.

        Returns:
            Every row, each a tuple of the selected columns.
        """
        sql, bound = self.render(text, params or {})
        self.statements += 1
        cur = self.conn.cursor()
        try:
            cur.execute(sql, bound)
            return [tuple(r) for r in cur.fetchall()]
        finally:
            cur.close()

    def one(self, text: str, params: Mapping[str, Any] | None = None) -> tuple[Any, ...] | None:
        """Run one statement and fetch its first row.

        Args:
            text: The statement, as :meth:`render` takes it.
            params: Its parameters by name.

        Returns:
            The first row, or ``None`` when there is none.
        """
        found = self.rows(text, params)
        return found[0] if found else None

    #: Ids per IN list on SQLite (its default limit is 32,766 variables).
    BATCH = 1000

    def batches(self, ids: Sequence[str]) -> list[Sequence[str]]:
        """Split ids into lists short enough for one ``IN :name`` each.

        Args:
            ids: The workflow ids to look up.

        Returns:
            Batches of at most :attr:`BATCH` ids on SQLite; all of them in one batch on PostgreSQL
                (``= ANY`` takes an array); no batch for no ids.
        """
        if not ids:
            return []
        if not self.sqlite:
            return [ids]
        return [ids[i : i + self.BATCH] for i in range(0, len(ids), self.BATCH)]
