"""Attach to the system database of an app that is not agentdeck (SQLite and PostgreSQL)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import wait_for
from tests.support.pilot import SIZE, until
from tui.app import build_dashboard
from tui.screens.base import StatusLine
from tui.supervisor import ReadOnlyError, Supervisor

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def attached(
    foreign_db: str, foreign_app: subprocess.Popen[str]
) -> AsyncIterator[Supervisor]:
    sup = Supervisor(foreign_db)
    await sup.connect()
    try:
        yield sup
    finally:
        await sup.close()


async def test_list_detail_and_placeholders(attached: Supervisor) -> None:
    rows = {r.workflow_id: r for r in await attached.list_workflows()}
    assert rows["foreign-streamer"].status == "SUCCESS"
    assert rows["foreign-streamer"].name == "foreign.streamer"
    children = [r for r in rows.values() if r.parent_id == "foreign-streamer"]
    assert len(children) == 2 and {c.queue for c in children} == {"foreign-q"}

    waiter = rows["foreign-waiter"]
    assert waiter.status == "PENDING"
    assert waiter.waiting_recv and waiter.waiting_message and not waiter.waiting_approval
    assert waiter.recv_deadline is not None
    assert 500 < waiter.recv_deadline - time.time() <= 600

    detail = await attached.detail("foreign-streamer")
    # A pickled class this process cannot import: a placeholder naming the type, no crash.
    assert "__main__.Order" in detail.input_summary
    assert "__main__.Order" in detail.result_summary
    assert detail.other_streams == ("tokens",)
    assert [s.name for s in detail.steps if not s.name.startswith("DBOS.")] == [
        "emit",
        "foreign.child",
        "foreign.child",
    ]
    assert {c.workflow_id for c in detail.children} == {c.workflow_id for c in children}
    assert all(c.status == "SUCCESS" for c in detail.children)


async def test_streams_from_body_and_step_from_any_offset(attached: Supervisor) -> None:
    (batch,) = await attached.read_streams({"foreign-streamer": 0}, key="tokens")
    assert [v for _, v in batch.values] == ["from-body-0", "from-step-1", "from-body-2"]
    assert batch.closed and batch.next_offset == 4 and batch.chunks == ()
    (later,) = await attached.read_streams({"foreign-streamer": 2}, key="tokens")
    assert [v for _, v in later.values] == ["from-body-2"]
    (waiter,) = await attached.read_streams({"foreign-waiter": 0}, key="tokens")
    assert [v for _, v in waiter.values] == ["from-step-0"] and not waiter.closed


async def test_message_to_a_plain_recv_is_delivered_once(
    attached: Supervisor, foreign_app: subprocess.Popen[str]
) -> None:
    for _ in range(2):  # a double keypress
        res = await attached.send("foreign-waiter", "hello", "orders", idempotency_key="k-1")
        assert res.ok
    assert (await attached.detail("foreign-waiter")).pending_topics in ((), ("orders",))

    async def done() -> bool:
        return (await attached.get_row("foreign-waiter")).status == "SUCCESS"

    await wait_for(done, within=30)
    assert foreign_app.stdout is not None
    assert foreign_app.stdout.readline().strip() == "got 'hello' for gizmo"
    assert foreign_app.wait(timeout=30) == 0
    row = await attached.get_row("foreign-waiter")
    assert not row.waiting_recv


async def test_read_only_refuses_every_write_in_the_data_layer(
    foreign_db: str, foreign_app: object
) -> None:
    sup = Supervisor(foreign_db, read_only=True)
    await sup.connect()
    try:
        writes = [
            sup.send("foreign-waiter", "x", "orders", idempotency_key="k"),
            sup.cancel("foreign-waiter"),
            sup.resume("foreign-streamer"),
            sup.fork("foreign-streamer", 1),
            sup.launch("research", {"topic": "anything"}),
            sup.answer("foreign-waiter", {"decision": "approve"}),
        ]
        for coro in writes:
            with pytest.raises(ReadOnlyError, match="read-only"):
                await coro
        assert (await sup.get_row("foreign-waiter")).status == "PENDING"
    finally:
        await sup.close()


async def test_the_read_only_dashboard_says_so_once(foreign_db: str, foreign_app: object) -> None:
    """``agentdeck --db URL --read-only``: the status line said "attach · read-only ·
    read-only"."""
    app = build_dashboard(db=foreign_db, offline=None, read_only=True, attach=True)
    async with app.run_test(size=SIZE) as pilot:
        line = app.screen.query_one(StatusLine)
        await until(pilot, lambda: app.connected and "live" in str(line.render()))
        text = str(line.render())
        assert "attach · read-only · " in text and text.count("read-only") == 1, text


async def test_dashboard_attached_to_a_foreign_app(
    attached: Supervisor, foreign_db: str, foreign_app: subprocess.Popen[str]
) -> None:
    from textual.widgets import Input, Static, TextArea

    from tests.support.pilot import SIZE, select, table, until
    from tui.app import AgentDeckApp
    from tui.modals.send import SendScreen
    from tui.screens.detail import DetailScreen
    from tui.widgets.output import OutputPane

    sup = Supervisor(foreign_db)
    app = AgentDeckApp(sup, mode="attach", poll_interval=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, app, "foreign-streamer")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        detail = app.screen
        assert isinstance(detail, DetailScreen)
        view = detail.query_one(OutputPane).view_for("foreign-streamer")
        await until(pilot, lambda: "from-body-2" in view.plain)
        assert "stream tokens" in view.plain
        header = str(detail.query_one("#run-header", Static).render())
        assert "__main__.Order" in header
        await pilot.press("escape")
        await select(pilot, app, "foreign-waiter")
        assert "waiting in recv" in str(table(app).get_cell("foreign-waiter", "progress"))
        await pilot.press("a")
        assert isinstance(app.screen, SendScreen)
        app.screen.query_one("#topic", Input).value = "orders"
        # A list whose repr reads as a markup tag to Textual ("[... b=c']"): shown as it is.
        app.screen.query_one("#message", TextArea).text = '["a", "b=c"]'
        await pilot.press("ctrl+s")
        await until(pilot, lambda: table(app).rows_by_id["foreign-waiter"].status == "SUCCESS")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        result = app.screen.query_one("#result-text", Static)
        await until(pilot, lambda: "got ['a', 'b=c'] for gizmo" in str(result.render()))
        assert not [n for n in app._notifications if n.severity == "error"]
    assert foreign_app.stdout is not None
    assert foreign_app.stdout.readline().strip() == "got ['a', 'b=c'] for gizmo"


async def test_foreign_step_outputs_read_as_values(attached: Supervisor, foreign_db: str) -> None:
    """Another app's step outputs and children, summarised (no truncated repr of a nest)."""
    from tests.support.detail import box, put_cursor, shown_row, timeline
    from tests.support.pilot import SIZE, select, until
    from tui.app import AgentDeckApp

    sup = Supervisor(foreign_db)
    app = AgentDeckApp(sup, mode="attach", poll_interval=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, app, "foreign-waiter")
        await pilot.press("enter")
        await until(pilot, lambda: "stock" in {i.name for i in timeline(app).items.values()})
        t = timeline(app)
        notes = {i.name: i.note for i in t.items.values()}
        assert notes["emit"] == "0"
        assert notes["stock"] == "sku=gizmo, stock={warehouse, qty}, tags=[2 items]"
        stock = next(i for i in t.items.values() if i.name == "stock")
        assert "sku=gizmo" in shown_row(t, stock.key)
        await put_cursor(pilot, t, stock.key)
        assert "sku=gizmo, stock={warehouse, qty}, tags=[2 items]" in box(app)
        await pilot.press("escape")
        await select(pilot, app, "foreign-streamer")
        await pilot.press("enter")
        await until(
            pilot,
            lambda: len([i for i in timeline(app).items.values() if i.child_id]) == 2,
        )
        children = sorted(i.note for i in timeline(app).items.values() if i.child_id)
        assert children == ["(0)", "(1)"]  # the arguments each child was started with


async def test_a_workflow_of_dbos_calls_only(attached: Supervisor, foreign_db: str) -> None:
    """set_event + recv() and nothing else: the wait is a row, the hidden steps are counted."""
    from tests.support.detail import box, hint, put_cursor, timeline
    from tests.support.pilot import SIZE, select, until
    from tui.app import AgentDeckApp

    sup = Supervisor(foreign_db)
    app = AgentDeckApp(sup, mode="attach", poll_interval=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, app, "foreign-agent")
        await pilot.press("enter")
        await until(pilot, lambda: bool(timeline(app).items))
        t = timeline(app)
        (wait,) = t.items.values()
        assert (wait.step_id, wait.name, wait.status) == (2, "DBOS.recv", "waiting")
        assert "waiting for a message" in wait.note and "a sends one" in wait.note
        assert "2 DBOS steps hidden · h shows them" in hint(app)
        await pilot.press("h")
        assert [i.name for i in t.items.values()] == ["DBOS.setEvent", "DBOS.recv", "DBOS.sleep"]
        await pilot.press("h")
        await put_cursor(pilot, t, wait.key)
        assert "DBOS.recv · step 2 · waiting" in box(app)
        assert (await attached.send("foreign-agent", "go", None, idempotency_key="g-1")).ok
        await until(pilot, lambda: t.items.get(wait.key, wait).status == "done")
        done = t.items[wait.key]
        assert (done.step_id, done.name, done.note) == (2, "DBOS.recv", "go")
        await until(pilot, lambda: "DBOS.recv · step 2 · done" in box(app))
        assert "3 DBOS steps hidden · h shows them" in hint(app)
