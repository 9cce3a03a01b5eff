"""Queues and schedules: limits and load of every DBOS queue; every cron schedule and its runs.

Both screens read through ``tui.supervisor._queues`` (two queries a refresh), when the app's
snapshot changes and every 2 s (queue limits and schedules change without touching any
workflow). Refreshes never overlap: one in flight, at most one more queued behind it. Rows are
updated in place by key, so the cursor stays where it is.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Static
from textual.widgets.data_table import RowDoesNotExist
from textual.worker import Worker, WorkerState

from ..formatting import STATUS_STYLE, duration, status_text
from ..messages import ConnectionChanged, WorkflowsRefreshed
from ..supervisor import SupervisorError
from ..supervisor._queues import PartitionRow, QueueRow, ScheduleRow
from ..widgets.footer import Footer
from ..widgets.tables import PlainTable, cursor_key
from ..widgets.text import escape
from ..workers import WorkerErrors
from .base import StatusLine

if TYPE_CHECKING:
    from ..deck import Deck

__all__ = ["QueuesScreen", "SchedulesScreen", "open_view", "show_workflows"]

R = TypeVar("R", QueueRow, ScheduleRow)

#: Seconds between refreshes when the workflow snapshot does not change.
REFRESH_S = 2.0


def open_view(app: App[None], view: type[Screen[None]]) -> None:
    """Show ``view``; from the other view of this module it replaces that one (no stacking)."""
    if isinstance(app.screen, view):
        return
    if isinstance(app.screen, QueuesScreen | SchedulesScreen):
        app.switch_screen(view())
    else:
        app.push_screen(view())


def show_workflows(screen: Screen[Any], filter_text: str) -> None:
    """Back to the workflow list underneath, filtered by ``filter_text``."""
    from .workflows import WorkflowsScreen

    stack = screen.app.screen_stack
    target = next((s for s in reversed(stack) if isinstance(s, WorkflowsScreen)), None)
    if target is None:  # the list is the app's home screen: not expected
        screen.app.pop_screen()
        return
    target.pop_until_active()
    target.apply_filter(filter_text)


def _same(a: Any, b: Any) -> bool:
    """Cell equality that sees style changes too (``Text.__eq__`` ignores the base style)."""
    if isinstance(a, Text) and isinstance(b, Text):
        return a.plain == b.plain and a.style == b.style and a.spans == b.spans
    return bool(a == b)


def _sync(table: DataTable[Any], rows: dict[str, dict[str, Any]], cache: dict[str, Any]) -> None:
    """Show ``rows`` (key → column → cell) in that order, touching changed cells only.

    The cursor stays on its row when rows come, go or move. When the order changes (a row comes
    in between, a queue's partitions fold), the rows from the first difference on are laid
    again.
    """
    selected = _selected_key(table)
    for key in [k for k in cache if k not in rows]:
        try:
            table.remove_row(key)
        except RowDoesNotExist:
            pass
        cache.pop(key)
    for key, cells in rows.items():
        old = cache.get(key)
        if old is None:
            table.add_row(*cells.values(), key=key)
        else:
            for col, value in cells.items():
                if not _same(old.get(col), value):
                    table.update_cell(key, col, value)
        cache[key] = cells
    order = list(rows)
    shown = [str(row.key.value) for row in table.ordered_rows]
    if shown != order:
        first = next(i for i, (a, b) in enumerate(zip(shown, order, strict=True)) if a != b)
        for key in shown[first:]:
            table.remove_row(key)
        for key in order[first:]:
            table.add_row(*rows[key].values(), key=key)
    if selected in rows:
        index = table.get_row_index(selected)
        if index != table.cursor_row:
            table.move_cursor(row=index, animate=False)


_selected_key = cursor_key


class _LiveTableScreen(WorkerErrors, Screen[None], Generic[R]):
    """A status line, a title, a keyed table refreshed by one single-flight worker.

    | Key(s) | Description |
    | :- | :- |
    | escape | Back to the screen underneath. |
    """

    quiet_worker_groups = frozenset({"views"})

    BINDINGS = [Binding("escape", "back", "Back", id="view.back")]
    NOUN = ""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[R] = []
        self.error = ""
        self._cells: dict[str, Any] = {}
        self._stale = False
        self._loading = False
        #: Successful reads so far (the title tells "loading…" from "none").
        self.loads = 0

    @property
    def deck(self) -> Deck:
        return cast("Deck", self.app)

    @property
    def table(self) -> DataTable[Any]:
        return self.query_one(f"#{self.NOUN}-table", DataTable)

    def compose(self) -> ComposeResult:
        yield StatusLine(id="status-line")
        yield Static("", id=f"{self.NOUN}-title", classes="view-title")
        yield PlainTable(id=f"{self.NOUN}-table", cursor_type="row", zebra_stripes=True)
        yield from self.compose_extra()
        yield Footer()

    def compose_extra(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        self.query_one(StatusLine).refresh_status(self.deck)
        for key, label, width in self.columns():
            self.table.add_column(label, key=key, width=width)
        self.table.focus()
        self._show_title()
        self.request_refresh()
        self.set_interval(REFRESH_S, self.request_refresh)

    def on_screen_resume(self) -> None:
        self.request_refresh()

    # -- what a subclass says -------------------------------------------------------------

    def columns(self) -> Sequence[tuple[str, str, int | None]]:
        raise NotImplementedError

    async def fetch(self) -> list[R]:
        raise NotImplementedError

    def key(self, row: R) -> str:
        return row.name

    def cells(self, row: R, now: float) -> dict[str, Any]:
        raise NotImplementedError

    def entries(self, now: float) -> dict[str, dict[str, Any]]:
        """Every table row, key → column → cell, in order (a row per item by default)."""
        return {self.key(r): self.cells(r, now) for r in self.rows}

    def headline(self) -> str:
        raise NotImplementedError

    # -- refresh --------------------------------------------------------------------------

    def request_refresh(self) -> None:
        if not self.is_current:
            return  # covered by another screen: catch up on resume
        self._stale = True
        if not self._loading:
            self._loading = True
            self._load()

    @work(group="views", exit_on_error=False, description="read queues or schedules")
    async def _load(self) -> None:
        try:
            while self._stale:
                self._stale = False
                try:
                    rows = await self.fetch()
                except SupervisorError as exc:
                    self.error = str(exc)  # keep the last rows on screen
                else:
                    self.rows, self.error = rows, ""
                    self.loads += 1
                self._show_rows()
        finally:
            self._loading = False

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR and event.worker.group == "views":
            self.notify(f"{self.NOUN}: {event.worker.error}", severity="error", timeout=6)

    @on(WorkflowsRefreshed)
    def _refreshed(self, message: WorkflowsRefreshed) -> None:
        self.query_one(StatusLine).refresh_status(self.deck)
        self.request_refresh()

    @on(ConnectionChanged)
    def _conn(self, message: ConnectionChanged) -> None:
        self.query_one(StatusLine).refresh_status(self.deck)

    def _show_rows(self) -> None:
        now = self.deck.clock()
        with self.app.batch_update():
            _sync(self.table, self.entries(now), self._cells)
            self._show_title()
            self.rendered()

    def rendered(self) -> None:
        """After every render (subclasses update side panels)."""

    def _show_title(self) -> None:
        text = self.headline()
        if self.error:
            text += f" · [red]{escape(self.error)}[/]"
        self.query_one(f"#{self.NOUN}-title", Static).update(text)

    # -- keys -----------------------------------------------------------------------------

    def selected(self) -> R | None:
        key = _selected_key(self.table)
        return next((r for r in self.rows if self.key(r) == key), None)

    def action_back(self) -> None:
        self.app.pop_screen()


def _running(n: int, *, full: bool) -> Text:
    style = "bold yellow" if full else "bold cyan" if n else "dim"
    return Text(f"{n}" + (" full" if full else ""), style=style)


def _limit(value: int | None, registered: bool) -> Text:
    if not registered:
        return Text("?", style="dim")
    return Text("∞" if value is None else str(value), style="dim" if value is None else "")


def _period(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{int(seconds // 3600)}h"
    if seconds >= 120 and seconds % 60 == 0:
        return f"{int(seconds // 60)}m"
    return f"{seconds:g}s" if seconds < 120 else duration(seconds)


def _rate(row: QueueRow, now: float) -> Text:
    """``used/limit per period``: starts counted in the limit's current window."""
    if row.rate_limit is None:
        return Text("?" if not row.registered else "-", style="dim")
    return _window(row.rate_used or 0, row.rate_limit, row.rate_period_s, full=row.rate_full)


def _window(used: int, limit: int, period: float | None, *, full: bool) -> Text:
    text = Text(f"{used}/{limit} per {_period(period)}")
    if full:
        text.stylize("bold yellow")
        text.append(" full")
    elif not used:
        text.stylize("dim")
    return text


def _by_priority(row: QueueRow | PartitionRow) -> list[tuple[int, int]]:
    """(priority, queued runs) of the runs queued with a priority, most urgent first."""
    return [(p, n) for p, n in row.queued_by_priority if p > 0]


def _count(n: int) -> Text:
    return Text(str(n), style="bold" if n else "dim")


def _oldest(seconds: float | None) -> Text:
    return Text(
        duration(seconds) if seconds is not None else "-",
        style="" if seconds is not None else "dim",
    )


def partition_key(queue: str, key: str) -> str:
    """A partition's row key, as the list shows a run's queue: ``queue[key]``."""
    return f"{queue}[{key}]"


def _priorities(row: QueueRow | PartitionRow) -> Text:
    """What is queued by priority, most urgent first (``p1×3 p5×1``), or nothing: runs queued
    without a priority count as 0 and are dequeued first (the detail below says how many)."""
    ranked = _by_priority(row)
    return Text(" ".join(f"p{p}×{n}" for p, n in ranked), style="yellow" if ranked else "")


class QueuesScreen(_LiveTableScreen[QueueRow]):
    """Every DBOS queue: its limits, and how many of its workflows run, wait and are delayed.

    Below the table, the selected queue in words: how much of its rate limit the current
    window has used and when a slot frees up, what its priorities mean and what is queued at
    each, its concurrency, and the deduplication ids its runs hold.

    | Key(s) | Description |
    | :- | :- |
    | enter | The list, filtered to the selected queue's (or partition's) workflows. |
    | space | Show or hide the selected partitioned queue's partitions. |
    """

    NOUN = "queues"
    BINDINGS = [
        Binding("enter", "open", "Show its workflows", id="queues.open"),
        Binding(
            "space",
            "fold",
            "Partitions",
            id="queues.fold",
            tooltip="Show or hide the selected partitioned queue's partitions",
        ),
    ]
    #: Partitions shown under a queue at most (by key); the queue's detail counts the rest.
    MAX_PARTITIONS = 50

    def __init__(self) -> None:
        super().__init__()
        #: Partitioned queues whose partitions are hidden (space).
        self.folded: set[str] = set()
        #: Row key of each partition row shown → (its queue, the partition).
        self._partitions: dict[str, tuple[QueueRow, PartitionRow]] = {}

    def compose_extra(self) -> ComposeResult:
        yield Static("", id="queue-detail")

    def on_mount(self) -> None:  # Textual runs the base class's on_mount too
        self.set_interval(1.0, self._show_detail)  # "next slot in …" counts down

    def columns(self) -> Sequence[tuple[str, str, int | None]]:
        return (
            ("name", "QUEUE", 22),
            ("running", "RUNNING", 8),
            ("enqueued", "QUEUED", 7),
            ("delayed", "DELAYED", 7),
            ("oldest", "OLDEST WAIT", 11),
            ("global", "GLOBAL", 6),
            ("worker", "PER WORKER", 10),
            ("rate", "RATE LIMIT (USED)", 18),
            ("priority", "PRIORITY", 14),
            ("dedup", "DEDUP", 5),
        )

    async def fetch(self) -> list[QueueRow]:
        return await self.deck.source.queue_rows(now=self.deck.clock())

    def cells(self, row: QueueRow, now: float) -> dict[str, Any]:
        name = Text(row.name, style="" if row.registered else "dim italic")
        if row.partitions:
            name.append(" ▸" if row.name in self.folded else " ▾", style="dim")
        return {
            "name": name,
            "running": _running(row.running, full=row.saturated),
            "enqueued": _count(row.enqueued),
            "delayed": _count(row.delayed),
            "oldest": _oldest(row.oldest_wait_s),
            "global": _limit(row.global_concurrency, row.registered),
            "worker": _limit(row.worker_concurrency, row.registered),
            "rate": _rate(row, now),
            "priority": _priorities(row),
            "dedup": Text(str(row.dedup_held), style="" if row.dedup_held else "dim"),
        }

    def partition_cells(self, row: QueueRow, p: PartitionRow, last: bool) -> dict[str, Any]:
        """A partition under its queue: its own counts, and the limits each partition has."""
        if row.partition_rate_limit is None:
            rate = Text("?" if not row.registered else "-", style="dim")
        else:
            full = row.partition_rate_full(p)
            rate = _window(
                p.rate_used or 0, row.partition_rate_limit, row.partition_rate_period_s, full=full
            )
        return {
            "name": Text.assemble((" └ " if last else " ├ ", "dim"), p.key),
            "running": _running(p.running, full=row.partition_full(p)),
            "enqueued": _count(p.enqueued),
            "delayed": _count(p.delayed),
            "oldest": _oldest(p.oldest_wait_s),
            "global": _limit(row.partition_concurrency, row.registered),
            "worker": _limit(row.partition_worker_concurrency, row.registered),
            "rate": rate,
            "priority": _priorities(p),
            "dedup": Text("-", style="dim"),  # DBOS: no deduplication on partitioned queues
        }

    def entries(self, now: float) -> dict[str, dict[str, Any]]:
        """Each queue, and under a partitioned one (unless folded) its partitions."""
        out: dict[str, dict[str, Any]] = {}
        self._partitions = {}
        for row in self.rows:
            out[row.name] = self.cells(row, now)
            if row.name in self.folded:
                continue
            shown = row.partitions[: self.MAX_PARTITIONS]
            for i, p in enumerate(shown):
                key = partition_key(row.name, p.key)
                out[key] = self.partition_cells(row, p, last=i == len(shown) - 1)
                self._partitions[key] = (row, p)
        return out

    def selected(self) -> QueueRow | None:
        """The selected queue, or the queue of the selected partition."""
        found = self._partitions.get(_selected_key(self.table) or "")
        return found[0] if found is not None else super().selected()

    def selected_partition(self) -> PartitionRow | None:
        found = self._partitions.get(_selected_key(self.table) or "")
        return found[1] if found is not None else None

    def headline(self) -> str:
        if not self.rows:
            return "[b]Queues[/] · " + ("no queues registered" if self.loads else "loading…")
        running = sum(r.running for r in self.rows)
        queued = sum(r.enqueued for r in self.rows)
        delayed = sum(r.delayed for r in self.rows)
        return (
            f"[b]Queues[/] · {len(self.rows)} queues · {running} running · {queued} queued"
            + (f" · {delayed} delayed" if delayed else "")
            + " · [dim]enter shows a queue's workflows[/]"
        )

    def rendered(self) -> None:
        self._show_detail()

    @on(DataTable.RowHighlighted)
    def _highlighted(self) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        row, part = self.selected(), self.selected_partition()
        box = self.query_one("#queue-detail", Static)
        if row is None:
            box.update("")
        elif part is not None:
            box.update(partition_detail(row, part, self.deck.clock()))
        else:
            box.update(queue_detail(row, self.deck.clock()))

    def action_open(self) -> None:
        row, part = self.selected(), self.selected_partition()
        if row is None:
            self.notify("no queue selected", severity="warning")
            return
        if part is None:
            show_workflows(self, f"queue:{row.name}")
        elif any(ch.isspace() for ch in part.key):
            self.notify(
                f"cannot filter by partition '{part.key}' (it has spaces)", severity="warning"
            )
        else:
            show_workflows(self, f"queue:{row.name} partition:{part.key}")

    def action_fold(self) -> None:
        """Hide the selected queue's partitions, or show them again."""
        row = self.selected()
        if row is None or not row.partitions:
            self.notify("not a queue with partitions", severity="warning")
            return
        self.folded.symmetric_difference_update({row.name})
        self._show_rows()
        self.table.move_cursor(row=self.table.get_row_index(row.name), animate=False)

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()


def queue_detail(row: QueueRow, now: float) -> Text:
    """The selected queue's limits and load, in words."""
    out = Text.assemble((row.name, "bold"))
    if not row.registered:
        out.append(" · not registered by this application: its limits are unknown", style="dim")
        return out
    out.append("\n  rate limit: ", style="dim")
    if row.rate_limit is None:
        out.append("none")
    else:
        out.append(
            f"{row.rate_used or 0} of {row.rate_limit} starts used in the last "
            f"{_period(row.rate_period_s)}"
        )
        if row.rate_full:
            out.append(" · full", style="bold yellow")
            if row.rate_frees_at is not None:
                out.append(f", next slot in {duration(max(0.0, row.rate_frees_at - now))}")
    out.append("\n  priority: ", style="dim")
    ranked = _by_priority(row)
    plain = sum(n for p, n in row.queued_by_priority if p <= 0)
    if ranked:
        out.append("queued " + ", ".join(f"p{p} ×{n}" for p, n in ranked))
        if plain:
            out.append(f", and {plain} without a priority (dequeued before them)")
    else:
        out.append("nothing queued with a priority")
    out.append(" · lower number runs first (p1 most urgent)", style="dim")
    out.append("\n  concurrency: ", style="dim")
    per = "no limit" if row.worker_concurrency is None else str(row.worker_concurrency)
    total = "no limit" if row.global_concurrency is None else str(row.global_concurrency)
    out.append(f"{per} per worker, {total} in all")
    out.append("\n  deduplication: ", style="dim")
    out.append(
        f"{row.dedup_held} id{'s' if row.dedup_held != 1 else ''} held"
        " (an identical launch is refused while its twin is queued or running)"
    )
    if row.delayed:
        out.append(f" · {row.delayed} delayed (debounced launches waiting to start)")
    if row.partitioned:
        out.append("\n  partitions: ", style="dim")
        n = len(row.partitions)
        out.append(f"{n} with work on them" if n else "none with work on them")
        if n > QueuesScreen.MAX_PARTITIONS:
            out.append(f" ({QueuesScreen.MAX_PARTITIONS} shown, by key)")
        out.append(f"; each: {_partition_limits(row)}")
    return out


def _partition_limits(row: QueueRow) -> str:
    """The limits every partition has on its own, in words."""
    parts = []
    if row.partition_concurrency is not None:
        parts.append(f"{row.partition_concurrency} running at once in all")
    if row.partition_worker_concurrency is not None:
        parts.append(f"{row.partition_worker_concurrency} per worker")
    if row.partition_rate_limit is not None:
        parts.append(
            f"{row.partition_rate_limit} starts per {_period(row.partition_rate_period_s)}"
        )
    return ", ".join(parts) or "no limits of its own"


def partition_detail(row: QueueRow, p: PartitionRow, now: float) -> Text:
    """The selected partition's load against the limits each partition has, in words."""
    out = Text.assemble((row.name, "bold"), (" partition ", "dim"), (p.key, "bold"))
    out.append("\n  running: ", style="dim")
    out.append(f"{p.running}")
    if row.partition_concurrency is not None:
        out.append(f" of {row.partition_concurrency} allowed at once")
        if row.partition_full(p):
            out.append(" · full", style="bold yellow")
    out.append("\n  queued: ", style="dim")
    out.append(f"{p.enqueued}")
    if p.oldest_wait_s is not None:
        out.append(f", the oldest waiting {duration(p.oldest_wait_s)}")
    ranked = _by_priority(p)
    if ranked:
        out.append(" (" + ", ".join(f"p{k} ×{n}" for k, n in ranked) + ")")
    if p.delayed:
        out.append(f" · {p.delayed} delayed")
    out.append("\n  rate limit: ", style="dim")
    if row.partition_rate_limit is None:
        out.append("none for the partition")
    else:
        out.append(
            f"{p.rate_used or 0} of {row.partition_rate_limit} starts used in the last "
            f"{_period(row.partition_rate_period_s)}"
        )
        if row.partition_rate_full(p):
            out.append(" · full", style="bold yellow")
            if p.rate_frees_at is not None:
                out.append(f", next slot in {duration(max(0.0, p.rate_frees_at - now))}")
    out.append("\n  each partition: ", style="dim")
    out.append(_partition_limits(row))
    out.append(" · the queue's own limits apply to all partitions together", style="dim")
    return out


def _next_run(row: ScheduleRow, now: float) -> Text:
    if row.status == "paused":
        return Text("paused", style="dim")
    if row.next_run_at is None:
        return Text("never (bad cron?)", style="red")
    left = max(0.0, row.next_run_at - now)
    fmt = "%H:%M" if left < 20 * 3600 else "%m-%d %H:%M"
    at = time.strftime(fmt, time.localtime(row.next_run_at))
    return Text.assemble(("in " + duration(left), "bold" if left < 60 else ""), (f" · {at}", "dim"))


def _glyph(status: str) -> Text:
    full = status_text(status)
    glyph = STATUS_STYLE.get(status, ("?", "", ""))[0]
    return Text(glyph, style=full.style)


class SchedulesScreen(_LiveTableScreen[ScheduleRow]):
    """Every DBOS cron schedule: when it fires next, how its latest runs went.

    | Key(s) | Description |
    | :- | :- |
    | enter | The list, filtered to the selected schedule's runs. |
    | t | Fire the selected schedule now (DBOS's ``trigger_schedule``). |
    """

    NOUN = "schedules"
    BINDINGS = [
        Binding("enter", "open", "Show its runs", id="schedules.open"),
        Binding(
            "t",
            "trigger",
            "Run it now",
            id="schedules.trigger",
            tooltip="Fire the selected schedule now (DBOS trigger_schedule)",
        ),
    ]

    def compose_extra(self) -> ComposeResult:
        yield Static("", id="schedule-runs")

    def on_mount(self) -> None:  # Textual runs the base class's on_mount too
        self.set_interval(1.0, self._countdown)

    def columns(self) -> Sequence[tuple[str, str, int | None]]:
        return (
            ("name", "SCHEDULE", 20),
            ("workflow", "WORKFLOW", 18),
            ("cron", "CRON", 28),
            ("next", "NEXT RUN", 20),
            ("status", "STATUS", 9),
            ("runs", "LAST RUNS", 10),
        )

    async def fetch(self) -> list[ScheduleRow]:
        return await self.deck.source.schedule_rows(now=self.deck.clock())

    def cells(self, row: ScheduleRow, now: float) -> dict[str, Any]:
        cron = Text(row.cron)
        if row.timezone != "UTC":
            cron.append(f" {row.timezone}", style="dim")
        runs = Text(" ").join(_glyph(r.status) for r in row.last_runs) or Text("never", "dim")
        status = (
            Text("● active", style="green")
            if row.status == "active"
            else Text("⏸ paused", style="yellow")
        )
        return {
            "name": row.name,
            "workflow": row.workflow_name,
            "cron": cron,
            "next": _next_run(row, now),
            "status": status,
            "runs": runs,
        }

    def headline(self) -> str:
        if not self.rows:
            return "[b]Schedules[/] · " + ("no schedules" if self.loads else "loading…")
        active = sum(1 for r in self.rows if r.status == "active")
        return (
            f"[b]Schedules[/] · {len(self.rows)} schedules · {active} active"
            " · [dim]enter shows a schedule's runs · t runs it now[/]"
        )

    def _countdown(self) -> None:
        """Move the countdowns on (no database access)."""
        now = self.deck.clock()
        for row in self.rows:
            key = self.key(row)
            cell = _next_run(row, now)
            cached = self._cells.get(key)
            if cached is not None and cached["next"] != cell:
                cached["next"] = cell
                self.table.update_cell(key, "next", cell)

    def rendered(self) -> None:
        self._show_runs()

    @on(DataTable.RowHighlighted)
    def _highlighted(self) -> None:
        self._show_runs()

    def _show_runs(self) -> None:
        row = self.selected()
        box = self.query_one("#schedule-runs", Static)
        if row is None:
            box.update("")
            return
        now = self.deck.clock()
        out = Text.assemble(("Latest runs of ", "dim"), (row.name, "bold"))
        if row.detail:
            out.append(f" · {row.detail}")
        if row.queue:
            out.append(f" · queue {row.queue}", style="dim")
        if not row.last_runs:
            out.append("\n  none yet", style="dim")
        for run in row.last_runs:
            out.append("\n  ")
            out.append_text(status_text(run.status))
            out.append(f"  {run.workflow_id}")
            if run.created_at is not None:
                out.append(f"  {duration(max(0.0, now - run.created_at))} ago", style="dim")
        box.update(out)

    def action_open(self) -> None:
        row = self.selected()
        if row is None:
            self.notify("no schedule selected", severity="warning")
            return
        if any(ch.isspace() for ch in row.name):
            self.notify(f"cannot filter by '{row.name}' (it has spaces)", severity="warning")
            return
        # DBOS names every scheduled run sched-<schedule>-<time>.
        show_workflows(self, f"id:sched-{row.name}-")

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def action_trigger(self) -> None:
        row = self.selected()
        if row is None:
            self.notify("no schedule selected", severity="warning")
            return
        self._trigger(row.name)

    @work(group="trigger", exit_on_error=False, description="trigger a schedule")
    async def _trigger(self, name: str) -> None:
        if await self.deck.act(f"trigger {name}", self.deck.source.trigger_schedule(name)):
            self.deck.poller.kick()
            self.request_refresh()
