"""The insights screen over a big database: the figures' statements (time and count per refresh)
and the screen's first paint, for the 24 h and 30 d windows, at 10,000 and 100,000 workflows on
SQLite and 10,000 and 1,000,000 on PostgreSQL (``--pg``) (issue 16).

The databases are those of bench/every_run.py: a DBOS-seeded one (200 runs, one step each,
every 50th failed) grown with DBOS-shaped copies of its rows (tests/support/seed.py), one copy
per second back from now, so 100,000 span 28 hours and 1,000,000 span 11.6 days: the 30 d window
holds every run, the 24 h window the newest 86,400. Copies have no step rows or events, so the
per-step, cost and approval statements read the seeded runs' rows only; the per-run statements
(buckets, names, costliest, queues, errors) read every run in the window.

Figures:

* ``compute``: ``tui.data.insights.compute`` (every figure: the statements of one refresh) on one
  connection, repeated; its statements, and the p50 time of each statement;
* ``first paint``: the dashboard attached to the database (``Supervisor``), the insights screen
  pushed, until its title and runs chart are drawn (one statement, read first; the chart built
  on its thread), and until every figure is (Pilot; the app's own worker threads);
* ``refresh``: the screen's next read of the figures after a change (``request_refresh(now=True)``
  until every figure and chart is on screen again).

The last line is JSON.
"""

from __future__ import annotations

import asyncio
import re
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchkit import emit, parse_args, summary, summary_row, temp_dir  # noqa: E402
from every_run import databases  # noqa: E402

from tui.data.insights import InsightsQuery, compute  # noqa: E402
from tui.data.sql import DB  # noqa: E402

WINDOWS = ("24h", "30d")


class TimedDB(DB):
    """The data core's DB, timing each statement by the name of the figure that issued it."""

    def __init__(self, db: DB) -> None:
        super().__init__(db.conn, sqlite=db.sqlite)
        self.times: dict[str, list[float]] = {}

    def rows(self, text: str, params: Any = None) -> list[tuple[Any, ...]]:
        frame = sys._getframe(2)  # the figure (a method of tui.data.insights._Run)
        name = frame.f_code.co_name
        if name.endswith("_buckets"):  # indexed_buckets / plain_buckets, under buckets()
            name = "buckets"
        t0 = time.perf_counter()
        try:
            return super().rows(text, params)
        finally:
            self.times.setdefault(name, []).append(time.perf_counter() - t0)


def computed(db: DB, window: str, repeat: int) -> dict[str, Any]:
    timed = TimedDB(db)
    walls: list[float] = []
    statements = 0
    runs = 0
    for _ in range(repeat):
        before = timed.statements
        t0 = time.perf_counter()
        found = compute(timed, InsightsQuery(window=window))
        walls.append(time.perf_counter() - t0)
        statements = timed.statements - before
        runs = found.runs
        if not db.sqlite:
            db.conn.rollback()  # no long transaction: each refresh sees new rows
    per = {k: round(sorted(v)[len(v) // 2] * 1000, 2) for k, v in timed.times.items()}
    return {
        **summary(walls, scale=1000),
        "statements": statements,
        "runs": runs,
        "per_statement_p50_ms": per,
    }


def runs_plan(db: DB, window: str) -> str:
    """How the first statement (the runs per bucket, no filter) reads ``workflow_status``:
    the access of each part of its plan (SQLite's ``EXPLAIN QUERY PLAN``, PostgreSQL's
    ``EXPLAIN``)."""
    seen: list[tuple[str, Any]] = []

    class Planned(DB):
        def rows(self, text: str, params: Any = None) -> list[tuple[Any, ...]]:
            seen.append((text, params))
            return super().rows(text, params)

    compute(Planned(db.conn, sqlite=db.sqlite), InsightsQuery(window=window, parts="runs"))
    sql, bound = db.render(*seen[0])
    cur = db.conn.cursor()
    cur.execute(("EXPLAIN QUERY PLAN " if db.sqlite else "EXPLAIN ") + sql, bound)
    steps = [str(r[-1]).strip().removeprefix("->  ") for r in cur.fetchall()]
    cur.close()
    if not db.sqlite:
        db.conn.rollback()
    keep = ("SEARCH", "SCAN s") if db.sqlite else ("Scan using", "Seq Scan")
    # One branch per bucket: their aliases (s, s_1, s_2, ...) are folded into one line.
    found = [
        re.sub(r" s_\d+$", " s", x.split("  (cost")[0]) for x in steps if any(k in x for k in keep)
    ]
    return "; ".join(dict.fromkeys(found))


async def screen(url: str, window: str, repeat: int) -> dict[str, Any]:
    """First paint and refreshes of the screen, in the dashboard attached to ``url``."""
    from tui.app import AgentDeckApp
    from tui.screens.insights import InsightsScreen
    from tui.supervisor import Supervisor
    from tui.widgets.charts import RunsChart

    app = AgentDeckApp(Supervisor(url), mode="attach", poll_interval=5.0)
    async with app.run_test(size=(140, 50)) as pilot:
        for _ in range(600):
            if app.connected:
                break
            await pilot.pause(0.05)
        t0 = time.perf_counter()
        app.push_screen(InsightsScreen(window=window))
        while not (
            isinstance(app.screen, InsightsScreen)
            and app.screen.painted
            and not app.screen.query_one(RunsChart).building
        ):
            if isinstance(app.screen, InsightsScreen) and app.screen.error:
                raise SystemExit(f"insights: {app.screen.error}")
            if time.perf_counter() - t0 > 120:
                raise SystemExit("insights: no figures within 120 s")
            await pilot.pause(0.002)
        await pilot.pause(0)  # the frame with the runs chart
        first = time.perf_counter() - t0
        while not (isinstance(app.screen, InsightsScreen) and app.screen.settled):
            await pilot.pause(0.002)
        await pilot.pause(0)  # the frame with every figure
        everything = time.perf_counter() - t0
        s = app.screen
        assert isinstance(s, InsightsScreen) and s.error == "", getattr(s, "error", "")
        refreshes: list[float] = []
        for _ in range(repeat):
            loads = s.loads
            t1 = time.perf_counter()
            s.request_refresh(now=True)
            while s.loads == loads or not s.settled:
                await pilot.pause(0.002)
            await pilot.pause(0)
            refreshes.append(time.perf_counter() - t1)
    return {
        "first_paint_ms": round(first * 1000, 1),
        "all_figures_ms": round(everything * 1000, 1),
        "refresh": summary(refreshes, scale=1000),
    }


def main(argv: list[str] | None = None) -> None:
    args = parse_args(__doc__ or "", argv, pg=True)
    big = 1_000_000 if args.pg else 100_000
    sizes = (1_000, 3_000) if args.quick else (10_000, big)
    repeat = 3 if args.quick else 7
    out: dict[str, Any] = {
        "bench": "insights",
        "quick": args.quick,
        "database": "postgresql" if args.pg else "sqlite",
    }
    with temp_dir("bench-insights") as tmp, databases(args.pg, sizes, tmp) as grown:
        for n, db, url in grown:
            if not db.sqlite:
                # As autovacuum would have (within a minute of the growth, here): statistics
                # of every table, and the visibility map the index-only scans need.
                db.conn.commit()
                db.conn.autocommit = True
                db.conn.execute("VACUUM ANALYZE")
                db.conn.autocommit = False
            figures: dict[str, Any] = {}
            print(f"{n:,} workflows")
            for window in WINDOWS:
                c = computed(db, window, repeat)
                print(
                    summary_row(
                        f"{window}: compute, {c['statements']} statements, {c['runs']:,} runs (ms)",
                        c,
                    )
                )
                print(f"    per statement p50 (ms): {c['per_statement_p50_ms']}")
                c["runs_plan"] = runs_plan(db, window)
                print(f"    runs per bucket, plan: {c['runs_plan']}")
                sc = asyncio.run(screen(url, window, repeat))
                print(
                    f"  {window}: first paint (runs chart) {sc['first_paint_ms']} ms, every "
                    f"figure {sc['all_figures_ms']} ms"
                )
                print(summary_row(f"{window}: refresh on screen (ms)", sc["refresh"]))
                figures[window] = {"compute": c, **sc}
            out[str(n)] = figures
    emit(out)


if __name__ == "__main__":
    main()
