"""Bulk cancel / resume: the count and a sample first, then a progress bar, then a summary."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, cast

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, ProgressBar, Static

from ..supervisor import SupervisorError
from ..supervisor.bulk import BulkPlan, plan

if TYPE_CHECKING:
    from ..deck import Deck

__all__ = ["BulkScreen"]

_SAMPLE = 5


class BulkScreen(ModalScreen[bool]):
    """Cancel or resume many runs: every match of ``filter_text``, or ``ids``.

    | Key(s) | Description |
    | :- | :- |
    | y | Go ahead. |
    | escape, n | Back (nothing done), or close once done. |
    """

    BINDINGS = [
        Binding("escape,n", "back", "Back", show=False),
        Binding("y", "go", "Yes", show=False),
    ]

    def __init__(
        self,
        verb: Literal["cancel", "resume"],
        *,
        filter_text: str | None = None,
        ids: list[str] | None = None,
    ) -> None:
        super().__init__()
        self.verb = verb
        self.filter_text = filter_text
        self.ids = ids
        self.plan: BulkPlan | None = None
        self.state: Literal["loading", "asking", "running", "done"] = "loading"

    @property
    def deck(self) -> Deck:
        return cast("Deck", self.app)

    def compose(self) -> ComposeResult:
        title = "Cancel runs" if self.verb == "cancel" else "Resume runs"
        with Vertical(classes="dialog", id="bulk"):
            yield Static(f"[b]{title}[/]", classes="dialog-title")
            yield Static(
                "reading the marked runs…", id="bulk-body", classes="dialog-body", markup=False
            )
            yield ProgressBar(id="bulk-progress", show_eta=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Yes (y)", variant="error", id="yes", disabled=True)
                yield Button("Back (n/esc)", id="no")

    def on_mount(self) -> None:
        self.query_one(ProgressBar).display = False
        self.query_one("#no", Button).focus()
        self._load()

    def _body(self, text: str) -> None:
        self.query_one("#bulk-body", Static).update(text)

    @work(group="bulk", exclusive=True, exit_on_error=False, description="read the marked runs")
    async def _load(self) -> None:
        try:
            rows = await self.deck.source.bulk_rows(filter_text=self.filter_text, ids=self.ids)
        except SupervisorError as exc:
            self._body(f"cannot read the marked runs: {exc}")
            self.state = "done"
            return
        self.plan = p = plan(self.verb, rows)
        noun = "in flight" if self.verb == "cancel" else "failed, cancelled or stuck"
        if not p.act_on:
            left = f" ({p.refused_summary()})" if p.refused else ""
            self._body(
                f"nothing to {self.verb}: none of the {len(rows)} marked run(s) is {noun}{left}."
            )
            self.state = "done"
            self.query_one("#yes", Button).display = False
            self.query_one("#no", Button).label = "Close (esc)"
            return
        sample = "\n".join(
            f"  {r.workflow_id}  {r.name}  {r.shown_status.lower()}  {r.summary[:40]}"
            for r in p.act_on[:_SAMPLE]
        )
        more = f"\n  … and {len(p.act_on) - _SAMPLE:,} more" if len(p.act_on) > _SAMPLE else ""
        what = (
            "cancelled: their running steps stop; r resumes them later"
            if self.verb == "cancel"
            else "resumed: failed runs from their failed step, cancelled ones where they stopped"
        )
        left = f"\n\nleft as they are: {p.refused_summary()}" if p.refused else ""
        self._body(
            f"{self.verb.capitalize()} {len(p.act_on):,} run(s)? They are {what}.\n\n"
            f"{sample}{more}{left}"
        )
        self.state = "asking"
        yes = self.query_one("#yes", Button)
        yes.label = f"{self.verb.capitalize()} {len(p.act_on):,} (y)"
        yes.disabled = False

    def action_go(self) -> None:
        if self.state == "asking":
            self._run()

    def action_back(self) -> None:
        if self.state != "running":
            self.dismiss(self.state == "done" and self.plan is not None and bool(self.plan.act_on))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "yes":
            self.action_go()
        else:
            self.action_back()

    @work(group="bulk", exclusive=True, exit_on_error=False, description="bulk action")
    async def _run(self) -> None:
        assert self.plan is not None
        self.state = "running"
        self.query_one("#yes", Button).disabled = True
        bar = self.query_one(ProgressBar)
        bar.display = True
        bar.update(total=len(self.plan.act_on), progress=0)

        def progress(done: int, total: int) -> None:
            bar.update(total=total, progress=done)

        try:
            result = await self.deck.source.bulk_apply(self.plan, progress)
        except SupervisorError as exc:
            self.deck.record(f"bulk {self.verb}: {exc}", error=True)
            self._body(f"{self.verb} failed: {exc}")
        else:
            message = result.message(self.plan)
            self.deck.record(message, error=bool(result.failed))
            detail = "\n".join(f"  {w}: {why}" for w, why in result.failed[:_SAMPLE])
            self._body(message + (f"\n\nfailed:\n{detail}" if detail else ""))
        self.state = "done"
        self.query_one("#no", Button).label = "Close (esc)"
