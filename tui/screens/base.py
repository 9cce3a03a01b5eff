"""What every run-centred screen shares: the status line and the actions on one run."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Static

from ..messages import ConnectionChanged, WorkflowsRefreshed
from ..supervisor import WorkflowRow
from ..widgets.text import escape, show_text
from ..workers import WorkerErrors

if TYPE_CHECKING:
    from ..deck import Deck

__all__ = ["RunActionsScreen", "StatusLine"]


class StatusLine(Static):
    """Mode, database, model and connection: always visible."""

    def refresh_status(self, app: Deck) -> None:
        model = app.model_label or "model: ?"
        offline = "offline" in model.lower()
        model_markup = (
            f"[reverse yellow] {escape(model.upper())} [/]"
            if offline
            else f"[green]{escape(model)}[/]"
        )
        conn = (
            f"[green]● live[/] {escape(app.source.display_url)}"
            if app.connected
            else f"[bold red]● disconnected[/] {escape(app.connection_detail)}"
        )
        ro = " · [bold]read-only[/]" if app.read_only else ""
        code = ""
        if (codec := app.source.codec) is not None:  # --app-path: its code runs, say so
            label = escape(codec.spec.label)
            code = (
                f" · [bold red]⚠ app code {label}: not decoding (l: log)[/]"
                if codec.problem
                else f" · [yellow]⚠ imports app code {label}[/]"
            )
        show_text(self, f"[b]AgentDeck[/] {model_markup} · {app.mode}{ro}{code} · {conn}")


class RunActionsScreen(WorkerErrors, Screen[None]):
    """Cancel / resume / fork / answer on "the current run" (subclasses say which one that is).

    | Key(s) | Description |
    | :- | :- |
    | a | Answer the run's pending approval, or send a message to a run blocked in ``recv``. |
    | c | Cancel the run (asks first). |
    | r | Resume: a failed run is rewound to its failed step; a cancelled one resumes. |
    | f | Fork the run from a step. |
    | L | The fork lineage the run belongs to. |
    | d | Diff a fork's Claude outputs with its origin's. |
    | y | Copy the run's id to the clipboard. |
    """

    BINDINGS = [
        Binding("a", "answer", "Answer", id="run.answer"),
        Binding("c", "cancel", "Cancel", id="run.cancel"),
        Binding("r", "resume", "Resume", id="run.resume"),
        Binding("f", "fork", "Fork", id="run.fork"),
        Binding("L", "lineage", "Lineage", id="run.lineage"),
        Binding("d", "diff", "Diff vs origin", show=False, id="run.diff"),
        Binding("y", "copy_id", "Copy id", show=False, id="run.copy"),
    ]

    @property
    def deck(self) -> Deck:
        return cast("Deck", self.app)

    def compose_status(self) -> ComposeResult:
        yield StatusLine(id="status-line")

    def current_row(self) -> WorkflowRow | None:
        raise NotImplementedError

    def fork_default_step(self) -> int | None:
        return None

    def _need_row(self, verb: str, *, writes: bool = True) -> WorkflowRow | None:
        row = self.current_row()
        if row is None:
            self.notify(f"nothing selected to {verb}", severity="warning")
            return None
        if writes and self.deck.read_only:
            self.notify(f"read-only: cannot {verb}", severity="warning")
            return None
        return row

    def action_copy_id(self) -> None:
        """The selected run's id to the clipboard (OSC 52: works over SSH in most terminals;
        in tmux with ``set-clipboard on``)."""
        row = self._need_row("copy", writes=False)  # read-only dashboards copy too
        if row is None:
            return
        self.app.copy_to_clipboard(row.workflow_id)
        self.notify(f"copied {row.workflow_id}", timeout=2)

    def on_mount(self) -> None:
        self.query_one(StatusLine).refresh_status(self.deck)

    def on_resize(self) -> None:
        short = self.size.height < 30
        became = short != self.has_class("-short")
        self.set_class(self.size.width < 100, "-narrow")
        self.set_class(short, "-short")
        if became:
            self.short_changed()

    def short_changed(self) -> None:
        """The terminal crossed 30 rows (the ``-short`` class): screens that lay out their own
        text for it redo it."""

    @on(ConnectionChanged)
    def _conn(self, message: ConnectionChanged) -> None:
        self.query_one(StatusLine).refresh_status(self.deck)

    @on(WorkflowsRefreshed)
    def _status_on_refresh(self, message: WorkflowsRefreshed) -> None:
        self.query_one(StatusLine).refresh_status(self.deck)

    def action_lineage(self) -> None:
        row = self.current_row()
        if row is None:
            self.notify("nothing selected", severity="warning")
            return
        from .lineage import LineageScreen

        self.app.push_screen(LineageScreen(row.workflow_id))

    def action_diff(self) -> None:
        row = self.current_row()
        if row is None:
            self.notify("nothing selected", severity="warning")
            return
        if not row.forked_from:
            self.notify(
                f"{row.workflow_id} is not a fork: L shows its lineage, where m "
                "marks any two runs to diff",
                severity="warning",
            )
            return
        from .lineage import DiffScreen

        self.app.push_screen(DiffScreen(row.forked_from, row.workflow_id))

    def action_answer(self) -> None:
        row = self._need_row("answer")
        if row is None:
            return
        if row.waiting_message:
            from ..modals.send import SendScreen

            self.app.push_screen(SendScreen(row))
            return
        if not row.waiting_approval or row.approval is None:
            why = "it is not running" if not row.active else "it is not waiting for approval"
            self.notify(f"{row.workflow_id}: nothing to answer ({why})", severity="warning")
            return
        from ..modals.approve import ApproveScreen

        self.app.push_screen(ApproveScreen(row))

    def action_cancel(self) -> None:
        row = self._need_row("cancel")
        if row is None:
            return
        if not row.active:
            self.notify(
                f"{row.workflow_id} is {row.status.lower()}: nothing to cancel", severity="warning"
            )
            return
        self._confirm_then(
            "cancel",
            lambda: self.deck.source.cancel(row.workflow_id),
            f"Cancel {row.workflow_id}? Its running step is stopped; it can be resumed "
            "later with r.",
            title="Cancel run",
        )

    def action_resume(self) -> None:
        row = self._need_row("resume")
        if row is None:
            return
        if row.status == "SUCCESS":
            self.notify(
                f"{row.workflow_id} succeeded: nothing to resume (fork it with f)",
                severity="warning",
            )
            return
        if row.stranded:
            self._confirm_then(
                "take over",
                lambda: self.deck.source.take_over(row.workflow_id),
                f"{row.workflow_id} is stranded: {row.stranded}. Hand it to the live "
                "executors? It resumes from its last completed step.",
                title="Take over",
            )
            return
        if row.active:
            self.notify(f"{row.workflow_id} is still {row.status.lower()}", severity="warning")
            return
        self._do("resume", self.deck.source.resume(row.workflow_id))

    def action_fork(self) -> None:
        row = self._need_row("fork")
        if row is None:
            return
        from ..modals.fork import ForkScreen

        def done(new_id: str | None) -> None:
            if new_id:
                self.deck.open_run(new_id)

        self.app.push_screen(ForkScreen(row.workflow_id, self.fork_default_step()), done)

    def _confirm_then(
        self, what: str, action: Callable[[], Any], message: str, *, title: str
    ) -> None:
        """Ask first; on yes run ``action()`` (a data-layer coroutine) as an audited action."""
        from ..modals.confirm import ConfirmScreen

        def done(ok: bool | None) -> None:
            if ok:
                self._do(what, action())

        self.app.push_screen(ConfirmScreen(message, title=title, confirm=title), done)

    @work(group="actions", exit_on_error=False, description="run an action")
    async def _do(self, what: str, coro: Any) -> None:
        await self.deck.act(what, coro)
        self.deck.poller.kick()
