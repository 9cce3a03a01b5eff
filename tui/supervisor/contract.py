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
    """Every read and action of the dashboard. All methods are async and never block.

    Reads and actions fail with :class:`~tui.supervisor.errors.SupervisorError`, whose message
    is one line fit for a screen (secrets removed): a database that cannot be reached or does
    not answer in time, an unknown run, a bad filter. Actions on a read-only source raise its
    subclass :class:`~tui.supervisor.errors.ReadOnlyError` before touching the database. An
    action refused for the state of the run (cancel a finished run) is not an exception: its
    :class:`ActionResult` has ``ok=False`` and says why.
    """

    #: Every write is refused (``--read-only``).
    read_only: bool
    #: The database's address with any password removed, for titles and messages.
    display_url: str
    #: Another app's codec (``--app-path``): decodes and builds its own classes; ``None``
    #: without one.
    codec: AppCodec | None

    # -- connection -------------------------------------------------------------------------
    async def connect(self) -> None:
        """Open the database (idempotent); call once before anything else.

        Raises:
            SupervisorError: No database there (an SQLite path is never created by
                connecting), or it cannot be opened.
        """

    async def close(self) -> None:
        """Release the connections, the stream-wakeup listener and the app codec's helper."""

    # -- the list and what is in flight ------------------------------------------------------
    async def change_token(self) -> ChangeToken:
        """A cheap token of the runs' state: the list reloads only when it moves.

        Returns:
            (runs, latest change in ms, ((status, runs), ...) for the statuses in flight or
                failed); it moves when a run is created, changes state or ends.

        Raises:
            SupervisorError: The database failed or did not answer in time.
        """

    async def list_page(self, query: ListQuery) -> ListPage:
        """One window of the runs a filter matches, in an order, and how many match.

        Args:
            query: The filter, order and window (the top, around a row's key, or the oldest).

        Returns:
            The rows, their keys and the count of matching runs; a bad filter is not an
                exception: the page's ``error`` says what is wrong.

        Raises:
            SupervisorError: The database failed or did not answer in time.
        """

    async def live_rows(self, also: Sequence[str] = ()) -> list[WorkflowRow]:
        """Every run in flight, and ``also``: what alerts, the inbox and the palette follow.

        Args:
            also: Runs that were in flight last time, read again so their ending is seen.

        Returns:
            The rows of the runs in flight (newest first), then those of ``also``.

        Raises:
            SupervisorError: The database failed or did not answer in time.
        """

    async def refresh_active(self, rows: list[WorkflowRow]) -> list[WorkflowRow]:
        """The same rows with the events (and ``recv`` waits) of the active ones re-read.

        Args:
            rows: Rows as last read; only the active ones are read again.

        Returns:
            The rows in the same order, active ones with their progress, approval and wait
                updated.

        Raises:
            SupervisorError: The database failed or did not answer in time.
        """

    async def count_matching(self, text: str) -> int:
        """The exact number of runs a filter matches (a full count: on request only).

        Args:
            text: The filter as typed.

        Returns:
            How many runs match.

        Raises:
            SupervisorError: A bad filter (the message names the term), or the database
                failed or did not answer in time.
        """

    async def approvals(self) -> list[ApprovalItem]:
        """Every workflow waiting for a human, across the system (the inbox).

        Returns:
            Each waiting run with its approval request, the nearest deadline first.

        Raises:
            SupervisorError: The database failed or did not answer in time.
        """

    # -- one run -------------------------------------------------------------------------------
    async def resolve_id(self, partial: str) -> str:
        """A full workflow id from an id or a unique prefix.

        Args:
            partial: An id or the start of one, as typed.

        Returns:
            The full workflow id.

        Raises:
            SupervisorError: No id given, no run with it, or a prefix that several runs have
                (the message lists some).
        """

    async def get_row(self, workflow_id: str) -> WorkflowRow:
        """One run's list row, read now (stranded runs flagged).

        Args:
            workflow_id: The run.

        Returns:
            Its row.

        Raises:
            SupervisorError: An unknown run, or the database failed.
        """

    async def detail(self, workflow_id: str) -> RunDetail:
        """Everything the run detail shows: the row, steps, events, children, forks, result.

        Args:
            workflow_id: The run.

        Returns:
            The run's detail, values decoded (undecodable ones as placeholders).

        Raises:
            SupervisorError: An unknown run, or the database failed.
        """

    async def read_streams(self, offsets: dict[str, int], *, key: str = ...) -> list[StreamBatch]:
        """New entries of one stream key of many workflows since their offsets, in one query.

        Args:
            offsets: Workflow id → the first offset not read yet.
            key: The stream key (default: agentdeck's output stream).

        Returns:
            One batch per workflow that has new entries, with the offset to read from next;
                agentdeck's own output stream comes back as ``chunks``, any other stream (a
                foreign app's) as raw decoded ``values``.

        Raises:
            SupervisorError: The database failed or did not answer in time.
        """

    async def wait_streams(self, workflow_ids: Iterable[str], poll: float) -> None:
        """Return when the given workflows may have written to a stream again.

        On PostgreSQL, once DBOS's stream notifications have been heard: when one of them
        writes, or after ``poll`` s at the latest (for writers that do not notify). Otherwise
        (SQLite, or no notification yet): after ``poll`` s.

        Args:
            workflow_ids: The workflows whose streams are followed.
            poll: The longest wait in seconds.
        """

    async def lineage(self, workflow_id: str) -> ForkNode:
        """The fork tree ``workflow_id`` belongs to, from its original run down.

        Args:
            workflow_id: Any run of the tree.

        Returns:
            The original run, with the settings each run was forked with and its forks,
                oldest first.

        Raises:
            SupervisorError: An unknown run, or the database failed.
        """

    async def outputs(self, workflow_id: str) -> RunOutputs:
        """Every Claude answer of a run, labelled by step (children's answers included).

        Args:
            workflow_id: The run.

        Returns:
            The answers in order, each (step label, model, text).

        Raises:
            SupervisorError: An unknown run, or the database failed.
        """

    async def run_values(self, workflow_id: str) -> RunValues:
        """The run's decoded inputs and every step's decoded output (what an export writes).

        Args:
            workflow_id: The run.

        Returns:
            The inputs and the outputs by step number, decoded by the app's codec when there
                is one.

        Raises:
            SupervisorError: The database failed or did not answer in time.
        """

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
    ) -> ActionResult:
        """Validate the input and enqueue the workflow on the launch queue (idempotent by id).

        Args:
            kind: The workflow type (a key of ``WORKFLOW_TYPES``: ``research``, ...).
            data: Its input, validated against the type's model.
            workflow_id: The new run's id (default: a fresh one); launching an id again
                starts nothing new.
            priority: DBOS's, 1 (dequeued first) to 2,147,483,647; none counts as 0, ahead
                of all.
            dedupe: An identical request (same kind and validated input) still queued or
                running is not launched again; the result names it (``ok=False``).
            debounce_s: The run waits DELAYED that long, and a launch of the same topic
                meanwhile replaces its input and restarts the wait (DBOS's debouncer); it
                cannot have a priority.
            timeout_s: DBOS's workflow timeout; the deadline is set when the run starts, and
                DBOS cancels it (and its children) there.

        Returns:
            The outcome, with the new run's id when it was launched.

        Raises:
            ReadOnlyError: The source is read-only.
            SupervisorError: An unknown type, an invalid input or priority (the message
                names the field), or the database failed.
        """

    async def answer(
        self, workflow_id: str, answer: ApprovalAnswer | dict[str, Any]
    ) -> ActionResult:
        """Answer a pending approval once; a second answer is reported as already answered.

        Args:
            workflow_id: The waiting run.
            answer: The decision (and edited questions, comment), or its JSON.

        Returns:
            The outcome; ``ok=False`` when it was answered already, timed out or its deadline
                has passed.

        Raises:
            ReadOnlyError: The source is read-only.
            SupervisorError: An invalid answer, a decision the request does not offer, a run
                with no approval request, or the database failed.
        """

    async def send(
        self,
        workflow_id: str,
        message: Any,
        topic: str | None,
        *,
        idempotency_key: str | None,
        as_class: str | None = None,
    ) -> ActionResult:
        """Send a message to a run's ``recv`` (DBOS's ``send``).

        Args:
            workflow_id: The receiving run.
            message: The message (JSON values, or the fields of ``as_class``).
            topic: The topic it waits on (``None``: DBOS's default topic).
            idempotency_key: Sending again with the same key stores one message.
            as_class: Build the message as that class of the app (``--app-path``) from
                ``message``, for a ``recv`` that expects the app's own type.

        Returns:
            The outcome.

        Raises:
            ReadOnlyError: The source is read-only.
            SupervisorError: ``as_class`` without app code or that cannot be built, or the
                database failed.
        """

    async def cancel(self, workflow_id: str) -> ActionResult:
        """Cancel a run in flight (DBOS cancels its children too).

        Args:
            workflow_id: The run.

        Returns:
            The outcome; ``ok=False`` for a run that is not in flight.

        Raises:
            ReadOnlyError: The source is read-only.
            SupervisorError: An unknown run, or the database failed.
        """

    async def resume(self, workflow_id: str) -> ActionResult:
        """Cancelled or stuck runs resume; failed runs are rewound to their failed step.

        Args:
            workflow_id: The run.

        Returns:
            The outcome; ``ok=False`` for a run that succeeded or is still in flight.

        Raises:
            ReadOnlyError: The source is read-only.
            SupervisorError: An unknown run, or the database failed.
        """

    async def take_over(self, workflow_id: str) -> ActionResult:
        """Hand a stranded run to any live executor: DBOS resume onto the launch queue.

        The run replays its checkpointed steps and carries on; should the old executor still
        be alive after all, DBOS's ownership check stops its copy at the next step.

        Args:
            workflow_id: The stranded run.

        Returns:
            The outcome; ``ok=False`` for a run that has ended.

        Raises:
            ReadOnlyError: The source is read-only.
            SupervisorError: An unknown run, or the database failed.
        """

    async def fork(
        self,
        workflow_id: str,
        start_step: int,
        settings: StepSettings | dict[str, Any] | None = None,
    ) -> ActionResult:
        """A new run that replays ``workflow_id`` up to ``start_step`` and runs on from there.

        Args:
            workflow_id: The run to fork.
            start_step: The first step run again (the ones before are replayed from their
                checkpoints).
            settings: Another model or extra instructions for the fork's Claude steps (only
                workflows that read settings, ``research``, accept them).

        Returns:
            The outcome, with the fork's id.

        Raises:
            ReadOnlyError: The source is read-only.
            SupervisorError: Settings the workflow does not take, invalid settings, an
                unknown run, or the database failed.
        """

    async def trigger_schedule(self, name: str) -> ActionResult:
        """Fire a schedule now (DBOS's ``trigger_schedule``: a run like a cron firing's).

        Args:
            name: The schedule.

        Returns:
            The outcome, with the new run's id.

        Raises:
            ReadOnlyError: The source is read-only.
            SupervisorError: An unknown schedule, or the database failed.
        """

    async def bulk_rows(
        self, *, filter_text: str | None = None, ids: Sequence[str] | None = None
    ) -> list[WorkflowRow]:
        """The runs a bulk action is about: every match of a filter, or the given ids.

        Args:
            filter_text: A filter as typed; every run it matches.
            ids: The marked runs (when no filter is given).

        Returns:
            Their rows, newest first.

        Raises:
            SupervisorError: A bad filter (the message names the term), or the database
                failed or did not answer in time.
        """

    async def bulk_apply(
        self, plan_: BulkPlan, progress: Callable[[int, int], None] | None = None
    ) -> BulkResult:
        """Carry a bulk plan out, in batches.

        Args:
            plan_: The verb and the runs it acts on (``tui.supervisor.bulk.plan``).
            progress: Called with (done, total) after each batch.

        Returns:
            The runs done and the ones that failed, with why.

        Raises:
            ReadOnlyError: The source is read-only.
        """

    # -- queues and schedules ------------------------------------------------------------------
    async def queue_rows(self, *, now: float | None = None) -> list[QueueRow]:
        """Every registered queue plus any queue with work on it, by name.

        Args:
            now: The time rate-limit windows and waits are measured to (default: now).

        Returns:
            One row per queue: its limits and what is running, queued and delayed on it
                (per partition too, for partitioned queues).

        Raises:
            SupervisorError: The database failed or did not answer in time.
        """

    async def schedule_rows(self, *, now: float | None = None) -> list[ScheduleRow]:
        """Every schedule with its next run and latest runs, by name.

        Args:
            now: The time the next run is computed from (default: now).

        Returns:
            One row per schedule.

        Raises:
            SupervisorError: The database failed or did not answer in time.
        """

    # -- insights (tui.data.insights) ----------------------------------------------------------
    async def insights(self, query: InsightsQuery) -> Insights:
        """Every figure of the window (``tui.data.insights.compute``), read on a worker thread.

        Args:
            query: The window, filter, selected row and part to compute.

        Returns:
            The figures.

        Raises:
            SupervisorError: A bad window or filter (the message names it), or the database
                failed.
        """

    async def insights_histogram(self, query: InsightsQuery) -> Histogram | None:
        """Only the histogram of the selected row (one statement): when the selection moves.

        Args:
            query: The query, with ``selected`` the row whose durations are drawn.

        Returns:
            The histogram; ``None`` when nothing is selected or nothing finished.

        Raises:
            SupervisorError: A bad window or filter, or the database failed.
        """

    async def step_costs(self, workflow_id: str) -> list[StepCost]:
        """The Claude steps of one run and its children: time, tokens, cost (one statement).

        Args:
            workflow_id: The run.

        Returns:
            One entry per Claude step, in the order they started.

        Raises:
            SupervisorError: The database failed or did not answer in time.
        """
