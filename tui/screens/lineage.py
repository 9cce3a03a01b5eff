"""Fork lineage as a tree (original → forks → forks of forks), and a side-by-side output diff."""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Static, Tree
from textual.widgets.tree import TreeNode

from ..formatting import clock_time, row_status
from ..supervisor import ForkNode, RunOutputs, SupervisorError
from ..widgets.footer import Footer
from ..widgets.text import escape
from ..workers import WorkerErrors
from .base import StatusLine

if TYPE_CHECKING:
    from ..deck import Deck

__all__ = ["DiffScreen", "LineageScreen", "diff_pair"]


def _label(node: ForkNode, now: float, marked: bool, origin: ForkNode | None) -> Text:
    r = node.row
    text = Text()
    if marked:
        text.append("◆ ", style="bold magenta")
    text.append(r.workflow_id, style="bold")
    text.append("  ")
    text.append_text(row_status(r))
    text.append(f"  {clock_time(r.created_at, now)}", style="dim")
    s = node.settings
    before = origin.settings if origin is not None else None
    if s is not None and not s.empty and before is not None and s != before:
        bits = [f"model {s.model}"] if s.model and s.model != before.model else []
        if s.instructions and s.instructions != before.instructions:
            bits.append(f"“{s.instructions[:40]}{'…' if len(s.instructions) > 40 else ''}”")
        text.append("  " + " · ".join(bits), style="cyan")
    return text


class LineageScreen(WorkerErrors, Screen[None]):
    """The fork tree a run belongs to.

    | Key(s) | Description |
    | :- | :- |
    | escape | Back to the screen underneath. |
    | enter | Open the selected run. |
    | m | Mark the selected run for a diff (again: unmark it). |
    | d | Diff the selected run with the marked one, else with its origin. |
    | R | Read the tree again. |
    """

    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("enter", "open", "Open run"),
        Binding("m", "mark", "Mark for diff"),
        Binding("d", "diff", "Diff"),
        Binding("R", "reload", "Reload", show=False),
    ]

    def __init__(self, workflow_id: str) -> None:
        super().__init__()
        self.workflow_id = workflow_id
        self.root: ForkNode | None = None
        self.marked: str | None = None

    @property
    def deck(self) -> Deck:
        return cast("Deck", self.app)

    def compose(self) -> ComposeResult:
        yield StatusLine(id="status-line")
        yield Static(f"[b]Fork lineage[/] of {escape(self.workflow_id)}", classes="view-title")
        yield Static(
            "[dim]enter opens a run · d diffs the selected run with the one marked with m, or with "
            "the run it was forked from. In cyan: what a fork changed.[/]",
            id="lineage-help",
        )
        yield Tree("runs", id="lineage-tree")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(StatusLine).refresh_status(self.deck)
        tree = self.query_one(Tree)
        tree.show_root = False
        tree.focus()
        self.load()

    @work(exclusive=True, group="lineage", exit_on_error=False, description="load lineage")
    async def load(self) -> None:
        try:
            self.root = await self.deck.source.lineage(self.workflow_id)
        except SupervisorError as exc:
            self.query_one("#lineage-help", Static).update(f"[red]{escape(str(exc))}[/]")
            return
        self._show()

    def _show(self) -> None:
        if self.root is None:
            return
        tree: Tree[ForkNode] = self.query_one(Tree)
        tree.clear()
        now = self.deck.clock()
        selected: TreeNode[ForkNode] | None = None

        def add(parent: TreeNode[ForkNode], node: ForkNode) -> None:
            nonlocal selected
            label = _label(node, now, node.row.workflow_id == self.marked, parent.data)
            item = parent.add(label, data=node, expand=True, allow_expand=bool(node.forks))
            if node.row.workflow_id == self.workflow_id:
                selected = item
            for f in node.forks:
                add(item, f)

        add(tree.root, self.root)
        if selected is not None:
            self.call_after_refresh(tree.move_cursor, selected)

    def _selected(self) -> ForkNode | None:
        node = self.query_one(Tree).cursor_node
        return cast(ForkNode, node.data) if node is not None and node.data is not None else None

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_reload(self) -> None:
        self.load()

    def action_open(self) -> None:
        node = self._selected()
        if node is not None:
            self.deck.open_run(node.row.workflow_id)

    @on(Tree.NodeSelected)
    def _selected_node(self, event: Tree.NodeSelected[ForkNode]) -> None:
        event.stop()
        self.action_open()

    def action_mark(self) -> None:
        node = self._selected()
        if node is None:
            return
        wid = node.row.workflow_id
        self.marked = None if self.marked == wid else wid
        self.workflow_id = wid
        self._show()

    def action_diff(self) -> None:
        node = self._selected()
        if node is None:
            return
        other = self.marked if self.marked and self.marked != node.row.workflow_id else None
        other = other or node.row.forked_from
        if not other:
            self.notify("the original run: mark another run with m, then d", severity="warning")
            return
        self.app.push_screen(DiffScreen(other, node.row.workflow_id))


def diff_pair(left: str, right: str) -> tuple[Text, Text]:
    """Two texts side by side: lines only on the left in red, only on the right in green."""
    a, b = left.splitlines(), right.splitlines()
    lt, rt = Text(), Text()
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            for line in a[i1:i2]:
                lt.append(line + "\n", style="dim")
            for line in b[j1:j2]:
                rt.append(line + "\n", style="dim")
            continue
        for line in a[i1:i2]:
            lt.append(line + "\n", style="red")
        for line in b[j1:j2]:
            rt.append(line + "\n", style="green")
        pad = (i2 - i1) - (j2 - j1)  # keep the two sides level
        (rt if pad > 0 else lt).append("\n" * abs(pad))
    return lt, rt


class DiffScreen(WorkerErrors, Screen[None]):
    """Two runs' Claude outputs side by side, step by step (same-named steps aligned).

    | Key(s) | Description |
    | :- | :- |
    | escape | Back to the screen underneath. |
    | c | Show every step, or only the steps whose outputs differ. |
    """

    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("c", "changed_only", "All / changed steps"),
    ]

    def __init__(self, left: str, right: str) -> None:
        super().__init__()
        self.left_id, self.right_id = left, right
        self.outputs: tuple[RunOutputs, RunOutputs] | None = None
        self.changed_only = True  # what a user diffs runs for; c shows every step

    @property
    def deck(self) -> Deck:
        return cast("Deck", self.app)

    def compose(self) -> ComposeResult:
        yield StatusLine(id="status-line")
        yield Static(
            f"[b]Diff[/] [red]{escape(self.left_id)}[/] ↔ [green]{escape(self.right_id)}[/]",
            classes="view-title",
        )
        yield Static("loading…", id="diff-summary")
        with VerticalScroll(id="diff-body"):
            pass
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(StatusLine).refresh_status(self.deck)
        self.load()

    @work(exclusive=True, group="diff", exit_on_error=False, description="load outputs")
    async def load(self) -> None:
        try:
            left = await self.deck.source.outputs(self.left_id)
            right = await self.deck.source.outputs(self.right_id)
        except SupervisorError as exc:
            self.query_one("#diff-summary", Static).update(f"[red]{escape(str(exc))}[/]")
            return
        self.outputs = (left, right)
        await self._show()

    async def _show(self) -> None:
        if self.outputs is None:
            return
        left, right = self.outputs
        lmap = {label: (model, text) for label, model, text in left.items}
        rmap = {label: (model, text) for label, model, text in right.items}
        labels = list(dict.fromkeys([i[0] for i in left.items] + [i[0] for i in right.items]))
        body = self.query_one("#diff-body", VerticalScroll)
        await body.remove_children()
        changed = 0
        widgets: list[Widget] = []
        for label in labels:
            a, b = lmap.get(label), rmap.get(label)
            same = a == b
            changed += not same
            if same and self.changed_only:
                continue
            if a is None or b is None:
                mark = "[yellow]only in one run[/]"
            elif same:
                mark = "[dim]= same[/]"
            else:
                mark = "[yellow]≠ changed[/]"
                if a[0] != b[0]:
                    mark += f" · model [red]{escape(a[0])}[/] → [green]{escape(b[0])}[/]"
                if a[1] == b[1]:
                    mark += " [dim](same text)[/]"
            widgets.append(Static(f"[b]{escape(label)}[/]  {mark}", classes="diff-head"))
            lt, rt = diff_pair(a[1] if a else "", b[1] if b else "")
            widgets.append(
                Horizontal(
                    Static(
                        lt if a is not None else Text("(no such step)", style="dim"),
                        classes="diff-side",
                    ),
                    Static(
                        rt if b is not None else Text("(no such step)", style="dim"),
                        classes="diff-side",
                    ),
                    classes="diff-row",
                )
            )
        await body.mount_all(widgets)
        self.query_one("#diff-summary", Static).update(
            f"{len(labels)} steps with Claude output · [yellow]{changed} differ[/] · "
            f"left {escape(left.row.status.lower())}, right {escape(right.row.status.lower())}"
            + (
                " · [dim]changed steps only (c: all)[/]"
                if self.changed_only
                else " · [dim]c: changed only[/]"
            )
        )

    def action_back(self) -> None:
        self.app.pop_screen()

    async def action_changed_only(self) -> None:
        self.changed_only = not self.changed_only
        await self._show()
