"""The insights screen's reads: ``tui.data.insights`` on a worker thread, over one pooled
connection of the data layer's engine.

A source may serve recorded figures instead (the canned source behind the snapshots): anything
that implements :class:`RecordedInsights` is asked and the database is not touched.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from ..data.filters import Filter, FilterError
from ..data.insights import (
    Histogram,
    Insights,
    InsightsQuery,
    StepCost,
    compute,
    histogram,
    step_costs,
    window_of,
)
from .errors import SupervisorError
from .threads import in_thread

if TYPE_CHECKING:
    from .source import Supervisor

__all__ = ["RecordedInsights", "check", "insights", "insights_histogram", "run_step_costs"]


@runtime_checkable
class RecordedInsights(Protocol):
    """A source that serves recorded insights instead of reading DBOS."""

    def recorded_insights(self, query: InsightsQuery) -> Insights: ...

    def recorded_step_costs(self, workflow_id: str) -> list[StepCost]: ...


def check(query: InsightsQuery) -> None:
    """Raise :class:`SupervisorError` naming a bad window or filter term (no I/O)."""
    try:
        window_of(query.window)
    except FilterError as exc:
        raise SupervisorError(str(exc)) from None
    problems = Filter(query.filter).problems()
    if problems:
        raise SupervisorError("bad filter: " + "; ".join(problems))


async def insights(sup: Supervisor, query: InsightsQuery) -> Insights:
    """Every figure of the window (``tui.data.insights.compute``: nine statements)."""
    check(query)
    if isinstance(sup, RecordedInsights):
        return sup.recorded_insights(query)
    return await sup._call("read insights", in_thread(sup.sql.with_db, partial(compute, q=query)))


async def insights_histogram(sup: Supervisor, query: InsightsQuery) -> Histogram | None:
    """Only the histogram of the selected row (one statement)."""
    check(query)
    if isinstance(sup, RecordedInsights):
        return sup.recorded_insights(query).histogram
    return await sup._call(
        "read histogram", in_thread(sup.sql.with_db, partial(histogram, q=query))
    )


async def run_step_costs(sup: Supervisor, workflow_id: str) -> list[StepCost]:
    """The Claude steps of one run and its children: time, tokens, cost (one statement)."""
    if isinstance(sup, RecordedInsights):
        return sup.recorded_step_costs(workflow_id)
    return await sup._call(
        "read step costs",
        in_thread(sup.sql.with_db, partial(step_costs, workflow_id=workflow_id)),
    )
