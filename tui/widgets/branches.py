"""Fork-compare branches side by side: one live output column per branch, a table comparing them."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Static

from ..formatting import duration, status_text
from ..supervisor import BranchRow, StreamBatch
from .output import OutputPane
from .tables import PlainTable
from .text import show_text

__all__ = ["BranchesPane"]

COLUMNS = (
    ("BRANCH", "branch", 7),
    ("MODEL", "model", 20),
    ("STYLE", "style", 10),
    ("STATUS", "status", 12),
    ("WORDS", "words", 6),
    ("TOKENS", "tokens", 7),
    ("COST", "cost", 8),
    ("TIME", "time", 7),
)


class _Column(Vertical):
    def __init__(self, branch: BranchRow) -> None:
        super().__init__(classes="branch-col")
        self.branch = branch
        self.head = Static("", classes="branch-head")
        self.pane = OutputPane(classes="branch-out")
        #: Batches that arrived before the column was mounted (fed on mount, none dropped).
        self.backlog: list[StreamBatch] = []

    def compose(self) -> ComposeResult:
        yield self.head
        yield self.pane

    def on_mount(self) -> None:
        if self.branch.workflow_id:
            self.pane.view_for(self.branch.workflow_id)
        backlog, self.backlog = self.backlog, []
        for batch in backlog:
            self.pane.feed(batch)

    def show(self, branch: BranchRow, winner: str) -> None:
        self.branch = branch
        status = branch.row.status if branch.row else "waiting"
        head = Text.assemble(
            (branch.label, "bold"),
            f" · {branch.model} · {branch.style} · ",
            status_text(status),
        )
        if winner and winner == branch.label:
            head.append("  ★ judged best", style="bold yellow")
        show_text(self.head, head)


class BranchesPane(Vertical):
    """A fork-compare run's branches: a live output column per branch, and a table comparing them.

    Columns are created once per branch; streams are fed to the column of their run.
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.columns: dict[str, _Column] = {}
        self._by_wid: dict[str, _Column] = {}
        self._rows: dict[str, list[Text | str]] = {}
        #: Batches of runs no column is known for yet. A branch may stream (even finish) before
        #: the run's detail names its workflow: its batches wait here for :meth:`show`. Kept
        #: until every branch is named, or :meth:`no_branches` says the run has none.
        self._pending: dict[str, list[StreamBatch]] | None = {}

    def compose(self) -> ComposeResult:
        yield Horizontal(id="branch-cols")
        yield PlainTable(id="compare-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one("#compare-table", DataTable)
        for label, key, width in COLUMNS:
            table.add_column(label, key=key, width=width)

    def show(self, branches: tuple[BranchRow, ...], winner: str, now: float) -> None:
        """Show the branches: a column each (made once), and the comparison table.

        Args:
            branches: The run's branches as the detail reads them.
            winner: The label of the branch the judge chose (``""``: none yet).
            now: The current time in epoch seconds (durations of branches still running).
        """
        cols = self.query_one("#branch-cols", Horizontal)
        for b in branches:
            col = self.columns.get(b.label)
            if col is None:
                col = self.columns[b.label] = _Column(b)
                cols.mount(col)
            if b.workflow_id and b.workflow_id not in self._by_wid:
                self._by_wid[b.workflow_id] = col
                if col.is_mounted:
                    col.pane.view_for(b.workflow_id)
                for batch in (self._pending or {}).pop(b.workflow_id, []):
                    self.feed(batch)
            col.show(b, winner)
        if all(b.workflow_id for b in branches):
            self._pending = None
        table = self.query_one("#compare-table", DataTable)
        rows = {b.label: _cells(b, winner, now) for b in branches}
        if list(rows) != list(self._rows):
            table.clear()  # new branches: rebuild (the cursor stays on its row index)
            for label, cells in rows.items():
                table.add_row(*cells, key=label)
        else:  # the same branches: only changed cells, so the cursor and scroll stay put
            for label, cells in rows.items():
                for (_, key, _), old, new in zip(COLUMNS, self._rows[label], cells, strict=True):
                    if old != new:
                        table.update_cell(label, key, new)
        self._rows = rows

    def no_branches(self) -> None:
        """The run is not a fork-compare: nothing to keep for columns."""
        self._pending = None

    def feed(self, batch: StreamBatch) -> bool:
        """Feed a stream batch to its branch's column.

        Args:
            batch: New chunks of one workflow's output stream.

        Returns:
            Whether a branch's column took it (else it waits until a branch names that workflow,
                or is dropped once the run is known to have no such branch).
        """
        col = self._by_wid.get(batch.workflow_id)
        if col is None:
            if self._pending is not None:
                self._pending.setdefault(batch.workflow_id, []).append(batch)
            return False
        if col.is_mounted:
            col.pane.feed(batch)
        else:
            col.backlog.append(batch)
        return True


def _cells(b: BranchRow, winner: str, now: float) -> list[Text | str]:
    r = b.result.result if b.result is not None else None
    status = b.row.status if b.row else "waiting"
    if b.result is not None and not b.result.ok:
        status = "ERROR"
    took = b.row.duration(now) if b.row else None
    label = Text(b.label + (" ★" if b.label == winner else ""), style="bold")
    return [
        label,
        b.model,
        b.style,
        status_text(status),
        str(b.result.words) if b.result and b.result.ok else "-",
        str(r.usage.output_tokens) if r else "-",
        f"${r.cost_usd:.4f}" if r else "-",
        duration(r.duration_s if r else took),
    ]
