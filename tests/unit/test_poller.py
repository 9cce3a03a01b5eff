"""The refresh loop ticks every 250 ms, every 500 ms once everything has been quiet for a while."""

from __future__ import annotations

from typing import Any

from tui.poller import Poller
from tui.supervisor import Supervisor, WorkflowRow


def row(status: str) -> WorkflowRow:
    return WorkflowRow(workflow_id=f"w-{status}", name="research", status=status)


def test_ticks_slow_down_only_when_nothing_moves() -> None:
    app: Any = None  # next_wait reads neither the app nor the database
    poller = Poller(app, Supervisor("sqlite:///unused.sqlite"), interval=0.25)
    done, running = [row("SUCCESS")], [row("SUCCESS"), row("PENDING")]
    assert poller.next_wait(done, unchanged_s=1.0) == 0.25  # something changed recently
    assert poller.next_wait(done, unchanged_s=6.0) == 0.5  # quiet for 5 s: half as often
    assert poller.next_wait(running, unchanged_s=60.0) == 0.25  # a run in flight: full rate
    assert poller.next_wait([], unchanged_s=60.0) == 0.5
