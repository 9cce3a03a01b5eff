"""Queue features, debounced launch and scheduled research, on real SQLite files (and PostgreSQL).

Long waits are never waited for: a rate limit of 2 per 60 s is checked by the third launch
staying ENQUEUED while the first two start and finish; a debounce uses a 1.5 s period; a
schedule fires every second; next-run times are computed against a fixed clock.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import _settings, connected, launched, wait_for
from tests.support.runs import finish, wait_approval
from tui.supervisor import Supervisor, SupervisorError
from tui.supervisor._queues import QueueRow, queue_rows, schedule_rows
from workflows.config import ConfigError
from workflows.model_offline.transport import reset_faults
from workflows.models import ApprovalAnswer, ApprovalDecision, ResearchReport
from workflows.queues import (
    DEFAULT_LAUNCH_RATE,
    RESEARCH_QUEUE,
    debounce_key,
    dedup_id,
    launch_rate,
    parse_rate,
)
from workflows.runtime import LAUNCH_QUEUE, Runtime
from workflows.schedules import SCHEDULED_WORKFLOW, load_schedules

APPROVE = ApprovalAnswer(decision=ApprovalDecision.APPROVE, by="test")
REJECT = ApprovalAnswer(decision=ApprovalDecision.REJECT, by="test")
#: 2026-03-14 12:00 UTC.
NOON = datetime(2026, 3, 14, 12, 0, tzinfo=UTC).timestamp()


@pytest.fixture
def env() -> Iterator[dict[str, str]]:
    """Environment for the runtime a test starts; restored afterwards."""
    saved = dict(os.environ)
    changes: dict[str, str] = {}
    try:
        yield changes
    finally:
        os.environ.clear()
        os.environ.update(saved)


@asynccontextmanager
async def deck(
    tmp_path: Path, env: dict[str, str], db_url: str | None = None
) -> AsyncIterator[tuple[Runtime, Supervisor]]:
    """An embedded runtime started with ``env`` (fast SDK transport) and a data layer on it."""
    os.environ.update(env)
    reset_faults()
    settings = _settings(tmp_path, db_url, cli=False)
    async with launched(settings) as rt, connected(settings.db_url) as sup:
        yield rt, sup


async def go(sup: Supervisor, topic: str, **kw: Any) -> str:
    res = await sup.launch("research", {"topic": topic, "questions": 1}, **kw)
    assert res.ok, res.message
    return res.workflow_id


async def status(sup: Supervisor, wid: str) -> str:
    return (await sup.get_row(wid)).status


async def exists(sup: Supervisor, wid: str) -> bool:
    try:
        await sup.get_row(wid)
    except SupervisorError:
        return False
    return True


async def launch_queue(sup: Supervisor) -> QueueRow:
    return next(r for r in await queue_rows(sup) if r.name == LAUNCH_QUEUE)


# -- configuration ----------------------------------------------------------------------------


def test_launch_rate_setting(env: dict[str, str]) -> None:
    assert parse_rate("50/60") == {"limit": 50, "period": 60.0}
    assert parse_rate(" 2 / 0.5s ") == {"limit": 2, "period": 0.5}
    assert parse_rate("off") is None and parse_rate("0/60") is None
    for bad in ("fifty", "50", "50/0", "-1/60"):
        with pytest.raises(ValueError):
            parse_rate(bad)
    os.environ.pop("AGENTDECK_LAUNCH_RATE", None)
    assert launch_rate() == DEFAULT_LAUNCH_RATE == {"limit": 50, "period": 60.0}
    os.environ["AGENTDECK_LAUNCH_RATE"] = "nonsense"
    try:  # a bad value is refused, naming the setting and where it came from
        with pytest.raises(ConfigError, match=r"launch_rate \(\$AGENTDECK_LAUNCH_RATE\)"):
            launch_rate()
    finally:
        del os.environ["AGENTDECK_LAUNCH_RATE"]


def test_dedup_and_debounce_keys() -> None:
    from workflows.models import ResearchRequest

    a = ResearchRequest(topic="  Durable execution ", questions=2)
    assert dedup_id("research", a) == dedup_id(
        "research", ResearchRequest(topic="Durable execution", questions=2)
    )
    assert dedup_id("research", a) != dedup_id("research", a.model_copy(update={"questions": 3}))
    # Debouncing compares the topic only, without case and extra spaces.
    b = ResearchRequest(topic="durable   EXECUTION", questions=5)
    assert debounce_key("research", a) == debounce_key("research", b)
    assert dedup_id("research", a) != dedup_id("research", b)


# -- rate limit -------------------------------------------------------------------------------


async def test_rate_limit_holds_the_third_launch(tmp_path: Path, env: dict[str, str]) -> None:
    env["AGENTDECK_LAUNCH_RATE"] = "2/60"
    async with deck(tmp_path, env) as (_rt, sup):
        q = await launch_queue(sup)
        assert (q.rate_limit, q.rate_period_s, q.rate_used) == (2, 60.0, 0)
        first, second, third = [await go(sup, f"rate limited topic {i}") for i in range(3)]
        for wid in (first, second):
            await wait_approval(sup, wid)
        q = await launch_queue(sup)
        assert (q.rate_used, q.running, q.enqueued) == (2, 2, 1) and q.rate_full
        now = time.time()
        assert q.rate_frees_at is not None and now < q.rate_frees_at <= now + 60
        # Both finish: no concurrency limit holds the third back, only the 60 s window.
        for wid in (first, second):
            await sup.answer(wid, REJECT)
            assert await finish(sup, wid) == "SUCCESS"
        q = await launch_queue(sup)
        assert (q.rate_used, q.running, q.enqueued) == (2, 0, 1)
        assert await status(sup, third) == "ENQUEUED"


async def test_a_runtime_without_settings_keeps_the_limits_the_workers_were_given(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """DBOS keeps a queue's limits in one row every worker re-reads: a dashboard (or any runtime)
    started later without settings must not reset them to the defaults."""

    async def limits() -> dict[str, int | None]:
        return {r.name: r.worker_concurrency for r in await queue_rows(sup)}

    for var in ("AGENTDECK_LAUNCH_CONCURRENCY", "AGENTDECK_RESEARCH_CONCURRENCY"):
        os.environ.pop(var, None)
    worker = {"AGENTDECK_LAUNCH_CONCURRENCY": "1", "AGENTDECK_RESEARCH_CONCURRENCY": "3"}
    async with deck(tmp_path, {**env, **worker}) as (_rt, sup):
        assert await limits() == {LAUNCH_QUEUE: 1, RESEARCH_QUEUE: 3}
    for var in worker:
        os.environ.pop(var)
    async with deck(tmp_path, env) as (_rt, sup):  # a dashboard, later, with no settings
        assert await limits() == {LAUNCH_QUEUE: 1, RESEARCH_QUEUE: 3}
    async with deck(tmp_path, {**env, "AGENTDECK_RESEARCH_CONCURRENCY": "4"}) as (_rt, sup):
        assert await limits() == {LAUNCH_QUEUE: 1, RESEARCH_QUEUE: 4}


# -- priorities -------------------------------------------------------------------------------


async def test_priority_dequeues_the_lowest_number_first(
    tmp_path: Path, env: dict[str, str]
) -> None:
    env["AGENTDECK_LAUNCH_CONCURRENCY"] = "1"
    async with deck(tmp_path, env) as (_rt, sup):
        holder = await go(sup, "holds the only slot")
        await wait_approval(sup, holder)
        low = await go(sup, "priority nine", priority=9)
        urgent = await go(sup, "priority one", priority=1)
        middle = await go(sup, "priority five", priority=5)
        q = await launch_queue(sup)
        assert q.queued_by_priority == ((1, 1), (5, 1), (9, 1)) and q.priority_in_use
        assert q.worker_concurrency == 1
        await sup.answer(holder, REJECT)
        assert await finish(sup, holder) == "SUCCESS"
        await wait_approval(sup, urgent)  # dequeued next, though launched after "nine"
        assert [await status(sup, w) for w in (low, middle)] == ["ENQUEUED", "ENQUEUED"]
        with pytest.raises(SupervisorError, match="priority must be 1"):
            await sup.launch("research", {"topic": "bad priority"}, priority=0)


# -- deduplication ----------------------------------------------------------------------------


async def test_an_identical_request_is_refused_until_the_first_ends(sup: Supervisor) -> None:
    first = await go(sup, "deduplicated topic")
    again = await sup.launch("research", {"topic": "deduplicated topic", "questions": 1})
    assert not again.ok and again.workflow_id == first
    assert first in again.message and "already" in again.message
    # Another input is another request; "launch anyway" runs a duplicate on purpose.
    other = await sup.launch("research", {"topic": "deduplicated topic", "questions": 2})
    assert other.ok and other.workflow_id != first
    twin = await sup.launch(
        "research", {"topic": "deduplicated topic", "questions": 1}, dedupe=False
    )
    assert twin.ok and twin.workflow_id != first
    q = await launch_queue(sup)
    assert q.dedup_held == 2  # first and other; the twin holds none
    await wait_approval(sup, first)
    await sup.answer(first, REJECT)
    assert await finish(sup, first) == "SUCCESS"
    later = await go(sup, "deduplicated topic")
    assert later not in (first, twin.workflow_id)


# -- debounce ---------------------------------------------------------------------------------


async def test_debounced_launches_start_once_with_the_last_input(sup: Supervisor) -> None:
    results = [
        await sup.launch("research", {"topic": t, "questions": n}, debounce_s=1.5)
        for t, n in (("Debounced topic", 1), ("debounced  topic", 2), ("DEBOUNCED TOPIC", 3))
    ]
    wid = results[0].workflow_id
    assert {r.workflow_id for r in results} == {wid}
    assert all(r.ok and "will start at" in r.message for r in results)
    assert results[-1].message.startswith(f"debounced: {wid} will start at ")
    assert await status(sup, wid) == "DELAYED"
    q = await launch_queue(sup)
    assert (q.delayed, q.enqueued, q.dedup_held) == (1, 0, 1)  # the debounce key
    row = await sup.get_row(wid)
    assert "3q" in row.summary  # the summary follows the latest input
    await wait_approval(sup, wid)
    row = await sup.get_row(wid)
    assert row.approval is not None and len(row.approval.proposal["questions"]) == 3
    roots = [r for r in await sup.list_workflows() if r.name == "research"]
    assert [r.workflow_id for r in roots] == [wid]
    # Once it has started, the same topic debounces into a new run.
    fresh = await sup.launch("research", {"topic": "debounced topic"}, debounce_s=30)
    assert fresh.ok and fresh.workflow_id != wid
    await sup.cancel(fresh.workflow_id)
    with pytest.raises(SupervisorError, match="cannot have a priority"):
        await sup.launch("research", {"topic": "debounced topic"}, debounce_s=5, priority=2)


# -- scheduled research -----------------------------------------------------------------------


def config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "agentdeck.yaml"
    path.write_text(body)
    return path


EVERY_SECOND = """\
schedules:
  - name: every-second
    cron: "* * * * * *"
    topic: per-second digest
    questions: 1
    auto_approve: true
"""

NIGHTLY = """\
schedules:
  - name: nightly-digest
    cron: "0 3 * * *"
    topic: nightly digest topic
    questions: 1
  - name: weekly
    cron: "30 9 * * 1"
    timezone: Europe/Berlin
    topic: weekly digest topic
"""


async def test_a_per_second_schedule_fires_and_approves_itself(
    tmp_path: Path, env: dict[str, str]
) -> None:
    env["AGENTDECK_CONFIG"] = str(config(tmp_path, EVERY_SECOND))
    async with deck(tmp_path, env) as (_rt, sup):
        (row,) = await schedule_rows(sup)
        assert (row.name, row.workflow_name, row.cron) == (
            "every-second",
            SCHEDULED_WORKFLOW,
            "* * * * * *",
        )
        assert row.detail == "per-second digest · 1q · auto-approve"
        assert row.next_run_at is not None

        async def finished() -> str:
            """A firing that ran its own research (a later firing may attach to that one while
            it runs: deduplication, tested below) and finished."""
            rows = {r.workflow_id: r for r in await sup.list_workflows()}
            for r in rows.values():
                own = rows.get(f"{r.workflow_id}-research")
                if r.name == SCHEDULED_WORKFLOW and r.status == "SUCCESS" and own is not None:
                    return r.workflow_id
            return ""

        await wait_for(finished, within=60)
        parent = await finished()
        await asyncio.to_thread(sup.client.pause_schedule, "every-second")
        assert parent.startswith("sched-every-second-")
        detail = await sup.detail(parent)
        report = detail.result
        assert isinstance(report, ResearchReport) and report.outcome == "completed"
        assert detail.row.summary.startswith("every-second: per-second digest")
        (child,) = [c for c in detail.children if c.name == "research"]
        assert child.workflow_id == f"{parent}-research" and child.status == "SUCCESS"
        assert child.approval is not None and child.approval.answer is not None
        assert child.approval.answer.by == "schedule every-second"

        async def latest_firings_listed() -> bool:
            """The schedule row lists its newest firings, newest first (the schedule fired
            again while the test read the parent, so the parent itself may be older)."""
            (row,) = await schedule_rows(sup)
            fired = [
                r
                for r in await sup.list_workflows()
                if r.workflow_id.startswith("sched-every-second-") and r.name == SCHEDULED_WORKFLOW
            ]
            fired.sort(key=lambda r: (r.created_at or 0.0, r.workflow_id), reverse=True)
            newest = [r.workflow_id for r in fired[:3]]
            return (
                parent in {r.workflow_id for r in fired}
                and [r.workflow_id for r in row.last_runs] == newest
            )

        await wait_for(latest_firings_listed)
        (row,) = await schedule_rows(sup)
        assert row.status == "paused" and row.next_run_at is None


async def test_a_firing_waits_for_approval_and_a_second_one_attaches(
    tmp_path: Path, env: dict[str, str]
) -> None:
    env["AGENTDECK_CONFIG"] = str(config(tmp_path, NIGHTLY))
    async with deck(tmp_path, env) as (_rt, sup):
        rows = {r.name: r for r in await schedule_rows(sup, now=NOON)}
        at_three = datetime(2026, 3, 15, 3, tzinfo=UTC).timestamp()
        assert rows["nightly-digest"].next_run_at == at_three
        # Monday 09:30 in Berlin is 08:30 UTC in March.
        assert rows["weekly"].next_run_at == datetime(2026, 3, 16, 8, 30, tzinfo=UTC).timestamp()
        assert rows["weekly"].detail == "weekly digest topic · 3q · asks approval"

        first = (await sup.trigger_schedule("nightly-digest")).workflow_id
        child = f"{first}-research"
        await wait_for(lambda: exists(sup, child))
        await wait_approval(sup, child)  # no auto_approve: a human answers
        second = (await sup.trigger_schedule("nightly-digest")).workflow_id

        async def attached() -> bool:
            row = await sup.get_row(second)
            return row.progress is not None and f"attached to {child}" in row.progress.detail

        await wait_for(attached)
        await sup.answer(child, APPROVE)
        for w in (first, second):
            assert await finish(sup, w) == "SUCCESS"
        reports = [(await sup.detail(w)).result for w in (first, second)]
        assert all(isinstance(r, ResearchReport) for r in reports)
        assert reports[0] == reports[1]  # one research, two firings
        nightly = next(r for r in await schedule_rows(sup) if r.name == "nightly-digest")
        assert [r.workflow_id for r in nightly.last_runs] == [second, first]
        with pytest.raises(SupervisorError, match="does not exist"):
            await sup.trigger_schedule("no-such-schedule")


async def test_schedules_follow_the_file_and_keep_their_pause(
    tmp_path: Path, env: dict[str, str], db_url: str
) -> None:
    env["AGENTDECK_CONFIG"] = str(config(tmp_path, NIGHTLY))
    async with deck(tmp_path, env, db_url) as (_rt, sup):
        assert {r.name for r in await schedule_rows(sup)} == {"nightly-digest", "weekly"}
        await asyncio.to_thread(sup.client.pause_schedule, "nightly-digest")
        # A schedule made by hand (not from the file) is left alone.
        await sup.client.create_schedule_async(
            schedule_name="by-hand", workflow_name="research", schedule="0 4 * * *"
        )
    config(tmp_path, NIGHTLY.split("  - name: weekly")[0].replace("0 3 * * *", "15 3 * * *"))
    async with deck(tmp_path, env, db_url) as (_rt, sup):
        rows = {r.name: r for r in await schedule_rows(sup)}
        assert set(rows) == {"nightly-digest", "by-hand"}  # weekly left the file
        assert rows["nightly-digest"].cron == "15 3 * * *"
        assert rows["nightly-digest"].status == "paused"  # applying again keeps the pause


BAD_CONFIGS = {
    "schedules: {nightly: 1}\n": "schedules: expected a list",
    "schedules:\n  - name: x\n    cron: 'every night'\n    topic: abc def\n":
        "schedules[0] (x): cron: not a cron expression: 'every night'",
    "schedules:\n  - name: x\n    cron: '0 3 * * *'\n    topic: abc def\n    colour: red\n":
        "schedules[0] (x): colour: Extra inputs are not permitted",
    "schedules:\n  - name: x\n    cron: '0 3 * * *'\n    topic: abc\n    timezone: Mars/Base\n":
        "schedules[0] (x): timezone: unknown time zone: 'Mars/Base'",
    "schedules:\n  - {name: x, cron: '0 3 * * *', topic: abc}\n"
    "  - {name: x, cron: '0 4 * * *', topic: def}\n": "schedules[1] (x): name: used twice",
    "schedules:\n  - {cron: '0 3 * * *', topic: abc}\n": "schedules[0]: name: Field required",
    "schedules:\n  - {name: 'has space', cron: '0 3 * * *', topic: abc}\n":
        "schedules[0] (has space): name: String should match pattern",
    "schedules: [\n": "cannot read it",
}  # fmt: skip


@pytest.mark.parametrize("body", list(BAD_CONFIGS), ids=range(len(BAD_CONFIGS)))
def test_a_bad_schedule_is_one_line_naming_the_file_and_entry(tmp_path: Path, body: str) -> None:
    path = config(tmp_path, body)
    with pytest.raises(ConfigError) as err:
        load_schedules(path)
    message = str(err.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    assert BAD_CONFIGS[body] in message


async def test_a_bad_schedule_stops_the_worker_with_one_line(
    tmp_path: Path, env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    from tui.cli import main

    path = config(tmp_path, "schedules:\n  - {name: x, cron: 'nope', topic: abc}\n")
    os.environ["AGENTDECK_CONFIG"] = str(path)
    rt = Runtime(_settings(tmp_path, None, cli=True))  # would start an offline model server
    with pytest.raises(ConfigError):
        await asyncio.to_thread(rt.launch)
    assert rt.offline_server is None and not rt.launched  # stopped before starting anything
    db = tmp_path / "worker.sqlite"
    code = await asyncio.to_thread(main, ["--db", str(db), "--offline", "worker"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and "Traceback" not in err
    assert f"{path}: schedules[0] (x): cron: not a cron expression: 'nope'" in err


# -- PostgreSQL: the rate limit and deduplication where DBOS locks differently ----------------


@pytest.mark.postgres
async def test_rate_limit_and_dedup_on_postgres(
    tmp_path: Path, env: dict[str, str], pg_database: str
) -> None:
    env["AGENTDECK_LAUNCH_RATE"] = "2/60"
    async with deck(tmp_path, env, pg_database) as (_rt, sup):
        first, second, third = [await go(sup, f"postgres topic {i}") for i in range(3)]
        for wid in (first, second):
            await wait_approval(sup, wid)
        again = await sup.launch("research", {"topic": "postgres topic 0", "questions": 1})
        assert not again.ok and again.workflow_id == first and "already running" in again.message
        q = await launch_queue(sup)
        assert (q.rate_used, q.running, q.enqueued, q.dedup_held) == (2, 2, 1, 3)
        await sup.answer(first, REJECT)
        assert await finish(sup, first) == "SUCCESS"
        assert await status(sup, third) == "ENQUEUED"  # the window, not concurrency, holds it
        assert (await launch_queue(sup)).rate_used == 2
        retry = await sup.launch("research", {"topic": "postgres topic 0", "questions": 1})
        assert retry.ok and retry.workflow_id != first  # the finished run released its id


# -- the dashboard (Pilot, real embedded DBOS on SQLite) --------------------------------------


async def test_launch_form_priority_duplicate_and_debounce(
    sup: Supervisor, runtime: Runtime
) -> None:
    from textual.widgets import Checkbox, Input, Static

    from tests.support.pilot import SIZE, make_app, notices, table, until
    from tui.modals.launch import LaunchScreen
    from tui.screens.detail import DetailScreen
    from tui.screens.workflows import WorkflowsScreen

    app = make_app(sup, runtime)

    async def open_form(topic: str, **fields: str) -> LaunchScreen:
        await pilot.press("n")
        form = app.screen
        assert isinstance(form, LaunchScreen)
        await pilot.press(*topic)
        for name, value in fields.items():
            form.query_one(f"#f-{name}", Input).value = value
        return form

    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.connected)
        await open_form("form priority topic", priority="3", questions="1")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        screen = app.screen
        assert isinstance(screen, DetailScreen)
        first = screen.workflow_id
        (status_,) = await sup.client.list_workflows_async(workflow_ids=[first])
        assert status_.priority == 3 and status_.deduplication_id
        assert f"launched {first} with priority 3" in notices(app)

        await pilot.press("escape")
        form = await open_form("form priority topic", questions="1")
        await pilot.press("ctrl+s")
        error = form.query_one("#err-form", Static)
        await until(pilot, lambda: "not launched" in str(error.render()))
        assert first in str(error.render()) and isinstance(app.screen, LaunchScreen)
        form.query_one("#f-anyway", Checkbox).value = True  # launch anyway
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        twin = app.screen
        assert isinstance(twin, DetailScreen) and twin.workflow_id != first

        await pilot.press("escape")
        form = await open_form("form debounce topic", priority="2", debounce="30")
        await pilot.press("ctrl+s")
        assert "cannot have a priority" in str(form.query_one("#err-debounce", Static).render())
        form.query_one("#f-priority", Input).value = ""
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        delayed = app.screen
        assert isinstance(delayed, DetailScreen)
        assert f"debounced: {delayed.workflow_id} will start at" in notices(app)
        await pilot.press("escape")
        assert isinstance(app.screen, WorkflowsScreen)
        await until(
            pilot,
            lambda: (
                delayed.workflow_id in table(app).rows_by_id
                and table(app).rows_by_id[delayed.workflow_id].status == "DELAYED"
            ),
        )
        await sup.cancel(delayed.workflow_id)
