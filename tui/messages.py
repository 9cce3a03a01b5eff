"""Cross-cutting messages (widget-specific ones live in their widget)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from textual.message import Message

from .supervisor import ListPage, WorkflowRow

__all__ = ["ConnectionChanged", "Snapshot", "SnapshotTaken", "WorkflowsRefreshed"]


@dataclass(frozen=True)
class Snapshot:
    """What the poller last saw of the system database.

    ``rows`` are the runs in flight (and those that just left it): what alerts, the inbox, the
    palette and the quit warning follow, whatever the list shows. ``page`` is the window of
    the list the screen asked for (``Poller.set_query``).
    """

    rows: tuple[WorkflowRow, ...] = ()
    taken_at: float = field(default_factory=time.time)
    #: Every workflow in the database (presence rows aside), and how many per status.
    total: int = 0
    per_status: tuple[tuple[str, int], ...] = ()
    page: ListPage = field(default_factory=ListPage)

    def by_id(self) -> dict[str, WorkflowRow]:
        out = {r.workflow_id: r for r in self.page.rows}
        out.update((r.workflow_id, r) for r in self.rows)
        return out

    def status_count(self, *statuses: str) -> int:
        return sum(n for st, n in self.per_status if st in statuses)


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
