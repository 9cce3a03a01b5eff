"""The SQL module on SQLite and PostgreSQL: the change token's cost and correctness."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import offline_deck, wait_for
from tui.supervisor import Supervisor


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def any_sup(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Supervisor]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'a.sqlite'}"
    else:
        url = str(request.getfixturevalue("pg_database"))
    async with offline_deck(url, tmp_path / "state") as sup:
        yield sup


async def test_idle_tick_is_one_cheap_statement(any_sup: Supervisor) -> None:
    sql = any_sup.sql

    async def quiet_tick_costs_one_statement() -> bool:
        # Right after start the runtime is still writing (queues, presence, a heartbeat):
        # wait for a tick with nothing committed since the previous one.
        previous = await any_sup.change_token()
        before = sql.statements
        return await any_sup.change_token() == previous and sql.statements - before == 1

    await wait_for(quiet_tick_costs_one_statement, within=20)
    first = await any_sup.change_token()

    res = await any_sup.launch("research", {"topic": "tokens", "questions": 1})

    async def changed() -> bool:
        return await any_sup.change_token() != first

    await wait_for(changed, within=10)
    assert res.workflow_id in {r.workflow_id for r in await any_sup.list_workflows()}


async def test_a_list_of_any_length_is_one_cached_statement(any_sup: Supervisor) -> None:
    """``IN`` lists cost the engine's statement cache nothing, whatever their length: the data
    core renders them for the driver itself (one expanding parameter per list on SQLite, one
    array on PostgreSQL) and runs them on the pool's raw connections. (One SQLAlchemy parameter
    per value made a new cached statement per length, each with hundreds of parameters: half
    of what a full garbage collection walked.)"""
    res = await any_sup.launch("research", {"topic": "lists", "questions": 1})
    sql = any_sup.sql
    cache = sql.engine._compiled_cache
    assert cache is not None
    ids = [res.workflow_id] + [f"absent-{i}" for i in range(40)]
    sql.errors(ids[:1])
    sql.events(ids[:1], ["progress"])
    size = len(cache)
    before = sql.statements
    for n in (2, 7, 40):
        assert set(sql.errors(ids[:n])) <= {res.workflow_id}
        assert set(sql.events(ids[:n], ["progress", "approval", "x"][: n % 3 + 1])) <= {
            res.workflow_id
        }
        sql.waiting_in_recv(ids[:n])
    assert len(cache) <= size  # nothing compiled, whatever the lengths
    assert sql.statements - before == 9  # one statement per read, counted


async def test_child_inputs_are_read_by_parent_without_a_warning(any_sup: Supervisor) -> None:
    """The run detail's children: name and decoded inputs, one query on the parent index."""
    from tests.support.runs import approve_and_finish

    res = await any_sup.launch("research", {"topic": "children", "questions": 2})
    assert await approve_and_finish(any_sup, res.workflow_id) == "SUCCESS"
    found = await asyncio.to_thread(any_sup.sql.child_inputs, res.workflow_id)
    assert len(found) == 2 and {name for name, _ in found.values()} == {"research.question"}
    indexes = sorted(inputs["args"][1] for _, inputs in found.values())
    assert indexes == [0, 1]
    assert await asyncio.to_thread(any_sup.sql.child_inputs, "no-such-run") == {}
    notes = (await any_sup.detail(res.workflow_id)).child_notes
    assert sorted(notes.values())[0].startswith("Q1: ")


def test_the_change_token_reads_indexes_only(tmp_path: Path) -> None:
    """After a commit the token reads DBOS's partial indexes (runs in flight, failed runs) and
    the end of the created_at index: no statement walks every run (the aggregate it replaced
    took 277 ms at 1M workflows). The count of every run comes once a minute."""
    import sqlite3

    from dbos._migration import sqlite_migrations

    from tui.data import runs
    from tui.data import statements as st
    from tui.data.sql import DB

    conn = sqlite3.connect(tmp_path / "plans.sqlite")
    for m in sqlite_migrations:
        conn.executescript(m)
    db = DB(conn, sqlite=True)
    for text, params in (
        (st.TOKEN_STATUS, {"presence": "p"}),
        (st.TOKEN_NEW, {"presence": "p", "since": 0}),
    ):
        sql, bound = db.render(text, params)
        plan = [str(r[-1]) for r in conn.execute("EXPLAIN QUERY PLAN " + sql, bound)]
        scans = [p for p in plan if p.startswith("SCAN") and "INDEX" not in p]
        assert not scans, plan
        assert all("INDEX" in p for p in plan if p.startswith(("SCAN", "SEARCH"))), plan
    memo = runs.TokenMemo()
    before = db.statements
    assert runs.change_token(db, memo, now=0.0) == (0, 0, ())
    assert db.statements - before == 2 and memo.counted_at == 0.0  # the first read counts
    conn.execute(
        "INSERT INTO workflow_status (workflow_uuid, status, name, created_at, updated_at) "
        "VALUES ('a', 'ERROR', 'x', 1000, 1000), ('b', 'PENDING', 'x', 2000, 2500)"
    )
    total, latest, per_status = runs.change_token(db, memo, now=10.0)  # new rows added
    assert (total, latest, per_status) == (2, 2500, (("ERROR", 1), ("PENDING", 1)))
    conn.execute(
        "UPDATE workflow_status SET status = 'SUCCESS', updated_at = 3000 WHERE workflow_uuid = 'b'"
    )
    assert runs.change_token(db, memo, now=20.0) == (2, 2000, (("ERROR", 1),))  # it ended
    conn.execute("DELETE FROM workflow_status WHERE workflow_uuid = 'a'")
    assert runs.change_token(db, memo, now=30.0)[2] == ()  # the failed count moved at once
    assert runs.change_token(db, memo, now=30.0 + runs.RECOUNT_S)[0] == 1  # and the total
    conn.close()
