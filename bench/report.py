"""``make bench``: run every bench script in turn, then one table of every figure of issue 7.

Each script runs as its own process (its figures stream to the terminal as it prints them); its
last stdout line, one JSON object, is kept in ``bench/.cache/results/<script>.json``. The table at
the end has, per figure, its target, what was measured and whether the target was met ("—" where
the issue sets no target). Sizes are each script's defaults, except where noted in ``PLAN``, so
the whole run stays under 10 minutes on 2 cores (with the seeded databases already cached under
``bench/.cache/``; seeding the 100k one takes about 8 minutes more, once).

Usage: ``python bench/report.py [--quick] [--only a,b] [--skip a,b] [--table-only]``
(``--table-only`` prints the table from the results kept by the last run).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchkit import BENCH_DIR, CACHE_DIR, REPO_ROOT, emit, parse_args

RESULTS = CACHE_DIR / "results"


@dataclass(frozen=True)
class Step:
    script: str
    args: tuple[str, ...] = ()
    #: Seconds before the script is stopped and reported as failed.
    timeout: float = 600.0
    #: The step's name (results file, ``--only``/``--skip``) when it is not the script's: a
    #: script run twice (``--pg``) needs two.
    key: str = ""

    @property
    def name(self) -> str:
        return self.key or self.script.removesuffix(".py")


#: What ``make bench`` runs, in order. For time: ``idle`` 10 s per configuration (after its
#: minute of settling) and only on 10k workflows, ``crash_anywhere`` 10 runs instead of 20,
#: ``screen_latency --pg`` 120 chunks instead of 200, ``token_latency --pg`` 3 answers instead
#: of 4. The ``_pg`` steps run on PostgreSQL (a
#: throwaway server each, or ``$AGENTDECK_TEST_PG_URL``'s); ``refresh_cost --pg`` restores its
#: 10k workflows from a cached ``pg_dump`` (the first run seeds them through DBOS: ~1 min more).
PLAN: tuple[Step, ...] = (
    Step("stream_writes.py"),
    Step("stream_latency.py"),
    Step("stream_latency.py", ("--pg",), key="stream_latency_pg"),
    Step("screen_latency.py"),
    Step("screen_latency.py", ("--pg", "--chunks", "120"), key="screen_latency_pg"),
    Step("token_latency.py"),
    Step("token_latency.py", ("--pg", "--calls", "3"), key="token_latency_pg"),
    Step("refresh_cost.py"),
    Step("refresh_cost.py", ("--pg",), key="refresh_cost_pg"),
    Step("idle.py", ("--seconds", "10", "--rows", "10000")),
    Step("cli_ls.py"),
    Step("cli_ls.py", ("--pg",), key="cli_ls_pg"),
    Step("many_streams.py"),
    Step("list_scroll.py", timeout=1200.0),
    Step("cold_start.py"),
    Step("throughput.py"),
    Step("workers.py", ("--rounds", "1"), timeout=300.0),
    Step("crash_anywhere.py", ("--runs", "6")),
    Step("every_run.py", timeout=1200.0),
    Step("every_run.py", ("--pg",), key="every_run_pg", timeout=1500.0),
    Step("bulk_resume.py", timeout=900.0),
    Step("workers_killed.py", timeout=900.0),
    Step("soak.py", timeout=2700.0),  # 30 minutes of streaming
)

Results = dict[str, dict[str, Any]]


def run_step(step: Step, quick: bool) -> tuple[dict[str, Any] | None, float, str]:
    """Run one script, echoing its output; (its JSON, seconds, error or '')."""
    cmd = [
        sys.executable,
        str(BENCH_DIR / step.script),
        *(["--quick"] if quick else []),
        *step.args,
    ]
    print(f"\n==> {step.script} {' '.join(cmd[2:])}", flush=True)
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    last = ""
    try:
        for line in proc.stdout:
            if line.strip():
                last = line
                if not line.startswith("{"):
                    print(f"    {line.rstrip()}", flush=True)
        proc.wait(timeout=max(1.0, step.timeout - (time.monotonic() - t0)))
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return None, time.monotonic() - t0, f"timed out after {step.timeout:g} s"
    took = time.monotonic() - t0
    try:
        result = json.loads(last)
    except json.JSONDecodeError:
        return None, took, f"exited {proc.returncode} without its JSON line"
    if proc.returncode != 0:
        return result, took, f"exited {proc.returncode}"
    return result, took, ""


# -- the table ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    label: str
    target: str
    source: str
    #: The script's JSON → (what was measured, target met: True/False, None without a target).
    read: Callable[[dict[str, Any]], tuple[str, bool | None]]


def _pass(result: dict[str, Any], **match: Any) -> dict[str, Any]:
    return next(p for p in result["passes"] if all(p.get(k) == v for k, v in match.items()))


def _ms(s: dict[str, Any]) -> str:
    return f"p50 {s['p50']} ms, p99 {s['p99']} ms"


def _stream_writes(r: dict[str, Any]) -> tuple[str, bool | None]:
    p = _pass(r, tps=80.0)
    rate, window = p["writes_per_s"], p["max_writes_in_any_1s"]
    return (
        f"p50 {rate['p50']}/s, max {rate['max']}/s (most in any 1 s: {window['max']:.0f})",
        rate["max"] <= 10.0,
    )


def _writes_per_1k(r: dict[str, Any]) -> tuple[str, bool | None]:
    p = _pass(r, tps=80.0)
    return f"{p['writes_per_1k_tokens']} (per-token writing: 1,000)", None


def _read_latency(r: dict[str, Any]) -> tuple[str, bool | None]:
    return _ms(r["latency_ms"]["supervisor"]), None


def _screen(r: dict[str, Any]) -> tuple[str, bool | None]:
    s = r["latency_ms"]["frame"]
    return f"{_ms(s)} (n={s['n']})", s["p50"] <= 30 and s["p99"] <= 100


def _token(r: dict[str, Any]) -> tuple[str, bool | None]:
    f, st = r["latency_ms"]["frame"], r["stages_ms"]
    return (
        f"{_ms(f)}, max {f['max']} ms ({f['n']} tokens); stages p50 / p99: CLI + SDK "
        f"{_pair(st['server_to_coalescer'])}, coalescer {_pair(st['coalescer_to_written'])}, "
        f"written → on screen {_pair(r['written_to_frame_ms'])}",
        f["p50"] <= 150 and f["p99"] <= 300,
    )


def _pair(s: dict[str, Any]) -> str:
    return f"{s['p50']} / {s['p99']} ms"


def _screen_keys(r: dict[str, Any]) -> tuple[str, bool | None]:
    k = r["keypress_ms"]
    return f"{_ms(k)} ({k['missed']} of {k['presses']} missed)", k["p99"] <= 50


def _screen_frames(r: dict[str, Any]) -> tuple[str, bool | None]:
    s = r["frames"]["duration_ms"]
    return _ms(s), s["p99"] <= 50


def _idle_tick(r: dict[str, Any]) -> tuple[str, bool | None]:
    t = r["idle_tick"]
    n = "/".join(str(c) for c in t["statements_per_call"])
    return f"{n} statement(s), p50 {t['wall_ms']['p50']} ms", t["statements_per_call"] == [1]


def _list_refresh(r: dict[str, Any]) -> tuple[str, bool | None]:
    return f"p50 {r['list_500']['wall_ms']['p50']} ms ({r['rows_in_db']} in the DB)", None


def _idle(r: dict[str, Any]) -> tuple[str, bool | None]:
    runs = [run for run in r["runs"] if run["how"] == "tmux" and run["rows"] == 10_000]
    parts = [f"{run['mode']} {run['cpu_pct']}% CPU, {run['rss_mb']} MiB" for run in runs]
    met = all(run["cpu_pct"] <= 1.5 and run["rss_mb"] <= 150 for run in runs) if runs else None
    return "; ".join(parts) or "(no tmux run)", met


def _cli_ls(r: dict[str, Any]) -> tuple[str, bool | None]:
    w = r["wall"]
    return (
        f"{w['agentdeck_ls']['median_s']} s vs {w['dbos_workflow_list']['median_s']} s: "
        f"ratio {r['ratio_of_medians']}",
        r["ratio_of_medians"] <= 0.5,
    )


def _many_writes(r: dict[str, Any]) -> tuple[str, bool | None]:
    p = _pass(r, screen="list", mode="embedded")
    w, busy = p["stream_writes"], p["streams_at_once"]
    return (
        f"{w['per_s_while_streaming']}/s with {busy['mean']} streaming on average (peak "
        f"{busy['peak']}): {w['per_stream_per_s']} per stream; busiest 1 s: "
        f"{w['per_1s_window']['max']:.0f}",
        None,
    )


def _many(screen: str, mode: str) -> Callable[[dict[str, Any]], tuple[str, bool | None]]:
    def read(r: dict[str, Any]) -> tuple[str, bool | None]:
        p = _pass(r, screen=screen, mode=mode)
        f, k = p["frames"]["duration_ms"], p["keypress_ms"]
        met = all(s["p99"] is not None and s["p99"] <= 50 for s in (f, k))
        return f"frames {_ms(f)}; keys {_ms(k)}", met

    return read


def _first_paint(r: dict[str, Any]) -> tuple[str, bool | None]:
    s = r["first_paint_ms"]
    return (
        f"median {s['p50']} ms (min {s['min']}, max {s['max']}); {r['rows_shown']} of "
        f"{r['rows_in_db']} listed",
        s["p50"] <= 300,
    )


def _scroll(r: dict[str, Any]) -> tuple[str, bool | None]:
    d, p = r["scroll_ms"]["down"], r["scroll_ms"]["pagedown"]
    return f"down {_ms(d)}; page down {_ms(p)}", max(d["p99"], p["p99"]) <= 16


def _cold(mode: str) -> Callable[[dict[str, Any]], tuple[str, bool | None]]:
    def read(r: dict[str, Any]) -> tuple[str, bool | None]:
        s = r[mode]["first_row"]
        return (
            f"median {s['median_s']} s (min {s['min_s']}, max {s['max_s']})",
            s["median_s"] <= 1.5,
        )

    return read


def _throughput(r: dict[str, Any]) -> tuple[str, bool | None]:
    m = r["runs_per_min"]
    return (
        f"{m['open_median']} vs {m['closed_median']} runs/min: ratio {r['ratio_open_closed']}",
        r["ratio_open_closed"] >= 0.95,
    )


def _workers(r: dict[str, Any]) -> tuple[str, bool | None]:
    m = r["runs_per_min"]
    return (
        f"{m['one_worker']} → {m['two_workers']} runs/min: {r['ratio_two_one']}x",
        r["ratio_two_one"] >= 1.6,
    )


def _crash(r: dict[str, Any]) -> tuple[str, bool | None]:
    k = r["runs"]
    return (
        f"{r['runs_finished']}/{k} finished, {r['reports_identical']}/{k} identical, "
        f"{r['steps_rerun_after_checkpoint']} steps re-run, {r['kills']} kills, "
        f"{len(r['orphans'])} orphans",
        bool(r["ok"]),
    )


def _workers_killed(r: dict[str, Any]) -> tuple[str, bool | None]:
    k = r["runs"]
    return (
        f"{r['runs_finished']}/{k} finished, {r['reports_identical']}/{k} identical, "
        f"{r['steps_rerun_after_checkpoint']} steps re-run, Bash exactly once "
        f"{r['bash_exactly_once']} ({r['bash_calls']} calls), {len(r['orphans'])} orphan CLIs, "
        f"{r['kills']} kills, {r['taken_over']} taken over; notifications not measured",
        bool(r["ok"]),
    )


def _soak(r: dict[str, Any]) -> tuple[str, bool | None]:
    m, p, s = r["memory"], r["pane"], r["scroll"]["frame_ms"]
    return (
        f"{r['minutes']:g} min: RSS {m['rss_warm_mb']} → {m['rss_end_mb']} MiB "
        f"({m['rss_growth_pct']:+}%), CPU {m['cpu_mean_pct']}%; {p['lines_kept']:,} of "
        f"{p['lines_written']:,} lines kept (no read-back); scroll frame p50 {s['p50']} p99 "
        f"{s['p99']} max {s['max']} ms",
        m["rss_growth_pct"] <= 10 and s["p99"] is not None and s["p99"] <= 16,
    )


def _size(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 else f"{n // 1_000}k"


def _sizes(r: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], str]:
    """every_run's figures at the small and the large size, and the large size's name."""
    small, large = (r[str(n)] for n in r["sizes"])
    return small, large, _size(r["sizes"][1])


def _every_paint(r: dict[str, Any]) -> tuple[str, bool | None]:
    small, large, big = _sizes(r)
    a, b = large["first paint"], small["first paint"]
    ratio = r["ratio"]["first paint"]
    return (
        f"{big}: median {a['p50']} ms (min {a['min']}, max {a['max']}); "
        f"{_size(r['sizes'][0])}: {b['p50']} ms; "
        f"ratio {ratio}",
        a["p50"] <= 300 and ratio is not None and ratio <= 1.2,
    )


def _every_first_pages(r: dict[str, Any]) -> tuple[str, bool | None]:
    _, large, big = _sizes(r)
    keys = (
        "first page: status:error is:top",
        "first page: name:bench since:1d",
        "first page: is:waiting",
    )
    parts = [
        f"{k.split(': ', 1)[1].split()[0]} {large[k]['p50']} ms (x{r['ratio'][k]})" for k in keys
    ]
    met = all(large[k]["p50"] <= 300 and (r["ratio"][k] or 0) <= 1.2 for k in keys)
    return f"{big}, p50 (ratio to {_size(r['sizes'][0])}): " + ", ".join(parts), met


def _every_paging(r: dict[str, Any]) -> tuple[str, bool | None]:
    _, large, big = _sizes(r)
    down, end = large["page down (around)"], large["end (oldest page)"]
    return (
        f"{big}: page down p50 {down['p50']} ms (p99 {down['p99']}); end p50 {end['p50']} ms "
        f"(p99 {end['p99']})",
        max(down["p50"], end["p50"]) <= 100,
    )


def _every_tick(r: dict[str, Any]) -> tuple[str, bool | None]:
    small, large, big = _sizes(r)
    q, qs = large["idle tick"]["quiet"], small["idle tick"]["quiet"]
    ratio = r["ratio"]["idle tick"]
    return (
        f"{big}: {'/'.join(map(str, q['statements']))} statement(s), p50 {q['p50']} ms, p99 "
        f"{q['p99']} ms; {_size(r['sizes'][0])} p50 {qs['p50']} ms; ratio {ratio}",
        q["statements"] == [1] and q["p50"] <= 2 and ratio is not None and ratio <= 1.2,
    )


def _every_ls(r: dict[str, Any]) -> tuple[str, bool | None]:
    _, large, big = _sizes(r)
    ls = large["ls --filter vs dbos workflow list"]
    w = ls["wall"]
    return (
        f"{big}: {w['agentdeck_ls']['median_s']} s vs {w['dbos_workflow_list']['median_s']} s: "
        f"ratio {ls['ratio_of_medians']} (pairs {ls['ratio_pairs']['min']}-"
        f"{ls['ratio_pairs']['max']})",
        ls["ratio_of_medians"] <= 0.5,
    )


FIGURES: tuple[Figure, ...] = (
    Figure(
        "stream writes per second per stream (80 tokens/s)",
        "≤ 10/s",
        "stream_writes",
        _stream_writes,
    ),
    Figure("DB writes per 1,000 tokens (80 tokens/s)", "—", "stream_writes", _writes_per_1k),
    Figure(
        "stream chunk written → read by the data layer (SQLite)",
        "—",
        "stream_latency",
        _read_latency,
    ),
    Figure(
        "stream chunk written → read by the data layer (**PostgreSQL**)",
        "—",
        "stream_latency_pg",
        _read_latency,
    ),
    Figure(
        "stream chunk written → on screen, one run streaming (embedded SQLite)",
        "p50 ≤ 30 ms, p99 ≤ 100 ms",
        "screen_latency",
        _screen,
    ),
    Figure(
        "stream chunk written → on screen, one run streaming (attach, **PostgreSQL**)",
        "p50 ≤ 30 ms, p99 ≤ 100 ms",
        "screen_latency_pg",
        _screen,
    ),
    Figure(
        "token produced by the model → on screen (embedded SQLite)",
        "p50 ≤ 150 ms, p99 ≤ 300 ms",
        "token_latency",
        _token,
    ),
    Figure(
        "token produced by the model → on screen (attach, **PostgreSQL**)",
        "p50 ≤ 150 ms, p99 ≤ 300 ms",
        "token_latency_pg",
        _token,
    ),
    Figure("keypress → frame, one run streaming", "p99 ≤ 50 ms", "screen_latency", _screen_keys),
    Figure("frame time, one run streaming", "p99 ≤ 50 ms", "screen_latency", _screen_frames),
    Figure("50 streams at once (SQLite): DB stream writes", "—", "many_streams", _many_writes),
    Figure(
        "50 streams, embedded, list: frame time / keypress → repaint",
        "p99 ≤ 50 ms",
        "many_streams",
        _many("list", "embedded"),
    ),
    Figure(
        "50 streams, embedded, one run's detail: frame / keypress",
        "p99 ≤ 50 ms",
        "many_streams",
        _many("detail", "embedded"),
    ),
    Figure(
        "50 streams, attached (runs in a worker), list: frame / keypress",
        "p99 ≤ 50 ms",
        "many_streams",
        _many("list", "attach"),
    ),
    Figure(
        "50 streams, attached, one run's detail: frame / keypress",
        "p99 ≤ 50 ms",
        "many_streams",
        _many("detail", "attach"),
    ),
    Figure("idle refresh tick (10k workflows)", "1 statement", "refresh_cost", _idle_tick),
    Figure(
        "idle refresh tick (10k workflows, **PostgreSQL**)",
        "1 statement",
        "refresh_cost_pg",
        _idle_tick,
    ),
    Figure("list refresh after a change (500 newest)", "—", "refresh_cost", _list_refresh),
    Figure(
        "list refresh after a change (500 newest, **PostgreSQL**)",
        "—",
        "refresh_cost_pg",
        _list_refresh,
    ),
    Figure("idle dashboard, 10k workflows: CPU / RSS", "≤ 1.5 % / ≤ 150 MiB", "idle", _idle),
    Figure("list, 100k workflows: first paint", "≤ 300 ms", "list_scroll", _first_paint),
    Figure("list, 100k workflows: a scroll step", "≤ 16 ms", "list_scroll", _scroll),
    Figure(
        "cold start → first row, 10k workflows (attach)", "≤ 1.5 s", "cold_start", _cold("attach")
    ),
    Figure(
        "cold start → first row, 10k workflows (embedded)",
        "≤ 1.5 s",
        "cold_start",
        _cold("embedded"),
    ),
    Figure("research runs/min, dashboard open vs closed", "≥ 0.95", "throughput", _throughput),
    Figure("`agentdeck ls --json` vs `dbos workflow list`, 10k", "≤ 0.5", "cli_ls", _cli_ls),
    Figure(
        "`agentdeck ls --json` vs `dbos workflow list`, 10k, **PostgreSQL**",
        "≤ 0.5",
        "cli_ls_pg",
        _cli_ls,
    ),
    Figure("research runs/min on PostgreSQL, 2 workers vs 1", "≥ 1.6x", "workers", _workers),
    Figure("crash anywhere", "all finish, identical", "crash_anywhere", _crash),
    Figure(
        "3 workers SIGKILLed under 30 runs (**PostgreSQL**)",
        "all finish, identical, 0 re-runs, Bash once, 0 orphans",
        "workers_killed",
        _workers_killed,
    ),
    Figure(
        "soak: dashboard attached, runs streaming 30 min (one of 1M lines)",
        "RSS growth after 5 min ≤ 10 %, scroll frame p99 ≤ 16 ms",
        "soak",
        _soak,
    ),
    Figure(
        "list first paint, 100k vs 10k (SQLite)", "≤ 300 ms, ratio ≤ 1.2", "every_run", _every_paint
    ),
    Figure(
        "list first paint, 1M vs 10k (**PostgreSQL**)",
        "≤ 300 ms, ratio ≤ 1.2",
        "every_run_pg",
        _every_paint,
    ),
    Figure(
        "first page of a filter, 100k (SQLite)",
        "≤ 300 ms, ratio ≤ 1.2",
        "every_run",
        _every_first_pages,
    ),
    Figure(
        "first page of a filter, 1M (**PostgreSQL**)",
        "≤ 300 ms, ratio ≤ 1.2",
        "every_run_pg",
        _every_first_pages,
    ),
    Figure("page down / `end`, 100k (SQLite)", "≤ 100 ms", "every_run", _every_paging),
    Figure("page down / `end`, 1M (**PostgreSQL**)", "≤ 100 ms", "every_run_pg", _every_paging),
    Figure(
        "idle tick, 100k vs 10k (SQLite)",
        "1 statement, ≤ 2 ms, ratio ≤ 1.2",
        "every_run",
        _every_tick,
    ),
    Figure(
        "idle tick, 1M vs 10k (**PostgreSQL**)",
        "1 statement, ≤ 2 ms, ratio ≤ 1.2",
        "every_run_pg",
        _every_tick,
    ),
    Figure(
        "`agentdeck ls --filter status:error --limit 100` vs `dbos workflow list`, 100k",
        "≤ 0.5",
        "every_run",
        _every_ls,
    ),
    Figure(
        "`agentdeck ls --filter status:error --limit 100` vs `dbos workflow list`, 1M, "
        "**PostgreSQL**",
        "≤ 0.5",
        "every_run_pg",
        _every_ls,
    ),
)


def table(results: Results, failed: dict[str, str]) -> list[str]:
    lines = ["| figure | target | measured | met? |", "|---|---|---|---|"]
    for f in FIGURES:
        r = results.get(f.source)
        if r is None:
            why = failed.get(f.source, "not run")
            lines.append(f"| {f.label} | {f.target} | ({f.source}: {why}) | — |")
            continue
        try:
            measured, met = f.read(r)
        except (KeyError, StopIteration, TypeError, ValueError) as exc:
            measured, met = f"(unreadable: {type(exc).__name__} {exc})", None
        mark = "—" if met is None else ("yes" if met else "**no**")
        lines.append(f"| {f.label} | {f.target} | {measured} | {mark} |")
    return lines


def _machine() -> str:
    try:
        mem = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal:")
        )
        gib = f"{mem / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        gib = "? GiB"
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} cores, {gib}, {platform.system()} {platform.release()}, Python "
        f"{platform.python_version()}; load average at the end {load}"
    )


def _options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--only", default="", help="comma-separated script names to run")
    p.add_argument("--skip", default="", help="comma-separated script names to leave out")
    p.add_argument("--table-only", action="store_true", help="the table of the last run")


def main() -> int:
    args = parse_args(__doc__ or "", extra=_options)
    only = {s.strip().removesuffix(".py") for s in args.only.split(",") if s.strip()}
    skip = {s.strip().removesuffix(".py") for s in args.skip.split(",") if s.strip()}
    plan = [s for s in PLAN if (not only or s.name in only) and s.name not in skip]
    results: Results = {}
    failed: dict[str, str] = {}
    took: dict[str, float] = {}
    RESULTS.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    if args.table_only:
        for path in sorted(RESULTS.glob("*.json")):
            results[path.stem] = json.loads(path.read_text())
    else:
        for step in plan:
            result, seconds, error = run_step(step, args.quick)
            took[step.name] = seconds
            if result is not None:
                results[step.name] = result
                if not args.quick:
                    (RESULTS / f"{step.name}.json").write_text(json.dumps(result, indent=1))
            if error:
                failed[step.name] = error
                print(f"    !! {step.script}: {error}", flush=True)
            print(f"    ({step.script}: {seconds:.0f} s)", flush=True)
    total = time.monotonic() - started
    print(f"\n## Figures ({time.strftime('%Y-%m-%d')}; {_machine()})\n")
    lines = table(results, failed)
    for line in lines:
        print(line)
    print(
        "\nRows marked **PostgreSQL** ran on a throwaway PostgreSQL server (the dashboard attached,"
        " the workflow in another process); the others on SQLite files."
    )
    if took:
        print(
            f"\nbench time: {total:.0f} s ("
            + ", ".join(f"{n} {s:.0f}" for n, s in took.items())
            + ")"
        )
    emit(
        {
            "bench": "report",
            "quick": args.quick,
            "total_s": round(total, 1),
            "seconds": {n: round(s, 1) for n, s in took.items()},
            "failed": failed,
            "figures": len(FIGURES),
            "table": lines,
        }
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
