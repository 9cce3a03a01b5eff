"""Crash recovery: SIGKILL ``agentdeck launch --wait`` mid-research, restart, get the same report.

The run is paced (``AGENTDECK_OFFLINE_TPS=40``) so that the test can kill the whole process group
(the CLI and its Claude Code children) while the research questions are being answered, after at
least one of them finished. A fresh runtime on the same database (same executor id "local", same
application version) recovers the run: the completed plan and research steps are not sent to the
model again, and the report is identical to an uninterrupted run's.
"""

from __future__ import annotations

import os
import subprocess
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest

from tests.conftest import connected, launched, wait_for
from tests.support.procs import agentdeck_bin, kill_group, live_group_members, running_in, spawn
from tui.supervisor import Supervisor, SupervisorError
from workflows.model_offline import RequestRecord
from workflows.models import ApprovalAnswer, ApprovalDecision, ResearchReport
from workflows.runtime import Runtime, RuntimeSettings

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

REPO = Path(__file__).resolve().parents[2]
TOPIC = "durable execution"
QUESTIONS = 3
RUN_ID = "crash-run"

Popen = subprocess.Popen[bytes]


def cli_runtime(db_url: str, state_dir: Path) -> AbstractAsyncContextManager[Runtime]:
    """An embedded runtime driving the real Claude Code CLI against an unpaced loopback server."""
    return launched(
        RuntimeSettings(db_url=db_url, offline=True, offline_tps=0, state_dir=state_dir)
    )


async def finished(sup: Supervisor, wid: str, within: float = 90) -> str:
    async def done() -> bool:
        return not (await sup.get_row(wid)).active

    await wait_for(done, within=within, interval=0.1)
    return (await sup.get_row(wid)).status


async def report_of(sup: Supervisor, wid: str) -> ResearchReport:
    detail = await sup.detail(wid)
    assert detail.row.status == "SUCCESS", detail.error
    report = detail.result
    assert isinstance(report, ResearchReport)
    return report


async def uninterrupted_report(tmp_path: Path) -> ResearchReport:
    """The same request, run start to finish on a fresh database."""
    db_url = f"sqlite:///{tmp_path / 'b.sqlite'}"
    async with cli_runtime(db_url, tmp_path / "state-b"), connected(db_url) as sup:
        res = await sup.launch("research", {"topic": TOPIC, "questions": QUESTIONS, "fault": ""})
        wid = res.workflow_id

        async def waiting() -> bool:
            return (await sup.get_row(wid)).waiting_approval

        await wait_for(waiting, within=60, interval=0.05)
        answered = await sup.answer(wid, ApprovalAnswer(decision=ApprovalDecision.APPROVE))
        assert answered.ok, answered.message
        assert await finished(sup, wid) == "SUCCESS"
        return await report_of(sup, wid)


async def test_sigkill_mid_research_then_recover(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'a.sqlite'}"
    state_dir = tmp_path / "state"
    out_path = tmp_path / "agentdeck.out"
    env = {
        **os.environ,
        "AGENTDECK_OFFLINE_TPS": "40",
        "AGENTDECK_STATE_DIR": str(state_dir),
        "AGENTDECK_RESEARCH_CONCURRENCY": "2",
    }
    env.pop("AGENTDECK_OFFLINE_FAULTS", None)
    cmd = [
        agentdeck_bin(),
        "--db",
        db_url,
        "--offline",
        "launch",
        "research",
        "--topic",
        TOPIC,
        "--questions",
        str(QUESTIONS),
        "--id",
        RUN_ID,
        "--auto-approve",
        "--wait",
    ]
    proc = spawn(cmd, cwd=tmp_path, env=env, out_path=out_path)
    try:

        def output() -> str:
            return out_path.read_text(errors="replace")

        def alive() -> None:
            assert proc.poll() is None, f"agentdeck exited early ({proc.returncode}):\n{output()}"

        def launched() -> bool:
            alive()
            return f"launched {RUN_ID}" in output()

        await wait_for(launched, within=60, interval=0.05)

        async with connected(db_url) as sup:

            async def researching_with_one_child_done() -> bool:
                alive()
                try:
                    detail = await sup.detail(RUN_ID)
                except SupervisorError:  # the other process holds the SQLite write lock
                    return False
                progress = detail.row.progress
                return (
                    progress is not None
                    and progress.phase == "researching"
                    and any(c.status == "SUCCESS" for c in detail.children)
                )

            await wait_for(researching_with_one_child_done, within=90, interval=0.05)
            kill_group(proc)
            await wait_for(
                lambda: not live_group_members(proc.pid) and not running_in(state_dir),
                within=10,
                interval=0.05,
            )

            # The database as the crash left it.
            before = await sup.detail(RUN_ID)
            assert before.row.status == "PENDING"
            assert next(s for s in before.steps if s.name == "plan").status == "done"
            researched = 0
            for child in before.children:
                steps = (await sup.detail(child.workflow_id)).steps
                researched += any(s.name == "research" and s.status == "done" for s in steps)
            assert 1 <= researched < QUESTIONS, "the kill was meant to land mid-research"

            async with cli_runtime(db_url, state_dir) as rt:
                assert await finished(sup, RUN_ID) == "SUCCESS"
                report = await report_of(sup, RUN_ID)
                records: list[RequestRecord] = rt.offline_server.requests()
            after = await sup.get_row(RUN_ID)
    finally:
        if proc.poll() is None or live_group_members(proc.pid):
            kill_group(proc)

    assert report.outcome == "completed"
    assert len(report.questions) == QUESTIONS
    assert [a.index for a in report.answers] == list(range(QUESTIONS))
    assert all(a.ok and a.text for a in report.answers)
    for i, q in enumerate(report.questions):
        assert f"Q{i + 1}" in report.markdown or q[:30] in report.markdown
    assert after.executor == "local"
    tasks = [r.task for r in records]
    assert after.recovery_attempts >= 2  # started once, recovered once
    print(
        f"research steps done before the kill: {researched}/{QUESTIONS}; "
        f"requests after the restart: {tasks}"
    )

    assert "plan" not in tasks, "the plan step completed before the crash and was re-run"
    # Only the questions whose research step had not completed went to the model again.
    assert tasks.count("research") == QUESTIONS - researched < QUESTIONS
    assert tasks.count("synthesize") == 1
    assert all(r.status == 200 and r.outcome == "completed" for r in records)

    reference = await uninterrupted_report(tmp_path)
    assert report.questions == reference.questions
    assert [a.text for a in report.answers] == [a.text for a in reference.answers]
    assert report.markdown == reference.markdown
