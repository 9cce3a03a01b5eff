"""Insights: what the list cannot answer at a glance, drawn for a time window.

Runs per bucket by outcome with the failure rate; duration percentiles per workflow and step
name with a histogram of the selected row; cost per bucket by model; the ten most expensive
runs; how long approvals waited for a human; queue depth; errors grouped by their first line.
Every figure comes from ``Source.insights`` (``tui.data.insights``: one statement each, on a
worker thread), read again when the app's change token moves (``WorkflowsRefreshed``), at most
every :data:`MIN_REFRESH_S`. Keys 1-4 switch the window; ``/`` filters with the list's filter
language (the list's own filter applies when the screen opens). Enter on a run opens it.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import suppress
from dataclasses import replace
from typing import TYPE_CHECKING, Any, cast

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Input, Sparkline, Static
from textual.worker import Worker, WorkerState

from ..data.filters import Filter
from ..data.insights import WINDOWS, Insights, InsightsQuery, Spread, merge
from ..formatting import duration, short_id, status_text
from ..insights_text import cost_text
from ..messages import ConnectionChanged, Snapshot, WorkflowsRefreshed
from ..supervisor import SupervisorError
from ..widgets.charts import Chart, CostChart, HistogramChart, RunsChart
from ..widgets.footer import Footer
from ..widgets.step_costs import bar
from ..widgets.tables import PlainTable, cursor_key
from ..widgets.text import escape
from ..workers import WorkerErrors
from .base import StatusLine
from .queues import _sync

if TYPE_CHECKING:
    from ..deck import Deck

__all__ = ["MIN_REFRESH_S", "InsightsScreen"]

#: At most one read of the figures per this many seconds, however often the token moves.
MIN_REFRESH_S = 3.0
#: How long the rest of a first read waits for the runs chart to be drawn, at most.
RUNS_DRAWN_S = 2.0


class InsightsScreen(WorkerErrors, Screen[None]):
    """Charts and tables of one window of runs.

    | Key(s) | Description |
    | :- | :- |
    | escape | Close the filter box, else back to the screen underneath. |
    | 1 | The last hour. |
    | 2 | The last 24 hours. |
    | 3 | The last 7 days. |
    | 4 | The last 30 days. |
    | / | Filter the runs (the list's filter language). |
    """

    quiet_worker_groups = frozenset({"insights"})

    BINDINGS = [
        Binding("escape", "back", "Back", id="insights.back"),
        Binding("1", "window('1h')", "1h", id="insights.1h"),
        Binding("2", "window('24h')", "24h", id="insights.24h"),
        Binding("3", "window('7d')", "7d", id="insights.7d"),
        Binding("4", "window('30d')", "30d", id="insights.30d"),
        Binding("slash", "filter", "Filter", key_display="/", id="insights.filter"),
    ]

    def __init__(self, *, window: str = "24h", filter_text: str = "") -> None:
        super().__init__()
        self.window = window if window in WINDOWS else "24h"
        self.filter_text = filter_text
        self.found: Insights | None = None
        self.error = ""
        #: Reads of the figures so far, and first paints (the runs chart alone) so far.
        self.loads = 0
        self.painted = 0
        #: The next read is the first of a window or filter: the runs chart goes first.
        self._fresh = True
        self._last = 0.0
        self._stale = False
        self._loading = False
        self._timer: Any = None
        self._cells: dict[str, dict[str, Any]] = {t: {} for t in _TABLES}
        self._selected: tuple[str, str] | None = None
        self._hist_loading = False
        #: The app's change token as its snapshots carry it (workflows per status, latest update).
        self._token: tuple[Any, ...] | None = None

    @property
    def deck(self) -> Deck:
        return cast("Deck", self.app)

    # -- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield StatusLine(id="status-line")
        yield Static("", id="insights-title", classes="view-title")
        yield Input(
            value=self.filter_text,
            placeholder="filter: status:error name:research … (enter applies, esc closes)",
            id="insights-filter",
        )
        with VerticalScroll(id="insights-body"):
            yield Static("[b]Runs[/] per bucket", id="runs-head", classes="insights-head")
            yield RunsChart(id="runs-chart")
            with Vertical(id="insights-rest"):
                yield from self._compose_rest()
        yield Footer()

    def _compose_rest(self) -> ComposeResult:
        """Every figure under the runs chart: hidden until the first full read (laid out and
        painted with the screen, they were most of the UI thread's work before the first
        paint: 100-150 ms of a 140x50 screen's first layouts, on the CPU the first statement
        needed)."""
        yield Static("[b]Durations[/] p50 · p95", classes="insights-head")
        with Horizontal(id="durations-row"):
            yield PlainTable(id="durations", cursor_type="row", zebra_stripes=True)
            yield HistogramChart(id="histogram")
        yield Static("[b]Tokens and cost[/] by model", id="cost-head", classes="insights-head")
        with Horizontal(id="cost-row"):
            yield CostChart(id="cost-chart")
            yield PlainTable(id="models", cursor_type="row", zebra_stripes=True)
        yield Static("[b]Most expensive runs[/] (enter opens)", classes="insights-head")
        yield PlainTable(id="top-cost", cursor_type="row", zebra_stripes=True)
        yield Static("[b]Human wait[/] request → answer", classes="insights-head")
        yield PlainTable(id="waits", cursor_type="row", zebra_stripes=True)
        yield Static("[b]Queues[/] depth over the window", classes="insights-head")
        yield Vertical(id="queues-box")
        yield Static("[b]Errors[/] by first line (enter opens the newest)", classes="insights-head")
        yield PlainTable(id="errors", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        self.query_one(StatusLine).refresh_status(self.deck)
        self.query_one("#insights-filter", Input).display = False
        self.query_one("#insights-rest").display = False
        for table_id, columns in _TABLES.items():
            table = self.query_one(f"#{table_id}", DataTable)
            for key, label, width in columns:
                table.add_column(label, key=key, width=width)
        self.query_one("#durations", DataTable).focus()
        self._show_title()
        self._token = _token(self.deck.snapshot)
        self.request_refresh(now=True)

    def on_screen_resume(self) -> None:
        self.request_refresh()

    def on_resize(self) -> None:
        # Side by side from 100 columns; one above the other below that (60x20 stays readable).
        self.set_class(self.size.width < 100, "-narrow")

    # -- reading --------------------------------------------------------------------------

    def insights_query(self) -> InsightsQuery:
        return InsightsQuery(
            window=self.window,
            filter=self.filter_text,
            now=self.deck.clock(),
            selected=self._selected,
        )

    def request_refresh(self, *, now: bool = False) -> None:
        """Read the figures again, at most every :data:`MIN_REFRESH_S` (sooner when the user
        changed the window or filter: ``now``)."""
        if not self.is_current:
            return
        wait = 0.0 if now else self._last + MIN_REFRESH_S - time.monotonic()
        if wait > 0:
            if self._timer is None:
                self._timer = self.set_timer(wait, self._timer_fired)
            return
        self._stale = True
        if not self._loading:
            self._loading = True
            self._load()

    def _timer_fired(self) -> None:
        self._timer = None
        self.request_refresh()

    @work(group="insights", exit_on_error=False, description="read insights")
    async def _load(self) -> None:
        try:
            while self._stale:
                self._stale = False
                self._last = time.monotonic()
                try:
                    found = await self._read()
                except SupervisorError as exc:
                    self.error = str(exc)  # keep the last figures on screen
                else:
                    self.found, self.error = found, ""
                    self.loads += 1
                self._show()
        finally:
            self._loading = False

    async def _read(self) -> Insights:
        """The figures; after a change of window or filter, the runs per bucket first (one
        statement, drawn at once: the first paint), then the rest."""
        query = self.insights_query()
        if not self._fresh:
            return await self.deck.source.insights(query)
        self._fresh = False
        runs = await self.deck.source.insights(replace(query, parts="runs"))
        self._show_runs(runs)
        # The rest once the runs chart is drawn: its reads decode errors and Claude results in
        # Python, which held the GIL from the chart's build thread (the first paint took twice
        # as long at 1M runs).
        with suppress(TimeoutError):
            async with asyncio.timeout(RUNS_DRAWN_S):
                await self.query_one(RunsChart).drawn()
        rest = await self.deck.source.insights(replace(query, parts="rest"))
        return merge(runs, rest)

    def _show_runs(self, runs: Insights) -> None:
        """The title and the runs chart of a first, partial read."""
        with self.app.batch_update():
            self._show_title(runs)
            self.query_one(RunsChart).show(runs.buckets, runs.bucket_s)
        self.painted += 1

    @work(exclusive=True, group="insights-hist", exit_on_error=False, description="histogram")
    async def _load_histogram(self) -> None:
        self._hist_loading = True
        try:
            hist = await self.deck.source.insights_histogram(self.insights_query())
        except SupervisorError as exc:
            self.notify(str(exc), severity="error", timeout=6)
            return
        finally:
            self._hist_loading = False
        self.query_one(HistogramChart).show(hist)

    @property
    def settled(self) -> bool:
        """Every figure read and drawn, nothing in flight (screenshots wait for it)."""
        if self.loads == 0 or self._loading or self._hist_loading:
            return False
        return not any(c.building for c in self.query(Chart))

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR and event.worker.group == "insights":
            self.notify(f"insights: {event.worker.error}", severity="error", timeout=6)

    @on(WorkflowsRefreshed)
    def _refreshed(self, message: WorkflowsRefreshed) -> None:
        """Read again when the change token moved (not for a snapshot of in-flight progress
        only), at most every :data:`MIN_REFRESH_S`."""
        self.query_one(StatusLine).refresh_status(self.deck)
        token = _token(message.snapshot)
        if token != self._token:
            self._token = token
            self.request_refresh()

    @on(ConnectionChanged)
    def _conn(self, message: ConnectionChanged) -> None:
        self.query_one(StatusLine).refresh_status(self.deck)

    # -- drawing --------------------------------------------------------------------------

    def _show(self) -> None:
        found = self.found
        with self.app.batch_update():
            self._show_title()
            if found is None:
                return
            self.query_one("#insights-rest").display = True
            self.query_one(RunsChart).show(found.buckets, found.bucket_s)
            self.query_one(CostChart).show(found.buckets, found.bucket_s)
            self._sync("durations", _durations(found))
            self._sync("models", _models(found))
            self._sync("top-cost", _top_cost(found))
            self._sync("waits", _waits(found))
            self._sync("errors", _errors(found))
            self._show_queues(found)
            if self._selected is None:
                self._select_row()
                if self._selected is None:  # no rows: the chart's hint
                    self.query_one(HistogramChart).show(None)
            else:
                self.query_one(HistogramChart).show(found.histogram)

    def _sync(self, table_id: str, rows: dict[str, dict[str, Any]]) -> None:
        table = self.query_one(f"#{table_id}", DataTable)
        _sync(table, rows, self._cells[table_id])

    def _show_title(self, partial: Insights | None = None) -> None:
        found = partial or self.found
        windows = " ".join(
            f"[reverse] {w} [/]" if w == self.window else f"[dim]{i}[/] {w}"
            for i, w in enumerate(WINDOWS, 1)
        )
        parts = [f"[b]Insights[/] {windows}"]
        if self.filter_text:
            parts.append(f"filter: [b]{escape(self.filter_text)}[/]")
        if found is not None:
            parts.append(f"{found.runs:,} runs")
            rate = _failure_rate(found)
            if rate is not None:
                parts.append(f"[{'red' if rate else 'green'}]{rate:.0%} failed[/]")
            spent = sum(m.cost_usd for m in found.models)
            if spent:
                parts.append(f"{cost_text(spent)} spent")
            if found.capped:
                parts.append("[yellow]cost/errors: newest runs only[/]")
        if (found is None or not found.complete) and not self.error:
            parts.append("[dim]loading…[/]")
        if self.error:
            parts.append(f"[red]{escape(self.error)}[/]")
        self.query_one("#insights-title", Static).update(" · ".join(parts))

    def _show_queues(self, found: Insights) -> None:
        box = self.query_one("#queues-box", Vertical)
        shown = {str(c.id): c for c in box.children}
        wanted = {f"queue-{i}": q for i, q in enumerate(found.queues)}
        for key, child in shown.items():
            if key not in wanted:
                child.remove()
        if not found.queues and "queues-none" not in shown:
            box.mount(Static("[dim]no queued runs in this window[/]", id="queues-none"))
        elif found.queues and "queues-none" in shown:
            shown["queues-none"].remove()
        for key, q in wanted.items():
            label = (
                f"{escape(q.queue[:24]):<24} max {max(q.depth, default=0):>4} · "
                f"oldest {duration(max(q.oldest_s, default=0.0))}"
            )
            if key in shown:
                row = shown[key]
                row.query_one(Static).update(label)
                row.query_one(Sparkline).data = list(q.depth)
            else:
                box.mount(
                    Horizontal(
                        Static(label, classes="queue-label"),
                        Sparkline(list(q.depth), summary_function=max, classes="queue-spark"),
                        id=key,
                        classes="queue-row",
                    )
                )

    # -- selection and keys ----------------------------------------------------------------

    def _select_row(self) -> None:
        key = cursor_key(self.query_one("#durations", DataTable))
        selected = _selection(key)
        if selected != self._selected:
            self._selected = selected
            if selected is not None:
                self._load_histogram()

    @on(DataTable.RowHighlighted, "#durations")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._select_row()

    @on(DataTable.RowSelected, "#top-cost")
    @on(DataTable.RowSelected, "#errors")
    def _open(self, event: DataTable.RowSelected) -> None:
        key = str(event.row_key.value or "")
        found = self.found
        if found is None or not key:
            return
        if event.data_table.id == "errors":
            index = int(key.removeprefix("e"))
            if index < len(found.errors):
                self.deck.open_run(found.errors[index].newest_id)
            return
        self.deck.open_run(key)

    def action_window(self, window: str) -> None:
        if window != self.window:
            self.window = window
            self._fresh = True
            self._show_title()
            self.request_refresh(now=True)

    def action_filter(self) -> None:
        box = self.query_one("#insights-filter", Input)
        box.display = True
        box.focus()

    @on(Input.Submitted, "#insights-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        problems = Filter(text).problems()
        if problems:
            self.notify("; ".join(problems), title="bad filter", severity="error", timeout=6)
            return
        event.input.display = False
        self.query_one("#durations", DataTable).focus()
        if text != self.filter_text:
            self.filter_text = text
            self._fresh = True
            self._show_title()
            self.request_refresh(now=True)

    def action_back(self) -> None:
        box = self.query_one("#insights-filter", Input)
        if box.display:
            box.display = False
            box.value = self.filter_text
            self.query_one("#durations", DataTable).focus()
            return
        self.app.pop_screen()


# -- table contents ------------------------------------------------------------------------

_TABLES: dict[str, tuple[tuple[str, str, int | None], ...]] = {
    "durations": (
        ("kind", "", 4),
        ("name", "NAME", 17),
        ("n", "N", 5),
        ("p50", "P50", 7),
        ("p95", "P95", 7),
        ("bar", "", 12),
        ("failed", "ERR", 3),
    ),
    "models": (
        ("model", "MODEL", 18),
        ("calls", "CALLS", 5),
        ("tokens", "TOKENS", 8),
        ("cost", "COST", 9),
    ),
    "top-cost": (
        ("cost", "COST", 9),
        ("status", "STATUS", 10),
        ("name", "NAME", 18),
        ("id", "ID", 24),
    ),
    "waits": (
        ("kind", "KIND", 8),
        ("answered", "ANSWERED", 8),
        ("p50", "P50", 7),
        ("p95", "P95", 7),
        ("open", "OPEN", 4),
        ("longest", "LONGEST OPEN", 12),
    ),
    "errors": (("count", "N", 4), ("id", "NEWEST RUN", 22), ("line", "FIRST LINE", None)),
}


def _token(snap: Snapshot) -> tuple[Any, ...]:
    """The change token as a snapshot carries it: workflows per status and the latest update of
    the runs in flight (not of the list's page, which moves with the list's query)."""
    latest = max((r.updated_at or 0.0 for r in snap.rows), default=0.0)
    return (snap.total, snap.per_status, latest)


def _selection(key: str | None) -> tuple[str, str] | None:
    if not key or ":" not in key:
        return None
    kind, _, name = key.partition(":")
    return (kind, name)


def _failure_rate(found: Insights) -> float | None:
    failed = sum(b.failed for b in found.buckets)
    ended = sum(b.succeeded + b.failed + b.cancelled for b in found.buckets)
    return failed / ended if ended else None


def _durations(found: Insights) -> dict[str, dict[str, Any]]:
    top = max((s.p95_s or 0.0 for s in (*found.by_name, *found.by_step)), default=0.0)

    def row(kind: str, s: Spread) -> dict[str, Any]:
        failed = s.statuses.get("ERROR", 0) + s.statuses.get("MAX_RECOVERY_ATTEMPTS_EXCEEDED", 0)
        return {
            "kind": Text("wf" if kind == "name" else "step", style="dim"),
            "name": s.name,
            "n": str(s.count),
            "p50": duration(s.p50_s),
            "p95": duration(s.p95_s),
            "bar": Text(bar(s.p95_s, top, 12), style="cyan" if kind == "name" else "magenta"),
            "failed": Text(str(failed), style="red") if failed else Text("", style="dim"),
        }

    rows = {f"name:{s.name}": row("name", s) for s in found.by_name}
    rows.update({f"step:{s.name}": row("step", s) for s in found.by_step})
    return rows


def _models(found: Insights) -> dict[str, dict[str, Any]]:
    return {
        m.model: {
            "model": m.model,
            "calls": str(m.calls),
            "tokens": f"{m.input_tokens + m.output_tokens + m.cache_tokens:,}",
            "cost": cost_text(m.cost_usd),
        }
        for m in found.models
    }


def _top_cost(found: Insights) -> dict[str, dict[str, Any]]:
    return {
        e.workflow_id: {
            "cost": cost_text(e.cost_usd),
            "status": status_text(e.status),
            "name": e.name,
            "id": short_id(e.workflow_id, 24),
        }
        for e in found.top_cost
    }


def _waits(found: Insights) -> dict[str, dict[str, Any]]:
    return {
        w.kind: {
            "kind": w.kind,
            "answered": str(w.answered),
            "p50": duration(w.p50_s),
            "p95": duration(w.p95_s),
            "open": Text(str(w.open), style="bold yellow") if w.open else Text("0", style="dim"),
            "longest": duration(w.longest_open_s) if w.open else "-",
        }
        for w in found.waits
    }


def _errors(found: Insights) -> dict[str, dict[str, Any]]:
    return {
        f"e{i}": {
            "count": str(e.count),
            "id": short_id(e.newest_id, 22),
            "line": Text(e.first_line, style="red"),
        }
        for i, e in enumerate(found.errors)
    }
