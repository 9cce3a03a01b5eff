"""The bench scripts that grow databases or stream many runs, in their quick modes (kept apart so
that the two test processes share the long ones)."""

from __future__ import annotations

import pytest

from tests.support.bench import run_quick


@pytest.mark.slow
def test_many_streams() -> None:
    result = run_quick("many_streams.py", timeout=100)
    passes = [(p["mode"], p["screen"]) for p in result["passes"]]
    assert passes == [("embedded", "list"), ("attach", "detail")]
    for p in result["passes"]:
        runs = p["runs"]
        assert p["succeeded"] == runs and p["approved"] == runs
        # A plan, one call per question and a synthesis per run, each streamed.
        assert p["claude_calls"] == runs * (p["questions"] + 2)
        assert p["streams_at_once"]["peak"] >= 2
        assert p["stream_writes"]["total"] >= p["claude_calls"]
        assert p["frames"]["n"] > 0 and p["frames"]["duration_ms"]["p50"] > 0
        keys = p["keypress_ms"]
        assert keys["presses"] >= 3 and keys["n"] >= 1
        assert {"p50", "p99", "max"} <= keys["busy"].keys()


@pytest.mark.slow
@pytest.mark.timeout(200)
def test_every_run() -> None:
    """The list's reads at two sizes: each size's figures, the plan of status:error, the idle
    tick, the app's first paint, and ls --filter against dbos workflow list."""
    result = run_quick("every_run.py", timeout=170)
    for size in ("1000", "3000"):
        figures = result[size]
        assert figures["first page: is:top"]["p50"] > 0
        assert figures["exact count status:error"]["count"] > 0
        assert "idx_workflow_status_failed" in figures["plan status:error"]
        assert "idx_workflow_status_pending" in figures["plans"]["is:waiting"]
        # The idle tick is one statement; after another connection's commit, three (the
        # marker, the statuses from DBOS's partial indexes, the runs created since).
        assert figures["idle tick"]["quiet"]["statements"] == [1]
        assert figures["idle tick"]["after_commit"]["statements"] == [3]
        paint = figures["first paint"]
        assert paint["n"] == 2 and paint["min"] > 0 and paint["rows_shown"] > 0
        ls = figures["ls --filter vs dbos workflow list"]
        assert ls["rows"] == figures["exact count status:error"]["count"]  # under 100 here
        assert ls["wall"]["agentdeck_ls"]["min_s"] > 0 and ls["ratio_of_medians"] > 0
    assert set(result["ratio"]) >= {"first paint", "idle tick", "agentdeck ls --filter"}


@pytest.mark.slow
def test_insights() -> None:
    """The insights figures at two sizes and both windows: statements, compute time, paint."""
    result = run_quick("insights.py", timeout=180)
    for size in ("1000", "3000"):
        for window in ("24h", "30d"):
            figures = result[size][window]
            assert figures["compute"]["statements"] == 8
            assert figures["compute"]["runs"] == int(size) - 1  # the presence row is left out
            assert 0 < figures["first_paint_ms"] <= figures["all_figures_ms"]
            assert figures["refresh"]["p50"] > 0
            assert (
                "COVERING INDEX workflow_status_created_at_index" in figures["compute"]["runs_plan"]
            )
            assert set(figures["compute"]["per_statement_p50_ms"]) == {
                "buckets",
                "usage",
                "errors",
                "by_name",
                "by_step",
                "top_cost",
                "waits",
                "queues",
            }
