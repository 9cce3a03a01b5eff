"""Fork a run from a chosen step: a new run replays up to it and runs on from there."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from ..supervisor import StepRow, SupervisorError
from ..widgets.timeline import INTERNAL_STEPS
from ..workers import WorkerErrors

if TYPE_CHECKING:
    from ..app import AgentDeckApp

__all__ = ["ForkScreen"]


class ForkScreen(WorkerErrors, ModalScreen[str | None]):
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
            yield OptionList(id="fork-steps")
            yield Static("", id="fork-error", classes="field-error")

    def on_mount(self) -> None:
        self.load()

    @work(exclusive=True, group="fork", exit_on_error=False, description="load steps")
    async def load(self) -> None:
        deck = cast("AgentDeckApp", self.app)
        try:
            detail = await deck.source.detail(self.workflow_id)
        except SupervisorError as exc:
            self.query_one("#fork-error", Static).update(f"[red]{escape(str(exc))}[/]")
            return
        self.steps = [s for s in detail.steps if s.name not in INTERNAL_STEPS]
        options = self.query_one(OptionList)
        for s in self.steps:
            mark = "✖" if s.status == "error" else "✔" if s.status == "done" else "●"
            child = f"  → {s.child_id}" if s.child_id else ""
            label = f"{s.step_id:>3}  {mark} {s.name}{child}"
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

    @work(exclusive=True, group="fork-do", exit_on_error=False, description="fork")
    async def _fork(self, step: int) -> None:
        deck = cast("AgentDeckApp", self.app)
        res = await deck.act("fork", deck.source.fork(self.workflow_id, step))
        if res is not None and res.ok:
            deck.poller.kick()
            self.dismiss(res.workflow_id)
