"""Research runs completed per minute by ``agentdeck worker`` processes on PostgreSQL: 1 vs 2.

What scale-out gives a user: each worker has a bounded number of slots (runs it takes from the
launch queue at once, ``AGENTDECK_LAUNCH_CONCURRENCY``; research questions at once,
``agentdeck worker --concurrency``), and a real Claude call is mostly waiting on the model (tens of
tokens per second), not CPU. Adding a worker adds slots. So the passes run the offline model at a
realistic pacing (``AGENTDECK_OFFLINE_TPS``: 80 tokens/s, its default) with the same slots per
worker (1 run and 2 questions at once: a run's questions in parallel), N runs per pass so that
one worker works through N waves and two through N/2, and report the CPU busy share of the
machine and of the bench itself, to show the cores were not what bound it. (With 2 runs per
worker, two workers would need both cores: each Claude call starts a Claude Code CLI process,
~1 CPU-s, and the offline answers are short, 1-3 s at 80 tokens/s.)

``--cpu-runs M`` adds a line at zero pacing with no launch limit, one round: what 2 cores allow
when every call is as fast as the CLI can go. One worker then already fills the machine, so a
second one on the same 2 cores adds nothing. Off by default: it does not fit ``make bench``'s
time, and on a machine shared with other jobs it mostly measures them.

Each pass takes a fresh database on one PostgreSQL server (a throwaway one, or
``$AGENTDECK_TEST_PG_URL``'s), starts K ``agentdeck --db URL --offline worker --executor-id wK``
processes (the real Claude Code CLI, one offline server per worker), waits until they serve,
launches N research runs of Q questions through the data layer (``Supervisor.launch``: enqueued on
the launch queue every worker serves), approves each plan as soon as it is asked, and times
launch → every run finished. Meanwhile it samples the PENDING workflows every 0.1 s for the most
runs and questions each worker held at once (the slots are seen to bound a worker), and
afterwards counts the finished runs and questions by executor id (both workers are seen to work).
Counted per pass from ``/proc``: CPU seconds of the workers (with the CLI processes they spawned
and waited for), of the PostgreSQL server (the throwaway one), and the busy share of the cores:
the whole machine's, and the bench's own (workers, CLIs, PostgreSQL, this process). Passes:
1 worker then 2 workers, R rounds; runs/min min/median/max over the rounds, ratio of medians.

Usage: ``python bench/workers.py [--quick] [--runs N] [--questions Q] [--rounds R] [--tps T]
[--slots S] [--launch-slots L] [--cpu-runs M]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchkit import emit, parse_args, temp_dir
from benchkit.load import approve_all
from benchkit.pg import PgServer, pg_server

from tui.supervisor import Supervisor
from workflows.queues import RESEARCH_QUEUE
from workflows.runtime import LAUNCH_QUEUE

TOPIC = "durable execution for long-running AI agents"
RUN_TIMEOUT_S = 300.0
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Setup:
    """How the workers of a pass run: model pacing and slots per worker (None: no limit)."""

    label: str
    tps: float
    research_slots: int | None
    launch_slots: int | None

    def describe(self) -> dict[str, Any]:
        return {
            "tps": self.tps,
            "research_slots_per_worker": self.research_slots,
            "launch_slots_per_worker": self.launch_slots,
        }


def proc_cpu(pid: int | None, *, tree: bool = False) -> float:
    """CPU seconds of ``pid`` and of its children it waited for (and, ``tree``, of its live
    descendants)."""
    if pid is None:
        return 0.0
    total = 0
    todo = [pid]
    first = True
    while todo:
        p = todo.pop()
        try:
            stat = Path(f"/proc/{p}/stat").read_text()
        except OSError:
            continue
        f = stat[stat.rindex(")") + 2 :].split()
        total += int(f[11]) + int(f[12]) + (int(f[13]) + int(f[14]) if first or tree else 0)
        first = False
        if tree:
            for task in Path(f"/proc/{p}/task").glob("*/children"):
                try:
                    todo.extend(int(c) for c in task.read_text().split())
                except OSError:
                    pass
    return total / CLK_TCK


def self_cpu() -> float:
    """CPU seconds of this process (the launcher, approver and poller)."""
    t = os.times()
    return t.user + t.system


def machine_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of all cores, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    total = sum(fields[:8])
    return total - idle, total


class Worker:
    def __init__(self, db_url: str, name: str, root: Path, setup: Setup) -> None:
        self.name = name
        env = dict(
            os.environ,
            AGENTDECK_OFFLINE_TPS=f"{setup.tps:g}",
            AGENTDECK_STATE_DIR=str(root / f"state-{name}"),
        )
        for var in (
            "DBOS_SYSTEM_DATABASE_URL",
            "AGENTDECK_OFFLINE_URL",
            "AGENTDECK_LAUNCH_CONCURRENCY",
            "AGENTDECK_RESEARCH_CONCURRENCY",
        ):
            env.pop(var, None)
        if setup.launch_slots is not None:
            env["AGENTDECK_LAUNCH_CONCURRENCY"] = str(setup.launch_slots)
        slots = [] if setup.research_slots is None else ["--concurrency", str(setup.research_slots)]
        self.stderr = (root / f"{name}.stderr").open("w")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tui.cli",
                "--db",
                db_url,
                "--offline",
                "worker",
                "--executor-id",
                name,
                *slots,
            ],
            cwd=root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
            start_new_session=True,
        )

    def wait_serving(self) -> None:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # the worker announces itself once DBOS is up
        if f"worker {self.name} serving" not in line:
            raise RuntimeError(f"worker {self.name} did not start: {line!r} ({self.proc.poll()})")

    def stop(self) -> None:
        """Killed with its CLIs and model server (its database is dropped next)."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=20)
        self.stderr.close()


async def queue_limits(sup: Supervisor) -> dict[str, int | None]:
    """The per-worker concurrency DBOS holds for each queue (what every worker reads per poll)."""
    out: dict[str, int | None] = {}
    for name in (LAUNCH_QUEUE, RESEARCH_QUEUE):
        q = await sup.client.retrieve_queue_async(name)
        out[name] = None if q is None else await q.get_worker_concurrency_async()
    return out


async def one_pass(
    server: PgServer, root: Path, name: str, setup: Setup, workers: int, runs: int, questions: int
) -> dict[str, Any]:
    peak: Counter[tuple[str, str]] = Counter()  # (queue, executor) → most PENDING at once
    with server.database() as db:
        procs = [Worker(db.url, f"w{k + 1}", root, setup) for k in range(workers)]
        try:
            for w in procs:
                await asyncio.to_thread(w.wait_serving)
            sup = Supervisor(db.url)
            await sup.connect()
            stop = asyncio.Event()
            approver = asyncio.create_task(approve_all(sup, stop))
            try:
                limits = await queue_limits(sup)
                pg0 = proc_cpu(server.postmaster_pid(), tree=True)
                w0 = sum(proc_cpu(w.proc.pid) for w in procs)
                m0 = machine_cpu()
                b0 = self_cpu()
                t0 = time.monotonic()
                ids = []
                for i in range(runs):
                    data = {"topic": f"{TOPIC} {name} {i}", "questions": questions}
                    ids.append((await sup.launch("research", data)).workflow_id)
                deadline = time.monotonic() + RUN_TIMEOUT_S
                while True:
                    pending = await sup.client.list_workflows_async(
                        status="PENDING", load_input=False, load_output=False
                    )
                    now = Counter((r.queue_name or "-", r.executor_id or "-") for r in pending)
                    for key, n in now.items():
                        peak[key] = max(peak[key], n)
                    rows = await sup.client.list_workflows_async(
                        workflow_ids=ids, load_input=False, load_output=False
                    )
                    if all(r.status not in ("PENDING", "ENQUEUED") for r in rows):
                        break
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"the runs did not finish within {RUN_TIMEOUT_S:g} s")
                    await asyncio.sleep(0.1)
                wall = time.monotonic() - t0
                m1 = machine_cpu()
                b1 = self_cpu()
                w1 = sum(proc_cpu(w.proc.pid) for w in procs)
                pg1 = proc_cpu(server.postmaster_pid(), tree=True)
                everything = await sup.list_workflows(limit=10_000)
            finally:
                stop.set()
                await approver
                await sup.close()
        finally:
            for w in procs:
                w.stop()
    by_executor = Counter(r.executor for r in everything if r.name == "research")
    children = Counter(r.executor for r in everything if r.name == "research.question")
    calls = runs * (questions + 2)
    ours = (w1 - w0) + (pg1 - pg0) + (b1 - b0)

    def most(queue: str) -> dict[str, int]:
        return {ex: n for (q, ex), n in sorted(peak.items()) if q == queue}

    return {
        "pass": name,
        "workers": workers,
        **setup.describe(),
        "queue_worker_concurrency": limits,
        "succeeded": sum(1 for r in rows if r.status == "SUCCESS"),
        "wall_s": round(wall, 2),
        "runs_per_min": round(runs * 60 / wall, 2),
        "runs_by_worker": dict(sorted(by_executor.items())),
        "questions_by_worker": dict(sorted(children.items())),
        "most_at_once": {"runs": most(LAUNCH_QUEUE), "questions": most(RESEARCH_QUEUE)},
        "cpu_s": {
            "workers_with_clis": round(w1 - w0, 2),
            "postgres": round(pg1 - pg0, 2) if server.data_dir is not None else None,
            "per_claude_call": round((w1 - w0) / calls, 3),
        },
        "machine_busy_pct": round(100 * (m1[0] - m0[0]) / max(1, m1[1] - m0[1]), 1),
        # what the bench itself used of the cores: workers, CLIs, PostgreSQL, this process
        "bench_busy_pct": round(100 * ours / (wall * (os.cpu_count() or 1)), 1),
    }


def spread(values: list[float]) -> dict[str, float]:
    return {
        "min": round(min(values), 2),
        "median": round(statistics.median(values), 2),
        "max": round(max(values), 2),
    }


def sums_up(passes: list[dict[str, Any]]) -> dict[str, Any]:
    """Runs/min min/median/max per worker count, the ratio of medians and per round."""
    rate = {k: [p["runs_per_min"] for p in passes if p["workers"] == k] for k in (1, 2)}
    busy = {k: [p["machine_busy_pct"] for p in passes if p["workers"] == k] for k in (1, 2)}
    ours = {k: [p["bench_busy_pct"] for p in passes if p["workers"] == k] for k in (1, 2)}
    one, two = statistics.median(rate[1]), statistics.median(rate[2])
    return {
        "runs_per_min": {"one_worker": round(one, 2), "two_workers": round(two, 2)},
        "runs_per_min_range": {"one_worker": spread(rate[1]), "two_workers": spread(rate[2])},
        "ratio_two_one": round(two / one, 3),
        "ratio_by_round": [round(b / a, 3) for a, b in zip(rate[1], rate[2], strict=True)],
        "machine_busy_pct": {"one_worker": spread(busy[1]), "two_workers": spread(busy[2])},
        "bench_busy_pct": {"one_worker": spread(ours[1]), "two_workers": spread(ours[2])},
    }


def describe(p: dict[str, Any], runs: int) -> str:
    c = p["cpu_s"]
    most = p["most_at_once"]
    return (
        f"  {p['workers']} worker(s): {p['succeeded']}/{runs} succeeded in {p['wall_s']} s: "
        f"{p['runs_per_min']} runs/min; machine busy {p['machine_busy_pct']}% "
        f"(this bench {p['bench_busy_pct']}%)\n"
        f"      finished runs by worker {p['runs_by_worker']}, questions "
        f"{p['questions_by_worker']}; most at once: runs {most['runs']}, questions "
        f"{most['questions']}\n"
        f"      CPU s: workers+CLIs {c['workers_with_clis']} ({c['per_claude_call']} per Claude "
        f"call), PostgreSQL {c['postgres']}"
    )


async def series(
    server: PgServer, root: Path, setup: Setup, rounds: int, runs: int, questions: int
) -> list[dict[str, Any]]:
    passes = []
    for r in range(rounds):
        for k in (1, 2):
            p = await one_pass(
                server, root, f"{setup.label}-{k}w-{r + 1}", setup, k, runs, questions
            )
            passes.append(p)
            print(describe(p, runs), flush=True)
    return passes


def _options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runs", type=int, default=None, help="research runs per pass (4)")
    p.add_argument("--questions", type=int, default=None, help="questions per run (2)")
    p.add_argument("--rounds", type=int, default=None, help="1-worker + 2-worker rounds (2)")
    p.add_argument(
        "--tps", type=float, default=None, help="offline model pacing, tokens/s (80; --quick: 0)"
    )
    p.add_argument("--slots", type=int, default=2, help="research questions per worker (2)")
    p.add_argument("--launch-slots", type=int, default=1, help="runs per worker at once (1)")
    p.add_argument(
        "--cpu-runs",
        type=int,
        default=0,
        help="runs per pass of a zero-pacing, no-launch-limit line, 1 round (0: none; try 8)",
    )


async def amain(args: argparse.Namespace) -> dict[str, Any]:
    runs = args.runs or (2 if args.quick else 4)
    questions = args.questions or (1 if args.quick else 2)
    rounds = args.rounds or (1 if args.quick else 2)
    cpu_runs = args.cpu_runs
    tps = args.tps if args.tps is not None else (0.0 if args.quick else 80.0)
    slots = Setup("slots", tps, args.slots, args.launch_slots)
    unpaced = Setup("cpu", 0.0, None, None)
    load0 = os.getloadavg()
    print(
        f"workers: research runs on PostgreSQL by agentdeck worker processes through the real "
        f"CLI; {os.cpu_count()} cores, load average {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}"
    )
    pacing = f"{tps:g} tokens/s" if tps > 0 else "zero pacing"
    print(
        f"slot-bound: {runs} runs x {questions} questions per pass, offline model at {pacing}, "
        f"per worker {args.launch_slots} run(s) and {args.slots} questions at once; "
        f"{rounds} round(s)"
    )
    cpu: dict[str, Any] | None = None
    with pg_server() as server, temp_dir("bench-workers") as root:
        passes = await series(server, root, slots, rounds, runs, questions)
        headline = sums_up(passes)
        m = headline["runs_per_min"]
        print(
            f"  runs/min, median: 1 worker {m['one_worker']}, 2 workers {m['two_workers']}; "
            f"ratio {headline['ratio_two_one']} (by round {headline['ratio_by_round']})",
            flush=True,
        )
        if cpu_runs > 0:
            print(
                f"CPU-bound: {cpu_runs} runs x {questions} questions per pass, zero pacing, "
                f"no launch limit, research queue at its default; 1 round"
            )
            cpu_passes = await series(server, root, unpaced, 1, cpu_runs, questions)
            cpu = {
                "runs": cpu_runs,
                **unpaced.describe(),
                "passes": cpu_passes,
                **sums_up(cpu_passes),
            }
            c = cpu["runs_per_min"]
            print(
                f"  runs/min: 1 worker {c['one_worker']}, 2 workers {c['two_workers']}; "
                f"ratio {cpu['ratio_two_one']}"
            )
        pg = {"server": server.where, "server_start_s": server.start_s}
    load1 = os.getloadavg()
    return {
        "runs": runs,
        "questions": questions,
        "rounds": rounds,
        "cores": os.cpu_count(),
        "load_avg": {"start": [round(x, 2) for x in load0], "end": [round(x, 2) for x in load1]},
        "pg": pg,
        **slots.describe(),
        "passes": passes,
        **headline,
        "cpu_bound": cpu,
    }


def main() -> int:
    args = parse_args(__doc__ or "", extra=_options)
    result = asyncio.run(amain(args))
    emit({"bench": "workers", "quick": args.quick, **result})
    return 0


if __name__ == "__main__":
    sys.exit(main())
