"""DBOS's private surface, as ``workflows/dbos_private.py`` uses it: each use checked against the
installed DBOS, so an upgrade that moves or changes one fails here, by name, and not somewhere in
a screen. (The adapter names the release it was read against: ``CHECKED_DBOS_VERSION``.)"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from dbos import Queue, SetEnqueueOptions

from tui.supervisor import Supervisor
from workflows import dbos_private
from workflows.dbos_private import (
    CHECKED_DBOS_VERSION,
    MAX_PRIORITY,
    MIN_PRIORITY,
    QueueRateLimit,
    client_engine,
    queue_limits,
    set_notification_fallback_poll,
)
from workflows.runtime import APP_NAME

ROOT = Path(__file__).resolve().parents[2]
UPGRADE = f"DBOS changed since {CHECKED_DBOS_VERSION}: re-check workflows/dbos_private.py"


def test_the_priority_bounds_are_the_ones_dbos_enforces() -> None:
    SetEnqueueOptions(priority=MIN_PRIORITY)
    SetEnqueueOptions(priority=MAX_PRIORITY)
    for outside in (MIN_PRIORITY - 1, MAX_PRIORITY + 1):
        with pytest.raises(Exception, match="Invalid priority"):
            SetEnqueueOptions(priority=outside)
    assert (MIN_PRIORITY, MAX_PRIORITY) == (1, 2**31 - 1), UPGRADE


def test_the_rate_limit_type_is_the_one_queues_take() -> None:
    assert set(QueueRateLimit.__annotations__) == {"limit", "period"}, UPGRADE
    params = inspect.signature(Queue.__init__).parameters
    for name in ("limiter", "partition_limiter"):
        assert "QueueRateLimit" in str(params[name].annotation), UPGRADE


async def test_a_listed_queue_carries_its_limits(sup: Supervisor) -> None:
    await sup.client.register_queue_async(
        "adapter-q",
        global_concurrency=3,
        worker_concurrency=2,
        limiter={"limit": 7, "period": 30.0},
        partition_concurrency=1,
        partition_limiter={"limit": 4, "period": 10.0},
        application_name=APP_NAME,
    )
    (q,) = [q for q in await sup.client.list_queues_async() if q.name == "adapter-q"]
    limits = queue_limits(q)
    assert (limits.concurrency, limits.worker_concurrency) == (3, 2), UPGRADE
    assert limits.limiter == {"limit": 7, "period": 30.0}, UPGRADE
    assert limits.partition_concurrency == 1 and limits.partition_worker_concurrency is None
    assert limits.partition_limiter == {"limit": 4, "period": 10.0}, UPGRADE
    # The same values as the public getters (which re-read the row).
    assert limits.limiter == q.limiter and limits.partition_limiter == q.partition_limiter


async def test_the_client_engine_reads_the_system_database(sup: Supervisor) -> None:
    engine = client_engine(sup.client)
    assert isinstance(engine, sa.Engine), UPGRADE
    assert engine is sup.sql.engine
    with engine.connect() as conn:
        (n,) = conn.execute(sa.text("SELECT count(*) FROM workflow_status")).one()
    assert n >= 0


async def test_the_notification_fallback_is_what_waits_recheck_on(sup: Supervisor) -> None:
    from dbos._sys_db import SystemDatabase

    attr = "_notification_fallback_polling_interval"
    assert isinstance(SystemDatabase.__dict__.get(attr), float), UPGRADE
    before = SystemDatabase.__dict__[attr]
    sys_db = sup.client._sys_db  # the client's own: no waits of its own to disturb
    listening = sys_db._listener_running
    try:
        set_notification_fallback_poll(7.5)
        assert SystemDatabase.__dict__[attr] == 7.5
        sys_db._listener_running = True  # a listening database re-checks at the fallback
        assert sys_db._event_recheck_interval() == 7.5, UPGRADE
    finally:
        sys_db._listener_running = listening
        SystemDatabase._notification_fallback_polling_interval = before


def test_nothing_else_reaches_dbos_private_modules() -> None:
    """Outside the adapter, ``tui`` and ``workflows`` use DBOS's public names only."""
    offenders = []
    for path in [*(ROOT / "tui").rglob("*.py"), *(ROOT / "workflows").rglob("*.py")]:
        if path == Path(dbos_private.__file__):
            continue
        text = path.read_text()
        # Import lines read as text: ast.parse here hit CPython 3.11's "AST constructor
        # recursion depth mismatch" after an earlier test had recursed deeply in this process.
        for m in re.findall(r"^\s*(?:from|import)\s+(dbos\._\w+)", text, re.M):
            offenders.append(f"{path.relative_to(ROOT)}: {m}")
        if "._sys_db" in text or "._limiter" in text:
            offenders.append(f"{path.relative_to(ROOT)}: a private attribute")
    assert offenders == []
