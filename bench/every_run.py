"""The list over every run in the database: first page of each filter, page down, the oldest
page, counts and statements, at 10,000 and 100,000 workflows on SQLite, 10,000 and 1,000,000
on PostgreSQL (``--pg``) (issue 14).

The databases are a real DBOS-seeded one (bench/benchkit/seed.py, 200 runs, every 50th failed)
grown with DBOS-shaped copies of its rows (tests/support/seed.py: the list reads only
``workflow_status``; copies have no steps or events); 1 in 50 copies failed. Each figure is the
data core's read as the dashboard's poller makes it (``tui.data.reads.list_page``: the page,
its rows built, the count), timed over repeated calls on one connection; the last line is JSON.

Beside the reads, at each size in the same run:

* the plan of each read's page statement (SQLite's ``EXPLAIN QUERY PLAN``, PostgreSQL's
  ``EXPLAIN``): which index it uses;
* the idle tick: the poller's ``Supervisor.change_token()`` when nothing changed (statements
  counted by the data layer, wall ms through its worker thread), and the same tick after
  another connection committed a write (the marker moved: the per-status aggregate runs);
* the screen's first paint: the real ``AgentDeckApp`` with a ``Supervisor`` attached
  read-only, from creating the app to the end of the first frame with the list's rows on
  screen (``list_scroll.one_start``), several starts in this process;
* ``agentdeck ls --filter status:error --limit 100 --json`` against ``dbos workflow list
  --status ERROR --limit 100 --sort-desc`` (the same 100 newest failed runs), as whole
  processes, alternating, after a warm-up (``cli_ls``'s runner); both must list the same ids.

``--quick``: 1,000 and 3,000 workflows, fewer repeats (a smoke run for the tests).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
import statistics
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchkit import emit, parse_args, summary, summary_row, temp_dir  # noqa: E402
from benchkit.seed import seeded_db  # noqa: E402

from tests.support.seed import copy_rows  # noqa: E402
from tui.data import reads  # noqa: E402
from tui.data.sql import DB  # noqa: E402

#: The issue's filters, runs in flight (none here: the cost of reading past every finished
#: run), and a name that matches nothing (a filter without an index: it walks the whole day).
FILTERS = (
    "is:top",
    "status:error is:top",
    "name:bench since:1d",
    "is:waiting",
    "is:active",
    "name:nosuchname since:1d",
)
LS_FILTER, LS_LIMIT = "status:error", 100


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
    good, failed = extra - extra // 50, extra // 50
    # The failures spread over the same span as the successes, one in 50 everywhere: the
    # newest page then holds as many failed runs (errors to decode) at every size.
    copy_rows(
        url,
        bad,
        failed,
        status="ERROR",
        start_ms=start,
        step_ms=good * 1000 // max(1, failed),
        prefix="bad",
    )
    copy_rows(url, ok, good, status="SUCCESS", start_ms=start + 7, step_ms=1000, prefix="ok")
    if not db.sqlite:
        db.conn.execute("ANALYZE dbos.workflow_status")
        db.conn.commit()


Grown = list[tuple[int, "PlannedDB", str]]


@contextmanager
def databases(pg: bool, sizes: tuple[int, ...], tmp: Path) -> Iterator[Grown]:
    """A grown database per size, all connected at once (SQLite files, or PostgreSQL
    databases on one server), so that every figure can alternate between the sizes."""
    with ExitStack() as stack:
        yield list(_databases(stack, pg, sizes, tmp))


def _databases(
    stack: ExitStack, pg: bool, sizes: tuple[int, ...], tmp: Path
) -> Iterator[tuple[int, PlannedDB, str]]:
    if not pg:
        src, _ = seeded_db(200)
        for n in sizes:
            path = tmp / f"list-{n}.sqlite"
            shutil.copyfile(src, path)
            db = PlannedDB(sqlite3.connect(path), sqlite=True)
            stack.callback(db.conn.close)
            grow(db, f"sqlite:///{path}", n)
            yield n, db, f"sqlite:///{path}"
        return
    import psycopg
    from benchkit.pg import pg_server
    from benchkit.seed import seeded_pg

    server = stack.enter_context(pg_server())
    for n in sizes:
        pgdb = stack.enter_context(server.database())
        seeded_pg(pgdb.url, 200, tmp / "state")
        conn = psycopg.connect(pgdb.url)
        stack.callback(conn.close)
        conn.adapters.register_loader("jsonb", psycopg.types.string.TextLoader)
        db = PlannedDB(conn, sqlite=False)
        t0 = time.monotonic()
        grow(db, pgdb.url, n)
        db.conn.commit()
        print(
            f"(grew the PostgreSQL database to {n:,} workflows in {time.monotonic() - t0:.0f} s)",
            flush=True,
        )
        yield n, db, pgdb.url


class PlannedDB(DB):
    """A :class:`DB` that can keep the plan of each page statement it runs (``planning``)."""

    planning = False
    plans: list[str]

    def rows(self, text: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        if self.planning and "LIMIT :k_limit" in text:
            sql, bound = self.render(text, params or {})
            cur = self.conn.cursor()
            cur.execute(("EXPLAIN QUERY PLAN " if self.sqlite else "EXPLAIN ") + sql, bound)
            steps = [str(r[-1]).strip() for r in cur.fetchall()]
            cur.close()
            self.plans.append(" / ".join(steps))
        return super().rows(text, params)


def plans_of(db: PlannedDB, query: reads.ListQuery) -> str:
    """The plan of each page statement of one read (two for "around")."""
    db.planning, db.plans = True, []
    try:
        reads.list_page(db, query, ttl=30, redact=str, now=time.time())
    finally:
        db.planning = False
    if not db.sqlite:
        db.conn.rollback()
    return " || ".join(db.plans)[:600]


def timed(
    grown: Grown, queries: Mapping[int, reads.ListQuery], repeat: int
) -> dict[int, dict[str, Any]]:
    """Each size's read ``repeat`` times, the sizes alternating call by call (so a drift in the
    machine's speed hits both): p50/p99 ms and statements per call, per size."""
    times: dict[int, list[float]] = {n: [] for n, _, _ in grown}
    stmts: dict[int, int] = {}
    for _ in range(repeat):
        for n, db, _ in grown:
            before = db.statements
            t0 = time.perf_counter()
            reads.list_page(db, queries[n], ttl=30, redact=str, now=time.time())
            times[n].append(time.perf_counter() - t0)
            stmts[n] = db.statements - before
            if not db.sqlite:
                db.conn.rollback()
    return {n: {**summary(times[n], scale=1000), "statements": stmts[n]} for n in times}


class Toucher:
    """Commits a one-row write on a connection of its own, as any other writer would: the
    dashboard's commit marker moves (SQLite's ``data_version``, PostgreSQL's next xid)."""

    def __init__(self, url: str, pg: bool) -> None:
        self.pg = pg
        if pg:
            import psycopg

            self.conn: Any = psycopg.connect(url, autocommit=True, connect_timeout=10)
            self.conn.execute("CREATE TABLE IF NOT EXISTS public.bench_touch (x integer)")
        else:
            self.conn = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=30)
            self.conn.execute("CREATE TABLE IF NOT EXISTS bench_touch (x INTEGER)")
            self.conn.commit()

    def __call__(self) -> None:
        self.conn.execute("INSERT INTO bench_touch (x) VALUES (1)")
        if not self.pg:
            self.conn.commit()

    def close(self) -> None:
        self.conn.close()


async def idle_ticks(grown: Grown, pg: bool, ticks: int) -> dict[int, dict[str, Any]]:
    """The poller's tick (``Supervisor.change_token``, one Supervisor per size attached
    read-only) with nothing committed meanwhile, and right after another connection committed
    a write; statements and wall ms per tick, the sizes alternating tick by tick."""
    from tui.supervisor import Supervisor

    sups = {n: Supervisor(url, read_only=True) for n, _, url in grown}
    touches: dict[int, Toucher] = {}
    out: dict[int, dict[str, Any]] = {n: {} for n in sups}
    try:
        for n, _, url in grown:
            await sups[n].connect()
            touches[n] = Toucher(url, pg)
            for _ in range(3):
                await sups[n].change_token()  # warm: the pool, the marker's connection
        for label, count, write in (
            ("quiet", ticks, False),
            ("after_commit", max(5, ticks // 5), True),
        ):
            walls: dict[int, list[float]] = {n: [] for n in sups}
            counts: dict[int, set[int]] = {n: set() for n in sups}
            for _ in range(count):
                for n, sup in sups.items():
                    if write:
                        touches[n]()
                    s0 = sup.sql.statements
                    t0 = time.perf_counter()
                    await sup.change_token()
                    walls[n].append(time.perf_counter() - t0)
                    counts[n].add(sup.sql.statements - s0)
            for n in sups:
                out[n][label] = {
                    **summary(walls[n], scale=1000, digits=3),
                    "statements": sorted(counts[n]),
                }
    finally:
        for t in touches.values():
            t.close()
        for sup in sups.values():
            await sup.close()
    return out


async def first_paints(grown: Grown, starts: int) -> dict[int, dict[str, Any]]:
    """The real app attached read-only: created → the end of the first frame with the list's
    rows on screen; one uncounted start first (Textual builds its CSS and widget classes once
    per process), then ``starts`` per size, the sizes alternating."""
    from benchkit.ui import FrameMeter
    from list_scroll import one_start

    meter = FrameMeter()
    meter.install()
    paints: dict[int, list[float]] = {n: [] for n, _, _ in grown}
    shown: dict[int, int] = {}
    try:
        await one_start(grown[0][2], meter, ())
        for _ in range(starts):
            for n, _, url in grown:
                r = await one_start(url, meter, ())
                paints[n].append(r["first_paint_s"])
                shown[n] = r["rows_shown"]
    finally:
        meter.uninstall()
    return {
        n: {
            **summary(p, scale=1000, digits=1),
            "each_ms": [round(x * 1000, 1) for x in p],
            "rows_shown": shown[n],
        }
        for n, p in paints.items()
    }


def ls_vs_dbos(grown: Grown, runs: int, scratch: Path) -> dict[int, dict[str, Any]]:
    """``agentdeck ls --filter status:error`` against ``dbos workflow list --status ERROR``
    (the 100 newest failed runs, as JSON) as whole processes: one warm-up of each, then
    ``runs`` rounds of every command at every size in turn; min/median/max wall seconds, the
    ratio of the medians and the ratio pair by pair (each run against the DBOS one after it)."""
    from cli_ls import BIN, _run, _stats

    commands: dict[tuple[int, str], list[str]] = {}
    expect: dict[tuple[int, str], int] = {}
    for n, db, url in grown:
        ours_n, presence_n = db.rows(
            "SELECT sum(CASE WHEN name <> :p THEN 1 ELSE 0 END), "
            "sum(CASE WHEN name = :p THEN 1 ELSE 0 END) "
            "FROM {workflow_status} WHERE status = 'ERROR'",
            {"p": "agentdeck.worker"},
        )[0]
        if not db.sqlite:
            db.conn.rollback()
        # DBOS lists the executors' presence rows too (a runtime's own, failed when it
        # stopped); agentdeck never does. They are the oldest, so at full size both list the
        # same 100.
        expect[n, "agentdeck_ls"] = min(LS_LIMIT, int(ours_n or 0))
        expect[n, "dbos_workflow_list"] = min(LS_LIMIT, int(ours_n or 0) + int(presence_n or 0))
        commands[n, "agentdeck_ls"] = [
            str(BIN / "agentdeck"),
            "--db",
            url,
            "ls",
            "--filter",
            LS_FILTER,
            "--limit",
            str(LS_LIMIT),
            "--json",
        ]
        commands[n, "dbos_workflow_list"] = [
            str(BIN / "dbos"),
            "workflow",
            "list",
            "--sys-db-url",
            url,
            "--status",
            "ERROR",
            "--limit",
            str(LS_LIMIT),
            "--sort-desc",
        ]
        listed = {
            k: json.loads(_run(commands[n, k], scratch, expect[n, k])[1])
            for k in ("agentdeck_ls", "dbos_workflow_list")
        }
        ours = {r["workflow_id"] for r in listed["agentdeck_ls"]}
        theirs = {
            r["workflow_id"]
            for r in listed["dbos_workflow_list"]
            if r["name"] != "agentdeck.worker"
        }
        if ours != theirs and not (len(ours) == LS_LIMIT and theirs < ours):
            raise RuntimeError(f"at {n}: agentdeck ls and dbos workflow list listed other runs")
    walls: dict[tuple[int, str], list[float]] = {k: [] for k in commands}
    for _ in range(runs):
        for key, cmd in commands.items():
            walls[key].append(_run(cmd, scratch, expect[key])[0])
    out: dict[int, dict[str, Any]] = {}
    for n, _, _ in grown:
        ours_w, theirs_w = walls[n, "agentdeck_ls"], walls[n, "dbos_workflow_list"]
        stats = {"agentdeck_ls": _stats(ours_w), "dbos_workflow_list": _stats(theirs_w)}
        pairs = [a / b for a, b in zip(ours_w, theirs_w, strict=True)]
        out[n] = {
            "rows": expect[n, "agentdeck_ls"],
            "runs": runs,
            "wall": stats,
            "ratio_of_medians": round(
                stats["agentdeck_ls"]["median_s"] / stats["dbos_workflow_list"]["median_s"], 2
            ),
            "ratio_pairs": {
                "min": round(min(pairs), 2),
                "median": round(statistics.median(pairs), 2),
                "max": round(max(pairs), 2),
            },
        }
    return out


def _ratio(large: float | None, small: float | None) -> float | None:
    if large is None or not small:
        return None
    return round(large / small, 2)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(__doc__ or "", argv, pg=True)
    big = 1_000_000 if args.pg else 100_000
    sizes = (1_000, 3_000) if args.quick else (10_000, big)
    repeat = 5 if args.quick else 30
    ticks, starts, ls_runs = (20, 2, 2) if args.quick else (200, 5, 5)
    out: dict[str, Any] = {
        "bench": "every_run",
        "quick": args.quick,
        "database": "postgresql" if args.pg else "sqlite",
    }
    with temp_dir("bench-every-run") as tmp, databases(args.pg, sizes, tmp) as grown:
        figures: dict[int, dict[str, Any]] = {n: {} for n in sizes}

        def show(label: str, per: dict[int, dict[str, Any]]) -> None:
            for n, f in per.items():
                figures[n][label] = f
            print(label + ":")
            for n, f in per.items():
                print(summary_row(f"  {n:>9,} ({f['statements']} statements)", f))

        print(f"reads (ms over {repeat} calls, the sizes alternating)")
        for text in FILTERS:
            show(
                f"first page: {text}",
                timed(grown, {n: reads.ListQuery(filter=text) for n in sizes}, repeat),
            )
        anchors: dict[int, reads.Key] = {}
        for n, db, _ in grown:
            first = reads.list_page(
                db, reads.ListQuery(filter="is:top"), ttl=30, redact=str, now=time.time()
            )
            anchors[n] = first.keys[-1]
        show(
            "page down (around)",
            timed(
                grown,
                {
                    n: reads.ListQuery(filter="is:top", mode="around", anchor=anchors[n])
                    for n in sizes
                },
                repeat,
            ),
        )
        oldest = {n: reads.ListQuery(filter="is:top", mode="oldest") for n in sizes}
        show("end (oldest page)", timed(grown, oldest, repeat))
        for n, db, _ in grown:
            where, _ = reads.compile_filter(db, "status:error", 30, now=time.time())
            t0 = time.perf_counter()
            exact = reads.count(db, where, cap=None)[0]
            took = round((time.perf_counter() - t0) * 1000, 2)
            figures[n]["exact count status:error"] = {"ms": took, "count": exact}
            print(f"  {n:>9,}: exact count of status:error: {exact:,} in {took} ms")
            figures[n]["plan status:error"] = plans_of(db, reads.ListQuery(filter="status:error"))
            plans = {text: plans_of(db, reads.ListQuery(filter=text)) for text in FILTERS}
            plans["page down (around)"] = plans_of(
                db, reads.ListQuery(filter="is:top", mode="around", anchor=anchors[n])
            )
            plans["end (oldest page)"] = plans_of(
                db, reads.ListQuery(filter="is:top", mode="oldest")
            )
            figures[n]["plans"] = plans
            print(f"  {n:>9,}: the page statements' plans:")
            for label, plan in plans.items():
                print(f"    {label}: {plan[:300]}")

        ticks_by = asyncio.run(idle_ticks(grown, args.pg, ticks))
        print("idle tick, change_token() (ms; the sizes alternating)")
        for n, t in ticks_by.items():
            figures[n]["idle tick"] = t
            for label, s in t.items():
                print(summary_row(f"  {n:>9,} {label} ({s['statements']} statements)", s))

        paints = asyncio.run(first_paints(grown, starts))
        print(f"first paint: app created -> the list's rows on screen (ms, {starts} starts each)")
        for n, fp in paints.items():
            figures[n]["first paint"] = fp
            print(
                f"  {n:>9,}: min {fp['min']}, median {fp['p50']}, max {fp['max']} "
                f"({fp['rows_shown']} rows shown)"
            )

        ls = ls_vs_dbos(grown, ls_runs, tmp)
        print(
            f"agentdeck ls --filter {LS_FILTER} --limit {LS_LIMIT} vs dbos workflow list "
            f"--status ERROR --limit {LS_LIMIT} --sort-desc (whole processes, s)"
        )
        for n, r in ls.items():
            figures[n]["ls --filter vs dbos workflow list"] = r
            for k, st in r["wall"].items():
                print(
                    f"  {n:>9,} {k:<20} min {st['min_s']:.3f}  median {st['median_s']:.3f}  "
                    f"max {st['max_s']:.3f}  ({r['rows']} rows, {r['runs']} runs)"
                )
            print(
                f"  {n:>9,} ratio of medians {r['ratio_of_medians']}, pair by pair "
                f"{r['ratio_pairs']}"
            )
    for n in sizes:
        out[str(n)] = figures[n]
    small, large = figures[sizes[0]], figures[sizes[1]]
    out["sizes"] = list(sizes)
    reads_ = [k for k in small if k.startswith(("first page", "page down", "end"))]
    out["ratio_first_page"] = {
        k: _ratio(large[k]["p50"], small[k]["p50"]) for k in reads_ if k.startswith("first page")
    }
    ls_small = small["ls --filter vs dbos workflow list"]["wall"]["agentdeck_ls"]["median_s"]
    ls_large = large["ls --filter vs dbos workflow list"]["wall"]["agentdeck_ls"]["median_s"]
    out["ratio"] = {
        **{k: _ratio(large[k]["p50"], small[k]["p50"]) for k in reads_},
        "first paint": _ratio(large["first paint"]["p50"], small["first paint"]["p50"]),
        "idle tick": _ratio(large["idle tick"]["quiet"]["p50"], small["idle tick"]["quiet"]["p50"]),
        "idle tick after a commit": _ratio(
            large["idle tick"]["after_commit"]["p50"], small["idle tick"]["after_commit"]["p50"]
        ),
        "agentdeck ls --filter": _ratio(ls_large, ls_small),
    }
    # The fastest call of each: the least the machine's other load added (it is shared).
    out["ratio_of_minimums"] = {
        **{k: _ratio(large[k]["min"], small[k]["min"]) for k in reads_},
        "first paint": _ratio(large["first paint"]["min"], small["first paint"]["min"]),
        "idle tick": _ratio(large["idle tick"]["quiet"]["min"], small["idle tick"]["quiet"]["min"]),
        "idle tick after a commit": _ratio(
            large["idle tick"]["after_commit"]["min"], small["idle tick"]["after_commit"]["min"]
        ),
    }
    print(f"ratio, {sizes[1]:,} to {sizes[0]:,} workflows: of the medians (of the minimums)")
    for k, r in out["ratio"].items():
        print(f"  {k:<44} {r}  ({out['ratio_of_minimums'].get(k, '-')})")
    emit(out)


if __name__ == "__main__":
    main()
