"""The workflow list: a DataTable updated in place by row key (cursor and scroll survive)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from rich.text import Text
from textual.coordinate import Coordinate
from textual.widgets import DataTable
from textual.widgets.data_table import RowDoesNotExist

from ..formatting import clock_time, countdown, duration, row_status, short_id, status_text
from ..supervisor import WorkflowRow
from .tables import cursor_key

__all__ = ["COLUMNS", "WorkflowTable"]

#: (key, label, width)
COLUMNS: tuple[tuple[str, str, int | None], ...] = (
    ("status", "STATUS", 11),
    ("name", "NAME", 14),
    ("id", "ID", 15),
    ("summary", "INPUT", 23),
    ("started", "STARTED", 8),
    ("duration", "TIME", 6),
    ("progress", "PROGRESS", 22),
    ("queue", "QUEUE@EXEC", 10),
    ("cost", "COST", 7),
)

SORTABLE = ("started", "status", "name", "duration", "cost")


class IdCell(Text):
    """A short id on screen that remembers the full one (the table sorts by it)."""

    def __init__(self, workflow_id: str) -> None:
        super().__init__(short_id(workflow_id, 15), style="dim")
        self.full = workflow_id

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IdCell) and other.full == self.full

    __hash__ = None  # type: ignore[assignment]


def _where(row: WorkflowRow) -> str:
    """Queue and, once a run is taken, the executor running it (``launch@w1``)."""
    queue = row.queue.removeprefix("agentdeck-")
    if row.executor and row.executor != "local" and row.status != "ENQUEUED":
        return f"{queue}@{row.executor}" if queue else f"@{row.executor}"
    return queue


def _bar(done: int, total: int, width: int = 6) -> str:
    if total <= 0:
        return ""
    filled = round(width * min(done, total) / total)
    return "█" * filled + "░" * (width - filled)


def cells(row: WorkflowRow, now: float, *, child_waits: bool = False) -> dict[str, Any]:
    """The rendered cells of one row (compared cell by cell to update in place).

    ``child_waits``: a child of this run waits for a human (a research question's tool call),
    so the run is blocked on you even though its own state says running.
    """
    p = row.progress
    if row.stranded:
        progress = Text(f"⚠ stranded: {row.stranded}  [r]", style="bold red")
    elif row.waiting_approval:
        left = countdown(row.approval.deadline if row.approval else None, now)
        progress = Text(f"⏸ approve {left} [a]", style="bold yellow")
    elif row.waiting_message:
        progress = Text("⏸ waiting in recv  [a]", style="bold yellow")
    elif child_waits and row.active:
        progress = Text("⏸ a child asks you  [i]", style="bold yellow")
    elif p is not None and p.total and row.active:
        progress = Text(f"{p.phase[:11]:<11} {_bar(p.done, p.total, 5)} {p.done}/{p.total}")
    elif p is not None and row.active:
        progress = Text(p.phase[:20])
    elif row.timed_out == "approval":
        progress = Text("⧗ approval timed out", style="magenta")
    elif row.timed_out == "workflow":
        progress = Text(f"⧗ timed out after {duration(row.timeout_s)}", style="magenta")
    elif row.status == "ERROR":
        progress = Text(row.error.split(": ", 1)[-1][:40], style="red")
    else:
        progress = Text(p.phase[:20] if p else "", style="dim")
    if row.active and row.deadline is not None:
        progress = Text.assemble((f"⧖{countdown(row.deadline, now)} ", "magenta"), progress)
    elif row.status == "DELAYED" and row.delay_until is not None:
        progress = Text(f"◷ starts in {countdown(row.delay_until, now)}", style="blue")
    cost = f"${row.cost_usd:.3f}" if row.cost_usd else ""
    return {
        "status": row_status(row)
        if not (child_waits and row.active)
        else status_text("WAITING", waiting=True),
        "name": row.name,
        "id": IdCell(row.workflow_id),
        "summary": row.summary
        or ("fork of " + short_id(row.forked_from) if row.forked_from else ""),
        "started": clock_time(row.created_at, now),
        "duration": duration(row.duration(now)),
        "progress": progress,
        "queue": _where(row),
        "cost": cost,
    }


class WorkflowTable(DataTable[Any]):
    """Rows keyed by workflow id; ``sync`` adds, removes and updates cells, never clears."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self._cells: dict[str, dict[str, Any]] = {}
        self._order: list[str] = []
        self.rows_by_id: dict[str, WorkflowRow] = {}

    def on_mount(self) -> None:
        for key, label, width in COLUMNS:
            self.add_column(label, key=key, width=width)

    @property
    def selected_id(self) -> str | None:
        return cursor_key(self)

    def sync(
        self,
        rows: Sequence[WorkflowRow],
        now: float,
        *,
        sort_key: Callable[[WorkflowRow], Any] | None = None,
        child_waits: frozenset[str] = frozenset(),
    ) -> None:
        """Show ``rows``; ``child_waits`` are ids of runs with a child waiting for a human."""
        ordered = sorted(rows, key=sort_key) if sort_key is not None else list(rows)
        wanted = [r.workflow_id for r in ordered]
        wanted_set = set(wanted)
        selected = self.selected_id
        for wid in [w for w in self._order if w not in wanted_set]:
            try:
                self.remove_row(wid)
            except RowDoesNotExist:
                pass
            self._cells.pop(wid, None)
            self.rows_by_id.pop(wid, None)
        for row in ordered:
            wid = row.workflow_id
            new = cells(row, now, child_waits=wid in child_waits)
            old = self._cells.get(wid)
            self.rows_by_id[wid] = row
            if old is None:
                self.add_row(*new.values(), key=wid)
            else:
                for col, value in new.items():
                    if old.get(col) != value:
                        self.update_cell(wid, col, value)
            self._cells[wid] = new
        if [str(k) for k in self._ordered_keys()] != wanted:
            rank = {wid: i for i, wid in enumerate(wanted)}
            self.sort("id", key=lambda cell: rank.get(getattr(cell, "full", ""), 1 << 30))
        self._order = wanted
        if selected and selected in wanted_set:
            index = self.get_row_index(selected)
            if index != self.cursor_row:
                self.move_cursor(row=index, animate=False)

    def _ordered_keys(self) -> list[Any]:
        return [
            self.coordinate_to_cell_key(Coordinate(i, 0)).row_key.value
            for i in range(self.row_count)
        ]

    def tick(self, now: float) -> None:
        """Update the live duration of active rows (no database access)."""
        for wid, row in self.rows_by_id.items():
            if row.active:
                value = duration(row.duration(now))
                if self._cells.get(wid, {}).get("duration") != value:
                    self._cells[wid]["duration"] = value
                    self.update_cell(wid, "duration", value)
