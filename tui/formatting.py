"""Small pure helpers for rendering snapshots: glyphs, colours, durations, ids."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from rich.text import Text

if TYPE_CHECKING:
    from .supervisor import WorkflowRow

__all__ = [
    "STATUS_STYLE",
    "ago",
    "clock_time",
    "countdown",
    "duration",
    "row_status",
    "short_id",
    "status_text",
]

#: status → (glyph, label, style). Colour is never the only signal: a glyph and a word too.
STATUS_STYLE: dict[str, tuple[str, str, str]] = {
    "PENDING": ("●", "running", "bold $accent"),
    "ENQUEUED": ("◌", "queued", "$secondary"),
    "DELAYED": ("◷", "delayed", "$secondary"),
    "SUCCESS": ("✔", "success", "$success"),
    "ERROR": ("✖", "error", "bold $error"),
    "CANCELLED": ("⊘", "cancelled", "$warning"),
    "MAX_RECOVERY_ATTEMPTS_EXCEEDED": ("⚠", "stuck", "bold $error"),
    "WAITING": ("⏸", "approval", "bold $warning"),
    #: Blocked in ``recv`` outside an approval (another app's ``DBOS.recv``): not an approval.
    "RECV": ("⏸", "waiting", "bold $warning"),
    "TIMED_OUT": ("⧗", "timed out", "bold magenta"),
}

_RICH = {
    "$accent": "cyan",
    "$secondary": "blue",
    "$success": "green",
    "$error": "red",
    "$warning": "yellow",
}


def _rich_style(style: str) -> str:
    for var, colour in _RICH.items():
        style = style.replace(var, colour)
    return style


def status_text(status: str, *, waiting: bool = False, recv: bool = False) -> Text:
    key = status
    if status == "PENDING" and (waiting or recv):
        key = "WAITING" if waiting else "RECV"
    glyph, label, style = STATUS_STYLE.get(key, ("?", status.lower(), ""))
    return Text(f"{glyph} {label}", style=_rich_style(style))


def row_status(row: WorkflowRow) -> Text:
    """A run's status cell: waiting for a human and timed out are statuses of their own."""
    return status_text(row.shown_status, waiting=row.waiting_approval, recv=row.waiting_message)


def countdown(deadline: float | None, now: float) -> str:
    """``4m12s`` left, or ``""`` without a deadline; ``overdue`` once it has passed."""
    if deadline is None:
        return ""
    left = deadline - now
    return "overdue" if left <= 0 else duration(left)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 10:
        return f"{seconds:.1f}s"
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
    if seconds < 86400:
        return f"{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m"
    return f"{int(seconds // 86400)}d{int(seconds % 86400 // 3600):02d}h"


def ago(ts: float | None, now: float) -> str:
    if ts is None:
        return "-"
    return duration(max(0.0, now - ts)) + " ago"


def clock_time(ts: float | None, now: float | None = None) -> str:
    if ts is None:
        return "-"
    now = time.time() if now is None else now
    fmt = "%H:%M:%S" if now - ts < 20 * 3600 else "%m-%d %H:%M"
    return time.strftime(fmt, time.localtime(ts))


def short_id(workflow_id: str, width: int = 14) -> str:
    return workflow_id if len(workflow_id) <= width else workflow_id[: width - 1] + "…"
