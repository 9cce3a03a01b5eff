"""The SQL module on SQLite and PostgreSQL: the change token's cost and correctness."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import connected, launched, wait_for
from tui.supervisor import Supervisor
from workflows.model_offline.transport import transport_factory
from workflows.runtime import RuntimeSettings


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def any_sup(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Supervisor]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'a.sqlite'}"
    else:
        url = str(request.getfixturevalue("pg_database"))
    settings = RuntimeSettings(
        db_url=url, offline=True, offline_tps=0, state_dir=tmp_path / "state",
        transport_factory=transport_factory,
    )  # fmt: skip
    async with launched(settings), connected(url) as sup:
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
