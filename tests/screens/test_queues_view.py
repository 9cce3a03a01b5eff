"""Queues and schedules: the data layer on a real SQLite file and on PostgreSQL, and the views."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from textual.widgets import DataTable, Static

from tests.conftest import wait_for
from tests.support.pilot import SIZE, make_app, notices, table, until
from tests.support.runs import launch, wait_approval
from tui.app import AgentDeckApp
from tui.screens.queues import QueuesScreen, SchedulesScreen
from tui.screens.workflows import WorkflowsScreen
from tui.supervisor import Supervisor
from tui.supervisor._queues import QueueRow, ScheduleRow, next_run, queue_rows, schedule_rows
from tui.supervisor.engine import SQL
from workflows.model_offline.transport import reset_faults, transport_factory
from workflows.models import ResearchRequest
from workflows.queues import RESEARCH_QUEUE, launch_concurrency, research_concurrency
from workflows.runtime import APP_NAME, LAUNCH_QUEUE, Runtime, RuntimeSettings

HELD = "agentdeck-test-held"
#: 2026-03-14 12:00 UTC, a Saturday (Berlin is on UTC+1 until 2026-03-29).
NOON = datetime(2026, 3, 14, 12, 0, tzinfo=UTC).timestamp()


def by_name(rows: list[QueueRow] | list[ScheduleRow]) -> dict[str, Any]:
    return {r.name: r for r in rows}


class StatementCounter:
    """Every SQL statement a data layer's engine sends: DBOS's own (SQLAlchemy's cursor events)
    and the data core's (counted by its ``DB``: they run on the pool's raw connections, which
    those events do not see)."""

    def __init__(self, sql: SQL) -> None:
        self.sql = sql
        self.engine = sql.engine
        self._dbos = 0
        self._ours = sql.statements
        sa.event.listen(self.engine, "before_cursor_execute", self._seen)

    def _seen(self, *args: Any) -> None:
        self._dbos += 1

    @property
    def count(self) -> int:
        return self._dbos + self.sql.statements - self._ours

    @count.setter
    def count(self, value: int) -> None:
        self._dbos, self._ours = value, self.sql.statements

    def close(self) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._seen)


@pytest.fixture
def statements(sup: Supervisor) -> Iterator[StatementCounter]:
    counter = StatementCounter(sup.sql)
    try:
        yield counter
    finally:
        counter.close()


async def hold(sup: Supervisor, n: int) -> None:
    """A queue of ours with a global limit of 1 and a rate limit: one run, the rest wait."""
    await sup.client.register_queue_async(
        HELD,
        global_concurrency=1,
        limiter={"limit": 10, "period": 60.0},
        application_name=APP_NAME,
    )
    for i in range(n):
        await sup.client.enqueue_async(
            {
                "workflow_name": "research",
                "queue_name": HELD,
                "priority": 5,
                "application_name": APP_NAME,
            },
            ResearchRequest(topic=f"held topic {i}", questions=1),
        )

    async def settled() -> bool:
        q = by_name(await queue_rows(sup)).get(HELD)
        return q is not None and (q.running, q.enqueued) == (1, n - 1)

    await wait_for(settled, within=30)


# -- data layer, SQLite ---------------------------------------------------------------------


async def test_runs_waiting_for_approval_run_on_the_launch_queue(
    sup: Supervisor, statements: StatementCounter
) -> None:
    ids = [await launch(sup, questions=n) for n in (2, 3)]  # identical ones would be refused
    for wid in ids:
        await wait_approval(sup, wid)
    statements.count = 0
    rows = by_name(await queue_rows(sup))
    assert statements.count == 2  # list_queues + one aggregate, whatever the number of runs
    launch_q = rows[LAUNCH_QUEUE]
    assert launch_q.registered and (launch_q.running, launch_q.enqueued) == (2, 0)
    assert launch_q.oldest_wait_s is None and not launch_q.priority_in_use
    assert launch_q.worker_concurrency == launch_concurrency()
    # The seed default rate limit, two of its starts used; each run holds its dedup id.
    assert (launch_q.rate_limit, launch_q.rate_period_s, launch_q.rate_used) == (50, 60.0, 2)
    assert launch_q.dedup_held == 2 and launch_q.delayed == 0 and not launch_q.rate_full
    research = rows[RESEARCH_QUEUE]
    assert research.worker_concurrency == research_concurrency() == 2
    assert research.global_concurrency is None and research.rate_limit is None
    assert (research.running, research.enqueued) == (0, 0)


async def test_limits_priority_and_oldest_wait(sup: Supervisor) -> None:
    await hold(sup, 3)
    q = by_name(await queue_rows(sup))[HELD]
    assert (q.global_concurrency, q.worker_concurrency) == (1, None)
    assert (q.rate_limit, q.rate_period_s) == (10, 60.0)
    assert q.priority_in_use and q.saturated and q.queued_by_priority == ((5, 2),)
    assert q.rate_used == 1 and q.rate_frees_at is not None  # the one running started it
    assert q.oldest_wait_s is not None and 0 <= q.oldest_wait_s < 30
    later = by_name(await queue_rows(sup, now=time.time() + 3600))[HELD]
    assert later.oldest_wait_s is not None and later.oldest_wait_s >= 3600  # measured from `now`


async def test_schedules_next_run_pause_and_latest_runs(
    sup: Supervisor, statements: StatementCounter
) -> None:
    assert await schedule_rows(sup) == []
    await sup.client.create_schedule_async(
        schedule_name="nightly-research", workflow_name="research", schedule="0 3 * * *"
    )
    await sup.client.create_schedule_async(
        schedule_name="weekly-berlin",
        workflow_name="research",
        schedule="30 9 * * 1",
        cron_timezone="Europe/Berlin",
    )
    rows = by_name(await schedule_rows(sup, now=NOON))
    nightly, weekly = rows["nightly-research"], rows["weekly-berlin"]
    assert (nightly.workflow_name, nightly.cron, nightly.timezone) == (
        "research",
        "0 3 * * *",
        "UTC",
    )
    assert nightly.status == "active" and nightly.last_runs == ()
    assert nightly.next_run_at == datetime(2026, 3, 15, 3, 0, tzinfo=UTC).timestamp()
    # Monday 09:30 in Berlin is 08:30 UTC in March.
    assert weekly.next_run_at == datetime(2026, 3, 16, 8, 30, tzinfo=UTC).timestamp()
    assert weekly.timezone == "Europe/Berlin"

    await asyncio.to_thread(sup.client.pause_schedule, "weekly-berlin")
    weekly = by_name(await schedule_rows(sup, now=NOON))["weekly-berlin"]
    assert weekly.status == "paused" and weekly.next_run_at is None

    # Fire the nightly one by hand four times: the row carries the latest three, newest first.
    # (The research workflow does not take a schedule's arguments, so the runs fail: fine.)
    fired = [
        (await asyncio.to_thread(sup.client.trigger_schedule, "nightly-research")).workflow_id
        for _ in range(4)
    ]

    async def all_failed() -> bool:
        row = by_name(await schedule_rows(sup))["nightly-research"]
        return [r.status for r in row.last_runs] == ["ERROR"] * 3

    await wait_for(all_failed)
    statements.count = 0
    nightly = by_name(await schedule_rows(sup))["nightly-research"]
    assert statements.count == 2  # list_schedules + one window query for every schedule
    assert [r.workflow_id for r in nightly.last_runs] == fired[::-1][:3]
    assert all(r.created_at is not None for r in nightly.last_runs)


def test_next_run_follows_the_dbos_scheduler_rules() -> None:
    assert next_run("0 3 * * *", after=NOON) == datetime(2026, 3, 15, 3, tzinfo=UTC).timestamp()
    assert next_run("*/20 * * * * *", after=NOON) == NOON + 20  # six fields: seconds first
    assert (
        next_run("0 3 * * *", after=NOON, tz="America/New_York")
        == datetime(2026, 3, 15, 7, tzinfo=UTC).timestamp()
    )  # 03:00 EDT
    assert next_run("not a cron", after=NOON) is None


# -- data layer, PostgreSQL -----------------------------------------------------------------


@pytest.mark.postgres
async def test_queues_and_schedules_on_postgres(pg_database: str, tmp_path: Path) -> None:
    reset_faults()
    rt = Runtime(
        RuntimeSettings(
            db_url=pg_database,
            offline=True,
            offline_tps=0,
            state_dir=tmp_path / "state",
            polling_interval_s=0.02,
            transport_factory=transport_factory,
        )
    )
    await asyncio.to_thread(rt.launch)
    sup = Supervisor(pg_database)
    try:
        await sup.connect()
        counter = StatementCounter(sup.sql)
        wid = await launch(sup, questions=1)
        await wait_approval(sup, wid)
        await hold(sup, 2)
        counter.count = 0
        rows = by_name(await queue_rows(sup))
        assert counter.count == 2
        assert (rows[LAUNCH_QUEUE].running, rows[LAUNCH_QUEUE].enqueued) == (1, 0)
        assert rows[RESEARCH_QUEUE].worker_concurrency == 2
        held = rows[HELD]
        assert (held.running, held.enqueued, held.priority_in_use) == (1, 1, True)
        assert (held.rate_limit, held.rate_period_s) == (10, 60.0)

        await sup.client.create_schedule_async(
            schedule_name="nightly-research", workflow_name="research", schedule="0 3 * * *"
        )
        fired = await asyncio.to_thread(sup.client.trigger_schedule, "nightly-research")
        counter.count = 0
        nightly = by_name(await schedule_rows(sup, now=NOON))["nightly-research"]
        assert counter.count == 2
        assert nightly.next_run_at == datetime(2026, 3, 15, 3, tzinfo=UTC).timestamp()
        assert [r.workflow_id for r in nightly.last_runs] == [fired.workflow_id]
        counter.close()
    finally:
        await sup.close()
        await asyncio.to_thread(rt.shutdown)


# -- the views (Pilot, real embedded DBOS on SQLite) ----------------------------------------


def grid(app: AgentDeckApp) -> DataTable[Any]:
    found: DataTable[Any] = app.screen.query_one(DataTable)
    return found


def cell(app: AgentDeckApp, row: str, col: str) -> str:
    try:
        return str(grid(app).get_cell(row, col))
    except Exception:
        return ""


async def test_queue_view_counts_live_and_enter_filters_the_list(
    sup: Supervisor, runtime: Runtime
) -> None:
    first = await launch(sup, questions=1)
    await wait_approval(sup, first)
    app = make_app(sup, runtime)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: first in table(app).rows_by_id)
        await pilot.press("Q")
        assert isinstance(app.screen, QueuesScreen)
        view = app.screen
        await until(pilot, lambda: cell(app, LAUNCH_QUEUE, "running") == "1")
        assert cell(app, RESEARCH_QUEUE, "worker") == "2"
        assert cell(app, LAUNCH_QUEUE, "rate") == "1/50 per 60s"  # the limiter and its window
        assert cell(app, LAUNCH_QUEUE, "dedup") == "1"
        assert cell(app, LAUNCH_QUEUE, "priority") == ""  # nothing queued by priority (was "on")
        # A second run: the same row updates in place (the cursor stays on it).
        grid(app).move_cursor(row=grid(app).get_row_index(LAUNCH_QUEUE))
        second = await launch(sup, questions=2)
        await until(pilot, lambda: cell(app, LAUNCH_QUEUE, "running") == "2")
        assert cell(app, LAUNCH_QUEUE, "rate") == "2/50 per 60s"
        detail = str(view.query_one("#queue-detail", Static).render())
        assert "2 of 50 starts used in the last 60s" in detail
        assert "lower number runs first" in detail and "2 ids held" in detail
        selected = view.selected()
        assert selected is not None and selected.name == LAUNCH_QUEUE
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, WorkflowsScreen))
        screen = app.screen
        assert isinstance(screen, WorkflowsScreen)
        assert screen.filter.text == f"queue:{LAUNCH_QUEUE}"
        await until(pilot, lambda: set(table(app).rows_by_id) == {first, second})
        assert len(app.screen_stack) == 2  # the queue view is gone, not stacked


async def test_schedule_view_escape_switch_and_palette(sup: Supervisor, runtime: Runtime) -> None:
    await sup.client.create_schedule_async(
        schedule_name="nightly-research", workflow_name="research", schedule="0 3 * * *"
    )
    app = make_app(sup, runtime)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.connected)
        depth = len(app.screen_stack)
        await pilot.press("S")
        assert isinstance(app.screen, SchedulesScreen)
        await until(pilot, lambda: cell(app, "nightly-research", "next").startswith("in "))
        assert cell(app, "nightly-research", "status") == "● active"
        assert cell(app, "nightly-research", "runs") == "never"
        await pilot.press("t")  # fire it now (research takes no schedule arguments: it fails)
        await until(pilot, lambda: "triggered nightly-research: sched-" in notices(app))
        await until(pilot, lambda: cell(app, "nightly-research", "runs") == "✖")
        await pilot.press("Q")  # one view replaces the other
        await until(pilot, lambda: isinstance(app.screen, QueuesScreen))
        assert len(app.screen_stack) == depth + 1
        await pilot.press("escape")
        assert isinstance(app.screen, WorkflowsScreen)
        await pilot.press("ctrl+p", *"Schedules")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, SchedulesScreen))
        await pilot.press("enter")  # the schedule's runs: none yet
        await until(pilot, lambda: isinstance(app.screen, WorkflowsScreen))
        screen = app.screen
        assert isinstance(screen, WorkflowsScreen)
        assert screen.filter.text == "id:sched-nightly-research-"
        assert "nothing selected" not in notices(app)
