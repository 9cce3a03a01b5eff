"""The list and the queue view attached to an app with the queue shapes real apps have
(tests/foreign_queues_app.py): a partitioned queue, a rate-limited one, priorities, a debouncer,
plain and pickled inputs."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa
from textual.widgets import DataTable

from tests.test_dashboard import table, until
from tui.app import AgentDeckApp
from tui.screens.queues import QueuesScreen
from tui.supervisor import Supervisor

#: A wide terminal: the width issue #13 was seen at.
WIDE = (170, 45)


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


# -- #13 item 5: a foreign run's input is summarised in the list, as `agentdeck show` does ----

#: What the list (and `agentdeck show`) says of each run's input.
INPUTS = {
    "debounced-bob": "'bob', 'only bob'",
    "fair-alice-0": "'alice', 0",
    "rate-3": "3",
    "blocker": "'holds the only slot'",
    "report-0": "<__main__.Ticket: pickled class not importable here>",
    # A long string argument is data, not "<undecodable value>".
    "webhook": "'https://hooks.example.com/services/T0000/B0000/0123456789abcdef0123456789', 3",
}


async def test_foreign_inputs_are_summarised_in_one_statement(attached: Supervisor) -> None:
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    sa.event.listen(attached.sql.engine, "before_cursor_execute", record)
    try:
        rows = {r.workflow_id: r for r in await attached.list_workflows()}
    finally:
        sa.event.remove(attached.sql.engine, "before_cursor_execute", record)
    assert {wid: rows[wid].summary for wid in INPUTS} == INPUTS
    # An input past the cap is not read: its size only.
    assert re.fullmatch(r"<large input: \d\d kB>", rows["bulk"].summary), rows["bulk"].summary
    assert len([s for s in seen if "workflow_input" in s]) == 1  # every row, one statement
    for wid in ("debounced-bob", "report-0"):  # the run's detail says the same
        assert (await attached.detail(wid)).input_summary == INPUTS[wid]


async def test_list_shows_foreign_inputs(queues_sqlite: str) -> None:
    app = attach(queues_sqlite)
    async with app.run_test(size=WIDE) as pilot:
        await until(pilot, lambda: set(INPUTS) <= set(table(app).rows_by_id))
        shown = {wid: table(app).get_cell(wid, "summary") for wid in INPUTS}
        assert shown == INPUTS
