"""Guards that pause instead of kill: budgets (workflows/guards.py) and the loop guard.

Research runs use a real SQLite file and DBOS through the in-process offline model, whose prices
are fixed (15 µ$ per output token: a plan costs $0.00024, a research answer about $0.0028, a
synthesis about $0.0019). The estimate before a phase uses the priors in workflows.guards (a
research call on a sonnet model: $0.024), so a budget of $0.02 lets the plan run and pauses
before the research. The crash tests SIGKILL a process whose run is paused at its budget, answer
while it is down, and restart.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Button, DataTable, Input, Static

from tests.conftest import connected, launched, offline_deck, wait_for
from tests.support.pilot import SIZE, make_app, open_detail, until
from tests.support.procs import kill_group, live_group_members, running_in, spawn
from tui.modals.approve import ApproveScreen
from tui.screens.detail import DetailScreen
from tui.screens.inbox import InboxScreen
from tui.supervisor import ApprovalItem, Supervisor, SupervisorError
from tui.widgets.workflow_table import WorkflowTable
from workflows.claude import ClaudeBudgetStop, run_claude
from workflows.config import ConfigError
from workflows.guards import Budget, call_cap, estimate, load_guards, spent
from workflows.model_offline.faults import LOOP_REPEATS
from workflows.model_offline.transport import transport_factory
from workflows.models import (
    ApprovalAnswer,
    ApprovalDecision,
    ClaudeCall,
    CompareReport,
    ResearchReport,
    ResearchRequest,
    StepUsage,
    Usage,
)
from workflows.runtime import Runtime, RuntimeSettings

REPO = Path(__file__).resolve().parents[2]
TOPIC = "durable execution"
APPROVE = ApprovalAnswer(decision=ApprovalDecision.APPROVE, by="test")
CHEAP = "claude-haiku-4-5"


@pytest.fixture(autouse=True)
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "agentdeck.yaml"
    monkeypatch.setenv("AGENTDECK_CONFIG", str(path))
    return path


# --------------------------------------------------------------------------------------------
# The estimate and the configuration


def usage(step: str, cost: float, out: int) -> StepUsage:
    return StepUsage(
        step=step, model="m", usage=Usage(input_tokens=10, output_tokens=out), cost_usd=cost
    )


def test_estimate_is_the_prior_or_the_dearest_recorded_call_with_a_margin() -> None:
    assert estimate("research", "claude-sonnet-4-5", []) == (0.024, 3200)
    assert estimate("research", "claude-haiku-4-5", [], calls=2) == (0.016, 6400)
    assert estimate("research", "unknown-model", [])[0] == 0.12  # priced as the dearest
    dear = [usage("research 1", 0.1, 5000), usage("plan", 0.5, 10)]
    assert estimate("research", "claude-sonnet-4-5", dear, calls=3) == (0.45, 22545)
    assert spent(dear) == (0.6, 5030)


def test_call_cap_is_what_is_left_but_never_below_twice_the_estimate() -> None:
    steps = [usage("plan", 0.01, 10)]
    assert call_cap(Budget(), steps, "plan", "claude-sonnet-4-5") is None
    assert call_cap(Budget(usd=1.0), steps, "plan", "claude-sonnet-4-5") == 0.99
    assert call_cap(Budget(usd=0.011), steps, "plan", "claude-sonnet-4-5") == 0.03  # 2 × 1.5 × 0.01


def test_guards_section(config: Path) -> None:
    assert load_guards().budget_usd is None and load_guards().loop_tool_calls == 8
    config.write_text("guards:\n  budget_usd: 0.5\n  budget_tokens: 200000\n  loop_tool_calls: 4\n")
    g = load_guards()
    assert (g.budget_usd, g.budget_tokens, g.loop_tool_calls) == (0.5, 200000, 4)
    config.write_text("guards:\n  budget_usd: -1\n")
    with pytest.raises(ConfigError, match=r"agentdeck.yaml: guards.budget_usd: Input should be"):
        load_guards()


def test_budget_fields_and_answers_validate() -> None:
    # As the launch form sends them: text.
    req = ResearchRequest.model_validate(
        {"topic": TOPIC, "budget_usd": "0.5", "budget_tokens": "200000"}
    )
    assert (req.budget_usd, req.budget_tokens) == (0.5, 200000)
    with pytest.raises(ValueError, match="greater than 0"):
        ResearchRequest(topic=TOPIC, budget_usd=0)
    with pytest.raises(ValueError, match="'raise' needs a new budget_usd or budget_tokens"):
        ApprovalAnswer(decision=ApprovalDecision.RAISE)
    with pytest.raises(ValueError, match="'switch' needs the model"):
        ApprovalAnswer(decision=ApprovalDecision.SWITCH)


async def test_a_runaway_call_is_stopped_by_the_sdk_cap_and_not_retried() -> None:
    call = ClaudeCall(
        task="research", prompt=f"Topic: {TOPIC}\nQuestion: why?", max_budget_usd=0.0001
    )
    with pytest.raises(ClaudeBudgetStop, match=r"per-call budget of \$0.0001.*not retried"):
        await _offline(call)


async def _offline(call: ClaudeCall) -> Any:
    from workflows.claude import Endpoint, configure_endpoint, current_endpoint

    before = current_endpoint()
    configure_endpoint(Endpoint(label="offline", offline=True, transport_factory=transport_factory))
    try:
        return await run_claude(call, step_name=call.task)
    finally:
        configure_endpoint(before)


# --------------------------------------------------------------------------------------------
# Research runs with a budget


async def launch(sup: Supervisor, **data: Any) -> str:
    res = await sup.launch("research", {"topic": TOPIC, "questions": 1, **data})
    assert res.ok, res.message
    return res.workflow_id


async def budget_approval(
    sup: Supervisor, wid: str, phase: str = "research", within: float = 60
) -> ApprovalItem:
    """The run's pending budget approval before ``phase`` (as the inbox lists it)."""
    found: list[ApprovalItem] = []

    async def pending() -> bool:
        found[:] = [
            i
            for i in await sup.approvals()
            if i.row.workflow_id == wid
            and i.request.kind == "budget"
            and i.request.proposal.get("phase") == phase
        ]
        return bool(found)

    await wait_for(pending, within=within, interval=0.05)
    return found[0]


async def approve_plan(sup: Supervisor, wid: str) -> None:
    async def waiting() -> bool:
        row = await sup.get_row(wid)
        return row.approval is not None and row.approval.kind == "plan" and row.waiting_approval

    await wait_for(waiting, within=60)
    assert (await sup.answer(wid, APPROVE)).ok


async def finish(sup: Supervisor, wid: str, within: float = 60) -> str:
    async def done() -> bool:
        return not (await sup.get_row(wid)).active

    await wait_for(done, within=within, interval=0.05)
    return (await sup.get_row(wid)).status


async def report(sup: Supervisor, wid: str) -> ResearchReport:
    result = (await sup.detail(wid)).result
    assert isinstance(result, ResearchReport)
    return result


def answer(decision: ApprovalDecision, **extra: Any) -> ApprovalAnswer:
    return ApprovalAnswer(decision=decision, by="test", **extra)


ANSWERS = {
    "raise": answer(ApprovalDecision.RAISE, budget_usd=1.0),
    "continue": answer(ApprovalDecision.CONTINUE),
    "switch": answer(ApprovalDecision.SWITCH, model=CHEAP),
    "stop": answer(ApprovalDecision.STOP),
}


async def check_outcome(sup: Supervisor, wid: str, how: str) -> None:
    """After the first budget answer: what each answer promises."""
    if how == "continue":  # once: the synthesis would pass the budget too, so it asks again
        item = await budget_approval(sup, wid, "synthesize")
        assert item.request.topic == "budget:synthesize"
        assert (await sup.answer(wid, ANSWERS["continue"])).ok
    assert await finish(sup, wid) == "SUCCESS"
    r = await report(sup, wid)
    if how == "stop":
        assert r.outcome == "stopped at budget" and not r.answers
        assert "**Stopped at the budget**: stopped at the budget before research by test" in (
            r.markdown
        )
        assert "## Plan" in r.markdown and [s.step for s in r.steps] == ["plan"]
        return
    assert r.outcome == "completed"
    assert [s.step for s in r.steps] == ["plan", "research 1", "synthesize"]
    if how == "switch":  # the rest of the run on the other model
        assert [s.model for s in r.steps] == ["claude-sonnet-4-5", CHEAP, CHEAP]
    else:
        assert {s.model for s in r.steps} == {"claude-sonnet-4-5"}


@pytest.mark.parametrize("how", list(ANSWERS))
async def test_budget_pauses_before_the_step_that_would_pass_it(sup: Supervisor, how: str) -> None:
    wid = await launch(sup, budget_usd=0.02)
    await approve_plan(sup, wid)
    item = await budget_approval(sup, wid)
    req = item.request
    assert req.kind == "budget" and req.proposal["phase"] == "research"
    assert [o.value for o in req.options] == ["raise", "continue", "switch", "stop"]
    assert req.proposal["spent_usd"] == pytest.approx(0.00024)
    assert req.proposal["estimate_usd"] == 0.024 and req.proposal["remaining_steps"] == 2
    assert req.prompt.startswith("Budget reached before research: spent $0.0002")
    row = await sup.get_row(wid)
    assert row.status == "PENDING" and row.waiting_approval
    assert (await sup.answer(wid, ANSWERS[how])).ok
    await check_outcome(sup, wid, how)


async def test_a_token_budget_pauses_before_the_plan(sup: Supervisor) -> None:
    wid = await launch(sup, budget_tokens=1000)
    item = await budget_approval(sup, wid, "plan")
    assert item.request.proposal["budget_tokens"] == 1000
    assert (await sup.answer(wid, ANSWERS["stop"])).ok
    assert await finish(sup, wid) == "SUCCESS"
    r = await report(sup, wid)
    assert r.outcome == "stopped at budget" and r.steps == () and r.questions == ()


async def test_a_raise_too_small_asks_again(sup: Supervisor) -> None:
    wid = await launch(sup, budget_usd=0.02)
    await approve_plan(sup, wid)
    await budget_approval(sup, wid)
    assert (await sup.answer(wid, answer(ApprovalDecision.RAISE, budget_usd=0.021))).ok

    async def asked_again() -> bool:
        item = (await sup.get_row(wid)).approval
        return item is not None and item.topic == "budget:research:1" and item.state == "pending"

    await wait_for(asked_again, within=30)
    assert (await sup.answer(wid, ANSWERS["stop"])).ok
    assert await finish(sup, wid) == "SUCCESS"


async def test_the_default_budget_comes_from_agentdeck_yaml(sup: Supervisor, config: Path) -> None:
    await asyncio.to_thread(config.write_text, "guards:\n  budget_usd: 0.02\n")
    wid = await launch(sup)
    await approve_plan(sup, wid)
    item = await budget_approval(sup, wid)
    assert item.request.proposal["budget_usd"] == 0.02
    progress = (await sup.get_row(wid)).progress
    assert progress is not None and progress.budget_usd == 0.02
    assert (await sup.answer(wid, ANSWERS["stop"])).ok
    assert await finish(sup, wid) == "SUCCESS"


async def test_no_budget_never_asks(sup: Supervisor) -> None:
    wid = await launch(sup)
    await approve_plan(sup, wid)
    assert await finish(sup, wid) == "SUCCESS"
    assert (await report(sup, wid)).outcome == "completed"
    last = (await sup.get_row(wid)).approval  # the last approval the run asked: its plan's
    assert last is not None and last.kind == "plan" and last.state == "answered"


# --------------------------------------------------------------------------------------------
# Crash safety: SIGKILL while paused at the budget, answered while down

CHILD = """
import asyncio, sys
from pathlib import Path
from tui.supervisor import Supervisor
from workflows.models import ApprovalAnswer, ApprovalDecision
from workflows.runtime import Runtime, RuntimeSettings

async def main(db_url: str, state_dir: str, run_id: str) -> None:
    rt = Runtime(RuntimeSettings(db_url=db_url, offline=True, offline_tps=0,
                                 state_dir=Path(state_dir)))
    await asyncio.to_thread(rt.launch)
    sup = Supervisor(db_url)
    await sup.connect()
    data = {"topic": "durable execution", "questions": 1, "budget_usd": 0.02}
    await sup.launch("research", data, workflow_id=run_id)
    while not (await sup.get_row(run_id)).waiting_approval:
        await asyncio.sleep(0.05)
    await sup.answer(run_id, ApprovalAnswer(decision=ApprovalDecision.APPROVE, by="child"))
    print("plan approved", flush=True)
    await asyncio.Event().wait()

asyncio.run(main(*sys.argv[1:]))
"""


@pytest.mark.slow
@pytest.mark.timeout(180)
@pytest.mark.parametrize("how", list(ANSWERS))
async def test_sigkill_while_paused_at_the_budget(tmp_path: Path, how: str) -> None:
    db_url = f"sqlite:///{tmp_path / 'crash.sqlite'}"
    state_dir = tmp_path / "state"
    out_path = tmp_path / "child.out"
    run_id = f"budget-crash-{how}"
    env = {**os.environ, "PYTHONPATH": str(REPO), "AGENTDECK_STATE_DIR": str(state_dir)}
    proc = spawn(
        [sys.executable, "-c", CHILD, db_url, str(state_dir), run_id],
        cwd=tmp_path,
        env=env,
        out_path=out_path,
    )
    try:
        await wait_for(lambda: (tmp_path / "crash.sqlite").exists(), within=60, interval=0.05)
        async with connected(db_url) as sup:

            async def paused() -> bool:
                assert proc.poll() is None, out_path.read_text(errors="replace")
                try:
                    row = await sup.get_row(run_id)
                except SupervisorError:  # not there yet, or the child holds the write lock
                    return False
                return row.approval is not None and row.approval.kind == "budget"

            await wait_for(paused, within=90, interval=0.05)
            kill_group(proc)
            await wait_for(
                lambda: not live_group_members(proc.pid) and not running_in(state_dir),
                within=10,
                interval=0.05,
            )
            assert (await sup.get_row(run_id)).status == "PENDING"
            # Answered while nothing runs the workflow: the message waits in the database.
            assert (await sup.answer(run_id, ANSWERS[how])).ok
            settings = RuntimeSettings(
                db_url=db_url, offline=True, offline_tps=0, state_dir=state_dir
            )
            async with launched(settings) as rt:
                await check_outcome(sup, run_id, how)
                tasks = [r.task for r in rt.offline_server.requests()]
    finally:
        if proc.poll() is None or live_group_members(proc.pid):
            kill_group(proc)
    assert "plan" not in tasks  # the plan ran before the crash and is not run again
    assert tasks.count("research") == (0 if how == "stop" else 1)


# --------------------------------------------------------------------------------------------
# Compare runs with a budget


async def test_compare_pauses_before_its_branches_and_switch_moves_every_call(
    sup: Supervisor,
) -> None:
    res = await sup.launch("compare", {"question": "why durable execution?", "budget_usd": 0.03})
    assert res.ok, res.message
    wid = res.workflow_id
    item = await budget_approval(sup, wid, "branches")
    assert item.request.proposal["estimate_usd"] == 0.045  # two sonnet answers
    assert (await sup.answer(wid, ANSWERS["switch"])).ok
    assert await finish(sup, wid) == "SUCCESS"
    r = (await sup.detail(wid)).result
    assert isinstance(r, CompareReport) and r.outcome == "completed"
    assert [b.model for b in r.branches] == [CHEAP, CHEAP] and all(b.ok for b in r.branches)


async def test_compare_stop_at_the_budget(sup: Supervisor) -> None:
    res = await sup.launch("compare", {"question": "why durable execution?", "budget_usd": 0.03})
    wid = res.workflow_id
    await budget_approval(sup, wid, "branches")
    assert (await sup.answer(wid, ANSWERS["stop"])).ok
    assert await finish(sup, wid) == "SUCCESS"
    r = (await sup.detail(wid)).result
    assert isinstance(r, CompareReport) and r.outcome == "stopped at budget"
    assert r.branches == () and "**Stopped at the budget**" in r.markdown


# --------------------------------------------------------------------------------------------
# The loop guard (a research question with tools; the offline model's `loop` fault repeats its
# first tool call LOOP_REPEATS times before it answers)


async def loop_approval(sup: Supervisor, n: int = 0, within: float = 60) -> ApprovalItem:
    """The n-th loop approval a question asked (pending)."""
    found: list[ApprovalItem] = []

    async def pending() -> bool:
        found[:] = [
            i
            for i in await sup.approvals()
            if i.request.kind == "loop" and i.request.topic == f"loop:{n}"
        ]
        return bool(found)

    await wait_for(pending, within=within, interval=0.05)
    return found[0]


async def test_a_repeated_tool_call_pauses_the_question_and_continue_lets_it_go_on(
    sup: Supervisor,
) -> None:
    wid = await launch(sup, tools="Read", fault="research.loop")
    await approve_plan(sup, wid)
    item = await loop_approval(sup, 0)
    req = item.request
    assert req.proposal["reason"].startswith("the same call again after it ran (Read: ")
    assert [o.value for o in req.options] == ["continue", "stop"]
    assert item.row.workflow_id != wid  # the question (a child) waits, not the run
    assert (await sup.answer(item.row.workflow_id, answer(ApprovalDecision.CONTINUE))).ok
    # Let go on, the same call repeats until 8 calls came with no text in between.
    item = await loop_approval(sup, 1)
    assert item.request.proposal["reason"] == "8 tool calls with no text in between"
    assert (await sup.answer(item.row.workflow_id, answer(ApprovalDecision.CONTINUE))).ok
    assert await finish(sup, wid) == "SUCCESS"
    r = await report(sup, wid)
    assert r.outcome == "completed" and r.answers[0].ok
    assert r.answers[0].text.count("`Read` returned") == LOOP_REPEATS


async def test_stop_this_question_keeps_the_others(sup: Supervisor) -> None:
    wid = await launch(sup, questions=2, tools="Read", fault="research@1.loop")
    await approve_plan(sup, wid)
    item = await loop_approval(sup, 0)
    assert (await sup.answer(item.row.workflow_id, answer(ApprovalDecision.STOP))).ok
    assert await finish(sup, wid) == "SUCCESS"
    r = await report(sup, wid)
    assert [a.ok for a in r.answers] == [False, True]
    assert r.answers[0].error.startswith("stopped at a tool loop: the same call again")
    assert r.note == "1 of 2 questions failed"


async def test_n_tool_calls_without_text_pause(sup: Supervisor, config: Path) -> None:
    await asyncio.to_thread(config.write_text, "guards:\n  loop_tool_calls: 2\n")
    wid = await launch(sup, tools="Read,Grep")
    await approve_plan(sup, wid)
    item = await loop_approval(sup, 0)
    assert item.request.proposal["reason"] == "2 tool calls with no text in between"
    assert item.request.proposal["tool"] == "Grep"
    assert (await sup.answer(item.row.workflow_id, answer(ApprovalDecision.CONTINUE))).ok
    assert await finish(sup, wid) == "SUCCESS"
    text = (await report(sup, wid)).answers[0].text
    assert "`Read` returned" in text and "`Grep` returned" in text


@pytest.mark.contract
@pytest.mark.timeout(120)
async def test_the_loop_guard_through_the_real_cli(cli_sup: Supervisor) -> None:
    """The bundled Claude Code CLI asks the PreToolUse hook about each Read (allowed by the
    policy): the repeated call is denied there and the question stops at the loop."""
    wid = await launch(cli_sup, questions=2, tools="Read", fault="research@1.loop")
    await approve_plan(cli_sup, wid)
    item = await loop_approval(cli_sup, 0)
    assert item.request.proposal["reason"].startswith("the same call again after it ran")
    assert (await cli_sup.answer(item.row.workflow_id, answer(ApprovalDecision.STOP))).ok
    assert await finish(cli_sup, wid) == "SUCCESS"
    r = await report(cli_sup, wid)
    assert [a.ok for a in r.answers] == [False, True]


# --------------------------------------------------------------------------------------------
# The dashboard: the inbox and the list show the guards; their forms answer them


async def press_button(pilot: Pilot[None], screen: ApproveScreen, button: str) -> None:
    """Focus a button and press enter (a click could land on a toast over it). Focus is
    applied after the current message: the key waits for it, or it goes to the old focus. A
    button ignores enter for 0.2 s after a press (Textual's press effect, ``-active``): a second
    press waits it out, or it is lost."""
    target = screen.query_one(f"#{button}", Button)
    target.focus()
    await until(pilot, lambda: target.has_focus and not target.has_class("-active"))
    await pilot.press("enter")


async def test_inbox_raise_form_and_the_budget_column(sup: Supervisor, runtime: Runtime) -> None:
    wid = await launch(sup, budget_usd=0.02)
    await approve_plan(sup, wid)
    await budget_approval(sup, wid)
    app = make_app(sup, runtime)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.connected and bool(app.snapshot.rows))
        runs = app.screen.query_one(WorkflowTable)
        await until(
            pilot,
            lambda: wid in runs.rows_by_id and "budget" in str(runs.get_cell(wid, "progress")),
        )
        assert str(runs.get_cell(wid, "cost")) == "$0.000/$0.02"  # spent / budget
        await open_detail(pilot, app, wid)  # the detail header says it too
        header = app.screen.query_one("#run-header", Static)
        await until(pilot, lambda: "budget (spent/budget) $0.000/$0.02" in str(header.render()))
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, DetailScreen))
        await pilot.press("i")
        assert isinstance(app.screen, InboxScreen)
        grid = app.screen.query_one(DataTable)
        await until(pilot, lambda: grid.row_count == 1)
        asks = str(grid.get_cell(wid, "asks"))
        assert asks == "budget · $0.0002 + ~$0.0240 > $0.0200 before research"
        assert str(grid.get_cell(wid, "options")) == "raise / continue / switch / stop"
        await pilot.press("enter")
        modal = app.screen
        assert isinstance(modal, ApproveScreen)
        assert "budget        $0.0200 · no token limit" in str(
            modal.query_one("#budget-figures", Static).render()
        )
        # A bad number is said, not sent.
        usd = modal.query_one("#budget-usd", Input)
        usd.value = "lots"
        await press_button(pilot, modal, "raise")
        await until(
            pilot,
            lambda: (
                "must be a number of USD, not 'lots'"
                in str(modal.query_one("#answer-error", Static).render())
            ),
        )
        assert isinstance(app.screen, ApproveScreen)
        usd.value = "1.00"
        await press_button(pilot, modal, "raise")
        try:
            await until(pilot, lambda: isinstance(app.screen, InboxScreen))
        except AssertionError:
            said = str(modal.query_one("#answer-error", Static).render())
            raise AssertionError(f"still on {app.screen!r}; the form says {said!r}") from None
        assert any("raise sent" in t for _, t in app.audit)
        assert await finish(sup, wid) == "SUCCESS"  # (the app closes the data layer on exit)
        assert (await report(sup, wid)).outcome == "completed"
        progress = (await sup.get_row(wid)).progress
        assert progress is not None and progress.budget_usd == 1.0


async def test_inbox_loop_form_continues_with_ctrl_a(sup: Supervisor, runtime: Runtime) -> None:
    wid = await launch(sup, tools="Read", fault="research.loop")
    await approve_plan(sup, wid)
    child = (await loop_approval(sup, 0)).row.workflow_id
    app = make_app(sup, runtime)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.connected and bool(app.snapshot.rows))
        await pilot.press("i")
        grid = app.screen.query_one(DataTable)
        await until(pilot, lambda: grid.row_count == 1)
        assert str(grid.get_cell(child, "asks")).startswith(
            "tool loop · the same call again after it ran (Read: "
        )
        await pilot.press("enter")
        modal = app.screen
        assert isinstance(modal, ApproveScreen)
        assert '"file_path"' in str(modal.query_one("#tool-input", Static).render())
        await pilot.press("ctrl+a")  # continue
        await until(pilot, lambda: isinstance(app.screen, InboxScreen))
        assert any("continue sent" in t for _, t in app.audit)
        item = await loop_approval(sup, 1)  # the streak of 8 calls without text, next
        assert (await sup.answer(item.row.workflow_id, answer(ApprovalDecision.STOP))).ok
        assert await finish(sup, wid) == "ERROR"  # its only question stopped: nothing to report


# --------------------------------------------------------------------------------------------
# The CLI: launch with a budget, answer the budget approval from another shell


@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_cli_budget_flags_and_the_approve_command(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    env = dict(os.environ, AGENTDECK_OFFLINE_TPS="0", AGENTDECK_STATE_DIR=str(tmp_path / "s"))
    cli = [sys.executable, "-m", "tui.cli", "--db", url, "--offline"]
    run = await asyncio.to_thread(
        subprocess.Popen,
        [
            *cli,
            "launch",
            "research",
            "--topic",
            TOPIC,
            "--questions",
            "1",
            "--budget-usd",
            "0.02",
            "--id",
            "budget-cli",
            "--auto-approve",
            "--wait",
            "--timeout",
            "120",
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        await wait_for(lambda: (tmp_path / "cli.sqlite").exists(), within=60)
        async with connected(url) as sup:

            async def paused() -> bool:
                assert run.poll() is None, run.communicate()
                try:
                    row = await sup.get_row("budget-cli")
                except SupervisorError:
                    return False
                return row.approval is not None and row.approval.kind == "budget"

            await wait_for(paused, within=90, interval=0.1)
        bad = await asyncio.to_thread(
            subprocess.run,
            [*cli, "launch", "research", "--topic", "fine topic", "--budget-usd", "-1"],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=60,
        )
        assert bad.returncode == 2 and "greater than 0" in bad.stderr
        assert len(bad.stderr.strip().splitlines()) == 1
        answered = await asyncio.to_thread(
            subprocess.run,
            [*cli, "approve", "budget-cli", "--answer", '{"decision": "stop"}'],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=60,
        )
        assert answered.returncode == 0, answered.stderr
        out, err = await asyncio.to_thread(run.communicate, timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 0, err
    assert "stopped at budget" in out


@pytest.mark.postgres
@pytest.mark.timeout(120)
async def test_budget_and_loop_on_postgres(pg_database: str, tmp_path: Path) -> None:
    """The budget pause (switch) and the loop guard (stop) against PostgreSQL."""
    async with offline_deck(pg_database, tmp_path / "state") as sup:
        await test_budget_pauses_before_the_step_that_would_pass_it(sup, "switch")
        await test_stop_this_question_keeps_the_others(sup)


def test_the_timeline_says_what_a_guard_answer_did() -> None:
    from tui.supervisor.describe import describe_answer

    def said(decision: ApprovalDecision, **extra: Any) -> str:
        return describe_answer(ApprovalAnswer(decision=decision, by="ana", **extra))

    assert said(ApprovalDecision.RAISE, budget_usd=1.5) == "raised to $1.5 by ana"
    assert said(ApprovalDecision.RAISE, budget_usd=1, budget_tokens=200000) == (
        "raised to $1 and 200,000 tokens by ana"
    )
    assert said(ApprovalDecision.SWITCH, model=CHEAP) == f"switched to {CHEAP} by ana"
    assert said(ApprovalDecision.CONTINUE) == "continued by ana"
    assert said(ApprovalDecision.STOP) == "stopped by ana"
    assert said(ApprovalDecision.REJECT) == "rejected by ana"


@pytest.mark.contract
@pytest.mark.timeout(120)
async def test_the_real_cli_stops_a_call_at_its_budget(cli_runtime: Runtime) -> None:
    """The bundled Claude Code CLI (--max-budget-usd from the SDK option) ends a call that
    costs more with error_max_budget_usd: reported as a budget stop, never retried."""
    call = ClaudeCall(
        task="research", prompt=f"Topic: {TOPIC}\nQuestion: why?", max_budget_usd=0.000001
    )
    with pytest.raises(ClaudeBudgetStop, match="per-call budget"):
        await run_claude(call, step_name="research")
