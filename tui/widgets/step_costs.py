"""The run detail's cost-and-time breakdown: a row per Claude step, a bar each for its time,
tokens and cost (the largest of each fills its bar)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from rich.text import Text
from textual.widgets.data_table import RowDoesNotExist

from ..data.insights import StepCost
from ..formatting import duration
from .tables import PlainTable

__all__ = ["StepCosts", "bar"]

_BLOCKS = " ▏▎▍▌▋▊▉█"
BAR = 7


def bar(value: float | None, top: float, width: int = BAR) -> str:
    """A horizontal bar of ``value`` out of ``top`` in ``width`` cells (eighths of a cell).

    Args:
        value: The value (``None`` or 0: no bar).
        top: The value that fills the bar.
        width: The bar's width in cells.

    Returns:
        The bar's characters; ``""`` for no bar.
    """
    if not value or top <= 0:
        return ""
    eighths = max(1, round(min(value / top, 1.0) * width * 8))
    return "█" * (eighths // 8) + (_BLOCKS[eighths % 8] if eighths % 8 else "")


def _cost(usd: float) -> str:
    return f"${usd:.2f}" if usd >= 1 else f"${usd:.4f}"


def _cell(value: str, width: int, drawn: str, style: str) -> Text:
    return Text.assemble(f"{value:>{width}} ", (drawn, style))


class StepCosts(PlainTable):
    """The run detail's cost-and-time breakdown: rows keyed by ``workflow id:step id``, updated in
    place.
    """

    #: A value and its bar share a cell, so the table fits a half-width pane.
    COLUMNS = (
        ("step", "STEP", 12),
        ("time", "TIME", 7 + BAR),
        ("tokens", "TOKENS", 7 + BAR),
        ("cost", "COST", 8 + BAR),
        ("model", "MODEL", 18),
    )

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 (Textual's name)
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.steps: tuple[StepCost, ...] = ()

    def on_mount(self) -> None:
        for key, label, width in self.COLUMNS:
            self.add_column(label, key=key, width=width)

    def show(self, steps: Sequence[StepCost], now: float) -> None:
        """Show these steps, each with its bars scaled to the largest.

        Args:
            steps: The run's Claude steps, in the order they started.
            now: The current time in epoch seconds (steps still running).
        """
        self.steps = tuple(steps)
        top_s = max((s.seconds(now) or 0.0 for s in steps), default=0.0)
        top_t = max((s.tokens for s in steps), default=0)
        top_c = max((s.cost_usd for s in steps), default=0.0)
        repeated = Counter(s.name for s in steps)
        seen: Counter[str] = Counter()
        wanted: dict[str, list[object]] = {}
        for s in steps:
            seen[s.name] += 1
            label = f"{s.name} {seen[s.name]}" if repeated[s.name] > 1 else s.name
            secs = s.seconds(now)
            style = "red" if s.failed else ""
            wanted[f"{s.workflow_id}:{s.step_id}"] = [
                Text(label, style=style),
                _cell(
                    duration(secs) + ("" if s.completed_at else "…"), 6, bar(secs, top_s), "cyan"
                ),
                _cell(f"{s.tokens:,}" if s.tokens else "-", 6, bar(s.tokens, top_t), "magenta"),
                _cell(
                    _cost(s.cost_usd) if s.cost_usd else "-", 7, bar(s.cost_usd, top_c), "yellow"
                ),
                s.model or ("failed" if s.failed else ""),
            ]
        shown = [str(r.key.value) for r in self.ordered_rows]
        if shown != list(wanted):  # a step came or went: lay the rows again
            for key in shown:
                try:
                    self.remove_row(key)
                except RowDoesNotExist:
                    pass
            for key, cells in wanted.items():
                self.add_row(*cells, key=key)
            return
        columns = [c[0] for c in self.COLUMNS]
        for key, cells in wanted.items():
            for col, value in zip(columns, cells, strict=True):
                self.update_cell(key, col, value)
