"""A SQLite file whose write lock another process holds: reads go on, writes say why, nothing
is lost."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from tests.conftest import wait_for
from tests.support.runs import launch, wait_approval
from tui.supervisor import Supervisor, SupervisorError
from workflows.models import ApprovalAnswer, ApprovalDecision
from workflows.runtime import Runtime

LOCKER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("LOCKED", flush=True)
sys.stdin.readline()  # hold the write lock until told
conn.execute("ROLLBACK")
"""

pytestmark = pytest.mark.slow


async def test_writes_under_a_held_lock_report_and_land_later(
    sup: Supervisor, runtime: Runtime, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTDECK_WRITE_TIMEOUT_S", "1.5")
    monkeypatch.setenv("AGENTDECK_READ_TIMEOUT_S", "1.5")
    wid = await launch(sup, questions=1)
    await wait_approval(sup, wid)
    locker = await asyncio.to_thread(
        subprocess.Popen,
        [sys.executable, "-c", LOCKER, db_url.removeprefix("sqlite:///")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert locker.stdout is not None
        assert (await asyncio.to_thread(locker.stdout.readline)).strip() == "LOCKED"
        # DBOS reads SQLite in write-locking transactions: reads and writes both report,
        # within the bound, instead of hanging.
        with pytest.raises(SupervisorError, match=r"within 1\.5 s \(locked by another process"):
            await sup.answer(wid, ApprovalAnswer(decision=ApprovalDecision.APPROVE))
        with pytest.raises(SupervisorError, match="locked by another process"):
            await sup.list_workflows()
    finally:
        assert locker.stdin is not None
        locker.stdin.write("\n")
        locker.stdin.flush()
        await asyncio.to_thread(locker.wait, 30)

    # Nothing lost: once the lock is gone the run still waits for its answer, takes it, and
    # finishes.
    async def answerable() -> bool:
        return (await sup.get_row(wid)).waiting_approval

    await wait_for(answerable, within=60)
    assert (await sup.answer(wid, ApprovalAnswer(decision=ApprovalDecision.APPROVE))).ok

    async def done() -> bool:
        return (await sup.get_row(wid)).status == "SUCCESS"

    await wait_for(done, within=60)
