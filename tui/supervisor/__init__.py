"""The dashboard's one data layer (DBOS is imported here and nowhere else in ``tui``)."""

from .models import (
    ActionResult,
    ApprovalItem,
    BranchRow,
    EventItem,
    ForkNode,
    ListPage,
    RunDetail,
    RunOutputs,
    StepRow,
    StreamBatch,
    WorkflowRow,
)
from .source import WORKFLOW_TYPES, ReadOnlyError, Supervisor, SupervisorError

__all__ = [
    "WORKFLOW_TYPES",
    "ActionResult",
    "ApprovalItem",
    "BranchRow",
    "EventItem",
    "ForkNode",
    "ListPage",
    "ReadOnlyError",
    "RunDetail",
    "RunOutputs",
    "StepRow",
    "StreamBatch",
    "Supervisor",
    "SupervisorError",
    "WorkflowRow",
]
