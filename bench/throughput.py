"""Research runs completed per minute, with the dashboard open and closed, side by side.

Each pass starts an embedded runtime (DBOS on a fresh SQLite file, as plain ``agentdeck`` does)
with the offline model at zero pacing (``tokens_per_second=0``) through the REAL Claude Code CLI
bundled with the SDK (``--inprocess``: the in-process SDK transport instead, no CLI processes),
launches N research runs of Q questions at once through the data layer (N=8, Q=2; 2 and 1 with
``--quick``), approves each plan as soon as it is asked (``benchkit.load.approve_all``) and times
launch → every run finished. "open": the real dashboard (``AgentDeckApp`` under
``App.run_test``, 140x40, the workflow list) runs in the same process and on the same runtime
and database meanwhile, refreshing as it does for a user; "closed": no dashboard. Passes
alternate closed/open, R rounds (2; 1 with ``--quick``); the figure is the ratio of the median
runs/min (open / closed). CPU seconds are counted per pass for this process and for the CLI
processes it waited for (``getrusage``).

Usage: ``python bench/throughput.py [--quick] [--runs N] [--questions Q] [--rounds R]
[--inprocess]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from benchkit import emit, parse_args, quiet_logging, temp_dir
from benchkit.load import approve_all, paced_factory, research_runtime
from benchkit.ui import until

from tui.supervisor import Supervisor

SIZE = (140, 40)
TOPIC = "durable execution for long-running AI agents"
RUN_TIMEOUT_S = 300.0


def _cpu() -> tuple[float, float]:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime


async def run_all(bench: Supervisor, runs: int, questions: int, tag: str) -> list[str]:
    """Launch the runs and wait until every one has finished; their statuses."""
    ids = []
    for i in range(runs):
        data = {"topic": f"{TOPIC} {tag} {i}", "questions": questions}
        ids.append((await bench.launch("research", data)).workflow_id)
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while True:
        rows = await bench.client.list_workflows_async(
            workflow_ids=ids, load_input=False, load_output=False
        )
        if all(r.status not in ("PENDING", "ENQUEUED") for r in rows):
            return [str(r.status) for r in rows]
        if time.monotonic() > deadline:
            raise RuntimeError(f"the runs did not finish within {RUN_TIMEOUT_S:g} s")
        await asyncio.sleep(0.25)


async def one_pass(
    root: Path, name: str, dashboard: bool, runs: int, questions: int, inprocess: bool
) -> dict[str, Any]:
    from tui.app import AgentDeckApp

    db_url = f"sqlite:///{root / f'{name}.sqlite'}"
    state = root / f"state-{name}"
    rt = research_runtime(
        db_url, state, transport_factory=paced_factory(0) if inprocess else None, tps=0
    )
    await asyncio.to_thread(rt.launch)
    quiet_logging(state)
    bench = Supervisor(db_url)
    await bench.connect()
    stop = asyncio.Event()
    approver = asyncio.create_task(approve_all(bench, stop))
    app = AgentDeckApp(Supervisor(db_url), runtime=rt) if dashboard else None
    try:
        async with app.run_test(size=SIZE) if app is not None else contextlib.nullcontext():
            if app is not None:
                await until(lambda: app.connected, 30, "the dashboard to connect")
            cpu0 = _cpu()
            t0 = time.monotonic()
            statuses = await run_all(bench, runs, questions, name)
            wall = time.monotonic() - t0
            cpu1 = _cpu()
            ticks = app.poller.ticks if app is not None else 0
    finally:
        stop.set()
        approved = await approver
        await bench.close()
        await asyncio.to_thread(rt.shutdown)  # done already if the dashboard unmounted
    return {
        "pass": name,
        "dashboard": dashboard,
        "succeeded": statuses.count("SUCCESS"),
        "approved": approved,
        "wall_s": round(wall, 2),
        "runs_per_min": round(runs * 60 / wall, 2),
        "cpu_s": {
            "this_process": round(cpu1[0] - cpu0[0], 2),
            "cli_processes": round(cpu1[1] - cpu0[1], 2),
        },
        "dashboard_poller_ticks": ticks,
    }


def _options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runs", type=int, default=None, help="research runs per pass (8)")
    p.add_argument("--questions", type=int, default=None, help="questions per run (2)")
    p.add_argument("--rounds", type=int, default=None, help="closed+open rounds (2)")
    p.add_argument(
        "--inprocess", action="store_true", help="in-process SDK transport instead of the CLI"
    )


async def amain(args: argparse.Namespace) -> dict[str, Any]:
    runs = args.runs or (2 if args.quick else 8)
    questions = args.questions or (1 if args.quick else 2)
    rounds = args.rounds or (1 if args.quick else 2)
    model = "in-process transport" if args.inprocess else "the real CLI"
    print(
        f"throughput: {runs} research runs x {questions} questions per pass, offline model at "
        f"zero pacing through {model}; {rounds} round(s) of closed + open"
    )
    passes = []
    with temp_dir("bench-throughput") as root:
        for r in range(rounds):
            for dashboard in (False, True):
                name = f"{'open' if dashboard else 'closed'}-{r + 1}"
                p = await one_pass(root, name, dashboard, runs, questions, args.inprocess)
                passes.append(p)
                print(
                    f"  {name:<9} {p['succeeded']}/{runs} succeeded in {p['wall_s']} s: "
                    f"{p['runs_per_min']} runs/min; CPU s: this process "
                    f"{p['cpu_s']['this_process']}, CLIs {p['cpu_s']['cli_processes']}"
                )
    closed = [p["runs_per_min"] for p in passes if not p["dashboard"]]
    opened = [p["runs_per_min"] for p in passes if p["dashboard"]]
    ratio = statistics.median(opened) / statistics.median(closed)
    print(
        f"  runs/min, median: closed {statistics.median(closed):.2f}, open "
        f"{statistics.median(opened):.2f}; open/closed {ratio:.2f}"
    )
    return {
        "runs": runs,
        "questions": questions,
        "rounds": rounds,
        "model": "inprocess" if args.inprocess else "cli",
        "passes": passes,
        "runs_per_min": {
            "closed_median": round(statistics.median(closed), 2),
            "open_median": round(statistics.median(opened), 2),
        },
        "ratio_open_closed": round(ratio, 3),
    }


def main() -> int:
    args = parse_args(__doc__ or "", extra=_options)
    result = asyncio.run(amain(args))
    emit({"bench": "throughput", "quick": args.quick, **result})
    return 0


if __name__ == "__main__":
    sys.exit(main())
