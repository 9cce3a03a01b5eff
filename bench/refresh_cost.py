"""What the dashboard's refresh costs against a big system database: statements and time.

Seeds a SQLite system database with N finished workflows using DBOS itself (``benchkit.seed``: a
trivial workflow, one step each, every 50th one failing; 10,000 rows at full size, 200 with
``--quick``), cached under ``bench/.cache/`` keyed by N and the DBOS version so reruns are fast.
Then, on a copy, counting the statements of the Supervisor's engine (``sup.client._sys_db.engine``,
``benchkit.sql.StatementMeter``: sqlite3's trace callback on each of its connections, which also
sees statements on raw connections such as the commit marker's ``PRAGMA data_version``; SQLAlchemy's
``before_cursor_execute`` on PostgreSQL) and timing whole calls (on SQLite rows are produced as they
are fetched, after the execute), it measures what the poller does:

* an idle tick: one ``change_token()`` when nothing changed (a commit marker when the data layer
  has one, else the per-status aggregate; both are also timed alone);
* a full ``list_workflows(limit=500)`` (what a tick costs when something changed);
* ``refresh_active`` with no active run.

``--pg`` measures the same on PostgreSQL (a fresh database on a throwaway server, or on
``$AGENTDECK_TEST_PG_URL``'s server), seeded the same way through DBOS once and then restored
from a ``pg_dump`` archive cached under ``bench/.cache/`` (``benchkit.seed.seeded_pg``).
``--rows N`` sets N (default 10,000; the first 100,000-row run on PostgreSQL seeds for about ten
minutes).

Usage: ``python bench/refresh_cost.py [--quick] [--pg] [--rows N]``; ``seeded_db(n)`` is reused by
cli_ls.py.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import sqlalchemy as sa
from benchkit import emit, parse_args, summary, temp_dir
from benchkit.seed import COUNT_RUNS, seeded_db, seeded_pg
from benchkit.sql import StatementMeter

from tui.supervisor import Supervisor
from workflows.presence import PRESENCE_WORKFLOW

__all__ = ["seeded_db"]


def _count_pg(url: str) -> int:
    import psycopg

    sql = COUNT_RUNS.format(t="dbos.workflow_status", presence=PRESENCE_WORKFLOW)
    with psycopg.connect(url, connect_timeout=10) as conn:
        row = conn.execute(sql).fetchone()
    return int(row[0]) if row else 0


async def measure(
    meter: StatementMeter, fn: Callable[[], Awaitable[object]], times: int
) -> dict[str, Any]:
    """Run ``fn`` ``times`` times: statements and wall milliseconds per call."""
    walls: list[float] = []
    counts: list[int] = []
    pings: list[int] = []
    for _ in range(times):
        c0, p0 = meter.count, meter.pings
        t0 = time.perf_counter()
        await fn()
        walls.append(time.perf_counter() - t0)
        counts.append(meter.count - c0)
        pings.append(meter.pings - p0)
    return {
        "calls": times,
        "statements_per_call": sorted(set(counts)),
        "pool_pings_per_call": sorted(set(pings)),
        "wall_ms": summary(walls, scale=1000.0, digits=3),
    }


#: The change-token query, and cheaper candidates, timed alone (no thread hop) for comparison.
TOKEN_QUERIES = {
    "current: change_token() when nothing committed (marker)": None,
    "per-status count(*), max(updated_at) [after a commit]": (
        "SELECT status, count(*), coalesce(max(updated_at), 0) FROM {t} "
        "WHERE name <> '" + PRESENCE_WORKFLOW + "' GROUP BY status ORDER BY status"
    ),
    "count(*), max(updated_at)": "SELECT count(*), coalesce(max(updated_at), 0) FROM {t}",
    "count(*), max(created_at) [indexed; misses updates]": (
        "SELECT count(*), coalesce(max(created_at), 0) FROM {t}"
    ),
}


def _token_queries(engine: sa.Engine, times: int) -> dict[str, dict[str, Any]]:
    """Milliseconds per token query, run synchronously on the Supervisor's engine."""
    from tui.supervisor.engine import SQL

    sql = SQL(engine)
    table = "workflow_status" if sql.sqlite else 'dbos."workflow_status"'
    out: dict[str, dict[str, Any]] = {}
    for label, text in TOKEN_QUERIES.items():
        if text is None:
            run_once: Callable[[], object] = sql.change_token
        else:
            stmt = sa.text(text.format(t=table))

            def run_once(stmt: sa.TextClause = stmt) -> object:
                with engine.connect() as conn:
                    return conn.execute(stmt).fetchall()

        run_once()
        walls = []
        for _ in range(times):
            t0 = time.perf_counter()
            run_once()
            walls.append(time.perf_counter() - t0)
        out[label] = summary(walls, scale=1000.0, digits=3)
    return out


async def run(n: int, ticks: int, lists: int, db_url: str) -> dict[str, Any]:
    sup = Supervisor(db_url, read_only=True)
    await sup.connect()
    meter = StatementMeter(sup.client._sys_db.engine)
    try:
        await sup.change_token()  # warm the pool
        tokens = []

        async def tick() -> None:
            tokens.append(await sup.change_token())

        s0 = sup.sql.statements
        idle = await measure(meter, tick, ticks)
        assert len(set(tokens)) == 1, "the database changed during the idle ticks"
        idle["agentdeck_sql_statements_per_call"] = (sup.sql.statements - s0) / ticks
        rows = await sup.list_workflows(limit=500)
        meter.texts.clear()
        listing = await measure(meter, lambda: sup.list_workflows(limit=500), lists)
        list_texts = meter.texts[: len(meter.texts) // lists]
        active = sum(r.active for r in rows)
        refresh = await measure(meter, lambda: sup.refresh_active(rows), ticks)
        everything = await measure(meter, lambda: sup.list_workflows(limit=n), 3)
        token_sql = await asyncio.to_thread(_token_queries, sup.client._sys_db.engine, ticks)
    finally:
        meter.close()
        await sup.close()
    return {
        "rows_in_db": n,
        "rows_listed": len(rows),
        "active_rows": active,
        "idle_tick": idle,
        "list_500": listing,
        "list_500_statements": list_texts,
        "refresh_active_0": refresh,
        "list_all": everything,
        "token_query_ms": token_sql,
    }


#: Rows at full size (``--rows``; ``BENCH_PG_ROWS`` still sets the PostgreSQL default).
ROWS = 10_000
PG_ROWS = int(os.environ.get("BENCH_PG_ROWS", str(ROWS)))


async def amain_pg(quick: bool, rows: int = 0) -> dict[str, Any]:
    from benchkit.pg import pg_database

    n = 200 if quick else rows or PG_ROWS
    t0 = time.monotonic()
    with pg_database() as db, temp_dir("bench-refresh-pg") as tmp:
        seeded, copy_s = await asyncio.to_thread(seeded_pg, db.url, n, tmp / "state")
        if (got := await asyncio.to_thread(_count_pg, db.url)) != n:
            raise RuntimeError(f"seeding made {got} rows, not {n}")
        how = (
            f"restored from the cached pg_dump in {copy_s:.1f} s"
            if seeded is None
            else f"seeded in {seeded:.1f} s, dumped for the next run in {copy_s:.1f} s"
        )
        print(f"refresh_cost: {n} workflows on PostgreSQL {db.version} ({how})")
        result = await run(n, 50 if quick else 200, 5 if quick else 20, db.url)
        result["pg"] = db.describe()
    result["seed_s"] = round(seeded, 1) if seeded is not None else None
    result["restore_s" if seeded is None else "dump_s"] = round(copy_s, 1)
    result["prepare_s"] = round(time.monotonic() - t0, 1)
    return result


async def amain(quick: bool, rows: int = 0) -> dict[str, Any]:
    n = 200 if quick else rows or ROWS
    t0 = time.monotonic()
    db, seeded = await asyncio.to_thread(seeded_db, n)
    print(
        f"refresh_cost: {n} workflows in {db.name} "
        + (f"(seeded in {seeded:.1f} s)" if seeded is not None else "(from the cache)")
    )
    with temp_dir("bench-refresh") as tmp:
        copy = tmp / "refresh.sqlite"
        shutil.copyfile(db, copy)
        result = await run(n, 50 if quick else 200, 5 if quick else 20, f"sqlite:///{copy}")
    result["seed_s"] = round(seeded, 1) if seeded is not None else None
    result["prepare_s"] = round(time.monotonic() - t0, 1)
    return result


def _line(label: str, m: dict[str, Any]) -> str:
    w = m["wall_ms"]
    stmts = "/".join(str(c) for c in m["statements_per_call"])
    pings = "/".join(str(c) for c in m["pool_pings_per_call"])
    return (
        f"  {label:<36} {stmts:>3} statement(s) (+{pings} pings)  p50 {w['p50']:>8} ms"
        f"  p99 {w['p99']:>8} ms  max {w['max']:>8} ms  (n={m['calls']})"
    )


def _options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rows", type=int, default=0, help=f"workflows in the DB (default {ROWS})")


def main() -> int:
    args = parse_args(__doc__ or "", pg=True, extra=_options)
    run_main = amain_pg if args.pg else amain
    result = asyncio.run(run_main(args.quick, args.rows))
    result["backend"] = "postgresql" if args.pg else "sqlite"
    print(_line("idle tick: change_token()", result["idle_tick"]))
    print(_line(f"list_workflows(limit=500) [{result['rows_listed']}]", result["list_500"]))
    print(_line(f"refresh_active, {result['active_rows']} active", result["refresh_active_0"]))
    print(_line(f"list_workflows(limit={result['rows_in_db']})", result["list_all"]))
    print("  statements of one list_workflows(limit=500):")
    for text in result["list_500_statements"]:
        print(f"    {text}")
    print("  the token query alone, on the same engine (no thread hop):")
    for label, t in result["token_query_ms"].items():
        print(f"    {label:<56} p50 {t['p50']:>7} ms  p99 {t['p99']:>7} ms")
    if result["backend"] == "postgresql":
        print("  (pool pings are not seen on PostgreSQL: SQLAlchemy sends them without events)")
    p50 = result["idle_tick"]["wall_ms"]["p50"]
    print(f"  idle poller at 4 ticks/s: ~{4 * p50 / 10:.2f}% of one core (wall p50 x 4 / 1000)")
    emit({"bench": "refresh_cost", "quick": args.quick, **result})
    return 0


if __name__ == "__main__":
    sys.exit(main())
