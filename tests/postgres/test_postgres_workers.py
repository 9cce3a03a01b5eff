"""Scale-out on real PostgreSQL: two `agentdeck worker` processes share the queues."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import wait_for
from tests.support.procs import kill, start_worker
from tui.supervisor import Supervisor
from workflows.models import ApprovalAnswer, ApprovalDecision

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def workers(pg_database: str, tmp_path: Path) -> Iterator[list[subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []
    try:
        for name in ("w1", "w2"):
            procs.append(start_worker(pg_database, name, tmp_path))
        yield procs
    finally:
        for p in procs:
            kill(p)


async def test_two_workers_share_the_launch_queue(
    pg_database: str, workers: list[subprocess.Popen[str]]
) -> None:
    sup = Supervisor(pg_database)
    await sup.connect()
    try:
        ids = [
            (
                await sup.launch("research", {"topic": f"consensus protocols {i}", "questions": 1})
            ).workflow_id
            for i in range(2)
        ]

        async def both_waiting() -> bool:
            rows = [await sup.get_row(w) for w in ids]
            return all(r.waiting_approval for r in rows)

        await wait_for(both_waiting, within=60)
        executors = {(await sup.get_row(w)).executor for w in ids}
        assert executors == {"w1", "w2"}
        inbox = await sup.approvals()
        assert {i.row.workflow_id for i in inbox} == set(ids)
        for wid in ids:
            assert (await sup.answer(wid, ApprovalAnswer(decision=ApprovalDecision.APPROVE))).ok

        async def all_done() -> bool:
            return [(await sup.get_row(w)).status for w in ids] == ["SUCCESS", "SUCCESS"]

        await wait_for(all_done, within=90)
        listed = await sup.list_workflows()
        assert {r.workflow_id for r in listed} >= set(ids)
        # The attach-mode data layer reads streams written by the workers.
        batches = await sup.read_streams(dict.fromkeys(ids, 0))
        assert {b.workflow_id for b in batches} == set(ids)
        assert all(any(c.step_name == "synthesize" for c in b.chunks) for b in batches)
        assert "***" in sup.display_url and sup.display_url != pg_database
    finally:
        await sup.close()


async def test_killed_worker_resumes_its_runs_on_restart(pg_database: str, tmp_path: Path) -> None:
    proc = start_worker(pg_database, "w1", tmp_path)
    sup = Supervisor(pg_database)
    await sup.connect()
    try:
        wid = await sup.launch("research", {"topic": "gossip protocols", "questions": 2})
        wid_id = wid.workflow_id

        async def waiting() -> bool:
            return (await sup.get_row(wid_id)).waiting_approval

        await wait_for(waiting, within=60)
        kill(proc)  # kill -9 while the run waits for its human
        # The answer is stored while no worker runs; the run is still PENDING.
        assert (await sup.answer(wid_id, ApprovalAnswer(decision=ApprovalDecision.APPROVE))).ok
        assert (await sup.get_row(wid_id)).status == "PENDING"
        proc = start_worker(pg_database, "w1", tmp_path)  # same executor id: DBOS recovers it

        async def done() -> bool:
            return (await sup.get_row(wid_id)).status == "SUCCESS"

        await wait_for(done, within=90)
        detail = await sup.detail(wid_id)
        plan_steps = [s for s in detail.steps if s.name == "plan"]
        assert len(plan_steps) == 1 and plan_steps[0].attempts == 1  # not planned again
        assert len(detail.children) == 2
    finally:
        kill(proc)
        await sup.close()


async def test_runs_of_a_dead_worker_are_flagged_and_taken_over(
    pg_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTDECK_PRESENCE_TTL_S", "1.5")
    w1 = start_worker(pg_database, "w1", tmp_path)
    w2: subprocess.Popen[str] | None = None
    sup = Supervisor(pg_database)
    await sup.connect()
    try:
        wid = await sup.launch("research", {"topic": "leader election", "questions": 1})
        run = wid.workflow_id

        async def waiting_on(executor: str) -> bool:
            row = await sup.get_row(run)
            return row.waiting_approval and row.executor == executor

        await wait_for(lambda: waiting_on("w1"), within=60)
        assert (await sup.get_row(run)).stranded == ""  # w1 beats: not stranded
        kill(w1)  # w1 never comes back
        w2 = start_worker(pg_database, "w2", tmp_path)

        async def flagged() -> bool:
            return "executor w1 is gone" in (await sup.get_row(run)).stranded

        await wait_for(flagged, within=20)
        listed = next(r for r in await sup.list_workflows() if r.workflow_id == run)
        assert "w1" in listed.stranded
        assert all(r.name != "agentdeck.worker" for r in await sup.list_workflows())
        live = await sup.executors()
        assert live["w2"][2] and not live["w1"][2]

        assert (await sup.take_over(run)).ok
        await wait_for(lambda: waiting_on("w2"), within=60)
        assert (await sup.get_row(run)).stranded == ""
        assert (await sup.answer(run, ApprovalAnswer(decision=ApprovalDecision.APPROVE))).ok

        async def done() -> bool:
            return (await sup.get_row(run)).status == "SUCCESS"

        await wait_for(done, within=90)
        chunks = (await sup.read_streams({run: 0}))[0].chunks
        assert {c.attempt for c in chunks if c.step_name == "plan"} == {1}  # not planned again
    finally:
        kill(w1)
        if w2 is not None:
            kill(w2)
        await sup.close()
