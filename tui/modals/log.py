"""DBOS and agentdeck logs, and the audit of every action taken from this dashboard."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import RichLog, Static, TabbedContent, TabPane

from workflows.runtime import LOG_BUFFER, LogLine, redact

if TYPE_CHECKING:
    from ..deck import Deck

__all__ = ["LogScreen"]

_LEVEL = {"ERROR": "bold red", "WARNING": "yellow", "INFO": "", "DEBUG": "dim"}


class LogScreen(ModalScreen[None]):
    """DBOS's and agentdeck's log lines, and the audit of every action taken from this dashboard.

    | Key(s) | Description |
    | :- | :- |
    | escape, l, q | Close. |
    """

    BINDINGS = [Binding("escape,l,q", "dismiss", "Close", show=False)]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Static("[b]Log[/] · DBOS and agentdeck logs (also in .agentdeck/agentdeck.log)")
            with TabbedContent(initial="logs"):
                with TabPane("Logs", id="logs"):
                    yield RichLog(id="log-lines", max_lines=2000, wrap=True)
                with TabPane("Audit", id="audit"):
                    yield RichLog(id="audit-lines", max_lines=2000, wrap=True)
            yield Static("[dim]esc closes[/]")

    def on_mount(self) -> None:
        log = self.query_one("#log-lines", RichLog)
        for line in list(LOG_BUFFER.lines):
            log.write(self._fmt(line))
        audit = self.query_one("#audit-lines", RichLog)
        deck = cast("Deck", self.app)
        for ts, text in deck.audit:
            audit.write(f"{time.strftime('%H:%M:%S', time.localtime(ts))}  {redact(text)}")
        if not deck.audit:
            audit.write(Text("no actions taken from this dashboard yet", style="dim"))
        LOG_BUFFER.subscribe(self._on_line)

    def on_unmount(self) -> None:
        LOG_BUFFER.unsubscribe(self._on_line)

    def _on_line(self, line: LogLine) -> None:
        # Called from any thread: hop onto the UI thread.
        try:
            self.app.call_from_thread(self._append, line)
        except RuntimeError:
            self._append(line)

    def _append(self, line: LogLine) -> None:
        if self.is_attached:
            self.query_one("#log-lines", RichLog).write(self._fmt(line))

    @staticmethod
    def _fmt(line: LogLine) -> Text:
        stamp = time.strftime("%H:%M:%S", time.localtime(line.ts))
        return Text(
            f"{stamp} {line.level:<7} {line.logger}: {redact(line.message)}",
            style=_LEVEL.get(line.level, ""),
        )
