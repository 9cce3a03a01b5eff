"""Every run in the database, not the newest 500: the filter language evaluated by the database,
keyset paging to the oldest run, counts, bulk resume, and ``agentdeck ls --filter`` (issue 14).

A real failing run is made through DBOS, then 600 newer DBOS-shaped copies of a real run are
inserted (tests/support/seed.py), so the failed run is older than the newest 500.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import connected, wait_for
from tests.support.pilot import make_app, table, until
from tests.support.runs import finish
from tests.support.schema import empty_db
from tests.support.seed import copy_rows
from tui.data import reads
from tui.data.filters import Filter, FilterError
from tui.data.sql import DB
from tui.modals.bulk import BulkScreen
from tui.screens.workflows import WorkflowsScreen
from tui.supervisor import Supervisor
from workflows.runtime import Runtime

ROOT = Path(__file__).resolve().parents[2]
SEEDED = 600


_EMPTY = empty_db()
_TERMS = st.sampled_from(
    [
        "status:",
        "name:",
        "id:",
        "is:",
        "since:",
        "until:",
        "queue:",
        "partition:",
        "input:",
        "version:",
        "executor:",
        "bogus:",
        '"',
        "'",
        "%",
        "_",
        "\\",
        "2h",
        "error",
        "waiting",
        "2026-12-01",
        ",",
        " ",
        "x",
        "timed_out",
        "stranded",
        "[",
        "(",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_TERMS, max_size=8).map("".join) | st.text(max_size=20))
def test_any_filter_is_refused_with_a_reason_or_runs_on_the_database(text: str) -> None:
    """Whatever is typed: problems() names the bad terms, or the filter compiles to SQL that
    the database runs (a page and a count), and the two never disagree."""
    f = Filter(text)
    problems = f.problems()
    if problems:
        assert all(isinstance(p, str) and p for p in problems)
        with pytest.raises(FilterError):
            f.compile(_EMPTY)
        return
    where = f.compile(_EMPTY)
    assert reads.page(_EMPTY, where, limit=5).rows == []
    assert reads.count(_EMPTY, where) == (0, False)


def test_bad_terms_are_named() -> None:
    assert Filter("status:bogus").problems() == ["unknown status 'bogus'"]
    msgs = Filter("colour:red since:yesterday is:sleepy 'open").problems()
    assert msgs == ["unclosed quote in the filter"]
    msgs = Filter("colour:red since:yesterday is:sleepy").problems()
    assert [m.split(" (")[0] for m in msgs] == [
        "unknown filter key 'colour'",
        "since: bad time 'yesterday'",
        "unknown 'is:sleepy'",
    ]


async def _failed_then_many(sup: Supervisor, db_url: str) -> str:
    """One real run that fails once (a non-retryable auth error), then 600 newer copies."""
    res = await sup.launch(
        "research", {"topic": "durable paging", "questions": 1, "fault": "plan.auth*1"}
    )
    assert await finish(sup, res.workflow_id) == "ERROR"
    copy_rows(
        db_url,
        res.workflow_id,
        SEEDED,
        status="SUCCESS",
        start_ms=int(time.time() * 1000) + 1000,
        prefix="copy",
    )
    return res.workflow_id


async def _status(sup: Supervisor, wid: str) -> bool:
    row = await sup.get_row(wid)
    return row.waiting_approval


async def _run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    """A CLI process, waited for off the event loop (the embedded DBOS keeps running)."""
    import asyncio

    return await asyncio.to_thread(
        subprocess.run,
        cmd,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def _ls(db_url: str, *args: str) -> list[dict[str, Any]]:
    proc = subprocess.run(
        [sys.executable, "-m", "tui.cli", "ls", "--db", db_url, "--json", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    rows: list[dict[str, Any]] = json.loads(proc.stdout)
    return rows


async def _data_layer_sees_it(sup: Supervisor, db_url: str, failed: str) -> None:
    newest = await sup.list_workflows(limit=500)
    assert failed not in {r.workflow_id for r in newest}  # the old window would miss it
    page = await sup.list_page(reads.ListQuery(filter="status:error,stuck,timed_out is:top"))
    assert [r.workflow_id for r in page.rows] == [failed] and page.matching == 1
    every = await sup.list_page(reads.ListQuery(filter="is:top", limit=200))
    assert every.matching == SEEDED + 1 and not every.capped and not every.at_end
    oldest = await sup.list_page(reads.ListQuery(filter="is:top", mode="oldest", limit=50))
    assert oldest.rows[-1].workflow_id == failed and oldest.at_end and not oldest.at_top
    assert await sup.count_matching("name:research since:1h") == SEEDED + 1
    assert [r["workflow_id"] for r in _ls(db_url, "--filter", "status:error is:top")] == [failed]
    assert failed not in {r["workflow_id"] for r in _ls(db_url, "--limit", "500")}


async def test_a_failed_run_older_than_the_newest_500_is_found_everywhere(
    sup: Supervisor, db_url: str, runtime: Runtime
) -> None:
    failed = await _failed_then_many(sup, db_url)
    await _data_layer_sees_it(sup, db_url, failed)

    app = make_app(sup, runtime)
    async with app.run_test(size=(140, 40)) as pilot:
        await until(pilot, lambda: table(app).row_count > 0)
        assert failed not in table(app).rows_by_id
        await pilot.press("end")  # the oldest page: keyset, no OFFSET
        await until(pilot, lambda: table(app).cursor_key == failed)
        await pilot.press("home")
        await until(
            pilot,
            lambda: table(app).cursor_key not in (None, failed) and table(app).cursor_row == 0,
        )
        await pilot.press("4")  # the Failed tab is a filter the database evaluates
        await until(pilot, lambda: list(table(app).rows_by_id) == [failed])

        # * marks every run the filter matches; r resumes them after a confirm with a sample.
        await pilot.press("asterisk", "r")
        await until(
            pilot, lambda: isinstance(app.screen, BulkScreen) and app.screen.state == "asking"
        )
        body = str(app.screen.query_one("#bulk-body").render())
        assert "Resume 1 run(s)?" in body and failed in body
        await pilot.press("y")
        await until(
            pilot, lambda: isinstance(app.screen, BulkScreen) and app.screen.state == "done"
        )
        assert any("resumed 1 run(s)" in text for _, text in app.audit)
        await pilot.press("escape")
        # Rewound to its failed step: the plan runs again and now asks for approval.
        await wait_for(lambda: _status(sup, failed), within=60)

        await until(pilot, lambda: table(app).row_count == 0)
        await pilot.press("asterisk", "r")  # a second bulk resume: nothing left to resume
        await until(
            pilot, lambda: isinstance(app.screen, BulkScreen) and app.screen.state == "done"
        )
        assert "nothing to resume" in str(app.screen.query_one("#bulk-body").render())


async def test_a_new_filter_starts_at_its_newest_run(
    sup: Supervisor, db_url: str, runtime: Runtime
) -> None:
    """Seen in tmux on 20,000 runs: end (the oldest runs), then / status:error showed the
    failures from the middle of the list, the cursor left at the old one's row."""
    failed = await _failed_then_many(sup, db_url)
    now = int(time.time() * 1000)
    copy_rows(db_url, failed, 300, status="ERROR", start_ms=now + 2000, step_ms=3, prefix="bad")
    app = make_app(sup, runtime)
    async with app.run_test(size=(140, 40)) as pilot:
        await until(pilot, lambda: table(app).row_count > 0)
        await pilot.press("end")
        await until(pilot, lambda: table(app).cursor_key == failed)
        assert table(app).cursor_row > 100
        # Submitted at once (as a paste, or keys typed faster than the list answers).
        screen = app.screen
        assert isinstance(screen, WorkflowsScreen)
        assert screen.apply_filter("status:error")
        await until(pilot, lambda: "bad-00000299" in table(app).rows_by_id)
        await until(pilot, lambda: table(app).cursor_key == "bad-00000299")
        assert table(app).cursor_row == 0 and table(app).scroll_y == 0


@pytest.mark.postgres
async def test_postgres_pages_filters_and_bulk_resume(pg_database: str, tmp_path: Path) -> None:
    from tests.conftest import _settings, launched
    from workflows.model_offline.transport import reset_faults

    reset_faults()
    async with launched(_settings(tmp_path, pg_database, cli=False)), connected(pg_database) as sup:
        failed = await _failed_then_many(sup, pg_database)
        await _data_layer_sees_it(sup, pg_database, failed)
        # agentdeck resume --filter: the same filter, the same plan, the same bulk action.
        cli = [
            sys.executable,
            "-m",
            "tui.cli",
            "resume",
            "--db",
            pg_database,
            "--filter",
            "status:error is:top",
        ]
        refused = await _run(cli)
        assert refused.returncode == 2 and "pass --yes" in refused.stderr
        done = await _run([*cli, "--yes", "--json"])
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["done"] == [failed]
        await wait_for(lambda: _status(sup, failed), within=60)
        again = await _run([*cli, "--yes"])
        assert again.returncode == 0 and "nothing to resume" in again.stdout


async def test_read_only_refuses_bulk_actions_in_the_data_layer(
    sup: Supervisor, db_url: str
) -> None:
    from tui.supervisor import ReadOnlyError
    from tui.supervisor.bulk import BulkPlan

    async with connected(db_url) as plain:
        plain.read_only = True
        with pytest.raises(ReadOnlyError):
            await plain.bulk_apply(BulkPlan("cancel", (), ()))
    await wait_for(lambda: True)


class _Planned(DB):
    """A connection that keeps SQLite's plan of each page statement it runs."""

    plans: list[str]

    def rows(self, text: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        if "LIMIT :k_limit" in text:
            sql, bound = self.render(text, params or {})
            steps = self.conn.execute("EXPLAIN QUERY PLAN " + sql, bound).fetchall()
            self.plans.append(" / ".join(str(s[-1]) for s in steps))
        return super().rows(text, params)


_FAILED_IDX, _IN_FLIGHT_IDX = "idx_workflow_status_failed", "idx_workflow_status_in_flight_v2"


@pytest.mark.parametrize(
    ("text", "index", "sorts_every_match"),
    [
        ("status:error", _FAILED_IDX, False),
        ("status:error is:top", _FAILED_IDX, False),
        ("status:stuck name:x", _FAILED_IDX, False),
        ("status:error,cancelled", _FAILED_IDX, True),
        ("status:error,stuck,timed_out", _FAILED_IDX, True),
        ("status:running,queued", _IN_FLIGHT_IDX, True),
        ("status:queued", _IN_FLIGHT_IDX, True),
        ("status:running", "idx_workflow_status_pending", False),
        ("is:active", "idx_workflow_status_delayed", True),
        ("status:running,delayed since:1d", "idx_workflow_status_delayed", True),
    ],
)
def test_status_filters_are_read_from_dbos_partial_indexes(
    tmp_path: Path, text: str, index: str, sorts_every_match: bool
) -> None:
    """On a SQLite file with DBOS's own schema: every page of a status filter (first, next,
    oldest) reads the DBOS partial index of those statuses (DBOS 3.4 has none on status alone:
    walking created_at read every run to fill a page of rare ones). One failed status, or
    PENDING, reads its index in the list's order and stops at the page's end, so its cost does
    not grow with the matches; a set of statuses sorts its matches (SQLite cannot merge an
    index's ranges)."""
    from dbos._migration import sqlite_migrations

    conn = sqlite3.connect(tmp_path / "plans.sqlite")
    for m in sqlite_migrations:
        conn.executescript(m)
    db = _Planned(conn, sqlite=True)
    db.plans = []
    where = Filter(text).compile(db)
    reads.page(db, where, limit=50)
    reads.page(db, where, after=(1_000, "w"), limit=50)
    reads.page(db, where, oldest=True, limit=50)
    assert len(db.plans) == 3
    for plan in db.plans:
        assert index in plan and "created_at_index" not in plan, plan
        assert ("TEMP B-TREE FOR ORDER BY" in plan) == sorts_every_match, plan
    conn.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'live.sqlite'}"
    return str(request.getfixturevalue("pg_database"))


async def test_runs_in_flight_are_read_from_dbos_partial_indexes(
    any_db_url: str, tmp_path: Path
) -> None:
    """The runs in flight (the list's live rows) are those a plain ``status IN`` read finds,
    newest first, but read through DBOS's partial indexes of PENDING, ENQUEUED and DELAYED
    runs: DBOS 3.4 has no index on ``status``, so ``status IN`` read every run."""
    from tests.conftest import offline_deck

    async with offline_deck(any_db_url, tmp_path / "state") as sup:
        res = await sup.launch("research", {"topic": "in flight", "questions": 1}, dedupe=False)
        await wait_for(lambda: _status(sup, res.workflow_id), within=60)  # a PENDING row
        start = int(time.time() * 1000) - 10_000_000
        for i, status in enumerate(("SUCCESS", "ERROR", "PENDING", "ENQUEUED", "DELAYED")):
            copy_rows(
                any_db_url,
                res.workflow_id,
                40,
                status=status,
                start_ms=start + i,
                step_ms=5000,
                prefix=status.lower(),
            )
        sqlite = any_db_url.startswith("sqlite")
        if sqlite:
            db = DB(sqlite3.connect(any_db_url.removeprefix("sqlite:///")), sqlite=True)
        else:
            import psycopg

            db = DB(psycopg.connect(any_db_url), sqlite=False)
        try:
            plain = [
                r[0]
                for r in db.rows(
                    "SELECT workflow_uuid FROM {workflow_status} WHERE status IN :a AND name <> :p "
                    "ORDER BY created_at DESC LIMIT 100",
                    {"a": ["PENDING", "ENQUEUED", "DELAYED"], "p": "agentdeck.worker"},
                )
            ]
            assert len(plain) == 100 and res.workflow_id in plain
            assert [r[0] for r in reads.live(db, [], limit=100)] == plain
            # The Running tab, page by page (keyset pages off the created_at index on SQLite).
            running = [
                r[0]
                for r in db.rows(
                    "SELECT workflow_uuid FROM {workflow_status} WHERE status IN :a AND name <> :p "
                    "ORDER BY created_at DESC, workflow_uuid DESC",
                    {"a": ["PENDING", "ENQUEUED"], "p": "agentdeck.worker"},
                )
            ]
            active = [
                r[0]
                for r in db.rows(
                    "SELECT workflow_uuid FROM {workflow_status} WHERE status IN :a AND name <> :p "
                    "ORDER BY created_at DESC, workflow_uuid DESC",
                    {"a": ["PENDING", "ENQUEUED", "DELAYED"], "p": "agentdeck.worker"},
                )
            ]
            for text, want in (("status:running,queued", running), ("is:active", active)):
                where = Filter(text).compile(db)
                paged: list[str] = []
                after: reads.Key | None = None
                while True:
                    got = reads.page(db, where, after=after, limit=30)
                    paged += [r[0] for r in got.rows]
                    if got.at_end:
                        break
                    after = got.keys[-1]
                assert paged == want, text
                assert reads.count(db, where, cap=None) == (len(want), False)
            assert len(running) == 81 and len(active) == 121
            # A run that was in flight last time is read again by id.
            assert [r[0] for r in reads.live(db, ["success-00000001"], limit=100)] == [
                *plain,
                "success-00000001",
            ]

            class Planned(DB):
                plan = ""

                def rows(
                    self, text: str, params: Mapping[str, Any] | None = None
                ) -> list[tuple[Any, ...]]:
                    if "UNION ALL" in text:
                        sql, bound = self.render(text, params or {})
                        how = "EXPLAIN QUERY PLAN " if self.sqlite else "EXPLAIN "
                        steps = self.conn.execute(how + sql, bound).fetchall()
                        self.plan = " / ".join(str(s[-1]) for s in steps)
                    return super().rows(text, params)

            planned = Planned(db.conn, sqlite=sqlite)
            reads.live(planned, [])
            for index in (
                "idx_workflow_status_pending",
                "idx_workflow_status_in_flight_v2",
                "idx_workflow_status_delayed",
            ):
                assert index in planned.plan, planned.plan
            assert "created_at_index" not in planned.plan and "Seq Scan" not in planned.plan
        finally:
            db.conn.close()
