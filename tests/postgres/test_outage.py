"""The database goes away and comes back: the dashboard says so, keeps its data, recovers."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import Static

from tests.pg import ThrowawayPostgres
from tests.support.pilot import SIZE, table, until
from tests.support.procs import kill, start_worker
from tui.app import AgentDeckApp
from tui.supervisor import Supervisor
from workflows.models import ApprovalAnswer, ApprovalDecision

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
def own_pg() -> Iterator[ThrowawayPostgres]:
    """A server of our own: this test stops it, which the shared one must not suffer."""
    server = ThrowawayPostgres()
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def test_postgres_outage_during_a_run(own_pg: ThrowawayPostgres, tmp_path: Path) -> None:
    url = own_pg.url
    worker = start_worker(url, "w1", tmp_path)
    try:
        sup = Supervisor(url)
        app = AgentDeckApp(sup, mode="attach", poll_interval=0.1)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.connected)
            res = await sup.launch("research", {"topic": "outages", "questions": 1})
            wid = res.workflow_id
            await until(
                pilot,
                lambda: (
                    table(app).rows_by_id.get(wid) is not None
                    and table(app).rows_by_id[wid].waiting_approval
                ),
                within=60,
            )

            await asyncio.to_thread(own_pg.pause)
            await until(pilot, lambda: not app.connected, within=10)
            status = str(app.screen.query_one("#status-line", Static).render())
            assert "disconnected" in status
            assert wid in table(app).rows_by_id  # the last data stays on screen
            await pilot.press("j", "k", "question_mark", "escape")  # still usable

            await asyncio.to_thread(own_pg.resume)
            back = time.monotonic()
            await until(pilot, lambda: app.connected, within=10)
            assert time.monotonic() - back <= 2.0 + 0.5  # live again within ~2 s
            # The run was not lost: answer it and watch it finish.
            await until(pilot, lambda: table(app).rows_by_id[wid].waiting_approval, within=30)
            assert (await sup.answer(wid, ApprovalAnswer(decision=ApprovalDecision.APPROVE))).ok
            await until(pilot, lambda: table(app).rows_by_id[wid].status == "SUCCESS", within=60)
    finally:
        kill(worker)


def test_cli_reports_an_unreachable_database_in_one_line(tmp_path: Path) -> None:
    env = dict(os.environ, AGENTDECK_STATE_DIR=str(tmp_path / "state"))
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "tui.cli",
            "--db",
            "postgresql://agentdeck:s3cret-pass@127.0.0.1:9/nope",
            "ls",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("agentdeck: error: cannot open")
    assert "s3cret-pass" not in out.stderr + out.stdout and "Traceback" not in out.stderr


async def test_attach_to_a_database_that_is_not_there_yet(tmp_path: Path) -> None:
    """A dashboard attached before any worker made its SQLite file says why the list is empty,
    leaves no empty file behind, and lists the runs once a worker has created the database."""
    from tests.conftest import launched
    from workflows.runtime import RuntimeSettings

    path = tmp_path / "later.sqlite"
    url = f"sqlite:///{path}"
    app = AgentDeckApp(Supervisor(url), runtime=None, poll_interval=0.05)
    async with app.run_test(size=SIZE) as pilot:

        def counts() -> str:
            return str(app.screen.query_one("#counts", Static).render())

        await until(pilot, lambda: "not connected: no database at" in counts())
        assert str(path) in counts() and not app.connected
        assert not path.exists()
        settings = RuntimeSettings(db_url=url, offline=True, state_dir=tmp_path / "worker")
        async with launched(settings):
            await until(pilot, lambda: app.connected and "no workflows yet" in counts())
