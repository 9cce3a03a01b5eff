"""Run detail: header, step waterfall, live output, report, events, result."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Markdown, Static, TabbedContent, TabPane

from workflows.models import STREAM_KEY

from ..formatting import clock_time, countdown, duration, row_status
from ..messages import WorkflowsRefreshed
from ..supervisor import RunDetail, SupervisorError, WorkflowRow
from ..widgets.branches import BranchesPane
from ..widgets.find import FindBar
from ..widgets.footer import Footer
from ..widgets.output import OutputPane
from ..widgets.step_costs import StepCosts
from ..widgets.tables import PlainTable
from ..widgets.text import escape, show_text
from ..widgets.timeline import Timeline, TimelineItem, build_items, hidden_steps
from ..widgets.workflow_table import budget_cell
from .base import RunActionsScreen

__all__ = ["DetailScreen"]

#: Workflows whose detail has a Cost tab (their steps call Claude).
COST_TAB_WORKFLOWS = frozenset({"research", "research.question", "compare", "compare.branch"})
#: How often the detail screen reads its streams while the run is active.
STREAM_POLL_S = 0.02


class DetailScreen(RunActionsScreen):
    """One run: its header, the step waterfall, the live output, the report, events and result.

    The run actions of :class:`RunActionsScreen` act on this run.

    | Key(s) | Description |
    | :- | :- |
    | escape | Back to the screen underneath. |
    | enter | Open the child workflow of the selected step (else show the output). |
    | h | Show or hide DBOS's bookkeeping steps in the timeline. |
    | o | The output tab. |
    | m | The report tab (Markdown). |
    | e | The events tab. |
    | b | The branches tab (fork-compare runs). |
    | p | Open the parent run. |
    | / | Find in the output shown. |
    | x | Export the run to a Markdown or JSON file. |
    | $ | The cost per step tab (research and compare runs). |
    """

    BINDINGS = [
        Binding("escape", "back", "Back", id="detail.back"),
        Binding("enter", "open_step", "Open child", id="detail.open"),
        Binding("h", "toggle_internal", "DBOS steps", id="detail.internal"),
        Binding("o", "tab('output')", "Output", id="detail.output"),
        Binding("m", "tab('report')", "Report", id="detail.report"),
        Binding("e", "tab('events')", "Events", id="detail.events"),
        Binding("b", "tab('branches')", "Branches", show=False, id="detail.branches"),
        Binding("p", "open_parent", "Parent", show=False, id="detail.parent"),
        Binding("slash", "find", "Find", key_display="/", id="detail.find"),
        Binding("x", "export", "Export (md/json)", show=False, id="detail.export"),
        Binding(
            "dollar",
            "tab('costs')",
            "Cost per step",
            key_display="$",
            show=False,
            id="detail.costs",
        ),
    ]

    def __init__(self, workflow_id: str) -> None:
        super().__init__()
        self.workflow_id = workflow_id
        self.detail: RunDetail | None = None
        self.show_internal = False
        self.frame = 0
        self.offsets: dict[str, int] = {workflow_id: 0}
        self.other_offsets: dict[str, int] = {}
        self.live_step: tuple[int, str, int] | None = None
        #: The output shows a source chosen by the user, the failed step or the first child
        #: that streamed: no longer switched to a child that starts streaming.
        self._output_chosen = False
        #: The source whose output the pane shows, and its lines not kept when the title said.
        self._output_source = workflow_id
        self._dropped_shown = 0
        self._report_shown = False
        self._stamp: tuple[Any, ...] | None = None
        self._shown: dict[str, object] = {}

    def compose(self) -> ComposeResult:
        yield from self.compose_status()
        yield Static("loading…", id="run-header")
        with Horizontal(id="detail-body"):
            with Vertical(id="timeline-box"):
                yield Timeline(id="timeline")
                yield Static("", id="timeline-hint", classes="-empty")
                yield Static("", id="step-detail")
            with TabbedContent(id="detail-tabs", initial="output"):
                with TabPane("Output", id="output"):
                    yield Static("", id="output-title")
                    pane = OutputPane(id="output-pane")
                    yield pane
                    yield FindBar(pane, id="output-find")
                with TabPane("Report", id="report"):
                    yield Markdown("_No report yet._", id="report-md")
                with TabPane("Branches", id="branches"):
                    yield BranchesPane(id="branches-pane")
                with TabPane("Events", id="events"):
                    yield PlainTable(id="events-table", cursor_type="row")
                with TabPane("Result", id="result"):
                    yield Static("", id="result-text")
                with TabPane("Cost", id="costs"):
                    yield StepCosts(id="step-costs")
        yield Footer()

    def on_mount(self) -> None:
        super().on_mount()
        events = self.query_one("#events-table", DataTable)
        events.add_column("KEY", key="key", width=22)
        events.add_column("VALUE", key="value")
        self.query_one(OutputPane).view_for(self.workflow_id)
        self.query_one(TabbedContent).hide_tab("branches")
        self.query_one(TabbedContent).hide_tab("costs")  # shown for our workflows (load)
        self._set_output_title(self.workflow_id)
        self.query_one(Timeline).focus()
        self.load()
        self.follow_streams()
        self.set_interval(0.2, self._spin)

    def short_changed(self) -> None:
        self._render_detail()  # the header keeps fewer lines on a short terminal

    # -- data -----------------------------------------------------------------------------

    def current_row(self) -> WorkflowRow | None:
        return self.detail.row if self.detail else self.deck.snapshot.by_id().get(self.workflow_id)

    def fork_default_step(self) -> int | None:
        # ``f`` can arrive before the screen has composed (a key right after enter).
        found = self.query(Timeline)
        item = found.first().selected if found else None
        if item is not None and item.key.startswith("s"):
            return item.step_id
        if self.detail:
            failed = [s.step_id for s in self.detail.steps if s.status == "error"]
            return failed[0] if failed else None
        return None

    @on(WorkflowsRefreshed)
    def _refreshed(self, message: WorkflowsRefreshed) -> None:
        related = tuple(
            (r.workflow_id, r.status, r.updated_at, r.progress, r.approval, r.waiting_recv)
            for r in message.snapshot.rows
            if r.workflow_id == self.workflow_id
            or r.parent_id == self.workflow_id
            or r.forked_from == self.workflow_id
        )
        if related != self._stamp:
            self._stamp = related
            self.load()

    @work(exclusive=True, group="detail", exit_on_error=False, description="load run detail")
    async def load(self) -> None:
        try:
            detail = await self.deck.source.detail(self.workflow_id)
        except SupervisorError as exc:
            if self.is_attached:
                show_text(self.query_one("#run-header", Static), f"[red]{escape(str(exc))}[/]")
            return
        if not self.is_attached:  # the screen was closed while loading
            return
        was_active = self.detail.row.active if self.detail else True
        first_load = self.detail is None
        self.detail = detail
        if self.query_one(TabbedContent).active == "costs":
            self.load_costs()
        for child in detail.children:
            self.offsets.setdefault(child.workflow_id, 0)
        self._render_detail()
        if first_load:
            if detail.row.name in COST_TAB_WORKFLOWS:
                self.query_one(TabbedContent).show_tab("costs")
            self._focus_failed_step()
            if detail.branches:
                tabs = self.query_one(TabbedContent)
                tabs.show_tab("branches")
                tabs.active = "branches"
        if was_active and detail.row.status == "SUCCESS" and detail.result_markdown:
            # A compare run's result is the branches tab's table: stay there.
            if not self._report_shown and not detail.branches:
                self._report_shown = True
                if self._reading_output():
                    self.notify("the report is ready: m shows it", timeout=5)
                else:
                    self.query_one(TabbedContent).active = "report"

    @work(exclusive=True, group="costs", exit_on_error=False, description="load step costs")
    async def load_costs(self) -> None:
        """The Cost tab: time, tokens and cost of each Claude step (of the run's children too),
        read when the tab shows and again with each reload of the run while it shows."""
        try:
            steps = await self.deck.source.step_costs(self.workflow_id)
        except SupervisorError as exc:
            self.notify(str(exc), severity="error", timeout=6)
            return
        if self.is_attached:
            self.query_one(StepCosts).show(steps, self.deck.clock())

    @on(TabbedContent.TabActivated)
    def _costs_shown(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id == "costs":
            self.load_costs()

    def _reading_output(self) -> bool:
        """Whether the user is reading the output (finding in it, or scrolled up in it): the
        report then waits for them instead of taking the screen when the run finishes."""
        if self.query_one(TabbedContent).active != "output":
            return False
        return bool(self.query_one(FindBar).display) or not self.query_one(OutputPane).following

    @work(exclusive=True, group="streams", exit_on_error=False, description="follow streams")
    async def follow_streams(self) -> None:
        """One query per tick for every stream of this run (the run and its children).

        Every 20 ms while the run is active: a chunk waits 10 ms for its read on average, and
        the read is one indexed query (~0.1 ms on SQLite, ~0.5 ms on PostgreSQL). On PostgreSQL
        a tick starts when DBOS notifies a write of one of them instead (``wait_streams``).
        """
        interval = STREAM_POLL_S
        while True:
            try:
                batches = await self.deck.source.read_streams(dict(self.offsets))
            except SupervisorError:
                await asyncio.sleep(1.0)
                continue
            for key in self.detail.other_streams if self.detail else ():
                try:
                    more = await self.deck.source.read_streams(
                        {self.workflow_id: self.other_offsets.get(key, 0)}, key=key
                    )
                except SupervisorError:
                    continue
                for b in more:
                    self.other_offsets[key] = b.next_offset
                batches += more
            if not self.is_attached:
                return
            pane = self.query_one(OutputPane)
            branches = self.query_one(BranchesPane)
            with self.app.batch_update():
                for batch in batches:
                    if batch.key != STREAM_KEY:
                        pane.feed_values(batch)
                        continue
                    self.offsets[batch.workflow_id] = batch.next_offset
                    pane.feed(batch)
                    branches.feed(batch)
                    if batch.values:  # entries that are not agentdeck chunks: show them raw
                        pane.feed_values(batch)
                    self._note_live(batch)
                if batches and pane.doc.dropped != self._dropped_shown:
                    self._set_output_title(self._output_source)
            done = (
                self.detail is not None
                and not self.detail.row.active
                and all(not c.active for c in self.detail.children)
            )
            if done and not batches:
                interval = 1.0  # finished: keep an eye out (resume/rewind) but slowly
            elif batches or not done:
                interval = STREAM_POLL_S
            # Woken by DBOS's notification of a write where it sends them (PostgreSQL).
            await self.deck.source.wait_streams(self.offsets, interval)

    def _note_live(self, batch: Any) -> None:
        if batch.workflow_id == self.workflow_id and batch.chunks:
            last = batch.chunks[-1]
            self.live_step = (last.step_id, last.step_name, last.attempt)
        elif batch.chunks and not self._output_chosen:
            # Research fans out: follow the first child that streams until the user picks one.
            self._show_output(batch.workflow_id)

    # -- rendering ------------------------------------------------------------------------

    def _render_detail(self) -> None:
        d = self.detail
        if d is None:
            return
        r = d.row
        now = self.deck.clock()
        # A short terminal keeps the rows for the steps: the header keeps its first line and
        # what asks for attention (waits, timeouts, progress, the error).
        short = self.has_class("-short")
        lines = [
            f"[b]{escape(r.name)}[/]  {row_status(r).markup}  [dim]{escape(r.workflow_id)}[/]",
        ]
        if not short:
            queue = (r.queue or "-") + (f"[{r.partition}]" if r.partition else "")
            lines.append(f"input: {escape(d.input_summary or r.summary or '-')}")
            lines.append(
                f"started {clock_time(r.created_at, now)} · "
                + (
                    f"ended {clock_time(r.completed_at or r.updated_at, now)} · "
                    if not r.active
                    else ""
                )
                + f"took {duration(r.duration(now))} · version {escape(r.app_version or '-')}"
                f" · executor {escape(r.executor or '-')} · queue {escape(queue)}"
            )
        lineage = []
        if r.parent_id:
            lineage.append(f"child of [b]{escape(r.parent_id)}[/] (p)")
        if r.forked_from:
            lineage.append(f"forked from [b]{escape(r.forked_from)}[/]")
        if d.forks:
            lineage.append("forks: " + ", ".join(escape(f) for f in d.forks))
        if lineage and not short:
            lines.append(" · ".join(lineage))
        if r.stranded:
            lines.append(f"[reverse bold red] ⚠ stranded: {escape(r.stranded)} — r takes over [/]")
        if r.active and r.deadline is not None:
            lines.append(
                f"[magenta]⧖ workflow timeout {duration(r.timeout_s)}: cancelled in "
                f"{countdown(r.deadline, now)} unless it finishes[/]"
            )
        elif r.active and r.timeout_s:
            lines.append(f"[magenta]⧖ workflow timeout {duration(r.timeout_s)} once it starts[/]")
        if r.timed_out == "workflow":
            lines.append(
                f"[reverse bold magenta] ⧗ timed out: DBOS cancelled it at its "
                f"{duration(r.timeout_s)} deadline — r resumes it with a new deadline [/]"
            )
        elif r.timed_out == "approval":
            lines.append(
                "[reverse bold magenta] ⧗ the approval timed out: nobody answered in time — "
                "r reruns from the approval [/]"
            )
        asking = [c for c in d.children if c.waiting_approval]
        if asking and not r.waiting_approval:
            lines.append(
                f"[reverse bold yellow] ⏸ child {escape(asking[0].workflow_id)} waits for your "
                "approval — enter on its step, or i [/]"
            )
        if r.waiting_approval:
            left = countdown(r.approval.deadline if r.approval else None, now)
            lines.append(
                "[reverse bold yellow] ⏸ waiting for your approval — press a [/]"
                + (f" [yellow]⧗ times out in {left}[/]" if left else "")
            )
        elif r.waiting_message:
            topics = ", ".join(d.pending_topics) or "none"
            lines.append(
                "[reverse bold yellow] ⏸ blocked in recv — press a to send a message [/]"
                f" [dim](unconsumed topics: {escape(topics)})[/]"
            )
        if r.progress is not None:
            p = r.progress
            lines.append(
                f"progress: {escape(p.phase)} {p.done}/{p.total}"
                if p.total
                else f"progress: {escape(p.phase)}"
            )
            spent = budget_cell(r)
            if spent is not None:
                lines[-1] += f" · budget (spent/budget) {spent.markup}"
        if d.error:
            lines.append(f"[bold red]error:[/] {escape(d.error[:300])}")
        show_text(self.query_one("#run-header", Static), "\n".join(lines))
        self._render_timeline()
        # Each refresh while the run moves would otherwise clear and refill the events table,
        # re-parse the report and update the result: each of those lays the screen out and
        # repaints every widget (bench/many_streams.py --screen detail). Only what changed is.
        events = tuple((e.key, _compact(e.value)) for e in d.events)
        if self._changed("events", events):
            table = self.query_one("#events-table", DataTable)
            table.clear()
            for key, value in events:
                table.add_row(key, value, key=key)
        if d.result_markdown and self._changed("report", d.result_markdown):
            self.query_one("#report-md", Markdown).update(d.result_markdown)
        if d.branches:
            self.query_one(BranchesPane).show(d.branches, d.winner, now)
        else:
            self.query_one(BranchesPane).no_branches()
        if d.error:
            result = f"[bold red]{escape(d.error)}[/]"
        elif d.result is not None:
            result = escape(_compact(d.result, 4000))
        else:
            result = "[dim]no result yet[/]"
        show_text(self.query_one("#result-text", Static), result)

    def _changed(self, part: str, value: object) -> bool:
        """Whether ``part`` of the screen would show something new (and remember it)."""
        if self._shown.get(part, _NOTHING) == value:
            return False
        self._shown[part] = value
        return True

    def _focus_failed_step(self) -> None:
        timeline = self.query_one(Timeline)
        keys = list(timeline.items)
        failed = [k for k, i in timeline.items.items() if i.status == "error"]
        if failed:
            item = timeline.items[failed[0]]
            timeline.move_cursor(row=keys.index(failed[0]), animate=False)
            self._show_step(item)
            self._show_output(item.child_id or self.workflow_id)  # the failed step's output

    def _render_timeline(self) -> None:
        d = self.detail
        if d is None:
            return
        now = self.deck.clock()
        items = build_items(d, now, show_internal=self.show_internal, live_step=self.live_step)
        t0 = d.row.created_at or now
        ends = [i.ended for i in items if i.ended] + [d.row.completed_at or 0]
        t1 = now if d.row.active else max([t0 + 0.001, *[e for e in ends if e]])
        timeline = self.query_one(Timeline)
        timeline.show(items, t0, t1, self.frame)
        self._show_hint(hidden_steps(d), shown=sum(i.internal for i in items))
        # The box says what the row under the cursor says now: the row keeps its key while its
        # step moves on (running → done, waiting → answered), so no highlight tells it.
        if timeline.selected is not None:
            self._show_step(timeline.selected)

    def _show_hint(self, hidden: int, *, shown: int) -> None:
        """How many DBOS bookkeeping steps the timeline hides, and the key that shows them."""
        steps = f"{hidden} DBOS step{'s' if hidden != 1 else ''}"
        if not hidden:
            text = ""
        elif shown and not self.show_internal:
            text = f"only DBOS steps in this run: {steps} shown"
        elif shown:
            text = f"{steps} shown · h hides them"
        else:
            text = f"{steps} hidden · h shows them"
        hint = self.query_one("#timeline-hint", Static)
        hint.set_class(not text, "-empty")
        show_text(hint, text)

    def _spin(self) -> None:
        self.frame = int(self.deck.clock() * 5)
        if self.detail is not None and self.detail.row.active:
            self._render_timeline()

    def _show_output(self, source: str) -> None:
        """Show ``source``'s output from now on (the run's or a child's)."""
        self._output_chosen = True
        self.query_one(OutputPane).select(source)
        self._set_output_title(source)

    def _set_output_title(self, source: str) -> None:
        label = "this run" if source == self.workflow_id else f"child {source}"
        self._output_source = source
        dropped = self._dropped_shown = (
            self.query_one(OutputPane).views.get(source, self.query_one(OutputPane).doc).dropped
        )
        kept = (
            f" · [yellow]{dropped:,} earlier lines not kept here[/] [dim](agentdeck stream "
            f"{escape(source)} prints them all)[/]"
            if dropped
            else ""
        )
        show_text(
            self.query_one("#output-title", Static),
            f"[b]Output[/] · {escape(label)}{kept} · [dim]enter on a step row switches; "
            "scroll up to pause following[/]",
        )

    # -- keys -----------------------------------------------------------------------------

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_export(self) -> None:
        """The run to a Markdown or JSON file (a read: read-only dashboards export too)."""
        from ..modals.export import ExportScreen

        self.app.push_screen(ExportScreen(self.workflow_id))

    def action_toggle_internal(self) -> None:
        self.show_internal = not self.show_internal
        self._render_timeline()
        items = self.query_one(Timeline).items.values()
        if not self.show_internal and any(i.internal for i in items):
            self.notify("this run has only DBOS steps: they stay shown", timeout=3)

    def action_find(self) -> None:
        """Find in the output shown (the Output tab comes to the front)."""
        self.query_one(TabbedContent).active = "output"
        self.query_one(FindBar).open()

    def action_tab(self, tab: str) -> None:
        tabs = self.query_one(TabbedContent)
        if tab == "costs" and not (self.detail and self.detail.row.name in COST_TAB_WORKFLOWS):
            self.notify("cost per step: research and compare runs", timeout=3)
            return
        if tab == "branches" and not (self.detail and self.detail.branches):
            self.notify("only fork-compare runs have branches", timeout=3)
            return
        tabs.active = tab

    @on(TabbedContent.TabActivated, "#detail-tabs")
    def _tab_changed(self, event: TabbedContent.TabActivated) -> None:
        # Branches side by side need the width: the timeline steps aside while they show.
        self.set_class(event.pane.id == "branches", "-branches")

    def action_open_parent(self) -> None:
        row = self.current_row()
        if row is not None and row.parent_id:
            self.deck.open_run(row.parent_id)

    @on(Timeline.RowHighlighted, "#timeline")
    def _step_highlighted(self, event: Timeline.RowHighlighted) -> None:
        item = self.query_one(Timeline).items.get(event.row_key)
        if item is None:
            return
        self._show_step(item)
        if not event.by_user:
            # The timeline's first rows, or rows changing under the cursor: not a choice, so
            # the output keeps following the live stream (the first child that streams).
            return
        self._show_output(item.child_id or self.workflow_id)

    def _show_step(self, item: TimelineItem) -> None:
        bits = [f"[b]{escape(item.name)}[/] · step {item.step_id} · {item.status}"]
        if item.attempts > 1:
            bits.append(f"[yellow]{item.attempts} attempts[/]")
        if item.child_id:
            bits.append(f"child [b]{escape(item.child_id)}[/] (enter opens)")
        text = " · ".join(bits)
        if item.error:
            text += f"\n[red]{escape(item.error)}[/]"
        elif item.note and item.note != item.child_id:
            text += f"\n[dim]{escape(item.note)}[/]"
        show_text(self.query_one("#step-detail", Static), text)

    @on(Timeline.RowSelected, "#timeline")
    def _step_selected(self, event: Timeline.RowSelected) -> None:
        event.stop()
        self.action_open_step()

    def action_open_step(self) -> None:
        item = self.query_one(Timeline).selected
        if item is not None and item.child_id:
            self.deck.open_run(item.child_id)
        elif item is not None:
            self.query_one(TabbedContent).active = "output"


_NOTHING = object()


def _compact(value: Any, limit: int = 300) -> str:
    if hasattr(value, "model_dump"):
        value = value.model_dump(mode="json")
    try:
        text = json.dumps(value, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
