"""What the step timeline shows of a run's steps."""

from __future__ import annotations

from tui.supervisor import RunDetail, StepRow, WorkflowRow
from tui.widgets.timeline import build_items


def test_a_settings_read_is_bookkeeping_and_an_approval_wait_is_named() -> None:
    steps = (
        StepRow(step_id=1, name="settings", status="done"),
        StepRow(step_id=2, name="DBOS.recv", status="done"),  # a fork's settings, timeout 0
        StepRow(step_id=3, name="plan", status="done"),
        StepRow(step_id=4, name="approval", status="done"),
        StepRow(step_id=5, name="DBOS.recv", status="done"),  # the human's answer
    )
    detail = RunDetail(
        row=WorkflowRow(workflow_id="wf", name="research", status="SUCCESS"), steps=steps
    )
    shown = [(i.step_id, i.name) for i in build_items(detail, 0.0, show_internal=False)]
    assert shown == [(3, "plan"), (5, "approval (recv)")]
    every = [(i.step_id, i.name) for i in build_items(detail, 0.0, show_internal=True)]
    assert (2, "settings (recv)") in every and (5, "approval (recv)") in every
