"""What the step timeline shows of a run's steps."""

from __future__ import annotations

from tui.supervisor import RunDetail, StepRow, WorkflowRow
from tui.widgets.timeline import build_items, hidden_steps, recv_wait


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


def test_a_run_of_dbos_calls_only_shows_them_and_a_foreign_recv_is_a_recv() -> None:
    steps = (
        StepRow(step_id=1, name="DBOS.setEvent", status="done"),
        StepRow(step_id=2, name="DBOS.sleep", status="done"),
        StepRow(step_id=3, name="DBOS.getEvent", status="done"),
    )
    detail = RunDetail(
        row=WorkflowRow(workflow_id="wf", name="agent", status="SUCCESS"), steps=steps
    )
    items = build_items(detail, 0.0, show_internal=False)
    assert [(i.step_id, i.internal) for i in items] == [(1, True), (2, True), (3, True)]
    assert hidden_steps(detail) == 3
    # A recv with no marker step before it is the app's own: named as DBOS names it.
    recv = StepRow(step_id=4, name="DBOS.recv", status="done", output_summary="go")
    detail = detail.model_copy(update={"steps": (*steps, recv)})
    assert [(i.step_id, i.name) for i in build_items(detail, 0.0, show_internal=False)] == [
        (4, "DBOS.recv")
    ]


def test_a_waiting_recv_is_the_step_it_will_be() -> None:
    """Blocked in recv: DBOS wrote the timeout at k+1 and nothing at k; the row is step k."""
    row = WorkflowRow(
        workflow_id="wf", name="agent", status="PENDING", waiting_recv=True, recv_deadline=600.0
    )
    steps = (
        StepRow(step_id=1, name="DBOS.setEvent", status="done"),
        StepRow(step_id=3, name="DBOS.sleep", status="done", started_at=10.0),
    )
    (wait,) = build_items(RunDetail(row=row, steps=steps), 20.0, show_internal=False)
    assert (wait.key, wait.step_id, wait.name, wait.status) == ("s2", 2, "DBOS.recv", "waiting")
    assert wait.started == 10.0 and "times out in 9m40s" in wait.note
    # Not waiting (or the recv already recorded): no such row.
    quiet = row.model_copy(update={"waiting_recv": False})
    assert recv_wait(RunDetail(row=quiet, steps=steps)) is None
    recorded = (steps[0], StepRow(step_id=2, name="DBOS.recv", status="done"), steps[1])
    assert recv_wait(RunDetail(row=row, steps=recorded)) is None
