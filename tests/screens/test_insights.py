"""Insights: the aggregate statements (tui/data/insights.py) and `agentdeck stats`, checked
against real runs (tests/insight_runs.py) on a real SQLite file and a real PostgreSQL."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Static

from tests.conftest import connected, fresh_pg_database
from tests.insight_runs import MODELS, Launched, claude_totals, make_runs
from tests.support.pilot import until
from tui.app import AgentDeckApp
from tui.cli import main
from tui.data.insights import InsightsQuery, window_of
from tui.messages import WorkflowsRefreshed
from tui.screens.detail import DetailScreen
from tui.screens.insights import InsightsScreen
from tui.screens.workflows import WorkflowsScreen
from tui.supervisor import SupervisorError
from tui.widgets.charts import HistogramChart
from tui.widgets.step_costs import StepCosts


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Launched:
    """The runs, made once for the module (about 8 s)."""
    return make_runs(tmp_path_factory.mktemp("insights"))


def stats(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["stats", *args])
    out, err = capsys.readouterr()
    return code, out, err


def stats_json(capsys: pytest.CaptureFixture[str], db_url: str, *args: str) -> dict[str, Any]:
    code, out, err = stats(capsys, "--db", db_url, "--json", *args)
    assert code == 0, err
    data: dict[str, Any] = json.loads(out)
    return data


async def check_against_runs(data: dict[str, Any], made: Launched, db_url: str) -> None:
    """Every figure of ``stats --json`` against what the builder launched and DBOS's own API."""
    top = Counter(made.runs.values())
    research = data["by_name"]["research"]
    assert research["statuses"] == dict(top)
    assert research["count"] == len(made.runs)
    assert data["by_name"]["research.question"]["statuses"] == {"SUCCESS": made.children}
    assert data["by_name"]["compare"]["statuses"] == {"SUCCESS": 1}
    assert data["by_name"]["compare.branch"]["statuses"] == {"SUCCESS": made.branches}
    # Durations: every finished research run took a moment, p50 <= p95 <= max.
    assert 0 <= research["p50_s"] <= research["p95_s"] <= research["max_s"]
    assert {"plan", "research", "synthesize", "answer", "judge"} <= set(data["by_step"])
    assert data["by_step"]["plan"]["count"] >= len(made.runs) - 1  # plan.auth never returned

    # Buckets add up to the runs, by outcome.
    assert sum(b["started"] for b in data["buckets"]) == made.total == data["runs"]
    assert sum(b["failed"] for b in data["buckets"]) == top["ERROR"]
    assert sum(b["cancelled"] for b in data["buckets"]) == top["CANCELLED"]
    succeeded = top["SUCCESS"] + made.children + 1 + made.branches
    assert sum(b["succeeded"] for b in data["buckets"]) == succeeded

    # Cost and tokens by model: what DBOS decodes from every Claude step, two models.
    async with connected(db_url) as sup:
        expected = await claude_totals(sup)
    assert set(expected) == set(MODELS) == set(data["cost_by_model"])
    for model, (calls, cost) in expected.items():
        got = data["cost_by_model"][model]
        assert got["calls"] == calls
        assert got["cost_usd"] == pytest.approx(cost, abs=1e-6)
        assert got["output_tokens"] > 0
        in_buckets = sum(b["cost"].get(model, 0.0) for b in data["buckets"])
        assert in_buckets == pytest.approx(cost, abs=1e-5)

    # The most expensive runs: costliest first, the top one as its own report says.
    costs = [r["cost_usd"] for r in data["top_cost"]]
    assert costs == sorted(costs, reverse=True) and len(costs) <= 10
    async with connected(db_url) as sup:
        reported = {
            wid: (await sup.detail(wid)).result.cost_usd
            for wid in [*made.runs, made.compare]
            if made.runs.get(wid, "SUCCESS") == "SUCCESS"
        }
    costliest = max(reported, key=lambda w: reported[w])
    assert data["top_cost"][0]["workflow_id"] == costliest
    assert data["top_cost"][0]["cost_usd"] == pytest.approx(reported[costliest], abs=1e-6)

    # Human wait: plan approvals answered (the cancelled one never was), one still open.
    waits = data["approval_wait"]
    assert waits["plan"]["answered"] == made.answered["plan"]
    assert waits["tool"]["answered"] == made.answered["tool"]
    assert waits["plan"]["open"] == made.open and waits["plan"]["longest_open_s"] > 0
    assert 0 <= waits["plan"]["p50_s"] <= waits["plan"]["p95_s"]

    # Errors grouped by their first line, each with its run.
    errors = {e["newest_id"]: e for e in data["errors"]}
    assert set(errors) == {made.roles["failed"], made.roles["plan_failed"]}
    assert "synthesis failed" in errors[made.roles["failed"]]["first_line"]
    assert "planning failed" in errors[made.roles["plan_failed"]]["first_line"]
    assert all(e["count"] == 1 for e in data["errors"])

    # Queues: both of ours seen, a depth per bucket.
    assert {"agentdeck-launch", "agentdeck-research"} <= set(data["queues"])
    assert all(len(q["depth"]) == len(data["buckets"]) for q in data["queues"].values())
    assert data["statements"] == 8 and data["capped"] is False


async def test_stats_json_matches_the_runs(
    made: Launched, capsys: pytest.CaptureFixture[str]
) -> None:
    data = stats_json(capsys, made.db_url, "--since", "1h")
    # 5-minute buckets from the start of the one that holds an hour ago: 12 or 13.
    assert data["bucket_s"] == 300 and len(data["buckets"]) in (12, 13)
    assert data["buckets"][0]["start"] % 300 == 0
    await check_against_runs(data, made, made.db_url)


def test_stats_filter_is_the_lists(made: Launched, capsys: pytest.CaptureFixture[str]) -> None:
    failed = stats_json(capsys, made.db_url, "--filter", "status:error")
    assert failed["runs"] == 2 and set(failed["by_name"]) == {"research"}
    assert len(failed["errors"]) == 2
    one = made.roles["b"]
    only = stats_json(capsys, made.db_url, "--filter", f"id:{one}")
    assert only["runs"] == 2  # id: is a prefix: the run and its one question (id-20)
    assert set(only["by_name"]) == {"research", "research.question"}
    assert set(only["cost_by_model"]) == {made.models[one]}
    assert only["approval_wait"]["plan"]["answered"] == 1


def test_stats_text(made: Launched, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = stats(capsys, "--db", made.db_url, "--since", "7d")
    assert code == 0
    assert out.startswith(f"{made.total} runs from ")
    for header in ("WORKFLOW", "STEP", "MODEL", "APPROVALS", "QUEUE", "ERRORS"):
        assert header in out
    assert MODELS[0] in out and MODELS[1] in out


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--since", "7x"), "bad window '7x'"),
        (("--since", "0h"), "bad window"),
        (("--filter", "bogus:1"), "unknown filter key 'bogus'"),
        (("--filter", 'input:"open'), "unclosed quote"),
    ],
)
def test_stats_bad_input(
    made: Launched, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], says: str
) -> None:
    code, out, err = stats(capsys, "--db", made.db_url, *args)
    assert code == 2 and out == ""
    assert says in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_stats_without_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = stats(capsys, "--db", f"sqlite:///{tmp_path / 'none.sqlite'}")
    assert code == 2 and "no database at" in err


def test_windows() -> None:
    assert window_of("24h") == (86400, 3600)
    assert window_of("30d") == (30 * 86400, 86400)
    span, bucket = window_of("90m")
    assert span == 5400 and span / bucket <= 48
    assert window_of("2w")[0] == 14 * 86400


async def test_supervisor_insights_and_histogram(made: Launched) -> None:
    """The dashboard's path: the same figures through the data layer, on a worker thread."""
    async with connected(made.db_url) as sup:
        found = await sup.insights(InsightsQuery(window="1h", selected=("name", "research")))
        assert found.runs == made.total
        hist = found.histogram
        assert hist is not None and hist.name == "research"
        finished = sum(n for st, n in Counter(made.runs.values()).items() if st != "PENDING")
        assert sum(hist.counts) == finished and hist.lo_s <= hist.hi_s
        step = await sup.insights_histogram(InsightsQuery(window="1h", selected=("step", "plan")))
        assert (
            step is not None
            and sum(step.counts)
            == found.by_step[[s.name for s in found.by_step].index("plan")].count
        )
        with pytest.raises(SupervisorError, match="unknown filter key"):
            await sup.insights(InsightsQuery(filter="nope:1"))


@pytest.mark.postgres
async def test_stats_on_postgres(
    pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same statements rendered for PostgreSQL, against the same kind of runs there."""
    with fresh_pg_database(pg_url) as url:
        pg_made = await _in_thread(tmp_path, url)
        data = stats_json(capsys, url, "--since", "1h")
        await check_against_runs(data, pg_made, url)


async def _in_thread(tmp_path: Path, url: str) -> Launched:
    import asyncio

    return await asyncio.to_thread(make_runs, tmp_path, url)


# --------------------------------------------------------------------------------------------
# The screen (Pilot), on the same real runs


def _screen_app(db_url: str) -> AgentDeckApp:
    from tui.supervisor import Supervisor

    return AgentDeckApp(Supervisor(db_url), mode="attach", poll_interval=0.05)


def _keys(table: DataTable[Any]) -> list[str]:
    return [str(r.key.value) for r in table.ordered_rows]


async def test_insights_screen_on_real_runs(made: Launched) -> None:
    app = _screen_app(made.db_url)
    async with app.run_test(size=(140, 60)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, WorkflowsScreen) and app.connected)
        # The list's filter comes along.
        assert isinstance(app.screen, WorkflowsScreen)
        app.screen.apply_filter("name:research")
        await pilot.press("I")
        await until(pilot, lambda: isinstance(app.screen, InsightsScreen) and app.screen.loads)
        screen = app.screen
        assert isinstance(screen, InsightsScreen)
        assert screen.filter_text == "name:research" and screen.window == "24h"
        found = screen.found
        # The runs chart first (1 statement, painted alone), then the other 7.
        assert screen.painted == 1 and found is not None and found.statements == 8
        runs = made.research_runs
        assert found.runs == runs  # name:research matches research.question too
        title = str(screen.query_one("#insights-title", Static).render())
        assert f"{runs} runs" in title and "failed" in title

        durations = screen.query_one("#durations", DataTable)
        assert {"name:research", "name:research.question", "step:plan"} <= set(_keys(durations))
        assert set(_keys(screen.query_one("#models", DataTable))) == set(MODELS)
        top = screen.query_one("#top-cost", DataTable)
        assert _keys(top)[0] == made.roles["a"]
        assert set(_keys(screen.query_one("#waits", DataTable))) == {"plan", "tool"}
        assert screen.query_one("#errors", DataTable).row_count == 2
        assert len(screen.query(".queue-row")) == len(found.queues) >= 2

        # The histogram follows the selected row.
        await until(pilot, lambda: screen.query_one(HistogramChart).histogram is not None)
        first = screen.query_one(HistogramChart).histogram
        assert first is not None and (first.kind, first.name) == ("name", _keys(durations)[0][5:])
        durations.focus()
        await pilot.press("down")
        second_key = _keys(durations)[1]
        await until(
            pilot,
            lambda: (
                (h := screen.query_one(HistogramChart).histogram) is not None
                and f"{h.kind}:{h.name}" == second_key
            ),
        )

        # Another window: read again at once.
        loads = screen.loads
        await pilot.press("4")
        await until(
            pilot,
            lambda: (
                screen.loads > loads and screen.found is not None and screen.found.window == "30d"
            ),
        )
        assert screen.found is not None and screen.found.bucket_s == 86400

        # A snapshot whose change token has not moved reads nothing (once the refresh the
        # poller's first token asked for has been made).
        await until(pilot, lambda: screen._timer is None and not screen._loading)
        loads = screen.loads
        screen.post_message(WorkflowsRefreshed(app.snapshot))
        await pilot.pause()
        assert screen._timer is None and not screen._loading and screen.loads == loads

        # A refresh asked for within MIN_REFRESH_S of the last waits for a timer.
        loads = screen.loads
        screen.request_refresh()
        assert screen._timer is not None and screen.loads == loads

        # A bad filter is refused with a message, the figures stay.
        await pilot.press("slash", *"bogus:1", "enter")
        await pilot.pause()
        assert "unknown filter key 'bogus'" in " | ".join(n.message for n in app._notifications)
        assert screen.filter_text == "name:research"
        await pilot.press("escape")  # closes the filter box, not the screen
        assert isinstance(app.screen, InsightsScreen)

        # The list's filter language: only the failed runs.
        await pilot.press("slash", *(["backspace"] * 20), *"status:error", "enter")
        await until(
            pilot, lambda: screen.found is not None and screen.found.filter == "status:error"
        )
        assert screen.found is not None and screen.found.runs == 2

        # Enter on an error group opens its newest run.
        errors = screen.query_one("#errors", DataTable)
        errors.focus()
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        assert isinstance(app.screen, DetailScreen)
        assert app.screen.workflow_id in {made.roles["failed"], made.roles["plan_failed"]}
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, InsightsScreen))
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, WorkflowsScreen))


async def test_insights_from_the_palette(made: Launched) -> None:
    app = _screen_app(made.db_url)
    async with app.run_test(size=(60, 20)) as pilot:
        await until(pilot, lambda: app.connected)
        await pilot.press("ctrl+p", *"insights", "enter")
        await until(pilot, lambda: isinstance(app.screen, InsightsScreen) and app.screen.loads)
        assert isinstance(app.screen, InsightsScreen) and app.screen.error == ""


async def _cost_tab(pilot: Any, app: AgentDeckApp, wid: str, names: list[str]) -> StepCosts:
    app.open_run(wid)
    await until(pilot, lambda: isinstance(app.screen, DetailScreen))
    screen = app.screen
    assert isinstance(screen, DetailScreen)
    await until(pilot, lambda: screen.detail is not None)
    await pilot.press("dollar")
    table = screen.query_one(StepCosts)
    await until(pilot, lambda: table.row_count == len(names))
    shown = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
    assert sorted(shown) == sorted(names)
    assert screen.detail is not None
    report = screen.detail.result
    assert sum(s.cost_usd for s in table.steps) == pytest.approx(report.cost_usd, abs=1e-6)
    assert all(s.tokens > 0 and s.completed_at for s in table.steps)
    return table


async def test_detail_cost_per_step(made: Launched) -> None:
    """The run detail's Cost tab ($): a row per Claude step, the run's children's too; the
    costs add up to what the run's own report says it spent."""
    app = _screen_app(made.db_url)
    async with app.run_test(size=(140, 40)) as pilot:
        await until(pilot, lambda: app.connected)
        a = made.roles["a"]
        table = await _cost_tab(pilot, app, a, ["plan", "research 1", "research 2", "synthesize"])
        assert {s.model for s in table.steps} == {made.models[a]}
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, WorkflowsScreen))
        table = await _cost_tab(pilot, app, made.compare, ["answer 1", "answer 2", "judge"])
        assert {s.model for s in table.steps} == set(MODELS)


def _rounded_ms(x: int) -> int:
    """tui.data.insights._rounded, in Python."""
    for limit, step in (
        (1000, 1),
        (10_000, 10),
        (100_000, 100),
        (1_000_000, 1000),
        (10_000_000, 10_000),
    ):
        if x < limit:
            return x // step * step
    return x // 100_000 * 100_000


def _nearest_rank(values: list[int], p: int) -> int:
    ordered = sorted(values)
    return ordered[-(-p * len(ordered) // 100) - 1]


def test_percentiles_are_nearest_rank(made: Launched, capsys: pytest.CaptureFixture[str]) -> None:
    """p50 / p95 of runs and steps as computed in SQL equal nearest-rank percentiles computed
    here from the raw rows (durations rounded as the statement rounds them: within 1 %)."""
    import sqlite3

    data = stats_json(capsys, made.db_url, "--since", "1h")
    path = made.db_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        runs = [
            int(x)
            for (x,) in conn.execute(
                "SELECT coalesce(completed_at, updated_at) - created_at FROM workflow_status "
                "WHERE name = 'research' AND status IN ('SUCCESS', 'ERROR', 'CANCELLED')"
            )
        ]
        steps = [
            int(x)
            for (x,) in conn.execute(
                "SELECT completed_at_epoch_ms - started_at_epoch_ms FROM operation_outputs "
                "WHERE function_name = 'research' AND completed_at_epoch_ms IS NOT NULL"
            )
        ]
    for values, got in ((runs, data["by_name"]["research"]), (steps, data["by_step"]["research"])):
        rounded = [_rounded_ms(v) for v in values]
        assert got["p50_s"] == pytest.approx(_nearest_rank(rounded, 50) / 1000)
        assert got["p95_s"] == pytest.approx(_nearest_rank(rounded, 95) / 1000)
        assert got["max_s"] == pytest.approx(max(rounded) / 1000)
        assert abs(got["p95_s"] - _nearest_rank(values, 95) / 1000) <= 0.01 * got["p95_s"]
