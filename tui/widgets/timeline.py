"""The step timeline: a waterfall of a run's steps on a shared time axis."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import events

from ..formatting import duration
from ..supervisor import RunDetail, StepRow, WorkflowRow
from .rowtable import Column, RowTable

__all__ = ["INTERNAL_STEPS", "Timeline", "TimelineItem", "step_names"]

#: DBOS bookkeeping steps hidden unless asked for (`h`).
INTERNAL_STEPS = frozenset(
    {"DBOS.setEvent", "DBOS.sleep", "DBOS.getResult", "DBOS.waitFirst", "DBOS.writeStream",
     "DBOS.closeStream", "clock", "DBOS.getEvent", "DBOS.now", "settings", "approval"}
)  # fmt: skip

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
BAR_WIDTH = 16


@dataclass(frozen=True)
class TimelineItem:
    key: str
    step_id: int
    name: str
    status: str  # done | error | running | waiting | queued | cancelled
    started: float | None
    ended: float | None
    attempts: int = 1
    note: str = ""
    child_id: str = ""


SETTINGS_READ = "settings (recv)"


def step_names(steps: Sequence[StepRow]) -> dict[int, str]:
    """Each step's name as people read it: a ``DBOS.recv`` is named for what it waits for, the
    last of agentdeck's marker steps before it (``settings`` or ``approval``)."""
    names: dict[int, str] = {}
    marker = ""
    for s in steps:
        if s.name in ("settings", "approval"):
            marker = s.name
        if s.name == "DBOS.recv":
            names[s.step_id] = SETTINGS_READ if marker == "settings" else "approval (recv)"
        else:
            names[s.step_id] = s.name
    return names


def build_items(
    detail: RunDetail,
    now: float,
    *,
    show_internal: bool,
    live_step: tuple[int, str, int] | None = None,
) -> list[TimelineItem]:
    """Steps (+ children, + the running step seen in the stream, + a pending approval)."""
    children = {c.workflow_id: c for c in detail.children}
    items: list[TimelineItem] = []
    seen_children: set[str] = set()
    names = step_names(detail.steps)
    for s in detail.steps:
        if s.child_id and s.name not in INTERNAL_STEPS:
            if s.child_id in seen_children:
                continue
            seen_children.add(s.child_id)
            items.append(_child_item(s, children.get(s.child_id), now))
            continue
        name = names[s.step_id]
        if (s.name in INTERNAL_STEPS or name == SETTINGS_READ) and not show_internal:
            continue  # a settings point reads a fork's settings (recv, timeout 0): bookkeeping
        items.append(
            TimelineItem(
                key=f"s{s.step_id}", step_id=s.step_id, name=name, status=s.status,
                started=s.started_at, ended=s.completed_at, attempts=s.attempts,
                note=s.error or s.output_summary,
            )
        )  # fmt: skip
    row = detail.row
    last = detail.steps[-1].step_id if detail.steps else 0
    if row.active and live_step is not None and live_step[0] > last:
        sid, name, attempt = live_step
        items.append(
            TimelineItem(key=f"s{sid}", step_id=sid, name=name, status="running",
                         started=None, ended=None, attempts=attempt, note="streaming…")
        )  # fmt: skip
    if row.waiting_approval and row.approval is not None:
        left = row.approval.deadline - now
        items.append(
            TimelineItem(key="approval", step_id=last + 1, name="approval (recv)",
                         status="waiting", started=row.approval.created_at, ended=None,
                         note=f"waiting for a human · {duration(left)} left · press a")
        )  # fmt: skip
    return items


def _child_item(step: StepRow, child: WorkflowRow | None, now: float) -> TimelineItem:
    status = "queued"
    started, ended = step.started_at, None
    note = step.child_id
    if child is not None:
        status = {
            "SUCCESS": "done", "ERROR": "error", "PENDING": "running", "ENQUEUED": "queued",
            "CANCELLED": "cancelled",
        }.get(child.status, child.status.lower())  # fmt: skip
        started = child.created_at or started
        ended = child.completed_at if not child.active else None
        note = child.error or child.summary or child.workflow_id
    return TimelineItem(
        key=f"c{step.child_id}", step_id=step.step_id, name=f"↳ {step.name}",
        status=status, started=started, ended=ended, note=note, child_id=step.child_id,
    )  # fmt: skip


_GLYPH = {
    "done": ("✔", "green"),
    "error": ("✖", "bold red"),
    "running": ("●", "bold cyan"),
    "waiting": ("⏸", "bold yellow"),
    "queued": ("◌", "blue"),
    "cancelled": ("⊘", "yellow"),
}


def _bar(item: TimelineItem, t0: float, t1: float, frame: int) -> Text:
    span = max(t1 - t0, 1e-3)
    if item.started is None:
        pos = BAR_WIDTH - 1
        return Text(" " * pos + SPINNER[frame % len(SPINNER)], style="cyan")
    start = int((item.started - t0) / span * BAR_WIDTH)
    end_t = item.ended if item.ended is not None else t1
    end = max(start + 1, int(round((end_t - t0) / span * BAR_WIDTH)))
    start, end = min(start, BAR_WIDTH - 1), min(end, BAR_WIDTH)
    style = _GLYPH.get(item.status, ("", ""))[1] or "white"
    body = "━" * (end - start)
    if item.ended is None and item.status in ("running", "waiting"):
        body = body[:-1] + SPINNER[frame % len(SPINNER)]
    return Text(" " * start) + Text(body, style=style) + Text(" " * (BAR_WIDTH - end))


class Timeline(RowTable):
    """One row per step; row keys are stable (``s<id>`` / ``c<child>``); a row is re-rendered
    only when its cells change (a running step's bar and time, its status)."""

    FIXED = (("name", "STEP", 20), ("status", "", 4), ("time", "TIME", 6),
             ("bar", "WATERFALL", BAR_WIDTH))  # fmt: skip

    def __init__(self, **kwargs: Any) -> None:
        columns = [Column(key, label, width) for key, label, width in self.FIXED]
        super().__init__([*columns, Column("note", "DETAIL", 8)], **kwargs)
        self.items: dict[str, TimelineItem] = {}

    def _note_width(self) -> int:
        fixed = sum(w for _, _, w in self.FIXED) + 2 * (len(self.FIXED) + 1) + 3
        return max(8, self.size.width - fixed)

    def on_resize(self, event: events.Resize) -> None:
        self.set_column_width("note", self._note_width())

    @property
    def selected(self) -> TimelineItem | None:
        key = self.cursor_key
        return self.items.get(key) if key else None

    def show(self, items: list[TimelineItem], t0: float, t1: float, frame: int) -> None:
        rows: list[tuple[str, tuple[Any, ...]]] = []
        for item in items:
            glyph, style = _GLYPH.get(item.status, ("?", ""))
            dur = duration((item.ended or t1) - item.started) if item.started is not None else "…"
            mark = Text(glyph, style=style)
            if item.attempts > 1:
                mark.append(f"×{item.attempts}", style="bold yellow")
            note_style = "red" if item.status == "error" else "dim"
            rows.append((item.key, (
                Text(f"{item.step_id:>2} {item.name}"), mark, dur,
                _bar(item, t0, t1, frame), Text(item.note[:200], style=note_style),
            )))  # fmt: skip
        self.items = {i.key: i for i in items}
        self.set_rows(rows)
