"""Cross-cutting messages (widget-specific ones live in their widget)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from textual.message import Message

from .supervisor import WorkflowRow

__all__ = ["ConnectionChanged", "Snapshot", "SnapshotTaken", "WorkflowsRefreshed"]


@dataclass(frozen=True)
class Snapshot:
    """What the poller last saw of the system database."""

    rows: tuple[WorkflowRow, ...] = ()
    taken_at: float = field(default_factory=time.time)
    total: int = 0

    def by_id(self) -> dict[str, WorkflowRow]:
        return {r.workflow_id: r for r in self.rows}


class SnapshotTaken(Message):
    """Poller → app: a new snapshot (the app keeps it and tells the screens)."""

    def __init__(self, snapshot: Snapshot) -> None:
        super().__init__()
        self.snapshot = snapshot

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SnapshotTaken)


class WorkflowsRefreshed(Message, bubble=False):
    """App → each screen: a new snapshot; a backlog of them collapses into the newest."""

    def __init__(self, snapshot: Snapshot) -> None:
        super().__init__()
        self.snapshot = snapshot

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, WorkflowsRefreshed)


class ConnectionChanged(Message, bubble=False):
    """Poller → app, and app → each screen (not bubbling, so it never loops back)."""

    def __init__(self, connected: bool, detail: str = "") -> None:
        super().__init__()
        self.connected = connected
        self.detail = detail

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ConnectionChanged)
