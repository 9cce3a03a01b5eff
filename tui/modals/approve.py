"""Answer a pending approval: approve, reject, or edit the question list (sent once).

A tool approval (a tool call Claude wants to make, see ``workflows.tools``) shows the tool and its
input instead, and offers allow (approve) or deny (reject) only. A budget approval
(``workflows.guards``) shows spent / estimate / budget and offers raise (a new budget), continue
once, switch model, or stop; a loop approval (the loop guard stopped a tool loop) shows the call
and offers continue or stop this question. ^a and ^r are the first and last choice everywhere.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, cast

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static, TextArea

from workflows.models import ApprovalAnswer, ApprovalDecision, tool_call_of

from ..formatting import duration
from ..supervisor import SupervisorError, WorkflowRow
from ..widgets.text import escape
from ..workers import WorkerErrors

if TYPE_CHECKING:
    from ..deck import Deck

__all__ = ["ApproveScreen", "budget_lines", "tool_input_text"]

#: A tool input longer than this is cut (the dialog scrolls what is left).
TOOL_INPUT_LINES = 40
TOOL_INPUT_CHARS = 4000


def tool_input_text(tool_input: dict[str, Any]) -> str:
    """The input of a tool call as indented JSON, cut to a readable size."""
    text = json.dumps(tool_input, indent=2, ensure_ascii=False, default=str)
    lines = text.splitlines()
    if len(lines) > TOOL_INPUT_LINES:
        more = len(lines) - TOOL_INPUT_LINES
        text = "\n".join(lines[:TOOL_INPUT_LINES]) + f"\n… ({more} more lines)"
    if len(text) > TOOL_INPUT_CHARS:
        text = text[:TOOL_INPUT_CHARS] + f"\n… ({len(text) - TOOL_INPUT_CHARS} more characters)"
    return text


def budget_lines(p: dict[str, Any]) -> str:
    """The figures of a budget approval's proposal, one per line."""

    def usd(v: Any) -> str:
        return f"${v:.4f}" if isinstance(v, (int, float)) else "none"

    def tok(v: Any) -> str:
        return f"{v:,} tokens" if isinstance(v, int) else "no token limit"

    return "\n".join(
        [
            f"spent         {usd(p.get('spent_usd'))} · {tok(p.get('spent_tokens'))}",
            f"next (est.)   {usd(p.get('estimate_usd'))} · {tok(p.get('estimate_tokens'))}",
            f"budget        {usd(p.get('budget_usd'))} · {tok(p.get('budget_tokens'))}",
            f"model         {p.get('model', '?')} · "
            f"{p.get('remaining_steps', '?')} Claude calls left",
        ]
    )


def _suggested_usd(p: dict[str, Any]) -> str:
    """A raise that covers the next phase with room to spare: twice spent + estimate."""
    spent, est = p.get("spent_usd"), p.get("estimate_usd")
    if not isinstance(spent, (int, float)) or not isinstance(est, (int, float)):
        return ""
    return f"{max(2 * (spent + est), 0.01):.2f}"


class ApproveScreen(WorkerErrors, ModalScreen[bool]):
    """Answer one pending approval; dismissed with whether an answer was sent.

    | Key(s) | Description |
    | :- | :- |
    | escape | Close without answering. |
    | ctrl+a | Approve (allow; continue for a budget or loop approval): the first choice. |
    | ctrl+r | Reject (deny; stop for a budget or loop approval): the last choice. |
    | ctrl+e | Send the edited questions. |
    """

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
        if self.request.kind == "budget":
            yield from self._compose_budget()
            return
        if self.request.kind == "loop":
            yield from self._compose_loop()
            return
        if tool_call_of(self.request) is not None:
            yield from self._compose_tool()
            return
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

    def _compose_tool(self) -> ComposeResult:
        req = self.request
        tool, tool_input = tool_call_of(req) or ("?", {})
        headline = req.prompt.splitlines()[0] if req.prompt else f"Allow Claude to use {tool}?"
        with VerticalScroll(classes="dialog form", id="tool-dialog"):
            yield Static(
                f"[b]Tool approval[/] · {escape(tool)} · "
                f"{escape(self.row.summary or self.row.workflow_id)}"
            )
            yield Static(Text(headline, style="bold"), classes="dialog-body")
            yield Static("", id="countdown")
            yield Label(f"{tool} input (the call runs only if you allow it)")
            yield Static(Text(tool_input_text(tool_input)), id="tool-input")
            yield Label("Comment (optional; a denial's reason is passed to Claude)")
            yield Input(id="comment", placeholder="why")
            yield Static("", id="answer-error", classes="field-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Allow ^a", variant="success", id="approve")
                yield Button("Deny ^r", variant="error", id="reject")
                yield Button("Close", id="close")

    def _compose_budget(self) -> ComposeResult:
        req = self.request
        p = req.proposal
        with VerticalScroll(classes="dialog form", id="budget-dialog"):
            yield Static(
                f"[b]Budget reached[/] · before {escape(str(p.get('phase', '?')))} · "
                f"{escape(self.row.summary or self.row.workflow_id)}"
            )
            yield Static(Text(budget_lines(p)), id="budget-figures")
            yield Static("", id="countdown")
            yield Label("Raise: the new budget in USD and/or tokens")
            with Horizontal(classes="budget-inputs"):
                yield Input(_suggested_usd(p), id="budget-usd", placeholder="USD")
                yield Input(id="budget-tokens", placeholder="tokens (optional)")
            yield Label("Switch: the model for the rest of the run")
            yield Input(id="model", placeholder="e.g. claude-haiku-4-5")
            yield Label("Comment (optional)")
            yield Input(id="comment", placeholder="why")
            yield Static("", id="answer-error", classes="field-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Continue ^a", variant="success", id="continue")
                yield Button("Raise", variant="primary", id="raise")
                yield Button("Switch", variant="warning", id="switch")
                yield Button("Stop ^r", variant="error", id="stop")
                yield Button("Close", id="close")

    def _compose_loop(self) -> ComposeResult:
        req = self.request
        tool = str(req.proposal.get("tool", "?"))
        raw = req.proposal.get("input")
        tool_input = raw if isinstance(raw, dict) else {}
        with VerticalScroll(classes="dialog form", id="loop-dialog"):
            yield Static(
                f"[b]Tool loop[/] · {escape(tool)} · "
                f"{escape(self.row.summary or self.row.workflow_id)}"
            )
            yield Static(
                Text(str(req.proposal.get("reason", "")), style="bold"), classes="dialog-body"
            )
            yield Static("", id="countdown")
            yield Label(f"The {tool} call the guard stopped (it did not run)")
            yield Static(Text(tool_input_text(tool_input)), id="tool-input")
            yield Label("Comment (optional)")
            yield Input(id="comment", placeholder="why")
            yield Static("", id="answer-error", classes="field-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Continue ^a", variant="success", id="continue")
                yield Button("Stop this question ^r", variant="error", id="stop")
                yield Button("Close", id="close")

    def on_mount(self) -> None:
        self._tick()
        self.set_interval(1.0, self._tick)
        if self.request.kind in ("budget", "loop"):
            self.query_one("#continue", Button).focus()
            return
        if tool_call_of(self.request) is not None:
            # Nothing is pre-selected for a tool call: read the input (arrows scroll), then ^a/^r.
            self.query_one("#tool-dialog", VerticalScroll).focus()
            return
        self.query_one("#approve", Button).focus()

    def _tick(self) -> None:
        left = self.request.deadline - cast("Deck", self.app).clock()
        text = f"deadline in {duration(left)}" if left > 0 else "[red]deadline passed[/]"
        self.query_one("#countdown", Static).update(text)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "close":
            self.dismiss(False)
        elif event.button.id:
            self.action_decide(event.button.id)

    def action_decide(self, decision: str) -> None:
        options = self.request.options
        if decision == "approve" and ApprovalDecision.CONTINUE in options:
            decision = "continue"  # ^a: the first choice of a budget or loop approval
        elif decision == "reject" and ApprovalDecision.STOP in options:
            decision = "stop"  # ^r: the last one
        if ApprovalDecision(decision) not in options:
            self.notify(f"{decision} is not an option here", severity="warning")
            return
        if self._sent:
            self.notify("already sent; waiting for the workflow", severity="warning")
            return
        comment = self.query_one("#comment", Input).value
        extra: dict[str, Any] = {}
        if decision == "edit":
            text = self.query_one("#questions", TextArea).text
            extra["questions"] = tuple(q.strip() for q in text.splitlines() if q.strip())
        elif decision == "raise":
            usd, tokens = self._budget_inputs()
            if usd is False or tokens is False:
                return
            extra = {"budget_usd": usd, "budget_tokens": tokens}
        elif decision == "switch":
            extra["model"] = self.query_one("#model", Input).value.strip() or None
        try:
            answer = ApprovalAnswer(
                decision=ApprovalDecision(decision), comment=comment, by="dashboard", **extra
            )
        except ValueError as exc:
            msg = str(exc).splitlines()
            self._error(msg[-1] if len(msg) < 2 else msg[1])
            return
        self._sent = True
        self._send(answer)

    def _error(self, text: str) -> None:
        self.query_one("#answer-error", Static).update(f"[red]✖ {escape(text)}[/]")

    def _budget_inputs(self) -> tuple[float | None | bool, int | None | bool]:
        """(USD, tokens) typed for a raise; False for a value that is not a number (said)."""
        raw_usd = self.query_one("#budget-usd", Input).value.strip().lstrip("$")
        raw_tokens = self.query_one("#budget-tokens", Input).value.strip().replace(",", "")
        usd: float | None | bool = None
        tokens: int | None | bool = None
        try:
            usd = float(raw_usd) if raw_usd else None
        except ValueError:
            self._error(f"the new budget must be a number of USD, not {raw_usd!r}")
            return False, None
        try:
            tokens = int(raw_tokens) if raw_tokens else None
        except ValueError:
            self._error(f"the token budget must be a whole number, not {raw_tokens!r}")
            return None, False
        return usd, tokens

    @work(exclusive=True, group="answer", exit_on_error=False, description="send answer")
    async def _send(self, answer: ApprovalAnswer) -> None:
        deck = cast("Deck", self.app)
        try:
            res = await deck.source.answer(self.row.workflow_id, answer)
        except SupervisorError as exc:
            self._sent = False
            self.query_one("#answer-error", Static).update(f"[red]✖ {escape(str(exc))}[/]")
            return
        deck.record(res)
        deck.poller.kick()
        self.dismiss(res.ok)
