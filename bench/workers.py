"""Research runs completed per minute by ``agentdeck worker`` processes on PostgreSQL: 1 vs 2.

On one PostgreSQL server (a throwaway one, or ``$AGENTDECK_TEST_PG_URL``'s), each pass takes a
fresh database, starts K ``agentdeck --db URL --offline worker --executor-id wK`` processes (as
"Run at scale" in the README does; the offline model at zero pacing, ``AGENTDECK_OFFLINE_TPS=0``,
through the real Claude Code CLI, one offline server per worker), waits until they serve, then
launches N research runs of Q questions through the data layer (``Supervisor.launch``: enqueued
on the launch queue that every worker serves; N=8, Q=2; 2 and 1 with ``--quick``), approves each
plan as soon as it is asked, and times launch → every run finished. Passes: 1 worker, then 2
workers, R rounds (1). Counted per pass from ``/proc``: CPU seconds of the workers (with the CLI
processes they spawned and waited for), of the PostgreSQL server (the throwaway one), and the
whole machine's busy share of its cores, which is what bounds the figure on 2 cores.

Usage: ``python bench/workers.py [--quick] [--runs N] [--questions Q] [--rounds R]``
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
from pathlib import Path
from typing import Any

from benchkit import emit, parse_args, temp_dir
from benchkit.load import approve_all
from benchkit.pg import PgServer, pg_server

from tui.supervisor import Supervisor

TOPIC = "durable execution for long-running AI agents"
RUN_TIMEOUT_S = 300.0
CLK_TCK = os.sysconf("SC_CLK_TCK")


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


def machine_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of all cores, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    total = sum(fields[:8])
    return total - idle, total


class Worker:
    def __init__(self, db_url: str, name: str, root: Path) -> None:
        self.name = name
        env = dict(
            os.environ,
            AGENTDECK_OFFLINE_TPS="0",
            AGENTDECK_STATE_DIR=str(root / f"state-{name}"),
        )
        env.pop("DBOS_SYSTEM_DATABASE_URL", None)
        self.stderr = (root / f"{name}.stderr").open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tui.cli", "--db", db_url, "--offline", "worker",
             "--executor-id", name],
            cwd=root, env=env, stdout=subprocess.PIPE, stderr=self.stderr, text=True,
            start_new_session=True,
        )  # fmt: skip

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


async def one_pass(
    server: PgServer, root: Path, name: str, workers: int, runs: int, questions: int
) -> dict[str, Any]:
    with server.database() as db:
        procs = [Worker(db.url, f"w{k + 1}", root) for k in range(workers)]
        try:
            for w in procs:
                await asyncio.to_thread(w.wait_serving)
            sup = Supervisor(db.url)
            await sup.connect()
            stop = asyncio.Event()
            approver = asyncio.create_task(approve_all(sup, stop))
            try:
                pg0 = proc_cpu(server.postmaster_pid(), tree=True)
                w0 = sum(proc_cpu(w.proc.pid) for w in procs)
                m0 = machine_cpu()
                t0 = time.monotonic()
                ids = []
                for i in range(runs):
                    data = {"topic": f"{TOPIC} {name} {i}", "questions": questions}
                    ids.append((await sup.launch("research", data)).workflow_id)
                deadline = time.monotonic() + RUN_TIMEOUT_S
                while True:
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
    return {
        "pass": name,
        "workers": workers,
        "succeeded": sum(1 for r in rows if r.status == "SUCCESS"),
        "wall_s": round(wall, 2),
        "runs_per_min": round(runs * 60 / wall, 2),
        "runs_by_worker": dict(sorted(by_executor.items())),
        "questions_by_worker": dict(sorted(children.items())),
        "cpu_s": {
            "workers_with_clis": round(w1 - w0, 2),
            "postgres": round(pg1 - pg0, 2) if server.data_dir is not None else None,
            "per_claude_call": round((w1 - w0) / calls, 3),
        },
        "machine_busy_pct": round(100 * (m1[0] - m0[0]) / max(1, m1[1] - m0[1]), 1),
    }


def _options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runs", type=int, default=None, help="research runs per pass (8)")
    p.add_argument("--questions", type=int, default=None, help="questions per run (2)")
    p.add_argument("--rounds", type=int, default=None, help="1-worker + 2-worker rounds (1)")


async def amain(args: argparse.Namespace) -> dict[str, Any]:
    runs = args.runs or (2 if args.quick else 8)
    questions = args.questions or (1 if args.quick else 2)
    rounds = args.rounds or 1
    print(
        f"workers: {runs} research runs x {questions} questions per pass on PostgreSQL, "
        f"agentdeck worker processes, offline model at zero pacing through the real CLI; "
        f"{os.cpu_count()} cores"
    )
    passes = []
    with pg_server() as server, temp_dir("bench-workers") as root:
        for r in range(rounds):
            for k in (1, 2):
                p = await one_pass(server, root, f"{k}w-{r + 1}", k, runs, questions)
                passes.append(p)
                c = p["cpu_s"]
                print(
                    f"  {k} worker(s): {p['succeeded']}/{runs} succeeded in {p['wall_s']} s: "
                    f"{p['runs_per_min']} runs/min; runs by worker {p['runs_by_worker']}, "
                    f"questions {p['questions_by_worker']}; CPU s: workers+CLIs "
                    f"{c['workers_with_clis']} ({c['per_claude_call']} per Claude call), "
                    f"PostgreSQL {c['postgres']}; machine busy {p['machine_busy_pct']}%"
                )
        pg = {"server": server.where, "server_start_s": server.start_s}
    one = statistics.median(p["runs_per_min"] for p in passes if p["workers"] == 1)
    two = statistics.median(p["runs_per_min"] for p in passes if p["workers"] == 2)
    print(f"  runs/min, median: 1 worker {one:.2f}, 2 workers {two:.2f}; ratio {two / one:.2f}")
    return {
        "runs": runs,
        "questions": questions,
        "rounds": rounds,
        "cores": os.cpu_count(),
        "pg": pg,
        "passes": passes,
        "runs_per_min": {"one_worker": round(one, 2), "two_workers": round(two, 2)},
        "ratio_two_one": round(two / one, 3),
    }


def main() -> int:
    args = parse_args(__doc__ or "", extra=_options)
    result = asyncio.run(amain(args))
    emit({"bench": "workers", "quick": args.quick, **result})
    return 0


if __name__ == "__main__":
    sys.exit(main())
