"""The dashboard's one data layer (DBOS is imported here and nowhere else in ``tui``)."""

from .models import (
    ActionResult,
    ApprovalItem,
    EventItem,
    RunDetail,
    StepRow,
    StreamBatch,
    WorkflowRow,
)
from .source import WORKFLOW_TYPES, ReadOnlyError, Supervisor, SupervisorError

__all__ = [
    "WORKFLOW_TYPES",
    "ActionResult",
    "ApprovalItem",
    "EventItem",
    "ReadOnlyError",
    "RunDetail",
    "StepRow",
    "StreamBatch",
    "Supervisor",
    "SupervisorError",
    "WorkflowRow",
]
