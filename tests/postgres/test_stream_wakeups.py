"""On PostgreSQL a run's streams are read when DBOS notifies a write, not on a 20 ms poll."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import offline_deck, wait_for
from tui.supervisor import Supervisor
from tui.supervisor.wakeups import CHANNEL

pytestmark = pytest.mark.postgres


@pytest.fixture
async def pg_sup(pg_database: str, tmp_path: Path) -> AsyncIterator[Supervisor]:
    async with offline_deck(pg_database, tmp_path / "state", tps=200) as sup:
        yield sup


def notify(sup: Supervisor, workflow_id: str) -> None:
    with sup.sql.engine.begin() as conn:
        conn.execute(sa.text("SELECT pg_notify(:c, :p)"), {"c": CHANNEL, "p": f"{workflow_id}::k"})


async def test_a_notification_wakes_the_reader_and_polling_covers_the_rest(
    pg_sup: Supervisor,
) -> None:
    sup = pg_sup
    wakeups = sup._stream_wakeups()
    assert wakeups is not None and not wakeups.heard
    t0 = time.monotonic()
    await sup.wait_streams(["w0"], 0.05)  # nothing heard yet: a plain poll
    assert time.monotonic() - t0 < 1.0

    def heard() -> bool:
        notify(sup, "w0")  # until the listener has subscribed
        return wakeups.heard

    await wait_for(heard, within=10, interval=0.05)

    waiting = asyncio.ensure_future(sup.wait_streams(["w1", "w2"], 30.0))
    await wait_for(lambda: "w2" in wakeups._waiters)
    t0 = time.monotonic()
    await asyncio.to_thread(notify, sup, "w2")
    await asyncio.wait_for(waiting, 10)
    assert time.monotonic() - t0 < 5.0  # woken by the write, not the 30 s fallback

    # A write while nobody waits (during a read) is remembered for the next wait.
    await asyncio.to_thread(notify, sup, "w3")
    await wait_for(lambda: "w3" in wakeups._pending)
    assert await wakeups.wait(["w3"], 30.0)
    assert not await wakeups.wait(["w4"], 0.1)  # no write: the fallback ends the wait

    thread = wakeups._thread
    await sup.close()
    assert not thread.is_alive()


async def test_dbos_notifies_a_research_runs_stream_writes(pg_sup: Supervisor) -> None:
    sup = pg_sup
    wakeups = sup._stream_wakeups()
    assert wakeups is not None
    res = await sup.launch("research", {"topic": "notified streams", "questions": 1})
    assert res.workflow_id is not None
    woke = await wakeups.wait([res.workflow_id], 60.0)  # the plan streams first
    assert woke and wakeups.heard and wakeups.received >= 1
    batches = await sup.read_streams({res.workflow_id: 0})
    assert batches and batches[0].chunks  # the notified write is there to read
