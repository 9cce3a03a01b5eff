"""Approval inbox: every workflow waiting for a human, soonest deadline first.

Plan approvals, tool approvals (a tool call Claude wants to make: the tool and what it would do,
answered allow or deny), budget approvals (a run paused at its budget: spent / budget), loop
approvals (a research question stopped at a tool loop) and foreign workflows blocked in ``recv``.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from workflows.models import tool_call_of

from ..formatting import duration, short_id
from ..messages import WorkflowsRefreshed
from ..supervisor import WorkflowRow
from ..widgets.footer import Footer
from ..widgets.tables import PlainTable, cursor_key
from .base import RunActionsScreen

__all__ = ["InboxScreen"]


class InboxScreen(RunActionsScreen):
    """Every run waiting for a human, soonest deadline first.

    The run actions of :class:`RunActionsScreen` act on the selected run.

    | Key(s) | Description |
    | :- | :- |
    | escape | Back to the screen underneath. |
    | enter | Answer the selected request. |
    | o | Open the selected run. |
    """

    BINDINGS = [
        Binding("escape", "back", "Back", id="inbox.back"),
        Binding("enter", "answer", "Answer", id="inbox.answer"),
        Binding("o", "open", "Open run", id="inbox.open"),
    ]

    def compose(self) -> ComposeResult:
        yield from self.compose_status()
        yield Static("[b]Approval inbox[/] · every run waiting for a human", id="inbox-title")
        yield PlainTable(id="inbox", cursor_type="row", zebra_stripes=True)
        yield Static("", id="inbox-prompt")
        yield Footer()

    def on_mount(self) -> None:
        super().on_mount()
        table = self.query_one(DataTable)
        table.add_column("DEADLINE", key="deadline", width=10)
        table.add_column("RUN", key="run", width=28)
        table.add_column("ID", key="id", width=16)
        table.add_column("ASKS", key="asks")
        table.add_column("OPTIONS", key="options", width=20)
        table.focus()
        self._render_rows()
        self.set_interval(1.0, self._countdown)

    @property
    def items(self) -> list[WorkflowRow]:
        rows = [r for r in self.deck.snapshot.rows if r.waiting_approval or r.waiting_message]
        return sorted(rows, key=lambda r: _deadline_of(r) or float("inf"))

    def current_row(self) -> WorkflowRow | None:
        key = cursor_key(self.query_one(DataTable))
        return self.deck.snapshot.by_id().get(key) if key else None

    @on(WorkflowsRefreshed)
    def _refreshed(self, message: WorkflowsRefreshed) -> None:
        self._render_rows()

    def _deadline(self, row: WorkflowRow) -> Text:
        deadline = _deadline_of(row)
        if deadline is None:
            return Text("-")
        left = deadline - self.deck.clock()
        style = "bold red" if left < 300 else "yellow" if left < 3600 else ""
        return Text(duration(max(0.0, left)), style=style)

    def _render_rows(self) -> None:
        table = self.query_one(DataTable)
        items = self.items
        keys = {r.workflow_id for r in items}
        for key in [str(k.value) for k in list(table.rows)]:
            if key not in keys:
                table.remove_row(key)
        existing = {str(k.value) for k in table.rows}
        runs = self.deck.snapshot.by_id()
        for r in items:
            if r.approval is not None and r.waiting_approval:
                first = r.approval.prompt.splitlines()[0] if r.approval.prompt else ""
                asks: str | Text = first[:80]
                options = " / ".join(o.value for o in r.approval.options)
                if r.approval.kind == "budget":
                    asks = Text(f"budget · {_budget_asks(r.approval.proposal)}", style="yellow")
                elif r.approval.kind == "loop":
                    reason = str(r.approval.proposal.get("reason", ""))
                    asks = Text(f"tool loop · {reason}"[:80], style="magenta")
                elif tool_call_of(r.approval) is not None:
                    asks, options = Text(first[:80], style="magenta"), "allow / deny"
            else:
                asks, options = "a message (blocked in recv; topic not recorded)", "free-form"
            parent = runs.get(r.parent_id) if r.parent_id else None
            run = r.summary or (f"↳ {parent.summary or parent.name}" if parent else r.name)
            cells: list[Any] = [
                self._deadline(r),
                run,
                short_id(r.workflow_id, 16),
                asks,
                options,
            ]
            if r.workflow_id not in existing:
                table.add_row(*cells, key=r.workflow_id)
            else:  # the same run may wait for another answer now (a second tool call)
                table.update_cell(r.workflow_id, "asks", asks)
                table.update_cell(r.workflow_id, "options", options)
        title = self.query_one("#inbox-title", Static)
        n = len(items)
        title.update(f"[b]Approval inbox[/] · {n} waiting" + ("" if n else " · nothing to answer"))
        self._show_prompt()

    def _countdown(self) -> None:
        table = self.query_one(DataTable)
        for r in self.items:
            if r.workflow_id in {str(k.value) for k in table.rows}:
                table.update_cell(r.workflow_id, "deadline", self._deadline(r))

    @on(DataTable.RowHighlighted)
    def _highlighted(self) -> None:
        self._show_prompt()

    def _show_prompt(self) -> None:
        row = self.current_row()
        box = self.query_one("#inbox-prompt", Static)
        if row is None:
            box.update("")
        elif row.approval is not None and row.waiting_approval:
            box.update(Text(row.approval.prompt))
        else:
            box.update(
                Text(
                    f"{row.workflow_id} ({row.name}) waits in DBOS.recv; press a to send "
                    "it a message on a topic you name."
                )
            )

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_answer()

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_open(self) -> None:
        row = self.current_row()
        if row is not None:
            self.deck.open_run(row.workflow_id)


def _budget_asks(p: dict[str, Any]) -> str:
    """``$0.0120 + ~$0.0240 > $0.0200 before research``: spent + estimate against the budget."""
    spent, est, budget = p.get("spent_usd"), p.get("estimate_usd"), p.get("budget_usd")
    phase = p.get("phase", "?")
    if isinstance(budget, (int, float)) and isinstance(spent, (int, float)):
        est_usd = est if isinstance(est, (int, float)) else 0.0
        return f"${spent:.4f} + ~${est_usd:.4f} > ${budget:.4f} before {phase}"
    spent_t, est_t, budget_t = (
        p.get("spent_tokens"),
        p.get("estimate_tokens"),
        p.get("budget_tokens"),
    )
    return f"{spent_t} + ~{est_t} > {budget_t} tokens before {phase}"


def _deadline_of(row: WorkflowRow) -> float | None:
    if row.approval is not None and row.waiting_approval:
        return row.approval.deadline
    return row.recv_deadline
