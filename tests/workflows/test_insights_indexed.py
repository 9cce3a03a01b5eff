"""The insights' runs per bucket read from DBOS's indexes (no filter) count what the plain pass
over the window's rows counts (any filter), on a real SQLite file and a real PostgreSQL with
runs of every DBOS status and presence rows in several statuses."""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import offline_deck, wait_for
from tests.support.schema import empty_db
from tests.support.seed import copy_rows
from tui.data.filters import PRESENCE_WORKFLOW
from tui.data.insight_sql import _Run
from tui.data.insights import InsightsQuery, compute
from tui.data.sql import DB
from tui.supervisor import Supervisor

STATUSES = (
    "SUCCESS",
    "ERROR",
    "CANCELLED",
    "MAX_RECOVERY_ATTEMPTS_EXCEEDED",
    "PENDING",
    "ENQUEUED",
    "DELAYED",
)
#: A presence row sleeps for ten years: never SUCCESS; ERROR as in a seeded database, the rest
#: as a cancel or too many recoveries would leave it.
PRESENCE_STATUSES = ("PENDING", "ERROR", "CANCELLED", "MAX_RECOVERY_ATTEMPTS_EXCEEDED")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'buckets.sqlite'}"
    return str(request.getfixturevalue("pg_database"))


@contextmanager
def _db(url: str) -> Iterator[DB]:
    if url.startswith("sqlite"):
        db = DB(sqlite3.connect(url.removeprefix("sqlite:///")), sqlite=True)
    else:
        import psycopg

        db = DB(psycopg.connect(url), sqlite=False)
    try:
        yield db
    finally:
        db.conn.close()


async def _waiting(sup: Supervisor, wid: str) -> bool:
    """The run waits for its plan's approval: a real PENDING row."""
    return (await sup.get_row(wid)).waiting_approval


async def test_runs_per_bucket_from_indexes_equal_the_plain_count(
    any_db_url: str, tmp_path: Path
) -> None:
    async with offline_deck(any_db_url, tmp_path / "state") as sup:
        res = await sup.launch("research", {"topic": "buckets", "questions": 1}, dedupe=False)
        await wait_for(lambda: _waiting(sup, res.workflow_id), within=60)
    now = time.time()
    start = int(now * 1000) - 40 * 86400 * 1000  # before the 30-day window: some left out
    with _db(any_db_url) as db:
        (presence,) = db.rows(
            "SELECT workflow_uuid FROM {workflow_status} WHERE name = :n", {"n": PRESENCE_WORKFLOW}
        )
        db.conn.commit()
        # Every status spread over 40 days, at steps that land unevenly in the buckets.
        for i, status in enumerate(STATUSES):
            n = 400 if status == "SUCCESS" else 60
            step = 40 * 86400 * 1000 // n + 7919 * i
            copy_rows(
                any_db_url,
                res.workflow_id,
                n,
                status=status,
                start_ms=start + i,
                step_ms=step,
                prefix=f"c-{status.lower()}",
            )
        for i, status in enumerate(PRESENCE_STATUSES):
            copy_rows(
                any_db_url,
                presence[0],
                5,
                status=status,
                start_ms=start + 100 + i,
                step_ms=8 * 86400 * 1000 + 3607 * 1000 * i,
                prefix=f"p-{status.lower()}",
            )
        seen = {"presence": 0, "failed": 0, "cancelled": 0, "in flight": 0}
        for window in ("1h", "24h", "7d", "30d", "90m"):
            run = _Run(db, InsightsQuery(window=window, now=now))
            plain, indexed = run.plain_buckets(), run.indexed_buckets()
            assert indexed == plain, window
            if window == "30d":
                (in_window,) = db.rows(
                    "SELECT count(*), sum(CASE WHEN name = :n THEN 1 ELSE 0 END) "
                    "FROM {workflow_status} WHERE created_at >= :a AND created_at < :b",
                    {"n": PRESENCE_WORKFLOW, "a": run.since_ms, "b": run.until_ms},
                )
                counts = list(plain.values())
                assert sum(c[0] for c in counts) == in_window[0] - in_window[1]
                seen["presence"] = int(in_window[1])
                seen["failed"] = sum(c[2] for c in counts)
                seen["cancelled"] = sum(c[3] for c in counts)
                seen["in flight"] = sum(c[0] - c[1] - c[2] - c[3] for c in counts)
            if not db.sqlite:
                db.conn.rollback()
        # The comparison was not vacuous: every kind of row was in the 30-day window.
        assert all(seen.values()), seen
        # What the screen computes (no filter: the index statement). Every figure, too: the
        # queues' bucket ends overflowed PostgreSQL's integer at the 30-day window's 25th day.
        found = compute(db, InsightsQuery(window="30d", now=now))
        assert any(sum(q.depth) for q in found.queues), found.queues
        plain = _Run(db, InsightsQuery(window="30d", now=now)).plain_buckets()
        assert [[b.started, b.succeeded, b.failed, b.cancelled] for b in found.buckets] == [
            plain.get(k, [0, 0, 0, 0]) for k in range(len(found.buckets))
        ]


class _Plans(DB):
    """Keeps SQLite's plan of every statement it runs."""

    plans: list[str]

    def rows(self, text: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        sql, bound = self.render(text, params or {})
        steps = self.conn.execute("EXPLAIN QUERY PLAN " + sql, bound).fetchall()
        self.plans.append(" / ".join(str(s[-1]) for s in steps))
        return super().rows(text, params)


def test_runs_per_bucket_read_only_indexes_on_sqlite() -> None:
    """On DBOS's own SQLite schema: the runs per bucket with no filter (the screen's first
    statement) read ``workflow_status`` through indexes only: the created_at index covering
    the count per bucket, and each other status from its DBOS partial index; never the table
    (a pass over the window's rows read every run: 350 ms at 1M runs on PostgreSQL)."""
    base = empty_db()
    db = _Plans(base.conn, sqlite=True)
    db.plans = []
    compute(db, InsightsQuery(window="30d", parts="runs"))
    (plan,) = db.plans
    assert "SEARCH s USING COVERING INDEX workflow_status_created_at_index" in plan, plan
    for index in (
        "idx_workflow_status_failed",
        "idx_workflow_status_pending",
        "idx_workflow_status_in_flight_v2",
        "idx_workflow_status_delayed",
    ):
        assert f"USING INDEX {index}" in plan, plan
    assert "USING INDEX workflow_status_created_at_index" not in plan, plan
    assert "SCAN s /" not in plan + " /", plan
    # A filter reads the rows themselves (DBOS has no index on name).
    db.plans = []
    compute(db, InsightsQuery(window="30d", parts="runs", filter="name:research"))
    (filtered,) = db.plans
    assert "COVERING INDEX" not in filtered, filtered


@pytest.mark.parametrize("tops", [(0, 0, 0), (0, 3, 1), (120, 7, 0)])
def test_runs_chart_counts_from_zero_in_whole_ticks(tops: tuple[int, ...]) -> None:
    """The runs chart's y axis starts at 0 (an all-zero window was drawn from -1 to 1) and
    its ticks are whole numbers."""
    from tui.data.insights import Bucket
    from tui.widgets.charts import RunsChart

    chart = RunsChart()
    chart.buckets = tuple(
        Bucket(start=1_796_600_000 + i * 3600, started=n, succeeded=n) for i, n in enumerate(tops)
    )
    chart.plt.clear_figure()
    chart.draw()
    chart.plt.plotsize(60, 15)
    text = re.sub(r"\x1b\[[0-9;]*m", "", chart.plt.build())
    ticks = [line.split("┤")[0].strip() for line in text.splitlines() if "┤" in line]
    assert ticks[-1] == "0" and all(t.isdigit() for t in ticks), ticks
    assert int(ticks[0]) >= max(tops), ticks
