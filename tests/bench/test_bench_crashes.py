"""The crash and soak bench scripts in their quick modes (kept apart from the other bench smoke
tests so that the two test processes share the long ones)."""

from __future__ import annotations

import pytest

from tests.support.bench import run_quick


@pytest.mark.slow
@pytest.mark.timeout(200)
def test_crash_anywhere() -> None:
    result = run_quick("crash_anywhere.py", timeout=170)
    runs = result["runs"]
    assert runs == 3 and result["ok"] is True, result["problems"]
    assert result["runs_finished"] == runs
    assert result["reports_identical"] == runs
    assert result["steps_rerun_after_checkpoint"] == 0 and result["requests_after_checkpoint"] == 0
    assert result["unexplained_repeats"] == 0 and result["missing_checkpoints"] == 0
    assert result["orphans"] == [] and result["unattributed_requests"] == 0
    assert result["kills"] >= 1


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.contract
def test_workers_killed() -> None:
    """Issue #18 item 2, small: 3 runs (Bash, retried fault, plain) on 3 real workers, up to 3
    SIGKILLs of a worker's process only (its CLIs must die with it), w3's the second and for
    good."""
    result = run_quick("workers_killed.py", timeout=170)
    runs = result["runs"]
    assert runs == 3 and result["ok"] is True, result["problems"]
    assert result["runs_finished"] == runs and result["reports_identical"] == runs
    assert result["steps_rerun_after_checkpoint"] == 0 and result["requests_after_checkpoint"] == 0
    assert result["unexplained_repeats"] == 0
    # Run 0 may use Bash: its allowed call ran once (the wc it pipes into logged it), even when
    # a kill fell between the call and its step's checkpoint (the re-run replays its output).
    bash = result["bash"]["wk-0"]
    assert bash["side_effects"] == 1 and bash["bash_result_requests"] >= 1
    assert bash["by_orphaned_cli"] == 0 and result["bash_exactly_once"] is True
    assert result["tool_runs_recorded"].get("done") == 1
    assert result["orphans"] == []  # the CLIs died with their worker
    assert result["notifications"] >= 2 and result["duplicate_notifications"] == 0  # plan, tool
    assert 1 <= result["kills"] <= 3
    if result["kills"] >= 2:  # w3 died for good; what it held was handed over
        assert result["kills_by_worker"]["w3"] == 1


@pytest.mark.slow
def test_soak() -> None:
    """Issue #18 item 3, small: 30 s of streaming, 30,000 lines into a pane that keeps 20,000."""
    result = run_quick("soak.py", timeout=90)
    pane, memory, scroll = result["pane"], result["memory"], result["scroll"]
    assert pane["lines_written"] == 30_000 and pane["caught_up"] is True
    assert pane["lines_seen"] >= 30_000 and pane["lines_kept"] <= pane["max_lines"]
    assert pane["lines_dropped"] > 0 and pane["read_back_on_scroll"] is False
    assert pane["tail_lost_at_s"] == [] and pane["following_at_end"] is True
    assert memory["samples"] >= 10 and memory["rss_end_mb"] > 0 and memory["cpu_mean_pct"] > 0
    assert len(memory["rss_mb_series"]) == memory["samples"]
    assert scroll["keys"] == 60 and scroll["frame_ms"]["n"] > 0
    assert scroll["rows_travelled"] > 0 and scroll["key_to_frame_ms"]["n"] >= 30
    assert result["background_runs"] >= 1
