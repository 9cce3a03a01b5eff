"""The bench scripts run (``--quick``) and end with one JSON line holding their figures."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.bench import run_quick


@pytest.mark.slow
@pytest.mark.contract
def test_stream_writes() -> None:
    result = run_quick("stream_writes.py")
    assert {"passes", "max_writes_per_s", "max_writes_in_any_1s"} <= result.keys()
    assert [p["tps"] for p in result["passes"]] == [80, 400]
    for p in result["passes"]:
        assert {
            "attempts",
            "tokens",
            "writes",
            "writes_per_s",
            "writes_per_1k_tokens",
            "per_token_writes_per_s",
            "gap_ms",
            "max_writes_in_any_1s",
            "tokens_from_server_log",
        } <= p.keys()
        assert p["attempts"] >= 3 and p["tokens_from_server_log"] == p["attempts"]
        # Each attempt is matched to its request in the server's log by step and start time,
        # preferring the one whose token count equals the streamed text re-split. Under CI load
        # one attempt of a pass was once matched by time only (seen once in ~20 runs): the
        # figure then still comes from the log, so allow one.
        assert p["token_count_mismatches"] <= 1
        assert 0 < p["writes"] < p["tokens"]  # coalesced: fewer writes than tokens
        assert {"p50", "p99", "max"} <= p["gap_ms"].keys()


def test_stream_latency() -> None:
    result = run_quick("stream_latency.py")
    assert {"chunks", "latency_ms", "supervisor_queries", "write_rate_per_s"} <= result.keys()
    for reader in ("supervisor", "client", "embedded"):
        stats = result["latency_ms"][reader]
        assert stats["n"] == result["chunks"]
        assert {"p50", "p99", "max"} <= stats.keys()


def test_refresh_cost() -> None:
    result = run_quick("refresh_cost.py")
    assert {"idle_tick", "list_500", "refresh_active_0", "list_all", "rows_in_db"} <= result.keys()
    assert result["rows_in_db"] == 200 and result["active_rows"] == 0
    # The poller's promises: one statement per idle tick, none to refresh no active run.
    assert result["idle_tick"]["statements_per_call"] == [1]
    assert result["refresh_active_0"]["statements_per_call"] == [0]
    assert {"p50", "p99"} <= result["idle_tick"]["wall_ms"].keys()
    assert result["list_500"]["wall_ms"]["p50"] > 0


@pytest.mark.slow
def test_cli_ls() -> None:
    result = run_quick("cli_ls.py")
    assert {"wall", "ratio_of_medians", "agentdeck_ls_phases_s", "importtime"} <= result.keys()
    for command in ("agentdeck_ls", "dbos_workflow_list"):
        assert {"min_s", "median_s", "max_s"} <= result["wall"][command].keys()
    assert result["ratio_of_medians"] > 0


@pytest.mark.postgres
def test_stream_latency_pg() -> None:
    result = run_quick("stream_latency.py", "--pg")
    assert result["backend"] == "postgresql" and result["pg"]["version"]
    for reader in ("supervisor", "client", "embedded"):
        assert result["latency_ms"][reader]["n"] == result["chunks"]


@pytest.mark.postgres
def test_refresh_cost_pg() -> None:
    result = run_quick("refresh_cost.py", "--pg")
    assert result["backend"] == "postgresql" and result["pg"]["version"]
    assert result["rows_in_db"] == 200 and result["rows_listed"] == 200
    assert result["idle_tick"]["statements_per_call"] == [1]
    assert result["refresh_active_0"]["statements_per_call"] == [0]
    # Seeded through DBOS (and dumped) the first time, restored from the dump afterwards.
    assert (result["seed_s"] is None) == ("restore_s" in result) != ("dump_s" in result)


def _check_screen_latency(result: dict[str, Any]) -> None:
    n = result["chunks"]
    for stage in ("read", "appended", "text", "frame"):
        stats = result["latency_ms"][stage]
        assert stats["n"] == n and {"p50", "p99", "max"} <= stats.keys()
    # Each stage comes after the previous one, for the same chunks.
    lat = result["latency_ms"]
    assert lat["read"]["min"] <= lat["appended"]["min"] <= lat["frame"]["min"]
    assert lat["appended"]["max"] <= lat["text"]["max"]
    keys = result["keypress_ms"]
    assert keys["presses"] >= 3 and keys["n"] >= 1 and keys["p50"] > 0
    assert result["frames"]["n"] > 0 and result["frames"]["duration_ms"]["p50"] > 0
    assert result["loop_lag_ms"]["n"] > 0


@pytest.mark.slow
def test_screen_latency() -> None:
    result = run_quick("screen_latency.py")
    assert result["backend"] == "sqlite" and result["mode"] == "embedded"
    _check_screen_latency(result)


@pytest.mark.slow
@pytest.mark.postgres
def test_screen_latency_pg() -> None:
    result = run_quick("screen_latency.py", "--pg")
    assert result["backend"] == "postgresql" and result["mode"] == "attach"
    _check_screen_latency(result)


def _check_token_latency(result: dict[str, Any]) -> None:
    assert result["calls"] == 1 and result["answers"] == 1 and result["tps"] == 80
    n = result["tokens"]
    assert n == result["output_tokens_reported"] > 50  # every token of the answer, none lost
    assert result["tokens_not_on_screen"] == 0
    lat = result["latency_ms"]
    for stage in ("coalescer", "written", "read", "in_widget", "frame"):
        assert lat[stage]["n"] == n and {"p50", "p99", "max"} <= lat[stage].keys()
    # Each stage comes after the previous one, for the same tokens.
    assert lat["written"]["min"] <= lat["read"]["min"] <= lat["in_widget"]["min"]
    assert lat["in_widget"]["min"] < lat["frame"]["min"]
    assert lat["written"]["p50"] <= lat["frame"]["p50"] and lat["frame"]["min"] > 0
    assert all(s["n"] == n for s in result["stages_ms"].values())
    assert result["frames"]["n"] > 0 and isinstance(result["target_met"], bool)


@pytest.mark.slow
@pytest.mark.contract
def test_token_latency() -> None:
    result = run_quick("token_latency.py")
    assert result["backend"] == "sqlite" and result["mode"] == "embedded"
    _check_token_latency(result)


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.contract
def test_token_latency_pg() -> None:
    result = run_quick("token_latency.py", "--pg")
    assert result["backend"] == "postgresql" and result["mode"] == "attach"
    assert result["pg"]["version"]
    _check_token_latency(result)


@pytest.mark.slow
def test_idle() -> None:
    result = run_quick("idle.py")
    hows = {r["how"] for r in result["runs"]}
    assert "headless" in hows and ("tmux" in hows or result["skipped"])
    for run in result["runs"]:
        assert 0 <= run["cpu_pct"] < 100 * 64 and run["rss_mb"] > 0 and run["seconds"] >= 4
    headless = next(r for r in result["runs"] if r["how"] == "headless")
    # The dashboard's idle refresh: one change-token statement per poller tick, no more.
    assert headless["poller_ticks_per_s"] > 0
    assert 0 < headless["sql_dashboard"]["per_s"] <= headless["poller_ticks_per_s"] + 0.5
    assert headless["sql_dbos_executor"]["per_s"] > 0


@pytest.mark.slow
def test_list_scroll() -> None:
    result = run_quick("list_scroll.py")
    assert result["rows_in_db"] == 200 and result["rows_shown"] == 200
    assert result["first_paint_ms"]["n"] == result["starts"] >= 2
    assert result["first_paint_ms"]["min"] > 0
    assert set(result["scroll_ms"]) == {"down", "pagedown", "pageup", "up"}
    assert all(s["n"] >= 1 for s in result["scroll_ms"].values())
    assert result["keys_missed"] == 0


@pytest.mark.slow
def test_cold_start() -> None:
    result = run_quick("cold_start.py")
    if result.get("skipped"):
        pytest.skip(result["skipped"])
    for mode in ("attach", "embedded"):
        row, text = result[mode]["first_row"], result[mode]["first_text"]
        assert 0 < row["min_s"] <= row["median_s"] <= row["max_s"]
        assert text["min_s"] <= row["min_s"]  # something is on screen before the rows
    assert result["importtime"]["total_s"] > 0 and result["importtime"]["top"]


@pytest.mark.slow
@pytest.mark.contract
def test_throughput() -> None:
    result = run_quick("throughput.py")
    assert [p["dashboard"] for p in result["passes"]] == [False, True]
    for p in result["passes"]:
        assert p["succeeded"] == result["runs"] and p["approved"] == result["runs"]
        assert p["runs_per_min"] > 0 and p["cpu_s"]["cli_processes"] > 0  # real CLIs ran
    assert result["passes"][1]["dashboard_poller_ticks"] > 0
    assert result["ratio_open_closed"] > 0


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.contract
def test_workers() -> None:
    result = run_quick("workers.py")
    assert [p["workers"] for p in result["passes"]] == [1, 2]
    for p in result["passes"]:
        assert p["succeeded"] == result["runs"]
        assert sum(p["runs_by_worker"].values()) == result["runs"]
        assert set(p["runs_by_worker"]) | set(p["questions_by_worker"]) <= {"w1", "w2"}
        assert p["cpu_s"]["per_claude_call"] > 0 and 0 < p["machine_busy_pct"] <= 100
    assert set(result["passes"][0]["runs_by_worker"]) == {"w1"}
    assert result["ratio_two_one"] > 0


def test_report_table() -> None:
    result = run_quick("report.py", "--only", "refresh_cost")
    assert result["failed"] == {} and set(result["seconds"]) == {"refresh_cost"}
    assert result["figures"] >= 20 and len(result["table"]) == result["figures"] + 2
    tick = next(line for line in result["table"] if line.startswith("| idle refresh tick"))
    assert "1 statement(s)" in tick and tick.endswith("| yes |")
    assert any(
        "(refresh_cost" not in line and "(many_streams: not run)" in line
        for line in result["table"]
    )
    # The PostgreSQL variants have rows of their own (not run here: --only).
    pg = [line for line in result["table"] if "**PostgreSQL**" in line]
    assert any("(refresh_cost_pg: not run)" in line for line in pg)
    assert any("(token_latency_pg: not run)" in line for line in pg)


@pytest.mark.slow
def test_bulk_resume() -> None:
    result = run_quick("bulk_resume.py")
    assert result["resumed"] == result["runs"] == 50 and result["failed"] == 0
    assert result["left_after"] == 0 and result["statements"] > 0
