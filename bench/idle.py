"""The dashboard with nothing changing: CPU, wakeups and memory of its process, SQL per second.

On a copy of refresh_cost.py's seeded SQLite database (finished workflows only: nothing runs, so
nothing changes), each configuration is left alone for 20 s (5 s with ``--quick``) after it has
listed the rows and settled:

* ``tmux``: the real ``agentdeck`` CLI in a detached tmux session (a private tmux server, 140x40),
  embedded (``--embedded``: DBOS runs in the dashboard's process, as plain ``agentdeck`` does) or
  attached (``--attach``: the dashboard only reads). CPU is the process's (and any children's)
  ``utime+stime`` from ``/proc/<pid>/stat``, sampled every second; wakeups are its threads'
  context switches (``/proc/<pid>/task/*/status``); memory ``VmRSS``/``VmHWM`` from
  ``/proc/<pid>/status``. The tmux server's CPU (the terminal's side of the output) is given too.
* ``headless``: ``AgentDeckApp`` under ``App.run_test`` in this process, embedded DBOS (the
  in-process model transport). The same CPU and memory figures for this process, plus SQL
  statements counted (``benchkit.sql.StatementMeter``: sqlite3's trace callback on every
  connection, so raw connections and pool pings count too) on the dashboard's engine
  (``app.source.client._sys_db.engine``) and on DBOS's own (its executor: queue polling,
  notification polling, heartbeat), screen updates per second (``benchkit.ui.FrameMeter``, with
  the terminal output a headless app skips) and garbage-collector passes.

Each configuration settles 60 s after listing (past DBOS's first minute, in which its scheduler
looks for new schedules every second instead of every 30 s), 1.5 s with ``--quick``. Tmux runs
also give each thread's CPU (``benchkit.threads``: the CLI started through it, so threads carry
their Python names); the headless run then times launches (``--launches``): from the dashboard in
this process and from ``agentdeck launch`` in another, launch → started as DBOS recorded them.

Full size: tmux embedded and attached, each with 200 and with 10,000 workflows; headless with 200.
``--quick``: tmux embedded and headless with 200, 5 s each (tmux runs are skipped, and said
so, when tmux is not installed).

Usage: ``python bench/idle.py [--quick] [--seconds S] [--rows N]``
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import shlex
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from benchkit import BENCH_DIR, emit, parse_args, quiet_logging, summary, temp_dir
from benchkit.procstat import CLK_TCK, Sample, cpu_figures, sample
from benchkit.seed import seeded_db
from benchkit.sql import StatementMeter
from benchkit.threads import per_thread, thread_ticks

BIN = Path(sys.executable).parent
SIZE = (140, 40)
SESSION = "idle"
_RUNS = itertools.count(1)


def sample_window(pid: int, seconds: float) -> list[Sample]:
    samples = [sample(pid)]
    end = samples[0].t + seconds
    while (now := time.monotonic()) < end:
        time.sleep(min(1.0, end - now))
        samples.append(sample(pid))
    return samples


async def sample_window_async(pid: int, seconds: float) -> list[Sample]:
    """The same from inside the measured process: sleeps on its event loop, reads /proc."""
    samples = [sample(pid)]
    end = samples[0].t + seconds
    while (now := time.monotonic()) < end:
        await asyncio.sleep(min(1.0, end - now))
        samples.append(sample(pid))
    return samples


# -- tmux: the real CLI in a terminal ------------------------------------------------------------


def run_tmux(
    db: Path, root: Path, *, attach: bool, seconds: float, settle: float
) -> dict[str, Any]:
    tmux = shutil.which("tmux")
    assert tmux is not None
    # A private tmux server per run: a name of its own, so a new run never meets the last one's
    # server while it exits.
    base = [tmux, "-L", f"agentdeck-bench-{os.getpid()}-{next(_RUNS)}", "-f", "/dev/null"]
    state = root / ("state-attach" if attach else "state-embedded")
    thread_map = root / "threads.tsv"
    command = [
        "env",
        "-u",
        "DBOS_SYSTEM_DATABASE_URL",
        f"AGENTDECK_STATE_DIR={state}",
        f"PYTHONPATH={BENCH_DIR}",
        # The real CLI, started through benchkit.threads so each thread's CPU can be named.
        str(BIN / "python"),
        "-m",
        "benchkit.threads",
        str(thread_map),
        "--",
        "agentdeck",
        "--db",
        f"sqlite:///{db}",
        "--offline",
        "--attach" if attach else "--embedded",
    ]
    started = time.monotonic()
    subprocess.run(
        [
            *base,
            "new-session",
            "-d",
            "-s",
            SESSION,
            "-x",
            str(SIZE[0]),
            "-y",
            str(SIZE[1]),
            "exec " + shlex.join(command),
        ],
        cwd=root,
        check=True,
        timeout=30,
    )

    def tmux_out(*args: str) -> str:
        proc = subprocess.run([*base, *args], capture_output=True, text=True, timeout=30)
        return proc.stdout

    server = pid = 0
    socket = ""
    try:
        socket = tmux_out("display-message", "-p", "#{socket_path}").strip()
        pid = int(tmux_out("display-message", "-p", "-t", SESSION, "#{pane_pid}").strip())
        server = int(tmux_out("display-message", "-p", "#{pid}").strip())
        deadline = time.monotonic() + 60
        while "bench.s" not in tmux_out("capture-pane", "-p", "-t", SESSION):
            if time.monotonic() > deadline:
                raise RuntimeError(
                    "agentdeck did not list the workflows within 60 s:\n"
                    + tmux_out("capture-pane", "-p", "-t", SESSION)
                )
            time.sleep(0.1)
        ready = time.monotonic() - started
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        if "agentdeck" not in cmdline:
            raise RuntimeError(f"the pane runs {cmdline!r}, not agentdeck")
        time.sleep(settle)
        t0 = sample(server, tree=False)  # its children are the panes: the app
        threads0, w0 = thread_ticks(pid), time.monotonic()
        figures = cpu_figures(sample_window(pid, seconds))
        threads1, w1 = thread_ticks(pid), time.monotonic()
        t1 = sample(server, tree=False)
        figures["per_thread"] = per_thread(threads0, threads1, thread_map, w1 - w0)
        figures["terminal_cpu_pct"] = round(
            100.0 * (t1.ticks - t0.ticks) / CLK_TCK / (t1.t - t0.t), 2
        )
        figures["ready_s"] = round(ready, 1)
    finally:
        subprocess.run([*base, "kill-server"], capture_output=True, timeout=30)
        deadline = time.monotonic() + 10
        while any(p and Path(f"/proc/{p}").exists() for p in (server, pid)):
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)  # the server, and the app with it, are gone before the next run
        if socket:
            Path(socket).unlink(missing_ok=True)  # kill-server leaves it behind
    return figures


# -- headless: the app in this process, with its SQL counted -----------------------------------


Snapshot = tuple[Counter[str], int]  # a StatementMeter's counts per text, and its pings


def sql_figures(start: Snapshot, end: Snapshot, wall: float) -> dict[str, Any]:
    """Statements (and pool pings) per second between two snapshots of a meter."""
    counts = end[0] - start[0]
    total = sum(counts.values())
    return {
        "statements": total,
        "per_s": round(total / wall, 2),
        "pool_pings_per_s": round((end[1] - start[1]) / wall, 2),
        "top": [{"per_s": round(c / wall, 2), "sql": text} for text, c in counts.most_common(5)],
    }


async def launch_latencies(sup: Any, db: Path, root: Path, n: int) -> dict[str, Any]:
    """Launch → started for ``n`` research launches made by the dashboard in this process
    (``Supervisor.launch``, as the launch form does: from the call) and ``n`` made by another
    process (``agentdeck launch --json``, which enqueues, prints and exits: from its line of
    output), one at a time, each at a random point of the queue's poll interval, to the first of
    this process's reads, every 10 ms, that finds the run no longer ENQUEUED. (DBOS's own
    ``created_at`` and ``dequeued_at`` are whole seconds on SQLite under Python 3.11.) Each run
    is cancelled once started."""
    rng = random.Random(7)
    env = {**os.environ, "AGENTDECK_STATE_DIR": str(root / "state-launch")}
    env.pop("DBOS_SYSTEM_DATABASE_URL", None)
    env["PYTHONUNBUFFERED"] = "1"  # its output line comes when printed, not at its exit

    async def started_after(wid: str, t0: float) -> float:
        deadline = time.monotonic() + 30
        while True:
            found = await sup.client.list_workflows_async(
                workflow_ids=[wid], load_input=False, load_output=False
            )
            if found and found[0].status != "ENQUEUED":
                seen = time.monotonic()
                await sup.client.cancel_workflow_async(wid)
                return (seen - t0) * 1000.0
            if time.monotonic() > deadline:
                raise RuntimeError(f"{wid} not started within 30 s")
            await asyncio.sleep(0.01)

    out: dict[str, list[float]] = {"this_process": [], "another_process": []}
    for i in range(n):
        await asyncio.sleep(rng.uniform(0.2, 1.2))
        wid = f"idle-launch-own-{i}"
        t0 = time.monotonic()
        result = await sup.launch("research", {"topic": f"idle bench launch {i}"}, workflow_id=wid)
        assert result.ok, result.message
        out["this_process"].append(await started_after(wid, t0))
    for i in range(n):
        await asyncio.sleep(rng.uniform(0.2, 1.2))
        wid = f"idle-launch-cli-{i}"
        proc = await asyncio.create_subprocess_exec(
            str(BIN / "agentdeck"),
            "launch",
            "research",
            "--db",
            f"sqlite:///{db}",
            "--topic",
            f"idle bench launch from the CLI {i}",
            "--id",
            wid,
            "--json",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        assert proc.stdout is not None
        await proc.stdout.readline()  # printed once the enqueue has committed
        t0 = time.monotonic()
        out["another_process"].append(await started_after(wid, t0))
        await proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"agentdeck launch {wid} failed")
    return {where: summary(values, digits=0) for where, values in out.items()}


async def run_headless(
    db: Path, root: Path, *, seconds: float, settle: float, launches_n: int = 0
) -> dict[str, Any]:
    from benchkit.ui import FrameMeter, GcMeter
    from dbos._dbos import _get_dbos_instance

    from tui.app import AgentDeckApp
    from tui.supervisor import Supervisor
    from workflows.model_offline.transport import transport_factory
    from workflows.runtime import Runtime, RuntimeSettings

    url = f"sqlite:///{db}"
    rt = Runtime(
        RuntimeSettings(
            db_url=url,
            offline=True,
            state_dir=root / "state-headless",
            transport_factory=transport_factory,
        )
    )
    started = time.monotonic()
    await asyncio.to_thread(rt.launch)
    quiet_logging(root / "state-headless")
    sup = Supervisor(url)
    await sup.connect()
    # Before the app's first query: on SQLite they trace every connection opened from now on.
    ours = StatementMeter(sup.client._sys_db.engine)
    theirs = StatementMeter(_get_dbos_instance()._sys_db.engine)
    ours.keep_texts = theirs.keep_texts = False
    app = AgentDeckApp(sup, runtime=rt)
    frames = FrameMeter()
    frames.install()
    collector = GcMeter()
    try:
        async with app.run_test(size=SIZE):
            deadline = time.monotonic() + 60
            while not (app.connected and app.snapshot.page.rows):
                if time.monotonic() > deadline:
                    raise RuntimeError("the app did not list the workflows within 60 s")
                await asyncio.sleep(0.05)
            ready = time.monotonic() - started
            await asyncio.sleep(settle)
            collector.start()
            t0, ticks0 = time.time(), app.poller.ticks
            start: list[Snapshot] = [(Counter(m.by_text), m.pings) for m in (ours, theirs)]
            try:
                samples = await sample_window_async(os.getpid(), seconds)
            finally:
                t1 = time.time()
                collector.stop()
                end = [(Counter(m.by_text), m.pings) for m in (ours, theirs)]
            ticks = app.poller.ticks - ticks0
            launches = await launch_latencies(sup, db, root, launches_n) if launches_n else {}
    finally:
        frames.uninstall()
        ours.close()
        theirs.close()
        rt.shutdown()  # done already when the app unmounted
    figures = cpu_figures(samples)
    wall = figures["seconds"]
    shown = frames.between(t0, t1)
    figures.update(
        {
            "ready_s": round(ready, 1),
            "poller_ticks_per_s": round(ticks / wall, 2),
            "sql_dashboard": sql_figures(start[0], end[0], wall),
            "sql_dbos_executor": sql_figures(start[1], end[1], wall),
            "frames_per_s": round(len(shown) / wall, 2),
            "frame_ms": summary([f.duration for f in shown], scale=1000.0, digits=2),
            "terminal_bytes_per_s": round(sum(f.bytes for f in shown) / wall),
            "gc_passes": {g: len(collector.between(t0, t1, g)) for g in (0, 1, 2)},
            "gc_full_pass_ms": summary(collector.between(t0, t1, 2), scale=1000.0, digits=1),
            "launch_to_start_ms": launches,
        }
    )
    return figures


def _options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seconds", type=float, default=None, help="seconds per configuration (20)")
    p.add_argument(
        "--launches",
        type=int,
        default=None,
        help="launches timed after the headless run's window, from this process and from "
        "another (10; 2 with --quick; 0: none)",
    )
    p.add_argument(
        "--rows", type=int, default=None, help="only the tmux runs on this many workflows"
    )


def main() -> int:
    args = parse_args(__doc__ or "", extra=_options)
    # Full size: measured past DBOS's first minute, in which its scheduler thread looks for new
    # schedules every second (then every 30 s): idle is the steady state.
    seconds, settle = (5.0, 1.5) if args.quick else (20.0, 60.0)
    if args.seconds:
        seconds = args.seconds
    launches_n = args.launches if args.launches is not None else (2 if args.quick else 10)
    have_tmux = shutil.which("tmux") is not None
    plan: list[tuple[str, str, int]] = (
        [("tmux", "embedded", 200), ("headless", "embedded", 200)]
        if args.quick
        else [
            ("tmux", "embedded", 200),
            ("tmux", "attach", 200),
            ("tmux", "embedded", 10_000),
            ("tmux", "attach", 10_000),
            ("headless", "embedded", 200),
        ]
    )
    if args.rows:
        plan = [c for c in plan if c[0] != "tmux" or c[2] == args.rows]
    print(f"idle: the dashboard left alone for {seconds:g} s per configuration")
    runs: list[dict[str, Any]] = []
    skipped: list[str] = []
    with temp_dir("bench-idle") as root:
        for how, mode, rows in plan:
            if how == "tmux" and not have_tmux:
                skipped.append(f"{how}/{mode}/{rows}: tmux is not installed")
                continue
            cache, _ = seeded_db(rows)
            run_root = root / f"{how}-{mode}-{rows}"
            run_root.mkdir()
            db = run_root / "idle.sqlite"
            shutil.copyfile(cache, db)
            if how == "tmux":
                figures = run_tmux(
                    db, run_root, attach=mode == "attach", seconds=seconds, settle=settle
                )
            else:
                figures = asyncio.run(
                    run_headless(
                        db, run_root, seconds=seconds, settle=settle, launches_n=launches_n
                    )
                )
            runs.append({"how": how, "mode": mode, "rows": rows, **figures})
            r = runs[-1]
            print(
                f"  {how:<8} {mode:<8} {rows:>6} rows: CPU {r['cpu_pct']:>5}% of a core "
                f"(per-second p50 {r['cpu_pct_per_s']['p50']}, max {r['cpu_pct_per_s']['max']}), "
                f"{r['wakeups_per_s']} wakeups/s, RSS {r['rss_mb']} MiB (peak {r['hwm_mb']}), "
                f"{r['threads']} threads"
                + (f"; tmux server {r['terminal_cpu_pct']}%" if how == "tmux" else "")
            )
            for t in r.get("per_thread", []):
                print(
                    f"    {t['cpu_pct']:>6.3f}% ({t['share_pct']:>4.1f} %)  {t['thread']}"
                    + (f" x{t['threads']}" if t["threads"] > 1 else "")
                )
            if how == "headless":
                for key, label in (("sql_dashboard", "dashboard"), ("sql_dbos_executor", "DBOS")):
                    s = r[key]
                    print(
                        f"    SQL, {label} engine: {s['per_s']} statements/s"
                        f" (+{s['pool_pings_per_s']} pool pings/s)"
                    )
                    for top in s["top"]:
                        print(f"      {top['per_s']:>6}/s  {top['sql']}")
                for where, lat in r["launch_to_start_ms"].items():
                    print(
                        f"    launch → started, from {where.replace('_', ' ')}: "
                        f"p50 {lat['p50']} ms, max {lat['max']} ms (n={lat['n']})"
                    )
                print(
                    f"    {r['poller_ticks_per_s']} poller ticks/s, {r['frames_per_s']} frames/s "
                    f"({r['terminal_bytes_per_s']} B/s of terminal output), GC passes "
                    f"{r['gc_passes']}, full passes {r['gc_full_pass_ms']['max']} ms max"
                )
    for note in skipped:
        print(f"  skipped {note}")
    emit(
        {
            "bench": "idle",
            "quick": args.quick,
            "seconds": seconds,
            "runs": runs,
            "skipped": skipped,
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
