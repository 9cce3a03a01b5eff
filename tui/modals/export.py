"""Export a run to a file: Markdown or JSON (``x`` in the run detail; a read, so read-only
dashboards export too)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, cast

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, RadioButton, RadioSet, Static

from ..export_doc import ExportFileError, export_filename, format_of, render, write_file
from ..supervisor import SupervisorError
from ..supervisor.export import ExportFormat, gather
from ..widgets.text import escape
from ..workers import WorkerErrors

if TYPE_CHECKING:
    from ..deck import Deck

__all__ = ["ExportScreen"]

_WHAT = (
    "Markdown: the report, the plan, each step with its time, attempts, tokens and cost, the "
    "approvals (who answered, when) and the errors. JSON: status, input and output as decoded, "
    "every step, events, stream entries, children. Secrets are redacted."
)


class ExportScreen(WorkerErrors, ModalScreen[str | None]):
    """Format, file (``./<short-id>.<ext>`` in the working directory), enter writes it.

    Dismissed with the path written, or None.

    | Key(s) | Description |
    | :- | :- |
    | escape | Close without writing. |
    | ctrl+s | Write the file (as enter does). |
    """

    BINDINGS = [
        Binding("escape", "dismiss(None)", "Close", show=False),
        Binding("ctrl+s", "export", "Export", show=False),
    ]

    def __init__(self, workflow_id: str) -> None:
        super().__init__()
        self.workflow_id = workflow_id

    @property
    def deck(self) -> Deck:
        return cast("Deck", self.app)

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog form", id="export-dialog"):
            yield Static(f"[b]Export[/] {escape(self.workflow_id)}")
            yield Static(_WHAT, classes="dim")
            yield Label("Format")
            with RadioSet(id="format"):
                yield RadioButton("Markdown (.md)", value=True, id="fmt-md")
                yield RadioButton("JSON (.json)", id="fmt-json")
            yield Label("File (replaces the extension when you switch format)")
            yield Input(value=f"./{export_filename(self.workflow_id, 'md')}", id="path")
            yield Static("", id="export-error", classes="field-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Export ⏎", variant="primary", id="export")
                yield Button("Close", id="close")

    def on_mount(self) -> None:
        box = self.query_one("#path", Input)
        box.focus()
        box.cursor_position = len(box.value)

    # -- format and file name ---------------------------------------------------------------

    @property
    def fmt(self) -> ExportFormat:
        return "json" if self.query_one("#fmt-json", RadioButton).value else "md"

    @on(RadioSet.Changed, "#format")
    def _format_changed(self) -> None:
        box = self.query_one("#path", Input)
        path = box.value.strip()
        suffix = Path(path).suffix.lower()
        if suffix in (".md", ".markdown", ".json") and format_of(path) != self.fmt:
            box.value = path[: -len(suffix)] + f".{self.fmt}"

    @on(Input.Changed, "#path")
    def _path_changed(self, event: Input.Changed) -> None:
        self.query_one("#export-error", Static).update("")
        wanted = format_of(event.value.strip(), self.fmt)
        if wanted != self.fmt:  # typing a .json name picks JSON
            self.query_one(f"#fmt-{wanted}", RadioButton).value = True

    # -- export -----------------------------------------------------------------------------

    @on(Input.Submitted, "#path")
    @on(Button.Pressed, "#export")
    def action_export(self) -> None:
        path = self.query_one("#path", Input).value.strip()
        if not path:
            self._error("give a file name")
            return
        self._export(path, self.fmt, overwrite=False)

    @on(Button.Pressed, "#close")
    def _close(self) -> None:
        self.dismiss(None)

    def _error(self, text: str) -> None:
        self.query_one("#export-error", Static).update(f"[red]✖ {escape(text)}[/]")

    def _ask_overwrite(self, path: str, fmt: ExportFormat) -> None:
        from .confirm import ConfirmScreen

        def done(ok: bool | None) -> None:
            if ok:
                self._export(path, fmt, overwrite=True)
            else:
                self.query_one("#path", Input).focus()

        self.app.push_screen(
            ConfirmScreen(f"{path} exists. Replace it?", title="Replace file", confirm="Replace"),
            done,
        )

    @work(exclusive=True, group="export", exit_on_error=False, description="export a run")
    async def _export(self, path: str, fmt: ExportFormat, *, overwrite: bool) -> None:
        """Reads through the data layer (async), renders and writes in a thread: the screen
        stays live however large the run."""
        status = self.query_one("#export-error", Static)
        if not overwrite and await asyncio.to_thread(_exists, path):
            self._ask_overwrite(path, fmt)
            return
        status.update("[dim]exporting…[/]")
        try:
            export = await gather(self.deck.source, self.workflow_id)
        except SupervisorError as exc:
            self._error(str(exc))
            return

        def write() -> Path:
            return write_file(path, render(export, fmt), overwrite=overwrite)

        try:
            written = await asyncio.to_thread(write)
        except FileExistsError:  # made meanwhile by someone else
            status.update("")
            self._ask_overwrite(path, fmt)
            return
        except ExportFileError as exc:
            self._error(str(exc))
            return
        self.app.notify(f"exported {self.workflow_id} to {written}", title="Export", timeout=6)
        self.dismiss(str(written))


def _exists(path: str) -> bool:
    return Path(path).expanduser().exists()
