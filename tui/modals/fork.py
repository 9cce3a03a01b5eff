"""Fork a run from a chosen step: a new run replays up to it and runs on from there.

Research runs can also be rerun from a step with a different model or extra instructions: the
fork gets the changed settings before it starts (see ``Supervisor.fork``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from ..supervisor import ActionResult, StepRow, SupervisorError
from ..supervisor.source import SETTINGS_WORKFLOWS
from ..widgets.text import escape
from ..widgets.timeline import INTERNAL_STEPS, step_names
from ..workers import WorkerErrors

if TYPE_CHECKING:
    from ..deck import Deck

__all__ = ["ForkScreen"]


class ForkScreen(WorkerErrors, ModalScreen[str | None]):
    """Pick the step a fork starts from (and, for research runs, another model or instructions);
    enter forks from the highlighted step. Dismissed with the new run's id, or None.

    | Key(s) | Description |
    | :- | :- |
    | escape | Close without forking. |
    """

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel", show=False)]

    def __init__(self, workflow_id: str, default_step: int | None) -> None:
        super().__init__()
        self.workflow_id = workflow_id
        self.default_step = default_step
        self.steps: list[StepRow] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(f"[b]Fork[/] {escape(self.workflow_id)} from step…")
            yield Static(
                "[dim]Steps before the chosen one are reused; it and everything "
                "after run again in a new workflow. enter forks, esc cancels.[/]"
            )
            yield OptionList(id="fork-steps", markup=False)  # step names are data
            with Vertical(id="fork-settings"):
                yield Static(
                    "[b]Rerun with changed settings[/] [dim](optional; tab to edit, blank = "
                    "unchanged; enter forks)[/]"
                )
                yield Input(placeholder="model, e.g. claude-opus-4-1", id="fork-model")
                yield Input(
                    placeholder="extra instructions for the steps that run again",
                    id="fork-instructions",
                )
            yield Static("", id="fork-error", classes="field-error")

    def on_mount(self) -> None:
        self.query_one("#fork-settings").display = False
        self.load()

    @work(exclusive=True, group="fork", exit_on_error=False, description="load steps")
    async def load(self) -> None:
        deck = cast("Deck", self.app)
        try:
            detail = await deck.source.detail(self.workflow_id)
        except SupervisorError as exc:
            self.query_one("#fork-error", Static).update(f"[red]{escape(str(exc))}[/]")
            return
        self.steps = [s for s in detail.steps if s.name not in INTERNAL_STEPS]
        self.query_one("#fork-settings").display = detail.row.name in SETTINGS_WORKFLOWS
        options = self.query_one(OptionList)
        names = step_names(detail.steps)
        for s in self.steps:
            mark = "✖" if s.status == "error" else "✔" if s.status == "done" else "●"
            child = f"  → {s.child_id}" if s.child_id else ""
            label = f"{s.step_id:>3}  {mark} {names[s.step_id]}{child}"
            options.add_option(Option(label, id=str(s.step_id)))
        if not self.steps:
            self.query_one("#fork-error", Static).update("no steps recorded yet: fork from step 1")
            options.add_option(Option("  1  (start)", id="1"))
        default = self.default_step
        if default is None:
            failed = [s.step_id for s in self.steps if s.status == "error"]
            default = failed[0] if failed else None
        ids = [s.step_id for s in self.steps]
        options.highlighted = ids.index(default) if default in ids else 0
        options.focus()

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            self._fork(int(event.option.id))

    @on(Input.Submitted)
    def _submitted(self) -> None:
        options = self.query_one(OptionList)
        if options.highlighted is not None:
            option = options.get_option_at_index(options.highlighted)
            if option.id:
                self._fork(int(option.id))

    def _settings(self) -> dict[str, str] | None:
        model = self.query_one("#fork-model", Input).value.strip()
        instructions = self.query_one("#fork-instructions", Input).value.strip()
        if not (model or instructions):
            return None
        return {k: v for k, v in (("model", model), ("instructions", instructions)) if v}

    @work(exclusive=True, group="fork-do", exit_on_error=False, description="fork")
    async def _fork(self, step: int) -> None:
        deck = cast("Deck", self.app)
        settings = self._settings()
        res: ActionResult | None
        try:
            if settings is not None:
                # Validation errors show in the dialog, which stays open with what was typed.
                res = await deck.source.fork(self.workflow_id, step, settings)
                deck.record(res)
            else:
                res = await deck.act("fork", deck.source.fork(self.workflow_id, step))
        except SupervisorError as exc:
            self.query_one("#fork-error", Static).update(f"[red]✖ {escape(str(exc))}[/]")
            return
        if res is not None and res.ok:
            deck.poller.kick()
            self.dismiss(res.workflow_id)
