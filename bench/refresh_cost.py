"""What the dashboard's refresh costs against a big system database: statements and time.

Seeds a SQLite system database with N finished workflows using DBOS itself (a trivial workflow
defined here, one step each, every 50th one failing; 10,000 rows at full size, 200 with
``--quick``), cached under ``bench/.cache/`` keyed by N and the DBOS version so reruns are fast.
Then, on a copy, with SQLAlchemy ``before/after_cursor_execute`` hooks on the Supervisor's
engine (``sup.client._sys_db.engine``), it measures what the poller does:

* an idle tick: one ``change_token()`` when nothing changed;
* a full ``list_workflows(limit=500)`` (what a tick costs when something changed);
* ``refresh_active`` with no active run.

Usage: ``python bench/refresh_cost.py [--quick]``; ``seeded_db(n)`` is reused by cli_ls.py.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import sys
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from benchkit import CACHE_DIR, emit, parse_args, quiet_logging, summary, temp_dir
from dbos import DBOS

from tui.supervisor import Supervisor
from workflows.model_offline.transport import transport_factory
from workflows.runtime import Runtime, RuntimeSettings

SEED_THREADS = 8
#: Bump when the seeded data changes, so stale caches are not reused.
SEED_VERSION = 2
FAIL_EVERY = 50


@DBOS.step(name="bench.seed_step")
def seed_step(i: int) -> int:
    return i * 2


@DBOS.workflow(name="bench.seed")
def seed_workflow(i: int) -> str:
    value = seed_step(i)
    if i % FAIL_EVERY == 0:
        # A builtin exception, so every process can decode the stored error.
        raise ValueError(f"seeded failure {i}")
    return f"done {i}: {value}"


def _count(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM workflow_status").fetchone()[0])


def _seed(db: Path, n: int, state_dir: Path) -> float:
    """Run the trivial workflow ``n`` times through DBOS (a few threads at once)."""
    rt = Runtime(
        RuntimeSettings(
            db_url=f"sqlite:///{db}",
            offline=True,
            state_dir=state_dir,
            transport_factory=transport_factory,
        )
    )
    rt.launch()
    quiet_logging(state_dir)
    started = time.monotonic()

    def one(i: int) -> None:
        handle = DBOS.start_workflow(seed_workflow, i)
        try:
            handle.get_result()
        except ValueError:
            pass

    try:
        with ThreadPoolExecutor(SEED_THREADS) as pool:
            list(pool.map(one, range(1, n + 1)))
    finally:
        rt.shutdown()
    return time.monotonic() - started


def seeded_db(n: int) -> tuple[Path, float | None]:
    """The cached seeded database for ``n`` workflows (seeding it first if needed).

    Returns its path and the seconds seeding took (None when it came from the cache).
    """
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    path = CACHE_DIR / f"seed-v{SEED_VERSION}-{n}-dbos{metadata.version('dbos')}.sqlite"
    if path.exists() and _count(path) == n:
        return path, None
    with temp_dir("bench-seed") as tmp:
        db = tmp / "seed.sqlite"
        took = _seed(db, n, tmp / "state")
        if _count(db) != n:
            raise RuntimeError(f"seeding made {_count(db)} rows, not {n}")
        partial = path.with_suffix(f".{os.getpid()}.sqlite-partial")
        shutil.copyfile(db, partial)
        os.replace(partial, path)
    return path, took


class StatementMeter:
    """Counts every statement an engine runs and keeps its text (SQLAlchemy cursor events).

    Time is taken around whole calls instead: on SQLite the rows are produced while they are
    fetched, after ``after_cursor_execute``, so execute-to-execute timing would leave most out.
    """

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.count = 0
        self.texts: list[str] = []
        sa.event.listen(engine, "before_cursor_execute", self._before)

    def _before(self, *args: Any) -> None:
        self.count += 1
        self.texts.append(" ".join(str(args[2]).split())[:100])

    def close(self) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._before)


async def measure(
    meter: StatementMeter, fn: Callable[[], Awaitable[object]], times: int
) -> dict[str, Any]:
    """Run ``fn`` ``times`` times: statements and wall milliseconds per call."""
    walls: list[float] = []
    counts: list[int] = []
    for _ in range(times):
        c0 = meter.count
        t0 = time.perf_counter()
        await fn()
        walls.append(time.perf_counter() - t0)
        counts.append(meter.count - c0)
    return {
        "calls": times,
        "statements_per_call": sorted(set(counts)),
        "wall_ms": summary(walls, scale=1000.0, digits=3),
    }


#: The change-token query, and cheaper candidates, timed alone (no thread hop) for comparison.
TOKEN_QUERIES = {
    "current: per-status count(*), max(updated_at)": None,
    "count(*), max(updated_at)": "SELECT count(*), coalesce(max(updated_at), 0) FROM {t}",
    "count(*), max(created_at) [indexed; misses updates]": (
        "SELECT count(*), coalesce(max(created_at), 0) FROM {t}"
    ),
}


def _token_queries(engine: sa.Engine, times: int) -> dict[str, dict[str, Any]]:
    """Milliseconds per token query, run synchronously on the Supervisor's engine."""
    from tui.supervisor._sql import SQL

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


async def run(n: int, ticks: int, lists: int, db: Path) -> dict[str, Any]:
    sup = Supervisor(f"sqlite:///{db}", read_only=True)
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


async def amain(quick: bool) -> dict[str, Any]:
    n = 200 if quick else 10_000
    t0 = time.monotonic()
    db, seeded = await asyncio.to_thread(seeded_db, n)
    print(
        f"refresh_cost: {n} workflows in {db.name} "
        + (f"(seeded in {seeded:.1f} s)" if seeded is not None else "(from the cache)")
    )
    with temp_dir("bench-refresh") as tmp:
        copy = tmp / "refresh.sqlite"
        shutil.copyfile(db, copy)
        result = await run(n, 50 if quick else 200, 5 if quick else 20, copy)
    result["seed_s"] = round(seeded, 1) if seeded is not None else None
    result["prepare_s"] = round(time.monotonic() - t0, 1)
    return result


def _line(label: str, m: dict[str, Any]) -> str:
    w = m["wall_ms"]
    stmts = "/".join(str(c) for c in m["statements_per_call"])
    return (
        f"  {label:<36} {stmts:>3} statement(s)  p50 {w['p50']:>8} ms  p99 {w['p99']:>8} ms"
        f"  max {w['max']:>8} ms  (n={m['calls']})"
    )


def main() -> int:
    args = parse_args(__doc__ or "")
    result = asyncio.run(amain(args.quick))
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
    p50 = result["idle_tick"]["wall_ms"]["p50"]
    print(f"  idle poller at 4 ticks/s: ~{4 * p50 / 10:.2f}% of one core (wall p50 x 4 / 1000)")
    emit({"bench": "refresh_cost", "quick": args.quick, **result})
    return 0


if __name__ == "__main__":
    sys.exit(main())
