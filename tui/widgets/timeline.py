"""The step timeline: a waterfall of a run's steps on a shared time axis."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import events

from ..formatting import countdown, duration
from ..supervisor import RunDetail, StepRow, WorkflowRow
from ..supervisor.describe import describe_error
from .rowtable import Column, RowTable

__all__ = [
    "INTERNAL_STEPS",
    "Timeline",
    "TimelineItem",
    "build_items",
    "hidden_steps",
    "recv_wait",
    "step_names",
]

#: DBOS bookkeeping steps hidden unless asked for (`h`).
INTERNAL_STEPS = frozenset(
    {
        "DBOS.setEvent",
        "DBOS.sleep",
        "DBOS.getResult",
        "DBOS.waitFirst",
        "DBOS.writeStream",
        "DBOS.closeStream",
        "clock",
        "DBOS.getEvent",
        "DBOS.now",
        "settings",
        "approval",
        "guards",
    }
)

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
BAR_WIDTH = 16
#: The narrowest waterfall, and the room the DETAIL column gets before the waterfall narrows.
BAR_MIN = 9  # "WATERFALL"
NOTE_MIN = 24


@dataclass(frozen=True)
class TimelineItem:
    """One row of the timeline: a step, a child workflow's start, or the wait a run is in."""

    key: str
    step_id: int
    name: str
    status: str  # done | error | running | waiting | queued | cancelled
    started: float | None
    ended: float | None
    attempts: int = 1
    #: What the step did, in a few words (the DETAIL column; the box under it shows it whole).
    note: str = ""
    child_id: str = ""
    #: The whole error, for the box (the column shows its first line).
    error: str = ""
    #: DBOS bookkeeping (hidden unless asked for, or when the run has nothing else).
    internal: bool = False


SETTINGS_READ = "settings (recv)"
_RECV_AFTER = {"settings": SETTINGS_READ, "approval": "approval (recv)"}


def step_names(steps: Sequence[StepRow]) -> dict[int, str]:
    """Each step's name as people read it: a ``DBOS.recv`` is named for what it waits for, the
    last of agentdeck's marker steps before it (``settings`` or ``approval``).

    Args:
        steps: A run's steps, in order.

    Returns:
        Step id → its name.
    """
    names: dict[int, str] = {}
    marker = ""
    for s in steps:
        if s.name in ("settings", "approval"):
            marker = s.name
        if s.name == "DBOS.recv":  # after no marker (a foreign app): a recv is a recv
            names[s.step_id] = _RECV_AFTER.get(marker, s.name)
        else:
            names[s.step_id] = s.name
    return names


def recv_wait(detail: RunDetail) -> StepRow | None:
    """The ``recv`` the run is blocked in, as the step DBOS will record when it returns.

    While a workflow waits, DBOS has written the wait's timeout as a ``DBOS.sleep`` row at
    function id k+1 and nothing yet at k, the recv itself (``SQL.waiting_in_recv``, which sets
    ``waiting_recv``): the wait is step k, and its row keeps that number once it is answered.

    Args:
        detail: The run's detail.

    Returns:
        A running ``DBOS.recv`` step numbered k; ``None`` when the run waits in no ``recv``.
    """
    if not detail.row.waiting_recv or not detail.steps:
        return None
    last = detail.steps[-1]
    k = last.step_id - 1
    if last.name != "DBOS.sleep" or k < 1 or any(s.step_id == k for s in detail.steps):
        return None
    return StepRow(step_id=k, name="DBOS.recv", status="running", started_at=last.started_at)


def _bookkeeping(step: StepRow, name: str) -> bool:
    if step.child_id and step.name not in INTERNAL_STEPS:
        return False  # a child workflow's start: the child's row
    # A settings point reads a fork's settings (recv, timeout 0): bookkeeping too.
    return step.name in INTERNAL_STEPS or name == SETTINGS_READ


def hidden_steps(detail: RunDetail) -> int:
    """How many of the run's steps are DBOS bookkeeping, which the timeline hides unless asked.

    Args:
        detail: The run's detail.

    Returns:
        The number of bookkeeping steps.
    """
    names = step_names(detail.steps)
    return sum(_bookkeeping(s, names[s.step_id]) for s in detail.steps)


def build_items(
    detail: RunDetail,
    now: float,
    *,
    show_internal: bool,
    live_step: tuple[int, str, int] | None = None,
) -> list[TimelineItem]:
    """Steps (+ children, + the running step seen in the stream, + the recv it waits in).

    DBOS bookkeeping is shown when asked for, and when the run has nothing else to show (a
    workflow made only of DBOS calls opens on its steps, not on an empty table).

    Args:
        detail: The run's detail.
        now: The current time in epoch seconds (countdowns of waits).
        show_internal: Show DBOS's bookkeeping steps (``h``).
        live_step: (step id, name, attempt) of the step the output stream says is running,
            when DBOS has not recorded it yet.

    Returns:
        The timeline's items in step order.
    """
    children = {c.workflow_id: c for c in detail.children}
    row = detail.row
    last = detail.steps[-1].step_id if detail.steps else 0
    live = row.active and live_step is not None and live_step[0] > last
    wait = recv_wait(detail)
    steps = detail.steps
    if wait is not None:
        steps = tuple(sorted((*steps, wait), key=lambda s: s.step_id))
    names = step_names(steps)
    if not show_internal and not live and steps:
        show_internal = all(_bookkeeping(s, names[s.step_id]) for s in steps)
    items: list[TimelineItem] = []
    seen_children: set[str] = set()
    for s in steps:
        if s.child_id and s.name not in INTERNAL_STEPS:
            if s.child_id in seen_children:
                continue
            seen_children.add(s.child_id)
            items.append(_child_item(s, children.get(s.child_id), detail.child_notes))
            continue
        name = names[s.step_id]
        internal = _bookkeeping(s, name)
        if internal and not show_internal:
            continue
        if s is wait:
            items.append(_wait_item(s, name, row, now, internal=internal))
            continue
        items.append(
            TimelineItem(
                key=f"s{s.step_id}",
                step_id=s.step_id,
                name=name,
                status=s.status,
                started=s.started_at,
                ended=s.completed_at,
                attempts=s.attempts,
                note=describe_error(s.error) if s.error else s.output_summary,
                error=s.error,
                internal=internal,
            )
        )
    if live and live_step is not None:
        sid, name, attempt = live_step
        items.append(
            TimelineItem(
                key=f"s{sid}",
                step_id=sid,
                name=name,
                status="running",
                started=None,
                ended=None,
                attempts=attempt,
                note="streaming…",
            )
        )
    return items


def _wait_item(
    step: StepRow, name: str, row: WorkflowRow, now: float, *, internal: bool
) -> TimelineItem:
    """The recv the run waits in: a human's answer (our approvals) or any message."""
    if row.waiting_approval and row.approval is not None:
        note = f"waiting for a human · {duration(row.approval.deadline - now)} left · press a"
    else:
        left = countdown(row.recv_deadline, now)
        note = "waiting for a message" + (f" · times out in {left}" if left else "")
        note += " · a sends one"
    return TimelineItem(
        key=f"s{step.step_id}",
        step_id=step.step_id,
        name=name,
        status="waiting",
        started=step.started_at,
        ended=None,
        note=note,
        internal=internal,
    )


def _child_item(step: StepRow, child: WorkflowRow | None, notes: Mapping[str, str]) -> TimelineItem:
    status = "queued"
    started, ended = step.started_at, None
    note = notes.get(step.child_id) or step.child_id
    error = ""
    if child is not None:
        status = {
            "SUCCESS": "done",
            "ERROR": "error",
            "PENDING": "running",
            "ENQUEUED": "queued",
            "CANCELLED": "cancelled",
        }.get(child.status, child.status.lower())
        started = child.created_at or started
        ended = child.completed_at if not child.active else None
        error = child.error
        what = notes.get(child.workflow_id) or child.summary or child.workflow_id
        note = describe_error(error) if error else what
    return TimelineItem(
        key=f"c{step.child_id}",
        step_id=step.step_id,
        name=f"↳ {step.name}",
        status=status,
        started=started,
        ended=ended,
        note=note,
        child_id=step.child_id,
        error=error,
    )


_GLYPH = {
    "done": ("✔", "green"),
    "error": ("✖", "bold red"),
    "running": ("●", "bold cyan"),
    "waiting": ("⏸", "bold yellow"),
    "queued": ("◌", "blue"),
    "cancelled": ("⊘", "yellow"),
}


def _bar(item: TimelineItem, t0: float, t1: float, frame: int, width: int = BAR_WIDTH) -> Text:
    span = max(t1 - t0, 1e-3)
    if item.started is None:
        pos = width - 1
        return Text(" " * pos + SPINNER[frame % len(SPINNER)], style="cyan")
    start = int((item.started - t0) / span * width)
    end_t = item.ended if item.ended is not None else t1
    end = max(start + 1, int(round((end_t - t0) / span * width)))
    start, end = min(start, width - 1), min(end, width)
    style = _GLYPH.get(item.status, ("", ""))[1] or "white"
    body = "━" * (end - start)
    if item.ended is None and item.status in ("running", "waiting"):
        body = body[:-1] + SPINNER[frame % len(SPINNER)]
    return Text(" " * start) + Text(body, style=style) + Text(" " * (width - end))


class Timeline(RowTable):
    """One row per step; row keys are stable (``s<id>`` / ``c<child>``); a row is re-rendered
    only when its cells change (a running step's bar and time, its status).

    The DETAIL column gets the room first: the waterfall narrows (to ``BAR_MIN``) before the
    detail gets less than ``NOTE_MIN`` columns. The keys are :class:`RowTable`'s.
    """

    FIXED = (
        ("name", "STEP", 20),
        ("status", "", 4),
        ("time", "TIME", 6),
        ("bar", "WATERFALL", BAR_WIDTH),
    )

    def __init__(self, **kwargs: Any) -> None:
        columns = [Column(key, label, width) for key, label, width in self.FIXED]
        super().__init__([*columns, Column("note", "DETAIL", 8)], **kwargs)
        self.items: dict[str, TimelineItem] = {}
        self.bar_width = BAR_WIDTH
        self._shown: tuple[list[TimelineItem], float, float, int] | None = None

    def _widths(self) -> tuple[int, int]:
        """(waterfall, detail) widths for the table's width."""
        fixed = sum(w for key, _, w in self.FIXED if key != "bar") + 2 * (len(self.FIXED) + 1)
        room = self.size.width - fixed - 3
        bar = max(BAR_MIN, min(BAR_WIDTH, room - NOTE_MIN))
        return bar, max(8, room - bar)

    def on_resize(self, event: events.Resize) -> None:
        bar, note = self._widths()
        self.set_column_width("note", note)
        if bar != self.bar_width:
            self.bar_width = bar
            self.set_column_width("bar", bar)
            if self._shown is not None:
                self.show(*self._shown)  # the bars, drawn again at their new width

    @property
    def selected(self) -> TimelineItem | None:
        """The item under the cursor, or None for an empty timeline."""
        key = self.cursor_key
        return self.items.get(key) if key else None

    def show(self, items: list[TimelineItem], t0: float, t1: float, frame: int) -> None:
        """Show these items, re-rendering only the rows whose cells changed.

        Args:
            items: The items, in order (:func:`build_items`).
            t0: The start of the waterfall's time axis, in epoch seconds.
            t1: Its end (now, for a run in flight).
            frame: The spinner's frame, for steps still running.
        """
        self._shown = (items, t0, t1, frame)
        rows: list[tuple[str, tuple[Any, ...]]] = []
        for item in items:
            glyph, style = _GLYPH.get(item.status, ("?", ""))
            dur = duration((item.ended or t1) - item.started) if item.started is not None else "…"
            mark = Text(glyph, style=style)
            if item.attempts > 1:
                mark.append(f"×{item.attempts}", style="bold yellow")
            note_style = "red" if item.status == "error" else "dim"
            rows.append(
                (
                    item.key,
                    (
                        Text(f"{item.step_id:>2} {item.name}"),
                        mark,
                        dur,
                        _bar(item, t0, t1, frame, self.bar_width),
                        Text(item.note[:200], style=note_style),
                    ),
                )
            )
        self.items = {i.key: i for i in items}
        self.set_rows(rows)
