"""Find in a stream view, as in ``less``: ``/`` opens the bar, the view jumps as you type."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Input, Static

from .stream_view import StreamView
from .text import show_text

__all__ = ["FindBar"]


class FindBar(Horizontal):
    """Incremental find in a :class:`StreamView`: typing marks the first match from the top of
    the view; enter or down the next, up the previous (both wrap round); escape closes.

    | Key(s) | Description |
    | :- | :- |
    | enter, down | The next match (wraps round). |
    | up | The previous match (wraps round). |
    | escape | Close the bar (the mark goes; the view stays where it is). |
    """

    DEFAULT_CSS = """
    FindBar {
        height: 1;
        display: none;
        background: $boost;
    }
    FindBar Input {
        width: 1fr;
        height: 1;
        border: none;
        padding: 0 1;
    }
    FindBar Input:focus {
        border: none;
    }
    FindBar #find-status {
        width: auto;
        padding: 0 1;
    }
    """

    BINDINGS = [
        Binding("escape", "close", "Close find", id="find.close"),
        Binding("down", "step(1)", "Next match", show=False),
        Binding("up", "step(-1)", "Previous match", show=False),
    ]

    def __init__(self, view: StreamView, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.view = view

    def compose(self) -> ComposeResult:
        yield Input(placeholder="find: enter/↓ next, ↑ previous, esc closes", id="find-input")
        yield Static("", id="find-status")

    @property
    def input(self) -> Input:
        """The find box."""
        return self.query_one("#find-input", Input)

    def open(self) -> None:
        """Show the bar and focus its box (marking the match of what it still holds)."""
        self.display = True
        self.input.focus()
        if self.input.value:
            self._find(0)

    def action_close(self) -> None:
        self.display = False
        self.view.clear_mark()
        self.view.focus()

    def action_step(self, step: int) -> None:
        self._find(step)

    @on(Input.Changed, "#find-input")
    def _typed(self, event: Input.Changed) -> None:
        event.stop()
        self._find(0)

    @on(Input.Submitted, "#find-input")
    def _next(self, event: Input.Submitted) -> None:
        event.stop()
        self._find(1)

    def _find(self, step: int) -> None:
        needle = self.input.value
        status = self.query_one("#find-status", Static)
        if not needle:
            self.view.clear_mark()
            show_text(status, "")
            return
        found = self.view.find(needle, step)
        show_text(status, f"{found[0]}/{found[1]}" if found else "[red]no match[/]")
