"""The dashboard driven by keys (Pilot) against the real embedded DBOS on a SQLite file."""

from __future__ import annotations

import pytest
from textual.widgets import Input, Markdown, Static, TabbedContent

from tests.support.pilot import SIZE, make_app, notices, open_detail, select, table, until
from tests.support.runs import TOPIC, approve_and_finish, finish, launch, wait_approval
from tui.app import AgentDeckApp
from tui.modals.approve import ApproveScreen
from tui.modals.confirm import ConfirmScreen
from tui.modals.fork import ForkScreen
from tui.modals.help import HelpScreen
from tui.modals.launch import LaunchScreen
from tui.modals.log import LogScreen
from tui.screens.detail import DetailScreen
from tui.screens.inbox import InboxScreen
from tui.screens.workflows import WorkflowsScreen
from tui.supervisor import Supervisor
from tui.widgets.output import OutputPane
from workflows.models import ApprovalAnswer, ApprovalDecision
from workflows.runtime import Runtime


async def test_launch_stream_approve_report(sup: Supervisor, runtime: Runtime) -> None:
    app = make_app(sup, runtime)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.connected)
        await pilot.press("n")
        assert isinstance(app.screen, LaunchScreen)
        await pilot.press(*TOPIC, "enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        screen = app.screen
        assert isinstance(screen, DetailScreen)
        pane = screen.query_one(OutputPane)
        # The plan streams into the run's own output view.
        await until(pilot, lambda: '"questions"' in pane.view_for(screen.workflow_id).plain)
        await until(pilot, lambda: screen.detail is not None and screen.detail.row.waiting_approval)
        await pilot.press("a")
        assert isinstance(app.screen, ApproveScreen)
        await pilot.press("enter")  # the Approve button has focus
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        # Research children stream too, and the output follows the first one that does (the
        # user has not picked a step: the timeline's own highlights are not a choice).
        await until(pilot, lambda: len(pane.views) >= 2)

        def following_a_child() -> bool:
            shown = [src for src, doc in pane.views.items() if doc is pane.doc]
            return shown != [screen.workflow_id] and shown[0].startswith(screen.workflow_id)

        await until(pilot, following_a_child)
        await until(
            pilot,
            lambda: screen.detail is not None and screen.detail.row.status == "SUCCESS",
            within=60,
        )
        await until(pilot, lambda: screen.query_one(TabbedContent).active == "report")
        md = screen.query_one("#report-md", Markdown)
        assert TOPIC in md.source
        assert any("approve sent" in text for _, text in app.audit)


async def test_bad_form_input_keeps_the_form(sup: Supervisor, runtime: Runtime) -> None:
    app = make_app(sup, runtime)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        await pilot.press("a", "b", "enter")
        assert isinstance(app.screen, LaunchScreen)
        err = app.screen.query_one("#err-topic", Static)
        assert "at least 3" in str(err.render())
        questions = app.screen.query_one("#f-questions", Input)
        questions.value = "42"
        await pilot.press("enter")
        err_q = app.screen.query_one("#err-questions", Static)
        assert "less than or equal to 10" in str(err_q.render())
        assert app.screen.query_one("#f-topic", Input).value == "ab"  # nothing lost
        questions.value = "4"  # editing a field clears its stale error, not the others'
        await pilot.pause()
        assert str(err_q.render()) == "" and "at least 3" in str(err.render())
        await pilot.press("escape")
        assert isinstance(app.screen, WorkflowsScreen)
        assert await sup.list_workflows() == []


async def test_cancel_asks_first(sup: Supervisor, runtime: Runtime) -> None:
    wid = await launch(sup, questions=1)
    await wait_approval(sup, wid)
    app = make_app(sup, runtime)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, app, wid)
        await pilot.press("c")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert (await sup.get_row(wid)).active
        await pilot.press("c", "y")
        await until(pilot, lambda: table(app).rows_by_id[wid].status == "CANCELLED")
        await pilot.press("c")
        await until(pilot, lambda: "nothing to cancel" in notices(app))


async def test_slash_finds_in_the_output_and_escape_closes_it_first(
    sup: Supervisor, runtime: Runtime
) -> None:
    from tui.widgets.find import FindBar

    wid = await launch(sup, questions=1)
    await wait_approval(sup, wid)
    app = make_app(sup, runtime)
    async with app.run_test(size=SIZE) as pilot:
        await open_detail(pilot, app, wid)
        pane = app.screen.query_one(OutputPane)
        await until(pilot, lambda: "attempt 1" in pane.doc.plain)
        await pilot.press("m", "slash")  # from another tab: the output comes to the front
        assert app.screen.query_one(TabbedContent).active == "output"
        await pilot.press(*"ATTEMPT")
        assert pane.mark is not None and "attempt" in pane.doc.line(pane.mark[0]).plain
        # The run finishes while the user reads: the report waits instead of taking the screen.
        await sup.answer(wid, ApprovalAnswer(decision=ApprovalDecision.APPROVE))
        await until(pilot, lambda: "the report is ready" in notices(app), within=60)
        assert app.screen.query_one(TabbedContent).active == "output"
        assert app.screen.query_one(FindBar).display and app.focused is not None
        assert app.focused.id == "find-input"
        await pilot.press("escape")
        assert not app.screen.query_one(FindBar).display and pane.mark is None
        assert isinstance(app.screen, DetailScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, WorkflowsScreen)


async def test_a_failed_run_opens_on_the_failed_steps_output(
    sup: Supervisor, runtime: Runtime
) -> None:
    wid = await launch(sup, questions=1, fault="synthesize.invalid_request*1")
    assert await approve_and_finish(sup, wid) == "ERROR"
    app = make_app(sup, runtime)
    async with app.run_test(size=SIZE) as pilot:
        await open_detail(pilot, app, wid)
        screen = app.screen
        assert isinstance(screen, DetailScreen)
        await until(pilot, lambda: screen.detail is not None)
        pane = screen.query_one(OutputPane)
        # The children's streams are read too, but the output stays on the failed step's (the
        # synthesis, in the run itself) instead of following the first child that streamed.
        await until(pilot, lambda: len(pane.views) >= 2)  # fed in the same tick as followed
        shown = [src for src, doc in pane.views.items() if doc is pane.doc]
        assert shown == [wid], (shown, screen._output_chosen)


async def test_resume_a_failed_run(sup: Supervisor, runtime: Runtime) -> None:
    wid = await launch(sup, questions=1, fault="synthesize.invalid_request*1")
    assert await approve_and_finish(sup, wid) == "ERROR"
    app = make_app(sup, runtime)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, app, wid)
        await pilot.press("r")
        await until(pilot, lambda: "resumed" in notices(app), within=10)
        await until(pilot, lambda: table(app).rows_by_id[wid].status == "SUCCESS", within=60)
        await pilot.press("r")
        await until(pilot, lambda: "nothing to resume" in notices(app))


async def test_fork_from_the_synthesis_step(sup: Supervisor, runtime: Runtime) -> None:
    wid = await launch(sup, questions=1)
    assert await approve_and_finish(sup, wid) == "SUCCESS"
    app = make_app(sup, runtime)
    async with app.run_test(size=SIZE) as pilot:
        await open_detail(pilot, app, wid)
        detail = app.screen
        assert isinstance(detail, DetailScreen)
        await until(pilot, lambda: detail.detail is not None)
        await pilot.press("f")
        assert isinstance(app.screen, ForkScreen)
        fork = app.screen
        await until(pilot, lambda: bool(fork.steps))
        synth = next(s for s in fork.steps if s.name == "synthesize")
        from textual.widgets import OptionList

        options = fork.query_one(OptionList)
        options.highlighted = [s.step_id for s in fork.steps].index(synth.step_id)
        await pilot.press("enter")
        await until(
            pilot,
            lambda: isinstance(app.screen, DetailScreen) and app.screen.workflow_id != wid,
        )
        new = app.screen
        assert isinstance(new, DetailScreen)
        await until(pilot, lambda: new.detail is not None and new.detail.row.status == "SUCCESS")
        assert new.detail is not None and new.detail.row.forked_from == wid
        header = str(new.query_one("#run-header", Static).render())
        assert f"forked from {wid}" in header


async def test_filter_tabs_and_history(sup: Supervisor, runtime: Runtime) -> None:
    ok = await launch(sup, questions=1)
    bad = await launch(sup, questions=1, fault="plan.auth")
    await wait_approval(sup, ok)
    assert await finish(sup, bad) == "ERROR"
    app = make_app(sup, runtime)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: {ok, bad} <= set(table(app).rows_by_id))
        await pilot.press("slash", *"status:error", "enter")
        await until(pilot, lambda: set(table(app).rows_by_id) == {bad})
        counts = str(app.screen.query_one("#counts", Static).render())
        assert "1 match" in counts and "1 errors" in counts and "1 waiting approval" in counts
        await pilot.press("escape")
        await until(pilot, lambda: set(table(app).rows_by_id) == {ok, bad})
        await pilot.press("slash", "up", "enter")
        await until(pilot, lambda: set(table(app).rows_by_id) == {bad})
        await pilot.press("escape", "3")  # the Waiting tab
        await until(pilot, lambda: set(table(app).rows_by_id) == {ok})
        await pilot.press("1", "slash", *"status:nonsense", "enter")
        await until(pilot, lambda: "unknown status" in notices(app))
        # Filter text that reads as markup is shown as typed (it ended the app before).
        await pilot.press("escape", "slash", *'["a=" [/x]')
        await until(pilot, lambda: 'filter: ["a=" [/x]' in str(counts_line(app).render()))
        assert app.is_running


def counts_line(app: AgentDeckApp) -> Static:
    return app.screen.query_one("#counts", Static)


async def test_inbox_countdown_and_answer(sup: Supervisor, runtime: Runtime) -> None:
    wid = await launch(sup, questions=1, approval_timeout_s=3600)
    await wait_approval(sup, wid)
    app = make_app(sup, runtime)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.connected and bool(app.snapshot.rows))
        await pilot.press("i")
        assert isinstance(app.screen, InboxScreen)
        inbox = app.screen
        from textual.widgets import DataTable

        grid = inbox.query_one(DataTable)
        await until(pilot, lambda: grid.row_count == 1)
        deadline = str(grid.get_cell(wid, "deadline"))
        assert deadline.startswith(("59m", "1h00m"))
        await pilot.press("enter")
        assert isinstance(app.screen, ApproveScreen)
        await pilot.press("ctrl+r")
        await until(pilot, lambda: isinstance(app.screen, InboxScreen))
        await until(pilot, lambda: grid.row_count == 0)
        assert await finish(sup, wid) == "SUCCESS"
        # Answering again is refused with the reason.
        res = await sup.answer(wid, ApprovalAnswer(decision=ApprovalDecision.APPROVE))
        assert not res.ok and "already reject" in res.message


async def test_help_log_and_palette(sup: Supervisor, runtime: Runtime) -> None:
    app = make_app(sup, runtime)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = " ".join(str(s.render()) for s in app.screen.query(Static))
        for key in ("Open", "Filter", "Cancel", "Resume", "Fork", "Answer", "Inbox", "Log"):
            assert key in text
        await pilot.press("escape", "l")
        assert isinstance(app.screen, LogScreen)
        await pilot.press("escape", "ctrl+p")
        await pilot.press(*"inbox")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, InboxScreen))


async def test_palette_finds_a_run_by_its_topic(sup: Supervisor, runtime: Runtime) -> None:
    other = await launch(sup, topic="vector clocks", questions=1)
    wid = await launch(sup, questions=1)
    app = make_app(sup, runtime)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: {wid, other} <= set(table(app).rows_by_id))
        await pilot.press("ctrl+p", *"vector clocks")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        assert isinstance(app.screen, DetailScreen) and app.screen.workflow_id == other


async def test_y_copies_the_selected_run_id(sup: Supervisor, runtime: Runtime) -> None:
    wid = await launch(sup, questions=1)
    app = make_app(sup, runtime)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, app, wid)
        await pilot.press("y")
        assert app.clipboard == wid and f"copied {wid}" in notices(app)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        app.copy_to_clipboard("")
        await pilot.press("y")  # the run's detail copies its own id
        assert app.clipboard == wid


@pytest.mark.parametrize("size", [(60, 20), (200, 60)])
async def test_every_key_with_nothing_selected(
    sup: Supervisor, runtime: Runtime, size: tuple[int, int]
) -> None:
    app = make_app(sup, runtime)
    async with app.run_test(size=size) as pilot:
        await until(pilot, lambda: app.connected)
        for key in ("enter", "a", "c", "r", "f", "y", "s", "t", "1", "2", "3", "4", "5"):
            await pilot.press(key)
            assert isinstance(app.screen, WorkflowsScreen), key
        assert "nothing selected" in notices(app) or "no workflow selected" in notices(app)
        for key in ("i", "escape", "?", "escape", "l", "escape"):
            await pilot.press(key)
        assert isinstance(app.screen, WorkflowsScreen)


async def test_quit_warns_when_runs_are_in_flight(sup: Supervisor, runtime: Runtime) -> None:
    wid = await launch(sup, questions=1)
    await wait_approval(sup, wid)
    app = make_app(sup, runtime)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: wid in table(app).rows_by_id)
        await pilot.press("q")
        assert isinstance(app.screen, ConfirmScreen)
        body = " ".join(str(s.render()) for s in app.screen.query(Static))
        assert "continue from their last completed step" in body
        await pilot.press("n")
        assert isinstance(app.screen, WorkflowsScreen)


async def test_double_keypress_and_a_second_dashboard_answer_once(
    sup: Supervisor, runtime: Runtime, db_url: str
) -> None:
    import sqlite3
    from pathlib import Path

    wid = await launch(sup, questions=1)
    await wait_approval(sup, wid)
    other = Supervisor(db_url)  # a second dashboard's data layer on the same database
    await other.connect()
    app = make_app(sup, runtime)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await select(pilot, app, wid)
            await pilot.press("a")
            assert isinstance(app.screen, ApproveScreen)
            await pilot.press("enter", "enter")  # a double keypress
            second = await other.answer(wid, ApprovalAnswer(decision=ApprovalDecision.REJECT))
            await until(pilot, lambda: app.snapshot.by_id()[wid].status == "SUCCESS", within=60)
            answers = [text for _, text in app.audit if "sent to" in text or "already" in text]
            assert len(answers) == 1, answers
            report = (await sup.detail(wid)).result
    finally:
        await other.close()
    with sqlite3.connect(Path(db_url.removeprefix("sqlite:///"))) as conn:
        (n,) = conn.execute(
            "select count(*) from notifications where destination_uuid = ?", (wid,)
        ).fetchone()
    # The dashboard's approve and the other's reject were both sent with the request's
    # idempotency key: one message stored, the run took exactly one decision.
    assert n == 1
    assert report is not None and report.outcome in ("completed", "rejected")
    assert second.ok or "already" in second.message


async def test_resize_while_streaming_and_every_key_on_every_screen(
    sup: Supervisor, runtime: Runtime
) -> None:
    wid = await launch(sup, questions=1)
    await wait_approval(sup, wid)
    app = make_app(sup, runtime)
    keys = ("a", "c", "r", "f", "h", "p", "enter")
    async with app.run_test(size=SIZE) as pilot:
        await open_detail(pilot, app, wid)
        detail = app.screen
        assert isinstance(detail, DetailScreen)
        view = detail.query_one(OutputPane).view_for(wid)
        await until(pilot, lambda: '"questions"' in view.plain)
        before = view.plain
        for size in ((60, 20), (200, 60), (61, 21), SIZE):
            await pilot.resize_terminal(*size)
            await pilot.pause(0.1)
            assert view.plain == before  # re-wrapped, nothing lost
            header = str(detail.query_one("#run-header", Static).render())
            assert ("input:" in header) == (size[1] >= 30)  # short terminals: the essentials
        # Every key on every screen: dialogs open and close, nothing raises.
        for opener in ("escape", "i", "escape"):
            await pilot.press(opener)
            for key in keys:
                await pilot.press(key)
                while app.screen.is_modal:
                    await pilot.press("escape")
        assert app.is_running


async def test_an_unexpected_worker_error_is_a_notification(
    sup: Supervisor, runtime: Runtime
) -> None:
    app = make_app(sup, runtime)

    async def boom() -> None:
        raise RuntimeError("disk on fire")

    async with app.run_test(size=SIZE) as pilot:
        app.screen.run_worker(boom(), exit_on_error=False, description="refresh the moon")
        await until(pilot, lambda: "disk on fire" in notices(app))
        assert app.is_running and isinstance(app.screen, WorkflowsScreen)
