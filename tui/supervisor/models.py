"""Immutable snapshots the data layer hands to the UI and the CLI (no DBOS types leak out)."""

from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from workflows.models import ApprovalRequest, BranchResult, Progress, StepSettings, StreamChunk

__all__ = [
    "ActionResult",
    "ApprovalItem",
    "BranchRow",
    "EventItem",
    "ForkNode",
    "ListPage",
    "RunDetail",
    "RunOutputs",
    "StepRow",
    "StreamBatch",
    "WorkflowRow",
]

ACTIVE = frozenset({"PENDING", "ENQUEUED", "DELAYED"})


class _Snap(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)


class WorkflowRow(_Snap):
    workflow_id: str
    name: str
    status: str
    created_at: float | None = None
    updated_at: float | None = None
    completed_at: float | None = None
    queue: str = ""
    #: The run's partition of a partitioned queue (DBOS ``queue_partition_key``), or "".
    partition: str = ""
    executor: str = ""
    app_version: str = ""
    parent_id: str = ""
    forked_from: str = ""
    summary: str = ""
    error: str = ""
    recovery_attempts: int = 0
    progress: Progress | None = None
    approval: ApprovalRequest | None = None
    cost_usd: float | None = None
    #: Blocked in ``recv``/``get_event`` per DBOS's own tables (any app, convention or not).
    waiting_recv: bool = False
    recv_deadline: float | None = None
    #: Why nothing will run this workflow by itself (executor gone, version unserved…), or "".
    stranded: str = ""
    #: Workflow timeout (DBOS ``workflow_timeout``) and the deadline it sets once the run starts.
    timeout_s: float | None = None
    deadline: float | None = None
    #: A DELAYED run (debounced launch) starts at this time unless launched again.
    delay_until: float | None = None

    @property
    def timed_out(self) -> str:
        """``"workflow"`` (DBOS cancelled it at its deadline), ``"approval"`` or ``""``."""
        if self.status == "CANCELLED" and self.deadline is not None:
            ended = self.completed_at or self.updated_at or 0.0
            if ended >= self.deadline - 1.0:  # SQLite's updated_at is in whole seconds
                return "workflow"
        if self.status == "ERROR" and (
            (self.approval is not None and self.approval.state == "timed_out")
            or self.error.startswith("ApprovalTimeout")
        ):
            return "approval"
        return ""

    @property
    def shown_status(self) -> str:
        """The status as shown: DBOS's, except that a timed-out run says so."""
        return "TIMED_OUT" if self.timed_out else self.status

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def waiting_message(self) -> bool:
        """Blocked in ``recv`` without our approval convention (a foreign app, say)."""
        return self.waiting_recv and self.status == "PENDING" and not self.waiting_approval

    @property
    def waiting_approval(self) -> bool:
        return (
            self.approval is not None
            and self.approval.state == "pending"
            and self.status == "PENDING"
        )

    def duration(self, now: float | None = None) -> float | None:
        if self.created_at is None:
            return None
        end = self.completed_at or (None if self.active else self.updated_at)
        return max(0.0, (end or (now or time.time())) - self.created_at)


class ListPage(_Snap):
    """One window of the list: rows in the order asked for, and how many runs match."""

    rows: tuple[WorkflowRow, ...] = ()
    #: Each row's key in the order (what the next window is anchored on).
    keys: tuple[tuple[Any, ...], ...] = ()
    #: No matching run comes after the last row / before the first one.
    at_end: bool = True
    at_top: bool = True
    #: How many runs match; with ``capped``, at least that many.
    matching: int = 0
    capped: bool = False
    #: The order covers only the newest ``tui.data.reads.SORT_WINDOW`` matching runs.
    windowed: bool = False
    #: The query this page answers (``tui.data.reads.ListQuery``).
    query: Any = None
    #: A filter the database refused to compile (the message names the bad term).
    error: str = ""


class StepRow(_Snap):
    step_id: int
    name: str
    status: Literal["done", "error", "running"]
    started_at: float | None = None
    completed_at: float | None = None
    error: str = ""
    child_id: str = ""
    attempts: int = 1
    #: What the finished step did, in a few words (``tui.supervisor.describe``), not a repr.
    output_summary: str = ""


class EventItem(_Snap):
    key: str
    value: Any


class BranchRow(_Snap):
    """One branch of a fork-compare run: its spec, its child run, its result when done."""

    label: str
    model: str
    style: str
    workflow_id: str = ""
    row: WorkflowRow | None = None
    result: BranchResult | None = None


class RunDetail(_Snap):
    row: WorkflowRow
    input_summary: str = ""
    steps: tuple[StepRow, ...] = ()
    events: tuple[EventItem, ...] = ()
    children: tuple[WorkflowRow, ...] = ()
    forks: tuple[str, ...] = ()
    result: Any = None
    result_markdown: str = ""
    error: str = ""
    result_summary: str = ""
    #: Stream keys other than agentdeck's output stream (foreign apps' streams).
    other_streams: tuple[str, ...] = ()
    #: Topics of messages sent to the run and not consumed yet.
    pending_topics: tuple[str, ...] = ()
    #: Fork-compare runs: the branches, in order (A, B, ...).
    branches: tuple[BranchRow, ...] = ()
    winner: str = ""
    #: What each child works on (``describe_child`` of its inputs), by workflow id.
    child_notes: dict[str, str] = Field(default_factory=dict)


class StreamBatch(_Snap):
    """New stream entries of one workflow since an offset."""

    workflow_id: str
    chunks: tuple[StreamChunk, ...]
    next_offset: int
    closed: bool = False
    key: str = "agentdeck.output"
    #: Values of a foreign stream (not agentdeck chunks), with their offsets.
    values: tuple[tuple[int, Any], ...] = ()


class ApprovalItem(_Snap):
    row: WorkflowRow
    request: ApprovalRequest


class ActionResult(_Snap):
    ok: bool
    message: str
    workflow_id: str = ""


class ForkNode(_Snap):
    """One run of a fork tree: the run, the settings it ran with, and its forks (oldest first)."""

    row: WorkflowRow
    settings: StepSettings | None = None
    forks: tuple[ForkNode, ...] = ()

    def walk(self, depth: int = 0) -> list[tuple[int, ForkNode]]:
        out = [(depth, self)]
        for f in self.forks:
            out += f.walk(depth + 1)
        return out


class RunOutputs(_Snap):
    """A run's Claude answers in order: (step label, model, text); labels like "research 2"."""

    row: WorkflowRow
    items: tuple[tuple[str, str, str], ...] = ()
