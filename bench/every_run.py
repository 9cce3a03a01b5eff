"""The list over every run in the database: first page of each filter, page down, the oldest
page, counts and statements, at 10,000 and 100,000 workflows on SQLite, 10,000 and 1,000,000
on PostgreSQL (``--pg``) (issue 14).

The databases are a real DBOS-seeded one (bench/benchkit/seed.py, 200 runs, every 50th failed)
grown with DBOS-shaped copies of its rows (tests/support/seed.py: the list reads only
``workflow_status``; copies have no steps or events); 1 in 50 copies failed. Each figure is the
data core's read as the dashboard's poller makes it (``tui.data.reads.list_page``: the page,
its rows built, the count), timed over repeated calls on one connection; the last line is JSON.
"""

from __future__ import annotations

import shutil
import sqlite3
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchkit import emit, parse_args, summary, summary_row, temp_dir  # noqa: E402
from benchkit.seed import seeded_db  # noqa: E402

from tests.support.seed import copy_rows  # noqa: E402
from tui.data import reads  # noqa: E402
from tui.data.sql import DB  # noqa: E402

FILTERS = ("is:top", "status:error is:top", "name:bench since:1d", "is:waiting")


def grow(db: DB, url: str, n: int) -> None:
    """Copies of a seeded success and a seeded failure (1 in 50) up to ``n`` workflows."""
    ok, bad = (
        db.rows(
            "SELECT workflow_uuid FROM {workflow_status} WHERE status = :s "
            "AND name <> 'agentdeck.worker' LIMIT 1",
            {"s": s},
        )[0][0]
        for s in ("SUCCESS", "ERROR")
    )
    have = db.rows("SELECT count(*) FROM {workflow_status}")[0][0]
    db.conn.commit()
    start = int(time.time() * 1000) - (n + 10) * 1000
    extra = n - have
    copy_rows(url, bad, extra // 50, status="ERROR", start_ms=start, step_ms=50_000,
              prefix="bad")  # fmt: skip
    copy_rows(url, ok, extra - extra // 50, status="SUCCESS", start_ms=start + 7,
              step_ms=1000, prefix="ok")  # fmt: skip
    if not db.sqlite:
        db.conn.execute("ANALYZE dbos.workflow_status")
        db.conn.commit()


@contextmanager
def databases(pg: bool, sizes: tuple[int, ...], tmp: Path) -> Iterator[Iterator[tuple[int, DB]]]:
    """A grown database per size, connected (SQLite files, or PostgreSQL databases)."""
    with ExitStack() as stack:
        yield _databases(stack, pg, sizes, tmp)


def _databases(stack: ExitStack, pg: bool, sizes: tuple[int, ...], tmp: Path
               ) -> Iterator[tuple[int, DB]]:  # fmt: skip
    if not pg:
        src, _ = seeded_db(200)
        for n in sizes:
            path = tmp / f"list-{n}.sqlite"
            shutil.copyfile(src, path)
            db = DB(sqlite3.connect(path), sqlite=True)
            grow(db, f"sqlite:///{path}", n)
            yield n, db
            db.conn.close()
        return
    import psycopg
    from benchkit.pg import pg_server
    from benchkit.seed import seeded_pg

    server = stack.enter_context(pg_server())
    for n in sizes:
        with server.database() as pgdb:
            seeded_pg(pgdb.url, 200, tmp / "state")
            conn = psycopg.connect(pgdb.url)
            conn.adapters.register_loader("jsonb", psycopg.types.string.TextLoader)
            db = DB(conn, sqlite=False)
            grow(db, pgdb.url, n)
            yield n, db
            conn.close()


def timed(db: DB, query: reads.ListQuery, repeat: int) -> tuple[dict[str, Any], int]:
    times, stmts = [], 0
    for _ in range(repeat):
        before = db.statements
        t0 = time.perf_counter()
        reads.list_page(db, query, ttl=30, redact=str, now=time.time())
        times.append(time.perf_counter() - t0)
        stmts = db.statements - before
    return summary(times, scale=1000), stmts


def main(argv: list[str] | None = None) -> None:
    args = parse_args(__doc__ or "", argv, pg=True)
    big = 1_000_000 if args.pg else 100_000
    sizes = (1_000, 3_000) if args.quick else (10_000, big)
    repeat = 5 if args.quick else 30
    out: dict[str, Any] = {"bench": "every_run", "quick": args.quick,
                           "database": "postgresql" if args.pg else "sqlite"}  # fmt: skip
    with temp_dir("bench-every-run") as tmp, databases(args.pg, sizes, tmp) as grown:
        for n, db in grown:
            figures: dict[str, Any] = {}
            print(f"{n:,} workflows")
            for text in FILTERS:
                s, stmts = timed(db, reads.ListQuery(filter=text), repeat)
                figures[f"first page: {text}"] = {**s, "statements": stmts}
                print(summary_row(f"first page '{text}' (ms, {stmts} statements)", s))
            first = reads.list_page(db, reads.ListQuery(filter="is:top"), ttl=30, redact=str,
                                    now=time.time())  # fmt: skip
            anchor = first.keys[-1]
            s, stmts = timed(db, reads.ListQuery(filter="is:top", mode="around", anchor=anchor),
                             repeat)  # fmt: skip
            figures["page down (around)"] = {**s, "statements": stmts}
            print(summary_row(f"page down: the next window (ms, {stmts} statements)", s))
            s, stmts = timed(db, reads.ListQuery(filter="is:top", mode="oldest"), repeat)
            figures["end (oldest page)"] = {**s, "statements": stmts}
            print(summary_row(f"end: the oldest page (ms, {stmts} statements)", s))
            where, _ = reads.compile_filter(db, "status:error", 30, now=time.time())
            t0 = time.perf_counter()
            exact = reads.count(db, where, cap=None)[0]
            took = round((time.perf_counter() - t0) * 1000, 2)
            figures["exact count status:error"] = {"ms": took, "count": exact}
            print(f"  exact count of status:error: {exact:,} in "
                  f"{figures['exact count status:error']['ms']} ms")  # fmt: skip
            where, _ = reads.compile_filter(db, "status:error is:top", 30, now=time.time())
            order = "+s.created_at" if db.sqlite else "s.created_at"
            plan = db.rows(
                ("EXPLAIN QUERY PLAN " if db.sqlite else "EXPLAIN ")
                + "SELECT s.workflow_uuid FROM {workflow_status} s "
                f"WHERE {where.where} ORDER BY {order} DESC LIMIT 201",
                where.params,
            )
            figures["plan status:error"] = " / ".join(str(r[-1]).strip() for r in plan)[:300]
            print(f"  plan of status:error: {figures['plan status:error']}")
            out[str(n)] = figures
    small, large = (out[str(n)] for n in sizes)
    out["ratio_first_page"] = {
        k: round(large[k]["p50"] / small[k]["p50"], 2) for k in small if k.startswith("first page")
    }
    print("ratio of p50 at the larger size to the smaller:", out["ratio_first_page"])
    emit(out)


if __name__ == "__main__":
    main()
