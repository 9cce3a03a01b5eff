"""Home: every workflow in the database, newest first, live; filter, tabs, sort, paging, marks.

The screen holds one window of the matching runs (``Poller.set_query``): the filter, the tabs
and the order are evaluated by the database, the window moves with the cursor (keyset pages),
and the count line says how many runs match. ``space`` / ``*`` mark runs for ``c`` / ``r``.
"""

from __future__ import annotations

from typing import Any, Literal

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Input, Static, Tab, Tabs

from ..data.filters import TABS, Filter
from ..data.reads import SORT_WINDOW, ListQuery
from ..messages import ConnectionChanged, WorkflowsRefreshed
from ..supervisor import ListPage, SupervisorError, WorkflowRow
from ..widgets.footer import Footer
from ..widgets.text import escape, show_text
from ..widgets.workflow_table import SORTABLE, WorkflowTable
from .base import RunActionsScreen

__all__ = ["WorkflowsScreen"]


class FilterInput(Input):
    """The ``/`` filter, with history on up/down.

    | Key(s) | Description |
    | :- | :- |
    | up | The previous filter applied. |
    | down | The next filter applied (past the newest: an empty box). |
    """

    BINDINGS = [
        Binding("up", "history(-1)", "Older filter", show=False),
        Binding("down", "history(1)", "Newer filter", show=False),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            placeholder="filter: words status:error name:research since:1d is:waiting "
            "(? for every term)",
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


#: Runs per window of the list (half above, half below the cursor once it moves away).
PAGE = 200


class WorkflowsScreen(RunActionsScreen):
    """The list of every run; the run actions of :class:`RunActionsScreen` act on the selected one.

    | Key(s) | Description |
    | :- | :- |
    | enter | Open the selected run. |
    | / | Filter (the database evaluates it over every run). |
    | s | Sort: newest, status, name, duration, cost. |
    | t | Show child workflows too. |
    | space | Mark the run. |
    | * | Mark every run the filter matches. |
    | # | Count the matching runs exactly. |
    | escape | Clear the marks, else the filter. |
    | 1, 2, 3, 4, 5 | Tabs: all, running, waiting, failed, done. |
    | c, r | Cancel / resume the marked runs (or the selected one). |
    """

    BINDINGS = [
        Binding("enter", "open", "Open", id="list.open"),
        Binding("slash", "filter", "Filter", key_display="/", id="list.filter"),
        Binding("s", "sort", "Sort", id="list.sort"),
        Binding("t", "toggle_children", "Children", id="list.children"),
        Binding("space", "mark", "Mark", show=False, id="list.mark"),
        Binding(
            "asterisk", "mark_all", "Mark all", key_display="*", show=False, id="list.mark_all"
        ),
        Binding("number_sign", "count", "Count", key_display="#", show=False, id="list.count"),
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
        self._mode: str = "top"
        self._anchor: tuple[object, ...] | None = None
        #: Where the cursor goes once the window asked for arrives ("first" / "last").
        self._cursor_to = ""
        #: Runs marked with space, and the filter whose every match ``*`` marked.
        self.marked: set[str] = set()
        self.marked_all: str | None = None
        self._exact: tuple[str, int] | None = None
        self._typing_problem = ""

    def compose(self) -> ComposeResult:
        yield from self.compose_status()
        with Horizontal(id="list-bar"):
            yield Tabs(
                *[
                    Tab(f"{i + 1} {label}", id=key)
                    for i, (key, (label, _)) in enumerate(TABS.items())
                ],
                id="tabs",
            )
            yield Static("", id="sort-label")
        yield FilterInput(id="filter")
        yield WorkflowTable(id="workflows")
        yield Static("", id="counts")
        yield Footer()

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#filter").display = False
        self.query_one(WorkflowTable).focus()
        self._ask()
        self._render_rows()
        self.set_interval(1.0, self._tick)

    @property
    def table(self) -> WorkflowTable:
        return self.query_one(WorkflowTable)

    def current_row(self) -> WorkflowRow | None:
        wid = self.table.selected_id
        return self.table.rows_by_id.get(wid) if wid else None

    # -- the query ------------------------------------------------------------------------

    def list_filter(self) -> str:
        """The filter the database evaluates: what was typed, the tab, top-level runs only
        unless ``t`` (or a typed filter) asks for children too."""
        parts = [self.filter.text, TABS[self.tab][1]]
        if not self.show_children and not self.filter.text:
            parts.append("is:top")
        return " ".join(p for p in parts if p)

    def list_query(self) -> ListQuery:
        return ListQuery(
            filter=self.list_filter(),
            sort=self.sort_column,  # type: ignore[arg-type]
            mode=self._mode,  # type: ignore[arg-type]
            anchor=self._anchor,
            limit=PAGE,
        )

    def _ask(self, *, reset: bool = False) -> None:
        if reset:
            # The new list from its first row: the cursor left where the old one was (say at
            # its oldest run, after end) showed a window from the middle of the new one.
            self._mode, self._anchor, self._exact = "top", None, None
            self._cursor_to = "first"
        self.deck.poller.set_query(self.list_query())

    @on(WorkflowTable.NearEdge)
    def _near_edge(self, event: WorkflowTable.NearEdge) -> None:
        event.stop()
        page = self.deck.snapshot.page
        if event.direction in ("up", "down"):
            i = self.table.cursor_row
            if 0 <= i < len(page.keys):
                self._mode, self._anchor = "around", page.keys[i]
        elif event.direction == "end":
            self._mode, self._anchor, self._cursor_to = "oldest", None, "last"
        else:
            self._mode, self._anchor, self._cursor_to = "top", None, "first"
        self._ask()

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
        self._ask()
        if self._behind:
            self._behind = False
            self._render_rows()

    def _render_rows(self) -> None:
        snap = self.deck.snapshot
        page = snap.page
        current = page.query == self.list_query()
        if current and self._mode == "around" and page.at_top:
            self._mode, self._anchor = "top", None  # back at the top: new runs appear again
            self._ask()
        with self.app.batch_update():
            asking = frozenset(
                r.parent_id
                for r in snap.rows
                if r.parent_id and (r.waiting_approval or r.waiting_message)
            )
            table = self.table
            table.more_above, table.more_below = not page.at_top, not page.at_end
            table.marked = frozenset(self.marked)
            table.sync(page.rows, self.deck.clock(), child_waits=asking)
            if current and self._cursor_to:
                if self._cursor_to == "last":
                    table.move_cursor(row=table.row_count - 1)
                else:
                    table.move_cursor(row=0)
                self._cursor_to = ""
            show_text(self.query_one("#counts", Static), self._counts(snap.page, current))
            arrow = "newest first" if self.sort_column == "started" else f"by {self.sort_column}"
            if page.windowed and current:
                arrow += f" (among the {SORT_WINDOW:,} newest)"
            kids = " · children shown" if self.show_children else ""
            show_text(self.query_one("#sort-label", Static), f"sort: {arrow}{kids}")

    def _counts(self, page: ListPage, current: bool) -> str:
        snap = self.deck.snapshot
        live_top = [r for r in snap.rows if not r.parent_id]
        waiting = sum(1 for r in snap.rows if r.waiting_approval)
        in_recv = sum(1 for r in snap.rows if r.waiting_message and not r.waiting_approval)
        running = sum(
            1
            for r in live_top
            if r.status == "PENDING" and not (r.waiting_approval or r.waiting_message)
        )
        queued = sum(1 for r in live_top if r.status in ("ENQUEUED", "DELAYED"))
        errors = snap.status_count("ERROR")
        # Unfiltered, the list holds runs (top-level workflows; t shows their children too).
        noun = (
            "match"
            if self.filter.text or self.tab != "all"
            else ("workflows" if self.show_children else "runs")
        )
        if self._exact is not None and self._exact[0] == self.list_filter():
            matching = f"{self._exact[1]:,} {noun}"
        elif page.capped:
            matching = f"{page.matching:,}+ {noun} (# counts)"
        else:
            matching = f"{page.matching:,} {noun}"
        parts = [matching if current else "…"]
        if not snap.total and not page.rows and current:
            parts = []
        if snap.total and noun != "workflows":
            parts.append(f"{snap.total:,} workflows")
        parts.append(f"{running} running")
        if queued:
            parts.append(f"{queued} queued")
        if in_recv:  # another app's recv: a message, not an approval
            parts.append(f"[b yellow]{in_recv} waiting in recv[/]")
        if waiting or not in_recv:
            parts.append(f"[b yellow]{waiting} waiting approval[/]" if waiting else "0 waiting")
        parts.append(f"[b red]{errors:,} errors[/]" if errors else "0 errors")
        stranded = sum(1 for r in snap.rows if r.stranded)
        if stranded:
            parts.append(f"[b red]{stranded} stranded (r takes over)[/]")
        if self.marked_all is not None:
            parts.append(
                f"[b reverse] all {page.matching:,}{'+' if page.capped else ''} matching marked [/]"
            )
        elif self.marked:
            parts.append(f"[b reverse] {len(self.marked)} marked [/]")
        if not page.at_top:
            parts.append("↑ newer runs above (home)")
        if self._typing_problem:
            parts.append(f"[b red]filter: {escape(self._typing_problem)}[/]")
        elif page.error:
            parts.append(f"[b red]filter: {escape(page.error)}[/]")
        elif self.filter.text:
            parts.append(f"filter: [b]{escape(self.filter.text)}[/]")
        if not page.rows and self.deck.connected and not snap.total and current:
            parts.append("no workflows yet — press [b]n[/] to launch one")
        if not page.rows and not self.deck.connected:
            # Nothing listed yet: why, in full (the header has room for its start only).
            parts = [f"[b red]not connected:[/] {escape(self.deck.connection_detail)}"]
        return " · ".join(parts)

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
            self._changed()

    def _changed(self) -> None:
        """The filter, a tab or the order changed: the first window of the new list."""
        self._ask(reset=True)
        self._render_rows()

    def action_sort(self) -> None:
        i = SORTABLE.index(self.sort_column) if self.sort_column in SORTABLE else -1
        self.sort_column = SORTABLE[(i + 1) % len(SORTABLE)]
        self._changed()

    def action_toggle_children(self) -> None:
        self.show_children = not self.show_children
        self._changed()

    def action_filter(self) -> None:
        box = self.query_one(FilterInput)
        box.display = True
        box.focus()

    def action_clear_filter(self) -> None:
        if self.marked or self.marked_all is not None:
            self.marked.clear()
            self.marked_all = None
            self._render_rows()
            return
        box = self.query_one(FilterInput)
        box.value = ""
        self.filter = Filter()
        self._typing_problem = ""
        box.display = False
        self.table.focus()
        self._changed()

    def action_tab(self, tab: str) -> None:
        self.query_one(Tabs).active = tab

    @on(Tabs.TabActivated)
    def _tab(self, event: Tabs.TabActivated) -> None:
        if event.tab.id and event.tab.id in TABS and event.tab.id != self.tab:
            self.tab = event.tab.id
            self._changed()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        candidate = Filter(event.value)
        problems = candidate.problems()
        self._typing_problem = "; ".join(problems)
        if not problems and candidate != self.filter:
            self.filter = candidate
            self._changed()
        else:
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
        self._typing_problem = ""
        changed = Filter(text) != self.filter
        self.filter = Filter(text)
        if box.value != text:
            box.value = text
        box.display = bool(text)
        self.table.focus()
        if changed:
            self._changed()
        return True

    # -- marks and bulk actions -----------------------------------------------------------

    def action_mark(self) -> None:
        row = self.current_row()
        if row is None:
            return
        if self.marked_all is not None:
            self.marked_all = None
        self.marked ^= {row.workflow_id}
        self.table.action_cursor_down()
        self._render_rows()

    def action_mark_all(self) -> None:
        want = self.list_filter()
        if self.marked_all == want:
            self.marked_all = None
        else:
            self.marked_all, self.marked = want, set()
        self._render_rows()

    @work(group="count", exclusive=True, exit_on_error=False, description="count runs")
    async def action_count(self) -> None:
        text = self.list_filter()
        try:
            n = await self.deck.source.count_matching(text)
        except SupervisorError as exc:
            self.notify(str(exc), title="Count", severity="error")
            return
        self._exact = (text, n)
        self._render_rows()

    def _bulk(self) -> tuple[str, list[str]] | None:
        """The marked set: ("filter", [filter]) or ("ids", ids); None when nothing is marked."""
        if self.marked_all is not None:
            return "filter", [self.marked_all]
        if self.marked:
            return "ids", sorted(self.marked)
        return None

    def action_cancel(self) -> None:
        if self._bulk() is None:
            super().action_cancel()
        else:
            self._start_bulk("cancel")

    def action_resume(self) -> None:
        if self._bulk() is None:
            super().action_resume()
        else:
            self._start_bulk("resume")

    def _start_bulk(self, verb: Literal["cancel", "resume"]) -> None:
        if self.deck.read_only:
            self.notify(f"read-only: cannot {verb}", severity="warning")
            return
        marked = self._bulk()
        if marked is None:
            return
        from ..modals.bulk import BulkScreen

        kind, values = marked

        def done(acted: bool | None) -> None:
            if acted:
                self.marked.clear()
                self.marked_all = None
                self.deck.poller.kick()
                self._render_rows()

        self.app.push_screen(
            BulkScreen(
                verb,
                filter_text=values[0] if kind == "filter" else None,
                ids=values if kind == "ids" else None,
            ),
            done,
        )
