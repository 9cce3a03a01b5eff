"""Send a message to a workflow blocked in ``recv`` (any app, with or without our convention)."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any, cast

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static, TextArea

from ..formatting import duration
from ..supervisor import SupervisorError, WorkflowRow
from ..widgets.text import escape
from ..workers import WorkerErrors

if TYPE_CHECKING:
    from ..deck import Deck

__all__ = ["SendScreen", "parse_message"]


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_message(text: str) -> Any:
    """JSON if it parses, else the text itself (a plain string message). ``NaN`` and
    ``Infinity``, which Python's json accepts but JSON does not, stay text."""
    stripped = text.strip()
    try:
        return json.loads(stripped, parse_constant=_no_constant)
    except ValueError:
        return stripped


class SendScreen(WorkerErrors, ModalScreen[bool]):
    """A message to a workflow blocked in ``recv``: topic, value, idempotency key. Dismissed with
    whether it was sent.

    | Key(s) | Description |
    | :- | :- |
    | escape | Close without sending. |
    | ctrl+s | Send. |
    """

    BINDINGS = [
        Binding("escape", "dismiss(False)", "Close", show=False),
        Binding("ctrl+s", "send", "Send", show=False),
    ]

    def __init__(self, row: WorkflowRow, *, topics: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.row = row
        self.topics = topics

    def compose(self) -> ComposeResult:
        deck = cast("Deck", self.app)
        left = ""
        if self.row.recv_deadline is not None:
            left = f" · its wait ends in {duration(self.row.recv_deadline - deck.clock())}"
        with VerticalScroll(classes="dialog form"):
            yield Static(f"[b]Send a message[/] to {escape(self.row.workflow_id)}")
            yield Static(
                f"{escape(self.row.name)} is blocked in recv{left}. DBOS does not record the "
                "topic it waits on while it waits: enter it (blank = the default topic)."
            )
            yield Label("Topic")
            yield Input(placeholder="topic", id="topic")
            yield Label("Message (JSON, or plain text)")
            yield TextArea("", id="message")
            codec = deck.source.codec
            if codec is not None:  # --app-path: the app's own message classes
                yield Label(f"As a class of {escape(codec.spec.label)} (blank: send it as it is)")
                known = ", ".join(codec.classes)
                yield Input(
                    placeholder=f"e.g. {known}" if known else "class name, e.g. Reply",
                    id="as-class",
                )
            yield Label("Idempotency key (a second send with the same key is stored once)")
            yield Input(value=f"agentdeck-{uuid.uuid4().hex[:12]}", id="key")
            yield Static("", id="send-error", classes="field-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Send ^s", variant="primary", id="send")
                yield Button("Close", id="close")

    def on_mount(self) -> None:
        self.query_one("#topic", Input).focus()

    @on(Button.Pressed, "#send")
    def _pressed(self) -> None:
        self.action_send()

    @on(Button.Pressed, "#close")
    def _close(self) -> None:
        self.dismiss(False)

    def action_send(self) -> None:
        text = self.query_one("#message", TextArea).text
        if not text.strip():
            self.query_one("#send-error", Static).update("[red]✖ the message is empty[/]")
            return
        found = self.query("#as-class")
        as_class = found.first(Input).value.strip() if found else ""
        if not as_class:
            self._send(parse_message(text))
            return
        try:  # a class is built from JSON (an object: its fields), never from plain text
            message = json.loads(text.strip(), parse_constant=_no_constant)
        except ValueError as exc:
            why = f"to build {as_class} the message must be JSON: {exc}"
            self.query_one("#send-error", Static).update(f"[red]✖ {escape(why)}[/]")
            return
        self._send(message, as_class)

    @work(exclusive=True, group="send", exit_on_error=False, description="send a message")
    async def _send(self, message: Any, as_class: str | None = None) -> None:
        deck = cast("Deck", self.app)
        topic = self.query_one("#topic", Input).value.strip() or None
        key = self.query_one("#key", Input).value.strip() or None
        try:
            res = await deck.source.send(
                self.row.workflow_id, message, topic, idempotency_key=key, as_class=as_class
            )
        except SupervisorError as exc:
            self.query_one("#send-error", Static).update(f"[red]✖ {escape(str(exc))}[/]")
            return
        deck.record(res)
        deck.poller.kick()
        self.dismiss(True)
