"""The list and the queue view attached to an app with the queue shapes real apps have
(tests/foreign_queues_app.py): a partitioned queue, a rate-limited one, priorities, a debouncer,
plain and pickled inputs."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from textual.widgets import DataTable

from tests.support.pilot import table, until
from tui.app import AgentDeckApp
from tui.data.sql import DB
from tui.screens.queues import QueuesScreen
from tui.supervisor import Supervisor
from tui.supervisor._queues import queue_rows
from tui.widgets.workflow_table import fit

#: tests/foreign_queues_app.py's tenants and their runs on the partitioned queue.
TENANTS = {"alice": 3, "bob": 2, "carol": 1}
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


async def test_foreign_inputs_are_summarised_in_one_statement(
    attached: Supervisor, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every read goes through the data core's DB.rows (on the pool's DBAPI connection, where
    # SQLAlchemy's cursor events do not see it): record the statements there.
    seen: list[str] = []
    rows_of = DB.rows

    def record(db: DB, text: str, params: Any = None) -> list[tuple[Any, ...]]:
        seen.append(text)
        return rows_of(db, text, params)

    monkeypatch.setattr(DB, "rows", record)
    rows = {r.workflow_id: r for r in await attached.list_workflows()}
    monkeypatch.undo()
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


async def test_a_foreign_recv_is_waiting_not_an_approval(queues_sqlite: str) -> None:
    """Another app's ``recv`` said "approval" in the list and "4 waiting approval" in the
    counts (seen attached in tmux): it waits for a message, not for an approval."""
    app = attach(queues_sqlite)
    async with app.run_test(size=WIDE) as pilot:
        await until(pilot, lambda: "fair-alice-0" in table(app).rows_by_id)
        assert str(table(app).get_cell("fair-alice-0", "status")) == "⏸ waiting"
        counts = app.screen.query_one("#counts")
        await until(pilot, lambda: "4 waiting in recv" in str(counts.render()))
        assert "approval" not in str(counts.render())


# -- #13 item 4: columns size to their content and the terminal, names before inputs --------


async def test_columns_fit_names_and_queues_before_inputs(queues_sqlite: str) -> None:
    """At 170 columns, NAME was cut to 14 cells (``debouncer_wor…``) and QUEUE@EXEC to 10
    (``partition…``) while INPUT stood empty: every name and queue now shows whole."""
    app = attach(queues_sqlite)
    async with app.run_test(size=WIDE) as pilot:
        await until(pilot, lambda: set(INPUTS) <= set(table(app).rows_by_id))
        t = table(app)
        widths = {c.key: c.width for c in t.columns}
        for wid in t.rows_by_id:
            for col in ("name", "queue"):
                text = str(t.get_cell(wid, col))
                assert len(text) <= widths[col], (col, text, widths[col])
        # What is drawn: the header line and a partitioned run's line, uncut.
        lines = [t.render_line(y).text for y in range(t.size.height)]
        assert "QUEUE@EXEC" in lines[0]
        assert any("fair_queue_consumer" in line and "partitioned_queue[" in line for line in lines)
        # The table spans the terminal: what the content leaves over goes to INPUT.
        assert sum(w + 2 for w in widths.values()) >= t.scrollable_content_region.width - 2
        # A narrower terminal shrinks INPUT (and the queue) before NAME.
        await pilot.resize_terminal(130, 45)
        await until(pilot, lambda: table(app).columns[3].width < widths["summary"])
        narrow = {c.key: c.width for c in t.columns}
        assert narrow["name"] == widths["name"]


def test_fit_gives_room_back_input_first_and_name_last() -> None:
    natural = {
        "status": 11,
        "name": 30,
        "id": 15,
        "summary": 40,
        "started": 8,
        "duration": 6,
        "progress": 30,
        "queue": 20,
        "cost": 6,
    }
    roomy = fit(natural, 300)
    assert roomy["name"] == 30 and roomy["summary"] == 300 - sum(
        w for k, w in natural.items() if k != "summary"
    )
    tight = fit(natural, 120)
    assert sum(tight.values()) == 120
    assert tight["name"] == 30 and tight["summary"] < 40 and tight["progress"] == 24
    tiny = fit(natural, 10)  # no room at all: every column at its floor, the name last
    assert tiny["name"] == 8 and tiny["summary"] == 10 and tiny["progress"] == 12
    assert fit({"name": 200}, 300)["name"] == 48  # a runaway name is capped
    # A narrow column stays narrow: PROGRESS saying "done" does not take 22 cells.
    assert fit({"progress": 8, "summary": 60}, 70) == {"progress": 8, "summary": 62}


# -- #13 item 6: partitioned queues: partitions, their limits and counts, keys in the list ---


async def test_partitions_limits_and_counts(attached: Supervisor) -> None:
    seen = attached.sql.statements
    queues = {q.name: q for q in await queue_rows(attached)}
    assert attached.sql.statements - seen == 1  # the partitions come in the one aggregate
    q = queues["partitioned_queue"]
    assert q.partitioned and q.partition_concurrency == 1 and q.partition_worker_concurrency is None
    assert (q.partition_rate_limit, q.partition_rate_period_s) == (5, 3600.0)
    assert (q.running, q.enqueued) == (3, 3)
    parts = {p.key: p for p in q.partitions}
    assert [(k, p.running, p.enqueued, p.rate_used) for k, p in parts.items()] == [
        ("alice", 1, 2, 1),
        ("bob", 1, 1, 1),
        ("carol", 1, 0, 1),
    ]
    assert all(q.partition_full(p) for p in q.partitions)
    assert parts["alice"].oldest_wait_s is not None and parts["carol"].oldest_wait_s is None
    assert not queues["rate_limited_queue"].partitioned
    rows = {r.workflow_id: r for r in await attached.list_workflows()}
    assert {wid: r.partition for wid, r in rows.items() if r.queue == "partitioned_queue"} == {
        f"fair-{t}-{n}": t for t, runs in TENANTS.items() for n in range(runs)
    }
    assert rows["rate-0"].partition == ""


async def test_queue_view_expands_partitions_and_the_list_filters_them(
    queues_sqlite: str,
) -> None:
    from tui.screens.workflows import WorkflowsScreen

    app = attach(queues_sqlite)
    async with app.run_test(size=WIDE) as pilot:
        await until(pilot, lambda: "fair-alice-0" in table(app).rows_by_id)
        # The list: a run's queue with its partition key.
        assert table(app).get_cell("fair-alice-1", "queue") == "partitioned_queue[alice]"
        assert table(app).get_cell("rate-3", "queue") == "rate_limited_queue"
        await pilot.press("Q")
        assert isinstance(app.screen, QueuesScreen)
        view = app.screen
        await until(pilot, lambda: cell(app, "partitioned_queue[carol]", "running") is not None)
        keys = [str(r.key.value) for r in grid(app).ordered_rows]
        at = keys.index("partitioned_queue")
        assert keys[at : at + 4] == [
            "partitioned_queue",
            "partitioned_queue[alice]",
            "partitioned_queue[bob]",
            "partitioned_queue[carol]",
        ]
        assert cell(app, "partitioned_queue", "running") == "3"
        assert cell(app, "partitioned_queue", "enqueued") == "3"
        # Per partition: its counts, and the limits each partition has.
        alice = {
            col: cell(app, "partitioned_queue[alice]", col)
            for col in ("name", "running", "enqueued", "global", "rate")
        }
        assert alice == {
            "name": " ├ alice",
            "running": "1 full",
            "enqueued": "2",
            "global": "1",
            "rate": "1/5 per 1h",
        }
        assert cell(app, "partitioned_queue[carol]", "oldest") == "-"
        assert cell(app, "partitioned_queue[bob]", "oldest") != "-"
        grid(app).move_cursor(row=grid(app).get_row_index("partitioned_queue"))
        await pilot.pause()
        detail = str(view.query_one("#queue-detail").render())
        assert "partitions: 3 with work on them; each: 1 running at once in all, 5 starts" in detail
        grid(app).move_cursor(row=grid(app).get_row_index("partitioned_queue[alice]"))
        await pilot.pause()
        detail = str(view.query_one("#queue-detail").render())
        assert "running: 1 of 1 allowed at once · full" in detail and "queued: 2" in detail
        # space folds the queue's partitions away, and brings them back.
        await pilot.press("space")
        await until(pilot, lambda: cell(app, "partitioned_queue[alice]", "running") is None)
        assert cell(app, "partitioned_queue", "name") == "partitioned_queue ▸"
        await pilot.press("space")
        await until(pilot, lambda: cell(app, "partitioned_queue[bob]", "running") == "1 full")
        # enter on a partition: the list, filtered to that partition's runs.
        grid(app).move_cursor(row=grid(app).get_row_index("partitioned_queue[bob]"))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, WorkflowsScreen))
        screen = app.screen
        assert isinstance(screen, WorkflowsScreen)
        assert screen.filter.text == "queue:partitioned_queue partition:bob"
        await until(pilot, lambda: set(table(app).rows_by_id) == {"fair-bob-0", "fair-bob-1"})
        assert screen.apply_filter("queue:partitioned_queue[alice]")
        await until(
            pilot, lambda: set(table(app).rows_by_id) == {f"fair-alice-{n}" for n in range(3)}
        )
        assert not [n for n in app._notifications if n.severity == "error"]


def test_partition_filter_terms() -> None:
    """partition:KEY and queue:NAME[KEY] select a whole partition key, in the database."""
    from tests.support.schema import empty_db
    from tui.data import reads
    from tui.data.filters import Filter

    db = empty_db()
    for wid, part in (("w-alice", "Alice"), ("w-plain", None)):
        db.conn.execute(
            "INSERT INTO workflow_status (workflow_uuid, status, name, queue_name, "
            "queue_partition_key, created_at, updated_at, priority) "
            "VALUES (?, 'ENQUEUED', 'n', 'tenants', ?, 1, 1, 0)",
            (wid, part),
        )

    def ids(text: str) -> set[str]:
        assert Filter(text).problems() == []
        page = reads.page(db, Filter(text).compile(db), limit=10)
        return {r[0] for r in page.rows}

    assert ids("partition:alice") == {"w-alice"} and ids("partition:al") == set()
    assert ids("queue:tenants[alice]") == {"w-alice"}
    assert ids("queue:ten") == {"w-alice", "w-plain"}
    assert ids("queue:tenants[bob]") == set()
