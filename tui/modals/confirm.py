"""A yes/no dialog for destructive or bulk actions."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

__all__ = ["ConfirmScreen"]


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question; dismissed with True for yes.

    | Key(s) | Description |
    | :- | :- |
    | y | Yes. |
    | n | No. |
    | escape | No (keep things as they are). |
    """

    BINDINGS = [
        Binding("escape", "dismiss(False)", "Keep", show=False),
        Binding("y", "dismiss(True)", "Yes", show=False),
        Binding("n", "dismiss(False)", "No", show=False),
    ]

    def __init__(self, message: str, *, title: str = "Confirm", confirm: str = "OK") -> None:
        super().__init__()
        self.message = message
        self.title_text = title
        self.confirm = confirm

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(f"[b]{self.title_text}[/]", classes="dialog-title")
            yield Static(self.message, classes="dialog-body", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self.confirm} (y)", variant="error", id="yes")
                yield Button("Back (n/esc)", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")
