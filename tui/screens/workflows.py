"""Home: every workflow, newest first, live; filter, tabs, sort; keys act on the selection."""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Input, Static, Tab, Tabs

from ..filtering import TABS, Filter
from ..messages import ConnectionChanged, WorkflowsRefreshed
from ..supervisor import WorkflowRow
from ..widgets.footer import Footer
from ..widgets.text import escape, show_text
from ..widgets.workflow_table import SORTABLE, WorkflowTable
from .base import RunActionsScreen

__all__ = ["WorkflowsScreen"]


def _sort_key(column: str) -> Any:
    if column == "started":
        return lambda r: -(r.created_at or 0)
    if column == "status":
        return lambda r: (r.status, -(r.created_at or 0))
    if column == "name":
        return lambda r: (r.name, -(r.created_at or 0))
    if column == "duration":
        return lambda r: -(r.duration() or 0)
    return lambda r: -(r.cost_usd or 0)


class FilterInput(Input):
    """The `/` filter, with history on up/down."""

    BINDINGS = [
        Binding("up", "history(-1)", "Older filter", show=False),
        Binding("down", "history(1)", "Newer filter", show=False),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            placeholder="filter: words, status:error, name:research, id:abc, is:waiting",
            **kwargs,
        )
        self.history: list[str] = []
        self._pos = 0

    def remember(self, text: str) -> None:
        if text and (not self.history or self.history[-1] != text):
            self.history.append(text)
        self._pos = len(self.history)

    def action_history(self, step: int) -> None:
        if not self.history:
            return
        self._pos = max(0, min(len(self.history), self._pos + step))
        self.value = self.history[self._pos] if self._pos < len(self.history) else ""
        self.cursor_position = len(self.value)


class WorkflowsScreen(RunActionsScreen):
    BINDINGS = [
        Binding("enter", "open", "Open", id="list.open"),
        Binding("slash", "filter", "Filter", key_display="/", id="list.filter"),
        Binding("s", "sort", "Sort", id="list.sort"),
        Binding("t", "toggle_children", "Children", id="list.children"),
        Binding("escape", "clear_filter", "Clear filter", show=False, id="list.clear"),
        *[
            Binding(str(i + 1), f"tab('{tab}')", TABS[tab][0], show=False)
            for i, tab in enumerate(TABS)
        ],
    ]

    def __init__(self) -> None:
        super().__init__()
        self.filter = Filter()
        self.tab = "all"
        self.sort_column = "started"
        self.show_children = False
        self._behind = False

    def compose(self) -> ComposeResult:
        yield from self.compose_status()
        with Horizontal(id="list-bar"):
            yield Tabs(*[Tab(f"{i + 1} {label}", id=key) for i, (key, (label, _)) in
                         enumerate(TABS.items())], id="tabs")  # fmt: skip
            yield Static("", id="sort-label")
        yield FilterInput(id="filter")
        yield WorkflowTable(id="workflows")
        yield Static("", id="counts")
        yield Footer()

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#filter").display = False
        self.query_one(WorkflowTable).focus()
        self._render_rows()
        self.set_interval(1.0, self._tick)

    @property
    def table(self) -> WorkflowTable:
        return self.query_one(WorkflowTable)

    def current_row(self) -> WorkflowRow | None:
        wid = self.table.selected_id
        return self.table.rows_by_id.get(wid) if wid else None

    # -- data -----------------------------------------------------------------------------

    @on(ConnectionChanged)
    def _connection_changed(self, message: ConnectionChanged) -> None:
        if self.is_mounted:
            self._render_rows()

    @on(WorkflowsRefreshed)
    def _refreshed(self, message: WorkflowsRefreshed) -> None:
        if self.is_current:
            self._render_rows()
        else:  # under a run's detail or a dialog: catch up when shown again
            self._behind = True

    def on_screen_resume(self) -> None:
        if self._behind:
            self._behind = False
            self._render_rows()

    def _visible(self) -> list[WorkflowRow]:
        tab_filter = Filter(TABS[self.tab][1])
        return [
            r
            for r in self.deck.snapshot.rows
            if (self.show_children or not r.parent_id or self.filter.text)
            and tab_filter.matches(r)
            and self.filter.matches(r)
        ]

    def _render_rows(self) -> None:
        snap = self.deck.snapshot
        rows = self._visible()
        with self.app.batch_update():
            asking = frozenset(
                r.parent_id for r in snap.rows
                if r.parent_id and (r.waiting_approval or r.waiting_message)
            )  # fmt: skip
            self.table.sync(
                rows, self.deck.clock(), sort_key=_sort_key(self.sort_column), child_waits=asking
            )
            top = [r for r in snap.rows if not r.parent_id]
            waiting = sum(1 for r in snap.rows if r.waiting_approval or r.waiting_message)
            errors = sum(1 for r in top if r.status == "ERROR")
            running = sum(1 for r in top if r.active)
            parts = [f"{len(rows)} shown / {snap.total} workflows"]
            parts.append(f"{running} running")
            parts.append(f"[b yellow]{waiting} waiting approval[/]" if waiting else "0 waiting")
            parts.append(f"[b red]{errors} errors[/]" if errors else "0 errors")
            stranded = sum(1 for r in snap.rows if r.stranded)
            if stranded:
                parts.append(f"[b red]{stranded} stranded (r takes over)[/]")
            if self.filter.text:
                parts.append(f"filter: [b]{escape(self.filter.text)}[/]")
            if not snap.rows and self.deck.connected:
                parts.append("no workflows yet — press [b]n[/] to launch one")
            if not snap.rows and not self.deck.connected:
                # Nothing listed yet: why, in full (the header has room for its start only).
                parts = [f"[b red]not connected:[/] {escape(self.deck.connection_detail)}"]
            show_text(self.query_one("#counts", Static), " · ".join(parts))
            arrow = "newest first" if self.sort_column == "started" else f"by {self.sort_column}"
            kids = " · children shown" if self.show_children else ""
            show_text(self.query_one("#sort-label", Static), f"sort: {arrow}{kids}")

    def _tick(self) -> None:
        if self.is_current:
            self.table.tick(self.deck.clock())

    # -- keys -----------------------------------------------------------------------------

    def action_open(self) -> None:
        row = self.current_row()
        if row is None:
            self.notify("no workflow selected", severity="warning")
            return
        self.deck.open_run(row.workflow_id)

    @on(WorkflowTable.RowSelected)
    def _row_selected(self, event: WorkflowTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    @on(WorkflowTable.HeaderSelected)
    def _header(self, event: WorkflowTable.HeaderSelected) -> None:
        key = event.column_key
        if key in SORTABLE:
            self.sort_column = key
            self._render_rows()

    def action_sort(self) -> None:
        i = SORTABLE.index(self.sort_column) if self.sort_column in SORTABLE else -1
        self.sort_column = SORTABLE[(i + 1) % len(SORTABLE)]
        self._render_rows()

    def action_toggle_children(self) -> None:
        self.show_children = not self.show_children
        self._render_rows()

    def action_filter(self) -> None:
        box = self.query_one(FilterInput)
        box.display = True
        box.focus()

    def action_clear_filter(self) -> None:
        box = self.query_one(FilterInput)
        box.value = ""
        self.filter = Filter()
        box.display = False
        self.table.focus()
        self._render_rows()

    def action_tab(self, tab: str) -> None:
        self.query_one(Tabs).active = tab

    @on(Tabs.TabActivated)
    def _tab(self, event: Tabs.TabActivated) -> None:
        if event.tab.id and event.tab.id in TABS:
            self.tab = event.tab.id
            self._render_rows()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        candidate = Filter(event.value)
        if not candidate.problems():
            self.filter = candidate
            self._render_rows()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        self.apply_filter(event.value)

    def apply_filter(self, text: str) -> bool:
        """Filter the list as if ``text`` were typed after ``/`` and submitted (other screens
        use it, e.g. the queue view's enter). False, with a notice, when ``text`` is invalid."""
        box = self.query_one(FilterInput)
        problems = Filter(text).problems()
        if problems:
            self.notify("; ".join(problems), title="Filter", severity="warning")
            return False
        box.remember(text)
        self.filter = Filter(text)
        if box.value != text:
            box.value = text
        box.display = bool(text)
        self.table.focus()
        self._render_rows()
        return True
