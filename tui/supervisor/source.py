"""The one data layer: every read and write the dashboard and the CLI make, through DBOSClient.

The same code serves embedded mode (this process also runs a DBOS executor) and attach mode
(workflows run elsewhere): launches are enqueued on the launch queue that every agentdeck runtime
serves, and everything else goes through ``DBOSClient`` or the data core (``tui.data``).
Everything returns frozen snapshots (``tui.supervisor.models``). ``read_only`` refuses every
write, in the data layer itself, not only in key bindings.

:class:`Supervisor` is made of one part per concern: ``connection`` (client, engine, bounded
calls), ``runs`` (a run's row and detail), ``streams``, ``actions``, ``lineage`` (forks),
``listing`` (the list over every run), ``bulk`` and ``_queues``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..data.insights import Histogram, Insights, InsightsQuery, StepCost
from . import _insights
from ._queues import QueueRow, ScheduleRow, queue_rows, schedule_rows
from .actions import MAX_TIMEOUT_S, WORKFLOW_TYPES, Actions
from .bulk import BulkActions
from .errors import ReadOnlyError, SupervisorError
from .export import ExportReads
from .lineage import PARKING_QUEUE, SETTINGS_WORKFLOWS, Lineage
from .listing import ListReads
from .streams import StreamReads

__all__ = [
    "MAX_TIMEOUT_S",
    "PARKING_QUEUE",
    "SETTINGS_WORKFLOWS",
    "WORKFLOW_TYPES",
    "ReadOnlyError",
    "Supervisor",
    "SupervisorError",
]


class Supervisor(Actions, Lineage, StreamReads, ListReads, BulkActions, ExportReads):
    """Reads and acts on a DBOS system database. All methods are async and never block the loop."""

    async def wait_result(self, workflow_id: str, *, within: float | None = None) -> Any:
        handle: Any = await self.client.retrieve_workflow_async(workflow_id)
        return await asyncio.wait_for(handle.get_result(polling_interval_sec=0.1), within)

    async def queue_rows(self, *, now: float | None = None) -> list[QueueRow]:
        """Every registered queue plus any queue with work on it (``_queues.queue_rows``)."""
        return await queue_rows(self, now=now)

    async def schedule_rows(self, *, now: float | None = None) -> list[ScheduleRow]:
        """Every schedule with its next run and latest runs (``_queues.schedule_rows``)."""
        return await schedule_rows(self, now=now)

    async def insights(self, query: InsightsQuery) -> Insights:
        """The insights screen's figures (``_insights.insights``)."""
        return await _insights.insights(self, query)

    async def insights_histogram(self, query: InsightsQuery) -> Histogram | None:
        return await _insights.insights_histogram(self, query)

    async def step_costs(self, workflow_id: str) -> list[StepCost]:
        """The run detail's per-step breakdown (``_insights.run_step_costs``)."""
        return await _insights.run_step_costs(self, workflow_id)
