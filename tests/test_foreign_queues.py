"""The list and the queue view attached to an app with the queue shapes real apps have
(tests/foreign_queues_app.py): a partitioned queue, a rate-limited one, priorities, a debouncer,
plain and pickled inputs."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable

from tests.conftest import fresh_pg_database
from tests.test_dashboard import until
from tui.app import AgentDeckApp
from tui.screens.queues import QueuesScreen
from tui.supervisor import Supervisor

ROOT = Path(__file__).resolve().parent.parent
#: A wide terminal: the width issue #13 was seen at.
WIDE = (170, 45)


def start_queues_app(db_url: str, cwd: Path) -> subprocess.Popen[str]:
    """The foreign app, once it says READY (every run where it stays)."""
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "foreign_queues_app.py"), db_url],
        cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if line != "READY":
        stop(proc)
        raise AssertionError(f"foreign queues app did not start: {line!r}, rc {proc.poll()}")
    return proc


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.stdin is not None and not proc.stdin.closed:
        proc.stdin.close()  # the app destroys DBOS and exits
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=30)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def queues_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The app's database, SQLite and PostgreSQL, for the data-layer tests (the runs only sit
    there and the tests only read: one app per module and database)."""
    tmp = tmp_path_factory.mktemp("queues")
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp / 'queues.sqlite'}"
        else:
            url = stack.enter_context(fresh_pg_database(request.getfixturevalue("pg_url")))
        proc = start_queues_app(url, tmp)
        stack.callback(stop, proc)
        yield url


@pytest.fixture(scope="module")
def queues_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app on SQLite, for the Pilot tests."""
    tmp = tmp_path_factory.mktemp("queues-ui")
    url = f"sqlite:///{tmp / 'queues.sqlite'}"
    proc = start_queues_app(url, tmp)
    try:
        yield url
    finally:
        stop(proc)


@pytest.fixture
async def attached(queues_db: str) -> AsyncIterator[Supervisor]:
    sup = Supervisor(queues_db)
    await sup.connect()
    try:
        yield sup
    finally:
        await sup.close()


def attach(db_url: str) -> AgentDeckApp:
    return AgentDeckApp(Supervisor(db_url), mode="attach", poll_interval=0.05)


def grid(app: AgentDeckApp) -> DataTable[Any]:
    found: DataTable[Any] = app.screen.query_one(DataTable)
    return found


def cell(app: AgentDeckApp, row: str, col: str) -> str | None:
    """A cell of the queue view as text (None while the row is not shown)."""
    try:
        return str(grid(app).get_cell(row, col))
    except Exception:
        return None


# -- #13 item 7: the PRIORITY column says what is queued by priority, or nothing -------------


async def test_priority_column_lists_queued_priorities_or_nothing(queues_sqlite: str) -> None:
    app = attach(queues_sqlite)
    async with app.run_test(size=WIDE) as pilot:
        await until(pilot, lambda: app.connected)
        await pilot.press("Q")
        assert isinstance(app.screen, QueuesScreen)
        await until(pilot, lambda: cell(app, "priority_queue", "priority") is not None)
        assert cell(app, "priority_queue", "priority") == "p1×3 p5×1"
        # Runs queued without a priority are not "queued by priority" (was "none×2").
        assert cell(app, "rate_limited_queue", "priority") == ""
        # Nothing queued at all (was "on").
        assert cell(app, "_dbos_internal_queue", "priority") == ""
        grid(app).move_cursor(row=grid(app).get_row_index("rate_limited_queue"))
        await pilot.pause()
        detail = str(app.screen.query_one("#queue-detail").render())
        assert "nothing queued with a priority" in detail
        grid(app).move_cursor(row=grid(app).get_row_index("priority_queue"))
        await pilot.pause()
        detail = str(app.screen.query_one("#queue-detail").render())
        assert "queued p1 ×3, p5 ×1" in detail
