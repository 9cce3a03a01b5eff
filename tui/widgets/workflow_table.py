"""The workflow list: a :class:`RowTable` keyed by workflow id (cursor and scroll survive)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.message import Message

from ..formatting import clock_time, countdown, duration, row_status, short_id, status_text
from ..supervisor import WorkflowRow
from .rowtable import PAD, Column, RowTable

__all__ = ["COLUMNS", "MOST", "SHRINK", "WorkflowTable", "budget_cell", "fit"]

#: (key, label, width before the first rows are seen)
COLUMNS: tuple[tuple[str, str, int], ...] = (
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

#: Each column's greatest width (``None``: no limit): a column is as wide as its widest cell
#: (its label included), up to this.
MOST: dict[str, int | None] = {
    "status": 14,
    "name": 48,
    "id": 15,
    "summary": None,
    "started": 8,
    "duration": 8,
    "progress": 32,
    "queue": 32,
    "cost": 17,
}

#: When the content does not fit, columns give room back in these steps, each down to the width
#: given (never below its content's): a long error's tail first (the detail shows it whole), then
#: the input, the queue, the id, then the progress down to its bar; the name last (a person reads
#: a run by its name). Past them the table scrolls sideways.
SHRINK: tuple[tuple[str, int], ...] = (
    ("progress", 24),
    ("summary", 10),
    ("queue", 5),
    ("id", 8),
    ("progress", 12),
    ("cost", 4),
    ("status", 11),
    ("name", 8),
)


def fit(natural: dict[str, int], room: int) -> dict[str, int]:
    """Column widths for the content and the room there is.

    Each column gets its content's width (``natural``, at most :data:`MOST`); when that is more
    than ``room``, columns give room back in :data:`SHRINK`'s steps; when it is less, INPUT takes
    the rest, so the table spans the terminal.

    Args:
        natural: Column key → the widest cell of the column (its label included).
        room: Cells available for the columns' content (padding already taken off).

    Returns:
        Column key → content width.
    """
    widths = {}
    for key, width in natural.items():
        most = MOST.get(key)
        widths[key] = width if most is None else min(most, width)
    over = sum(widths.values()) - room
    for key, floor in SHRINK:
        if over <= 0:
            break
        if key in widths and widths[key] > floor:
            give = min(over, widths[key] - floor)
            widths[key] -= give
            over -= give
    if over < 0 and "summary" in widths:
        widths["summary"] -= over
    return widths


def _width(cell: Any) -> int:
    return cell_len(cell if isinstance(cell, str) else cell.plain)


def _where(row: WorkflowRow) -> str:
    """Queue, its partition (``tenants[alice]``) and, once a run is taken, the executor running
    it (``launch@w1``)."""
    queue = row.queue.removeprefix("agentdeck-")
    if row.partition:
        queue += f"[{row.partition}]"
    if row.executor and row.executor != "local" and row.status != "ENQUEUED":
        return f"{queue}@{row.executor}" if queue else f"@{row.executor}"
    return queue


def _bar(done: int, total: int, width: int = 6) -> str:
    if total <= 0:
        return ""
    filled = round(width * min(done, total) / total)
    return "█" * filled + "░" * (width - filled)


def _tokens(n: int) -> str:
    return f"{n / 1e6:.1f}M" if n >= 1e6 else f"{n / 1e3:.0f}k" if n >= 1e3 else str(n)


def budget_cell(row: WorkflowRow) -> Text | None:
    """Spent / budget of a run with a budget, coloured by how much of it is spent.

    Args:
        row: The run's row.

    Returns:
        ``$0.012/$0.50`` (or tokens when that is its only budget), yellow from 80 % of it, red
            past it; ``None`` for a run without a budget.
    """
    p = row.progress
    if p is None or not (p.budget_usd or p.budget_tokens):
        return None
    if p.budget_usd:
        spent = row.cost_usd or p.cost_usd
        share = spent / p.budget_usd
        text = f"${spent:.3f}/${p.budget_usd:.2f}"
    else:
        share = p.tokens / p.budget_tokens
        text = f"{_tokens(p.tokens)}/{_tokens(p.budget_tokens)} tok"
    style = "bold red" if share > 1 else "yellow" if share >= 0.8 else ""
    return Text(text, style=style)


def cells(row: WorkflowRow, now: float, *, child_waits: bool = False) -> dict[str, Any]:
    """The rendered cells of one row (compared cell by cell to update in place).

    Args:
        row: The run's row.
        now: The current time in epoch seconds (durations, countdowns).
        child_waits: A child of this run waits for a human (a research question's tool call),
            so the run is blocked on you even though its own state says running.

    Returns:
        Column key → the cell, in :data:`COLUMNS` order.
    """
    p = row.progress
    if row.stranded:
        progress = Text(f"⚠ stranded: {row.stranded}  [r]", style="bold red")
    elif row.waiting_approval:
        left = countdown(row.approval.deadline if row.approval else None, now)
        what = {"budget": "budget", "loop": "tool loop"}.get(
            row.approval.kind if row.approval else "", "approve"
        )
        progress = Text(f"⏸ {what} {left} [a]", style="bold yellow")
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
    cost: str | Text = budget_cell(row) or (f"${row.cost_usd:.3f}" if row.cost_usd else "")
    return {
        "status": row_status(row)
        if not (child_waits and row.active)
        else status_text("WAITING", waiting=True),
        "name": row.name,
        "id": Text(short_id(row.workflow_id, 15), style="dim"),
        "summary": row.summary
        or ("fork of " + short_id(row.forked_from) if row.forked_from else ""),
        "started": clock_time(row.created_at, now),
        "duration": duration(row.duration(now)),
        "progress": progress,
        "queue": _where(row),
        "cost": cost,
    }


class WorkflowTable(RowTable):
    """Rows keyed by workflow id; ``sync`` shows a new list, re-rendering only changed rows.

    The table holds one window of the matching runs. When the cursor comes within a page of
    the window's edge and more runs lie beyond it (``more_above`` / ``more_below``), or on
    ``home`` / ``end`` with runs beyond, it posts :class:`NearEdge` and the screen asks for the
    next window; the cursor stays on its run meanwhile. The keys are :class:`RowTable`'s.
    """

    @dataclass
    class NearEdge(Message):
        """The cursor nears (``up`` / ``down``) or jumps past (``home`` / ``end``) the window."""

        table: WorkflowTable
        direction: Literal["up", "down", "home", "end"]

        @property
        def control(self) -> WorkflowTable:
            return self.table

    def __init__(self, **kwargs: Any) -> None:
        columns = [Column(key, label, width) for key, label, width in COLUMNS]
        super().__init__(columns, zebra_stripes=True, **kwargs)
        self._row_cells: dict[str, dict[str, Any]] = {}
        self.rows_by_id: dict[str, WorkflowRow] = {}
        self.more_above = False
        self.more_below = False
        self.marked: frozenset[str] = frozenset()

    def _near_edge(self) -> None:
        height = self._body_height
        if self.more_below and self.cursor_row >= self.row_count - 1 - height:
            self.post_message(self.NearEdge(self, "down"))
        elif self.more_above and self.cursor_row <= height:
            self.post_message(self.NearEdge(self, "up"))

    def action_cursor_down(self) -> None:
        super().action_cursor_down()
        self._near_edge()

    def action_cursor_up(self) -> None:
        super().action_cursor_up()
        self._near_edge()

    def action_page_down(self) -> None:
        super().action_page_down()
        self._near_edge()

    def action_page_up(self) -> None:
        super().action_page_up()
        self._near_edge()

    def action_first(self) -> None:
        if self.more_above:
            self.post_message(self.NearEdge(self, "home"))
        super().action_first()

    def action_last(self) -> None:
        if self.more_below:
            self.post_message(self.NearEdge(self, "end"))
        super().action_last()

    @property
    def selected_id(self) -> str | None:
        """The id of the run under the cursor, or None for an empty list."""
        return self.cursor_key

    def sync(
        self,
        rows: Sequence[WorkflowRow],
        now: float,
        *,
        sort_key: Callable[[WorkflowRow], Any] | None = None,
        child_waits: frozenset[str] = frozenset(),
    ) -> None:
        """Show ``rows``, sized to fit, marked runs ticked.

        Args:
            rows: The runs of the window, in the order asked for.
            now: The current time in epoch seconds (durations, countdowns).
            sort_key: Order the rows by this instead (``None``: as given).
            child_waits: Ids of runs with a child waiting for a human.
        """
        ordered = sorted(rows, key=sort_key) if sort_key is not None else list(rows)
        self.rows_by_id = {r.workflow_id: r for r in ordered}
        self._row_cells = {
            r.workflow_id: cells(r, now, child_waits=r.workflow_id in child_waits) for r in ordered
        }
        for wid in self.marked & self._row_cells.keys():
            status = self._row_cells[wid]["status"]
            self._row_cells[wid]["status"] = Text.assemble(("✓", "bold reverse"), status)
        self._fit()
        self._show()

    def _show(self) -> None:
        self.set_rows([(wid, tuple(c.values())) for wid, c in self._row_cells.items()])

    def _fit(self) -> None:
        """Size the columns to the rows shown and the table's width (names before inputs)."""
        room = self.scrollable_content_region.width - 2 * PAD * len(self.columns)
        if room <= 0:
            return
        natural = {c.key: cell_len(c.label) for c in self.columns}
        for cells_ in self._row_cells.values():
            for key, value in cells_.items():
                natural[key] = max(natural[key], _width(value))
        self.set_column_widths(fit(natural, room))

    def on_resize(self, event: events.Resize) -> None:
        self._fit()
        super().on_resize(event)

    def tick(self, now: float) -> None:
        """Update the live duration of active rows (no database access).

        Args:
            now: The current time in epoch seconds.
        """
        changed = False
        for wid, row in self.rows_by_id.items():
            if row.active:
                value = duration(row.duration(now))
                if self._row_cells[wid]["duration"] != value:
                    self._row_cells[wid]["duration"] = value
                    changed = True
        if changed:
            self._show()
