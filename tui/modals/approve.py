"""Answer a pending approval: approve, reject, or edit the question list (sent once)."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static, TextArea

from workflows.models import ApprovalAnswer, ApprovalDecision

from ..formatting import duration
from ..supervisor import SupervisorError, WorkflowRow
from ..workers import WorkerErrors

if TYPE_CHECKING:
    from ..app import AgentDeckApp

__all__ = ["ApproveScreen"]


class ApproveScreen(WorkerErrors, ModalScreen[bool]):
    BINDINGS = [
        Binding("escape", "dismiss(False)", "Close", show=False),
        Binding("ctrl+a", "decide('approve')", "Approve", show=False),
        Binding("ctrl+r", "decide('reject')", "Reject", show=False),
        Binding("ctrl+e", "decide('edit')", "Send edit", show=False),
    ]

    def __init__(self, row: WorkflowRow) -> None:
        super().__init__()
        self.row = row
        assert row.approval is not None
        self.request = row.approval
        self._sent = False

    def compose(self) -> ComposeResult:
        req = self.request
        questions = req.proposal.get("questions") or []
        with VerticalScroll(classes="dialog form"):
            yield Static(f"[b]Approval[/] · {escape(self.row.summary or self.row.workflow_id)}")
            yield Static(escape(req.prompt), classes="dialog-body")
            yield Static("", id="countdown")
            yield Label("Edit the questions (one per line), then 'Send edited plan'")
            yield TextArea("\n".join(str(q) for q in questions), id="questions")
            yield Label("Comment (optional)")
            yield Input(id="comment", placeholder="why")
            yield Static("", id="answer-error", classes="field-error")
            with Horizontal(classes="dialog-buttons"):
                if ApprovalDecision.APPROVE in req.options:
                    yield Button("Approve ^a", variant="success", id="approve")
                if ApprovalDecision.REJECT in req.options:
                    yield Button("Reject ^r", variant="error", id="reject")
                if ApprovalDecision.EDIT in req.options:
                    yield Button("Send edited plan ^e", variant="warning", id="edit")
                yield Button("Close", id="close")

    def on_mount(self) -> None:
        self._tick()
        self.set_interval(1.0, self._tick)
        self.query_one("#approve", Button).focus()

    def _tick(self) -> None:
        left = self.request.deadline - cast("AgentDeckApp", self.app).clock()
        text = f"deadline in {duration(left)}" if left > 0 else "[red]deadline passed[/]"
        self.query_one("#countdown", Static).update(text)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "close":
            self.dismiss(False)
        elif event.button.id:
            self.action_decide(event.button.id)

    def action_decide(self, decision: str) -> None:
        if self._sent:
            self.notify("already sent; waiting for the workflow", severity="warning")
            return
        comment = self.query_one("#comment", Input).value
        questions = None
        if decision == "edit":
            text = self.query_one("#questions", TextArea).text
            questions = tuple(q.strip() for q in text.splitlines() if q.strip())
        try:
            answer = ApprovalAnswer(
                decision=ApprovalDecision(decision), questions=questions, comment=comment,
                by="dashboard",
            )  # fmt: skip
        except ValueError as exc:
            msg = str(exc).splitlines()
            self.query_one("#answer-error", Static).update(
                f"[red]✖ {escape(msg[-1] if len(msg) < 2 else msg[1])}[/]"
            )
            return
        self._sent = True
        self._send(answer)

    @work(exclusive=True, group="answer", exit_on_error=False, description="send answer")
    async def _send(self, answer: ApprovalAnswer) -> None:
        deck = cast("AgentDeckApp", self.app)
        try:
            res = await deck.source.answer(self.row.workflow_id, answer)
        except SupervisorError as exc:
            self._sent = False
            self.query_one("#answer-error", Static).update(f"[red]✖ {escape(str(exc))}[/]")
            return
        deck.record(res)
        deck.poller.kick()
        self.dismiss(res.ok)
