"""Workflow and approval timeouts: countdowns, a distinct timed-out status, resuming after one.

No test waits the real timeouts of a production run: the timeouts are given in seconds at
launch (the same field a user fills in), and each test waits on the condition, not a sleep.
"""

from __future__ import annotations

import pytest
from textual.widgets import Input, Static

from tests.conftest import wait_for
from tests.support.pilot import make_app, until
from tests.support.runs import finish, wait_approval
from tui.data.reads import ListQuery
from tui.formatting import countdown
from tui.modals.launch import LaunchScreen
from tui.screens.detail import DetailScreen
from tui.supervisor import Supervisor, SupervisorError
from tui.widgets.workflow_table import WorkflowTable, cells
from workflows.models import ApprovalAnswer, ApprovalDecision
from workflows.runtime import Runtime


async def test_approval_timeout_is_its_own_status_and_resume_asks_again(sup: Supervisor) -> None:
    res = await sup.launch(
        "research", {"topic": "durable timers", "questions": 1, "approval_timeout_s": 1}
    )
    assert await finish(sup, res.workflow_id) == "ERROR"
    row = await sup.get_row(res.workflow_id)
    assert row.timed_out == "approval" and row.shown_status == "TIMED_OUT"
    assert row.approval is not None and row.approval.state == "timed_out"
    for text, found in [
        ("status:timed_out", True),
        ("status:error", True),
        ("status:cancelled", False),
        ("is:timed_out", True),
    ]:
        page = await sup.list_page(ListQuery(filter=text))
        assert (res.workflow_id in {r.workflow_id for r in page.rows}) is found, text
    assert "approval timed out" in str(cells(row, row.updated_at or 0)["progress"])
    assert "timed out" in str(cells(row, 0)["status"])

    # r: asked again with a fresh deadline (not the timeout replayed), then answered in time.
    resumed = await sup.resume(res.workflow_id)
    assert resumed.ok
    await wait_approval(sup, res.workflow_id)
    again = await sup.get_row(res.workflow_id)
    assert again.approval is not None and again.approval.deadline > (row.updated_at or 0)
    # The deadline is 1 s: answer at once; a slow machine may still miss it, so allow that.
    answer = await sup.answer(res.workflow_id, ApprovalAnswer(decision=ApprovalDecision.REJECT))
    status = await finish(sup, res.workflow_id)
    assert (answer.ok and status == "SUCCESS") or (not answer.ok and status == "ERROR")


async def test_workflow_timeout_cancels_and_is_shown_as_timed_out(
    sup: Supervisor, runtime: Runtime
) -> None:
    # The run waits for an approval nobody gives; its 1.5 s workflow timeout ends it first.
    res = await sup.launch(
        "research", {"topic": "durable deadlines", "questions": 1}, timeout_s=1.5
    )
    assert res.ok and "timeout 1.5 s" in res.message
    await wait_approval(sup, res.workflow_id)
    waiting = await sup.get_row(res.workflow_id)
    assert waiting.timeout_s == pytest.approx(1.5)
    assert waiting.deadline is not None and waiting.timed_out == ""
    now = waiting.deadline - 1.0
    assert countdown(waiting.deadline, now) == "1.0s"
    assert str(cells(waiting, now)["progress"]).startswith("⧖1.0s")

    app = make_app(sup, runtime)
    async with app.run_test(size=(140, 40)) as pilot:
        await until(pilot, lambda: app.connected)
        app.open_run(res.workflow_id)
        await until(
            pilot,
            lambda: isinstance(app.screen, DetailScreen) and bool(app.screen.query("#run-header")),
        )
        header = app.screen.query_one("#run-header", Static)
        await until(
            pilot, lambda: "timed out: DBOS cancelled it" in str(header.render()), within=30
        )
        row = await sup.get_row(res.workflow_id)
        assert row.status == "CANCELLED" and row.timed_out == "workflow"
        assert row.shown_status == "TIMED_OUT"
        await pilot.press("escape")
        table = app.screen.query_one(WorkflowTable)
        await until(pilot, lambda: res.workflow_id in table.rows_by_id)
        assert "timed out" in str(cells(table.rows_by_id[res.workflow_id], 0)["status"])


async def test_a_cancelled_run_is_not_timed_out(sup: Supervisor) -> None:
    res = await sup.launch("research", {"topic": "durable cancels", "questions": 1}, timeout_s=3600)
    await wait_approval(sup, res.workflow_id)
    await sup.cancel(res.workflow_id)

    async def cancelled() -> bool:
        return (await sup.get_row(res.workflow_id)).status == "CANCELLED"

    await wait_for(cancelled)
    row = await sup.get_row(res.workflow_id)
    assert row.timed_out == "" and row.shown_status == "CANCELLED"


async def test_bad_timeouts_are_refused(sup: Supervisor) -> None:
    for bad in (0, -1, 31 * 24 * 3600):
        with pytest.raises(SupervisorError, match="timeout must be"):
            await sup.launch("research", {"topic": "durable"}, timeout_s=bad)


async def test_launch_form_takes_a_workflow_timeout(sup: Supervisor, runtime: Runtime) -> None:
    app = make_app(sup, runtime)
    async with app.run_test(size=(140, 44)) as pilot:
        await until(pilot, lambda: app.connected)
        await pilot.press("n")
        form = app.screen
        assert isinstance(form, LaunchScreen)
        await pilot.press(*"durable budgets")
        box = form.query_one("#f-timeout", Input)
        box.value = "0"
        await pilot.press("ctrl+s")
        err = form.query_one("#err-timeout", Static)
        await until(pilot, lambda: "more than 0" in str(err.render()))
        assert app.screen is form  # nothing lost: the form stays with what was typed
        box.value = "600"
        await pilot.press("ctrl+s")
        await until(
            pilot,
            lambda: isinstance(app.screen, DetailScreen) and bool(app.screen.query("#run-header")),
        )
        detail = app.screen
        assert isinstance(detail, DetailScreen)
        row = await sup.get_row(detail.workflow_id)
        assert row.timeout_s == pytest.approx(600)
        header = detail.query_one("#run-header", Static)
        await until(pilot, lambda: "workflow timeout 10m00s" in str(header.render()))
