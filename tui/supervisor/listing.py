"""The list's reads on the dashboard's side: the data core (``tui.data``) on the engine's
pooled connections, in a worker thread, rows validated into snapshots.

``agentdeck ls`` runs the same reads over its own connection (``tui.fastls``): one filter
language, one set of statements, one row builder.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Sequence
from typing import Any, Protocol, TypeVar

from workflows.presence import presence_ttl
from workflows.settings import redact

from ..data import reads
from ..data.filters import Filter, FilterError
from ..data.reads import ListQuery
from ..data.sql import DB
from .engine import SQL
from .models import ListPage, WorkflowRow
from .threads import in_thread

__all__ = ["ListReads"]

T = TypeVar("T")


class _Host(Protocol):
    @property
    def sql(self) -> SQL: ...

    async def _call(self, what: str, coro: Awaitable[T]) -> T: ...


def _rows(found: Sequence[dict[str, Any]]) -> tuple[WorkflowRow, ...]:
    return tuple(WorkflowRow.model_validate(r) for r in found)


class ListReads:
    """Reads of the list over every run in the database (mixed into ``Supervisor``)."""

    async def list_page(self: _Host, query: ListQuery) -> ListPage:
        """One window of the runs a filter matches, in an order, and how many match.

        A bad filter is not an exception: the page says what is wrong (``error``).
        """

        def read(db: DB) -> ListPage:
            try:
                got = reads.list_page(db, query, ttl=presence_ttl(), redact=redact, now=time.time())
            except FilterError as exc:
                return ListPage(query=query, error=str(exc))
            return ListPage(
                rows=_rows(got.rows),
                keys=tuple(tuple(k) for k in got.keys),
                at_end=got.at_end,
                at_top=got.at_top,
                matching=got.matching,
                capped=got.capped,
                windowed=got.windowed,
                query=query,
            )

        return await self._call("list workflows", in_thread(self.sql.with_db, read))

    async def live_rows(self: _Host, also: Sequence[str] = ()) -> list[WorkflowRow]:
        """Every run in flight, and ``also`` (runs that were in flight last time, so their
        ending is seen): what alerts, the inbox and the palette follow."""

        def read(db: DB) -> list[WorkflowRow]:
            beats = reads.heartbeats(db, presence_ttl())
            found = reads.live(db, list(also))
            return list(_rows(reads.rows_of(db, found, beats, redact)))

        return await self._call("list running workflows", in_thread(self.sql.with_db, read))

    async def list_workflows(
        self: _Host, *, limit: int = 500, top_level_only: bool = False
    ) -> list[WorkflowRow]:
        """The newest ``limit`` workflows (children too, unless ``top_level_only``); 0: all."""
        query = ListQuery(filter="is:top" if top_level_only else "", limit=limit or 10**12)
        page = await ListReads.list_page(self, query)
        return list(page.rows)

    async def count_matching(self: _Host, text: str) -> int:
        """The exact number of runs a filter matches (a full count: on request only)."""

        def read(db: DB) -> int:
            where, _ = reads.compile_filter(db, text, presence_ttl(), now=time.time())
            return reads.count(db, where, cap=None)[0]

        return await self._call("count workflows", in_thread(self.sql.with_db, read))

    async def matching_rows(
        self: _Host, text: str, *, limit: int | None = None
    ) -> list[WorkflowRow]:
        """Every run a filter matches, newest first (the set a bulk action acts on).

        Raises:
            SupervisorError: a bad filter, or the database failing.
        """
        problems = Filter(text).problems()
        if problems:
            from .source import SupervisorError

            raise SupervisorError("bad filter: " + "; ".join(problems))

        def read(db: DB) -> list[WorkflowRow]:
            where, beats = reads.compile_filter(db, text, presence_ttl(), now=time.time())
            ids = reads.matching_ids(db, where, limit=limit)
            return list(_rows(reads.rows_of(db, reads.by_ids(db, ids), beats, redact)))

        return await self._call("list workflows", in_thread(self.sql.with_db, read))
