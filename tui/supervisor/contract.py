"""What the screens and the CLI call: the data layer as a typed contract.

``Supervisor`` (DBOS through ``DBOSClient`` and the data core's SQL) implements it; so does the
recorded source behind the screenshots and snapshot tests (``tests/support/canned.py``).
Screens depend on this, not on a concrete class.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from workflows.models import ApprovalAnswer, StepSettings

from ..data.insights import Histogram, Insights, InsightsQuery, StepCost
from ..data.reads import ListQuery
from .models import (
    ActionResult,
    ApprovalItem,
    ForkNode,
    ListPage,
    RunDetail,
    RunOutputs,
    StreamBatch,
    WorkflowRow,
)

if TYPE_CHECKING:
    from ._queues import QueueRow, ScheduleRow
    from .bulk import BulkPlan, BulkResult
    from .codec import AppCodec
    from .export import RunValues

__all__ = ["ChangeToken", "Source"]

#: (workflows, latest update, workflows per status): moves whenever a row does.
ChangeToken = tuple[int, int, tuple[tuple[str, int], ...]]


@runtime_checkable
class Source(Protocol):
    """Every read and action of the dashboard. All methods are async and never block."""

    read_only: bool
    display_url: str
    codec: AppCodec | None

    # -- connection -------------------------------------------------------------------------
    async def connect(self) -> None: ...
    async def close(self) -> None: ...

    # -- the list and what is in flight ------------------------------------------------------
    async def change_token(self) -> ChangeToken: ...
    async def list_page(self, query: ListQuery) -> ListPage: ...
    async def live_rows(self, also: Sequence[str] = ()) -> list[WorkflowRow]: ...
    async def refresh_active(self, rows: list[WorkflowRow]) -> list[WorkflowRow]: ...
    async def count_matching(self, text: str) -> int: ...
    async def approvals(self) -> list[ApprovalItem]: ...

    # -- one run -------------------------------------------------------------------------------
    async def resolve_id(self, partial: str) -> str: ...
    async def get_row(self, workflow_id: str) -> WorkflowRow: ...
    async def detail(self, workflow_id: str) -> RunDetail: ...
    async def read_streams(
        self, offsets: dict[str, int], *, key: str = ...
    ) -> list[StreamBatch]: ...
    async def wait_streams(self, workflow_ids: Iterable[str], poll: float) -> None: ...
    async def lineage(self, workflow_id: str) -> ForkNode: ...
    async def outputs(self, workflow_id: str) -> RunOutputs: ...
    async def run_values(self, workflow_id: str) -> RunValues: ...

    # -- actions (refused when read-only) ----------------------------------------------------
    async def launch(
        self,
        kind: str,
        data: dict[str, Any],
        *,
        workflow_id: str | None = None,
        priority: int | None = None,
        dedupe: bool = True,
        debounce_s: float | None = None,
        timeout_s: float | None = None,
    ) -> ActionResult: ...
    async def answer(
        self, workflow_id: str, answer: ApprovalAnswer | dict[str, Any]
    ) -> ActionResult: ...
    async def send(
        self,
        workflow_id: str,
        message: Any,
        topic: str | None,
        *,
        idempotency_key: str | None,
        as_class: str | None = None,
    ) -> ActionResult: ...
    async def cancel(self, workflow_id: str) -> ActionResult: ...
    async def resume(self, workflow_id: str) -> ActionResult: ...
    async def take_over(self, workflow_id: str) -> ActionResult: ...
    async def fork(
        self,
        workflow_id: str,
        start_step: int,
        settings: StepSettings | dict[str, Any] | None = None,
    ) -> ActionResult: ...
    async def trigger_schedule(self, name: str) -> ActionResult: ...
    async def bulk_rows(
        self, *, filter_text: str | None = None, ids: Sequence[str] | None = None
    ) -> list[WorkflowRow]: ...
    async def bulk_apply(
        self, plan_: BulkPlan, progress: Callable[[int, int], None] | None = None
    ) -> BulkResult: ...

    # -- queues and schedules ------------------------------------------------------------------
    async def queue_rows(self, *, now: float | None = None) -> list[QueueRow]: ...
    async def schedule_rows(self, *, now: float | None = None) -> list[ScheduleRow]: ...

    # -- insights (tui.data.insights) ----------------------------------------------------------
    async def insights(self, query: InsightsQuery) -> Insights: ...
    async def insights_histogram(self, query: InsightsQuery) -> Histogram | None: ...
    async def step_costs(self, workflow_id: str) -> list[StepCost]: ...
