"""bench/density.py in its quick mode: the CLI's cost cold, at start-up and reused, then one
worker with 1 and 2 concurrent research steps under an attached dashboard."""

from __future__ import annotations

import pytest

from tests.support.bench import run_quick


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_density() -> None:
    result = run_quick("density.py", timeout=140)
    cli = result["cli"]
    assert cli["cold"]["cli_cpu_s"]["p50"] > 0 and cli["startup_alone"]["cli_cpu_s"]["p50"] > 0
    assert cli["cold"]["cli_peak_rss_mb"]["p50"] > 0
    # Reuse: one CLI started for both calls, the same answers as CLIs of their own.
    assert cli["reuse_pool"] == {"started": 1, "reused": 1}
    assert cli["reuse_same_text"] is True
    levels = result["worker"]["levels"]
    assert [lv["n"] for lv in levels] == [1, 2]
    for lv in levels:
        assert lv["succeeded"] == lv["runs"] and lv["approved"] == lv["runs"]
        # A plan, a call per question and a synthesis per run.
        assert lv["claude_calls"] == lv["runs"] * (lv["questions"] + 2)
        assert lv["cpu_s_per_step"] > 0 and lv["peak_tree_rss_mb"] > lv["worker_idle_rss_mb"]
        assert lv["frame_ms"]["n"] > 0
    assert levels[1]["streaming"]["peak"] >= 2
