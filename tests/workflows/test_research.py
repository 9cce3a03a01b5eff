"""The research workflow end to end on a real SQLite file (fast SDK transport)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from tests.support.runs import TOPIC, approve_and_finish, finish, launch, wait_approval
from tui.supervisor import Supervisor, SupervisorError
from workflows.models import ApprovalAnswer, ApprovalDecision, ResearchReport, StreamChunk


def db_path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


async def test_plan_approve_research_synthesize(sup: Supervisor, db_url: str) -> None:
    wid = await launch(sup, questions=4)
    await wait_approval(sup, wid)
    row = await sup.get_row(wid)
    assert row.approval is not None
    questions = row.approval.proposal["questions"]
    assert len(questions) == 4
    assert row.progress is not None and row.progress.phase == "awaiting approval"

    res = await sup.answer(wid, ApprovalAnswer(decision=ApprovalDecision.APPROVE, by="test"))
    assert res.ok
    assert await finish(sup, wid) == "SUCCESS"

    detail = await sup.detail(wid)
    report = detail.result
    assert isinstance(report, ResearchReport)
    assert report.outcome == "completed"
    assert len(report.answers) == 4 and all(a.ok and a.text for a in report.answers)
    for i, q in enumerate(questions):
        assert q in report.markdown or f"Q{i + 1}" in report.markdown or q[:30] in report.markdown
    assert report.backend.startswith("offline scripted model")
    assert report.cost_usd > 0 and report.usage.output_tokens > 0
    assert [s.step for s in report.steps][0] == "plan"
    assert [s.step for s in report.steps][-1] == "synthesize"
    assert len(detail.children) == 4
    assert all(c.status == "SUCCESS" for c in detail.children)
    names = [s.name for s in detail.steps]
    assert "plan" in names and "synthesize" in names and "DBOS.recv" in names
    assert detail.row.progress is not None and detail.row.progress.phase == "done"
    # The list shows the cost from the progress event, without loading the output.
    listed = next(r for r in await sup.list_workflows() if r.workflow_id == wid)
    assert listed.cost_usd == pytest.approx(report.cost_usd)

    # The run's own stream has the plan and synthesis; each child has its research answer.
    batches = await sup.read_streams({wid: 0, **{c.workflow_id: 0 for c in detail.children}})
    by_wid = {b.workflow_id: b for b in batches}
    steps = {c.step_name for c in by_wid[wid].chunks}
    assert steps == {"plan", "synthesize"}
    assert by_wid[wid].closed is False or by_wid[wid].closed is True
    for child in detail.children:
        chunks = by_wid[child.workflow_id].chunks
        text = "".join(c.text for c in chunks)
        assert text.strip() and text.strip() in "".join(a.text for a in report.answers)
    synth = "".join(c.text for c in by_wid[wid].chunks if c.step_name == "synthesize")
    assert synth == report.markdown
    kinds = {p.kind for c in by_wid[wid].chunks for p in c.parts}
    assert {"text", "thinking", "status", "usage"} <= {str(k) for k in kinds}


async def test_double_answer_delivers_once(sup: Supervisor, db_url: str) -> None:
    wid = await launch(sup, questions=1)
    await wait_approval(sup, wid)
    approve = ApprovalAnswer(decision=ApprovalDecision.APPROVE)
    # Two dashboards pressing at once: both see "pending", both send with the same key.
    first, second = await asyncio.gather(sup.answer(wid, approve), sup.answer(wid, approve))
    assert first.ok and second.ok
    with sqlite3.connect(db_path(db_url)) as conn:
        (n,) = conn.execute(
            "select count(*) from notifications where destination_uuid = ?", (wid,)
        ).fetchone()
    assert n == 1
    assert await finish(sup, wid) == "SUCCESS"
    # A later answer is told the request was already answered.
    third = await sup.answer(wid, ApprovalAnswer(decision=ApprovalDecision.REJECT))
    assert not third.ok and "already approve" in third.message


async def test_reject_ends_the_run_with_outcome_rejected(sup: Supervisor) -> None:
    wid = await launch(sup, questions=2)
    await wait_approval(sup, wid)
    await sup.answer(wid, ApprovalAnswer(decision=ApprovalDecision.REJECT, comment="too broad"))
    assert await finish(sup, wid) == "SUCCESS"
    report = (await sup.detail(wid)).result
    assert isinstance(report, ResearchReport)
    assert report.outcome == "rejected" and "too broad" in report.markdown
    assert report.answers == ()


async def test_edited_plan_is_researched(sup: Supervisor) -> None:
    wid = await launch(sup, questions=3)
    await wait_approval(sup, wid)
    edited = ("Why do retries need idempotency?", "What does a checkpoint cost?")
    await sup.answer(wid, ApprovalAnswer(decision=ApprovalDecision.EDIT, questions=edited))
    assert await finish(sup, wid) == "SUCCESS"
    report = (await sup.detail(wid)).result
    assert isinstance(report, ResearchReport)
    assert report.questions == edited
    assert [a.question for a in report.answers] == list(edited)


async def test_invalid_answer_is_rejected_before_sending(sup: Supervisor) -> None:
    wid = await launch(sup, questions=1)
    await wait_approval(sup, wid)
    with pytest.raises(SupervisorError, match="edited question list"):
        await sup.answer(wid, {"decision": "edit"})
    assert (await sup.get_row(wid)).waiting_approval


async def test_approval_timeout_ends_the_run(sup: Supervisor) -> None:
    wid = await launch(sup, questions=1, approval_timeout_s=0.3)
    assert await finish(sup, wid) == "ERROR"
    row = await sup.get_row(wid)
    assert "ApprovalTimeout" in row.error and "timed out" in row.error
    assert row.approval is not None and row.approval.state == "timed_out"
    late = await sup.answer(wid, ApprovalAnswer(decision=ApprovalDecision.APPROVE))
    assert not late.ok and "already timed_out" in late.message


async def test_invalid_plan_is_retried_then_succeeds(sup: Supervisor) -> None:
    wid = await launch(sup, questions=2, fault="plan.invalid_plan*1")
    await wait_approval(sup, wid)
    batches = await sup.read_streams({wid: 0})
    plan_chunks = [c for c in batches[0].chunks if c.step_name == "plan"]
    assert {c.attempt for c in plan_chunks} == {1, 2}
    errors = [p.text for c in plan_chunks for p in c.parts if p.kind == "error"]
    assert errors and "will retry" in errors[0]
    detail = await sup.detail(wid)
    plan_step = next(s for s in detail.steps if s.name == "plan")
    assert plan_step.attempts == 2 and plan_step.status == "done"


async def test_invalid_plan_every_time_fails_clearly(sup: Supervisor) -> None:
    wid = await launch(sup, questions=2, fault="plan.invalid_plan*inf")
    assert await finish(sup, wid) == "ERROR"
    row = await sup.get_row(wid)
    assert "planning failed" in row.error and "attempts" in row.error


async def test_overload_is_retried(sup: Supervisor) -> None:
    wid = await launch(sup, questions=1, fault="plan.overload*2")
    await wait_approval(sup, wid)
    chunks = (await sup.read_streams({wid: 0}))[0].chunks
    assert {c.attempt for c in chunks if c.step_name == "plan"} == {1, 2, 3}


async def test_auth_error_is_not_retried(sup: Supervisor) -> None:
    wid = await launch(sup, questions=1, fault="plan.auth")
    assert await finish(sup, wid) == "ERROR"
    row = await sup.get_row(wid)
    assert "authentication failed" in row.error and "not retried" in row.error
    chunks = (await sup.read_streams({wid: 0}))[0].chunks
    assert {c.attempt for c in chunks} == {1}


async def test_one_failed_question_keeps_the_others(sup: Supervisor) -> None:
    wid = await launch(sup, questions=3, fault="research@2.invalid_request*inf")
    assert await approve_and_finish(sup, wid) == "SUCCESS"
    report = (await sup.detail(wid)).result
    assert isinstance(report, ResearchReport)
    assert [a.ok for a in report.answers] == [True, False, True]
    assert "invalid request" in report.answers[1].error
    assert report.note == "1 of 3 questions failed"
    assert "failed" in report.markdown.lower()
    children = (await sup.detail(wid)).children
    assert sorted(c.status for c in children) == ["ERROR", "SUCCESS", "SUCCESS"]


async def test_failed_run_resumes_from_the_failed_step(sup: Supervisor) -> None:
    wid = await launch(sup, questions=1, fault="synthesize.invalid_request*1")
    assert await approve_and_finish(sup, wid) == "ERROR"
    assert "synthesis failed" in (await sup.get_row(wid)).error
    res = await sup.resume(wid)
    assert res.ok, res.message
    assert await finish(sup, wid) == "SUCCESS"
    report = (await sup.detail(wid)).result
    assert isinstance(report, ResearchReport) and report.outcome == "completed"
    # The plan was not made again: one plan attempt in the stream.
    chunks = (await sup.read_streams({wid: 0}))[0].chunks
    assert {c.attempt for c in chunks if c.step_name == "plan"} == {1}


async def test_fork_from_synthesis(sup: Supervisor) -> None:
    wid = await launch(sup, questions=1)
    assert await approve_and_finish(sup, wid) == "SUCCESS"
    detail = await sup.detail(wid)
    synth = next(s for s in detail.steps if s.name == "synthesize")
    res = await sup.fork(wid, synth.step_id)
    assert res.ok and res.workflow_id != wid
    assert await finish(sup, res.workflow_id) == "SUCCESS"
    fork = await sup.detail(res.workflow_id)
    assert fork.row.forked_from == wid
    assert (await sup.detail(wid)).forks == (res.workflow_id,)
    # DBOS copies the output written before the fork point; only the synthesis ran again.
    forked = (await sup.read_streams({res.workflow_id: 0}))[0].chunks
    original = (await sup.read_streams({wid: 0}))[0].chunks
    assert [c for c in forked if c.step_name == "plan"] == [
        c for c in original if c.step_name == "plan"
    ]
    new_synth = [c for c in forked if c.step_name == "synthesize"]
    old_synth = [c for c in original if c.step_name == "synthesize"]
    assert new_synth and min(c.ts for c in new_synth) > max(c.ts for c in old_synth)


async def test_cancel_and_resume(sup: Supervisor) -> None:
    wid = await launch(sup, questions=1)
    await wait_approval(sup, wid)
    assert (await sup.cancel(wid)).ok
    assert await finish(sup, wid) == "CANCELLED"
    assert not (await sup.cancel(wid)).ok
    assert (await sup.resume(wid)).ok
    assert await approve_and_finish(sup, wid) == "SUCCESS"
    assert not (await sup.resume(wid)).ok


async def test_idempotent_launch_by_id(sup: Supervisor) -> None:
    a = await sup.launch("research", {"topic": TOPIC}, workflow_id="my-run")
    b = await sup.launch("research", {"topic": TOPIC}, workflow_id="my-run")
    assert a.workflow_id == b.workflow_id == "my-run"
    assert "already exists" in b.message


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"topic": "ab"}, "at least 3"),
        ({"topic": "x" * 501}, "at most 500"),
        ({"topic": TOPIC, "questions": 0}, "greater than or equal to 1"),
        ({"topic": TOPIC, "questions": 11}, "less than or equal to 10"),
        ({"topic": TOPIC, "model": "two words"}, "pattern"),
        ({"topic": TOPIC, "bogus": 1}, "Extra inputs"),
    ],
)
async def test_bad_launch_input(sup: Supervisor, data: dict[str, object], needle: str) -> None:
    with pytest.raises(SupervisorError, match=needle):
        await sup.launch("research", data)


async def test_unknown_ids(sup: Supervisor) -> None:
    with pytest.raises(SupervisorError, match="unknown workflow id"):
        await sup.resolve_id("nope")
    with pytest.raises(SupervisorError, match="unknown workflow id"):
        await sup.detail("nope")


async def test_stream_writes_are_coalesced(sup: Supervisor) -> None:
    wid = await launch(sup, questions=1)
    await wait_approval(sup, wid)
    chunks = (await sup.read_streams({wid: 0}))[0].chunks
    plan = [c for c in chunks if c.step_name == "plan"]
    # Unpaced, the whole plan arrives within one flush interval: a handful of writes, not
    # one per token.
    tokens = sum(len(p.text.split()) for c in plan for p in c.parts)
    assert tokens > 20
    assert len(plan) <= 3
    assert all(isinstance(c, StreamChunk) for c in plan)
