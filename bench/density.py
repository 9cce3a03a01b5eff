"""Density of Claude steps: what one Claude step costs, and how many one worker holds at once.

Part 1, **the CLI** (in this process, no DBOS): the Claude step's own code (``run_claude``, the
bundled Claude Code CLI) against the offline server (a process of its own, unpaced: what is timed
is the CLI, not the model), K research calls:

* *cold*: each call starts its CLI with ``query()`` (what every step does by default);
* *start-up alone*: ``ClaudeSDKClient.connect()`` then ``disconnect()``: the CLI started and
  through its initialize handshake, no call;
* *reuse*: ``claude_cli_reuse`` (the default, ``workflows/cli_pool.py``): the first call starts a
  CLI, the next ones reuse it after ``/clear``; the CPU of the ``/clear`` is in the call's figure.

Per call: CPU seconds of the CLI (``getrusage(RUSAGE_CHILDREN)`` for the CLIs that exited, plus
the live CLI's ``/proc`` ticks), of this process (the SDK's side), wall time, and the CLI's peak
RSS (``VmHWM``, sampled every 20 ms). The reused calls' answers and input tokens are compared
with the cold calls': equal input tokens mean the model was sent the same single-turn request,
no earlier conversation.

Part 2, **one worker** (``agentdeck --db URL --offline worker --concurrency N``: the research
queue lets it run N research questions at once), for N = 1, 2, 4, 8, 16, ...: a fresh database
(PostgreSQL with ``--pg``: the scale-out setup; else SQLite), the offline server in a process of
its own paced at 80 tokens/s (``AGENTDECK_OFFLINE_URL``; its CPU is reported apart: in production
the model is elsewhere), ``ceil(N*W/10)`` research runs of up to 10 questions so each of the N
slots streams ~W questions in turn (``--waves`` W, 4), plans approved as they are asked. The
dashboard (``AgentDeckApp`` attached to the same database, under ``run_test``, 140x40, in this
process) shows the list while ``down``/``up`` keys go to it every ~250 ms; its frames are timed
(``benchkit.ui.FrameMeter``).

The window of a level runs from the first research request to the last one started (the queue
had work for every slot throughout). In it: streaming requests at once (from the offline
server's request log: mean and peak), Claude calls finished, CPU seconds of the worker process
(Python: DBOS, the SDK, the coalescer) and of its CLIs (``/proc``: the worker's reaped children
plus its live descendants), the machine's busy share, peak RSS of the worker and of its CLIs
together, the biggest CLI, and ``MemAvailable``. Per step: CPU seconds / calls finished; per
concurrent step: cores used / mean streaming. A level "holds" while the dashboard's frame p99
stays <= 50 ms and ``MemAvailable`` stays above 2 GiB; the levels stop after the first that does
not (or at ``--max-level``).

``--quick``: part 1 with 2 calls, part 2 with N = 1 and 2 and W = 1, both levels whatever
they show (about 50 s).
``--cold``: part 2's worker with ``AGENTDECK_CLAUDE_CLI_REUSE=0`` (a CLI per step); else reuse
with up to N+1 idle CLIs kept.
``--part cli|worker|both``. ``--all-levels``: go on past a level that does not hold.

Usage: ``python bench/density.py [--quick] [--pg] [--part P] [--levels 1,2,4] [--waves W]
[--calls K] [--cold] [--max-level N] [--all-levels]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchkit import emit, parse_args, quiet_logging, summary, temp_dir
from benchkit.load import approve_all, concurrency
from benchkit.procstat import CLK_TCK
from benchkit.ui import FrameMeter, KeyPresser, until

SIZE = (140, 40)
TOPIC = "durable execution for long-running AI agents"
CLI_MARK = b"_bundled/claude"
FRAME_P99_MS = 50.0
MIN_AVAILABLE_MB = 2048
LEVEL_TIMEOUT_S = 300.0
MODEL_TPS = 80.0


# -- /proc ---------------------------------------------------------------------------------------


def _stat(pid: int) -> list[str] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2 :].split()


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            out.extend(int(c) for c in task.read_text().split())
        except OSError:
            pass
    return out


def _status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _is_cli(pid: int) -> bool:
    try:
        return CLI_MARK in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def mem_available_mb() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 1024
    return math.nan


def machine_jiffies() -> tuple[int, int]:
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(fields[:8]) - fields[3] - fields[4], sum(fields[:8])


@dataclass(frozen=True)
class TreeSample:
    t: float  # time.time()
    own_ticks: int  # the root process: utime + stime
    tree_ticks: int  # the root with every child it reaped and every live descendant
    root_rss_kb: int
    cli_rss_kb: int  # live CLIs together
    clis: int
    cli_hwm_kb: int  # the biggest live CLI's peak


def tree_sample(root: int, exclude: set[int] | None = None) -> TreeSample:
    own = tree = rss = clis = hwm = 0
    f = _stat(root)
    if f is not None:
        own = int(f[11]) + int(f[12])
        tree = own + int(f[13]) + int(f[14])
    todo = [c for c in _children(root) if c not in (exclude or ())]
    while todo:
        p = todo.pop()
        f = _stat(p)
        if f is None:
            continue
        tree += int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
        if _is_cli(p) and f[0] != "Z":
            clis += 1
            rss += _status_kb(p, "VmRSS")
            hwm = max(hwm, _status_kb(p, "VmHWM"))
        todo.extend(_children(p))
    return TreeSample(time.time(), own, tree, _status_kb(root, "VmRSS"), rss, clis, hwm)


class TreeSampler(threading.Thread):
    """A process tree every ``every`` s (a thread: a busy event loop cannot delay it)."""

    def __init__(self, root: int, every: float, exclude: set[int] | None = None) -> None:
        super().__init__(daemon=True, name="density-sampler")
        self.root, self.every, self.exclude = root, every, exclude or set()
        self.samples: list[TreeSample] = []
        self.min_available_mb = math.inf
        self._halt = threading.Event()

    def run(self) -> None:
        while True:
            self.samples.append(tree_sample(self.root, self.exclude))
            self.min_available_mb = min(self.min_available_mb, mem_available_mb())
            if self._halt.wait(self.every):
                break

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=10)

    def between(self, t0: float, t1: float) -> list[TreeSample]:
        return [s for s in self.samples if t0 <= s.t <= t1]


# -- the offline model in a process of its own -------------------------------------------------


class ModelServer:
    def __init__(self, tps: float, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.stderr = (root / "model.stderr").open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "workflows.model_offline", "--port", "0", "--tps", f"{tps:g}"],
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("listening on "):
            raise RuntimeError(f"offline server did not start: {line!r}")
        self.url = line.removeprefix("listening on ").strip()

    def cpu_s(self) -> float:
        f = _stat(self.proc.pid)
        return 0.0 if f is None else (int(f[11]) + int(f[12])) / CLK_TCK

    def requests(self) -> list[dict[str, Any]]:
        import urllib.request

        with urllib.request.urlopen(f"{self.url}/_agentdeck/requests", timeout=30) as r:
            data = json.loads(r.read())
        return [d for d in data if d.get("task")]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.stderr.close()


# -- part 1: the CLI ---------------------------------------------------------------------------


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _self_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class CliMeter:
    """CPU of this process's CLIs (reaped and live) and the biggest CLI's peak RSS."""

    def __init__(self, exclude: set[int]) -> None:
        self.exclude = exclude
        self.peak_kb = 0
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="cli-meter")

    def _run(self) -> None:
        while not self._halt.wait(0.02):
            self.peak_kb = max(self.peak_kb, tree_sample(os.getpid(), self.exclude).cli_hwm_kb)

    def __enter__(self) -> CliMeter:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._halt.set()
        self._thread.join(timeout=5)

    def cli_cpu(self) -> float:
        s = tree_sample(os.getpid(), self.exclude)
        live = (s.tree_ticks - s.own_ticks) / CLK_TCK  # includes reaped children
        return live


async def cli_part(calls_n: int, root: Path) -> dict[str, Any]:
    from claude_agent_sdk import ClaudeSDKClient

    from workflows import cli_pool
    from workflows.claude import Endpoint, _options, configure_endpoint, run_claude
    from workflows.model_offline import OFFLINE_MODEL_LABEL, offline_env
    from workflows.models import DEFAULT_MODEL, ClaudeResult
    from workflows.prompts import research_call

    server = ModelServer(0, root / "model-cli")
    home = root / "cli-home"
    home.mkdir(parents=True, exist_ok=True)
    ep = Endpoint(
        label=OFFLINE_MODEL_LABEL,
        offline=True,
        env=offline_env(server.url, str(home)),
        cwd=str(home),
    )
    configure_endpoint(ep)
    calls = [
        research_call(
            TOPIC, f"What does question {i + 1} of the density bench ask?", model=DEFAULT_MODEL
        )
        for i in range(calls_n)
    ]
    out: dict[str, Any] = {}
    try:
        with CliMeter({server.proc.pid}) as meter:

            async def measure(label: str, one: Any) -> list[dict[str, Any]]:
                rows = []
                for i, call in enumerate(calls):
                    meter.peak_kb = 0
                    c0, s0, t0 = meter.cli_cpu(), _self_cpu(), time.monotonic()
                    res = await one(call)
                    rows.append(
                        {
                            "cli_cpu_s": round(meter.cli_cpu() - c0, 3),
                            "sdk_cpu_s": round(_self_cpu() - s0, 3),
                            "wall_s": round(time.monotonic() - t0, 3),
                            "cli_peak_rss_mb": round(meter.peak_kb / 1024, 1),
                            "result": res,
                        }
                    )
                    print(
                        f"    {label} {i + 1}: CLI {rows[-1]['cli_cpu_s']:.2f} CPU-s, "
                        f"SDK {rows[-1]['sdk_cpu_s']:.2f}, wall {rows[-1]['wall_s']:.2f} s, "
                        f"CLI peak RSS {rows[-1]['cli_peak_rss_mb']} MiB",
                        flush=True,
                    )
                return rows

            async def cold(call: Any) -> ClaudeResult:
                return await run_claude(call, step_name="research")

            async def startup(call: Any) -> None:
                client = ClaudeSDKClient(_options(call, ep))
                await client.connect()
                await client.disconnect()

            os.environ["AGENTDECK_CLAUDE_CLI_REUSE"] = "0"
            print("  cold: a CLI per call (query())", flush=True)
            cold_rows = await measure("cold", cold)
            print("  start-up alone: connect() + disconnect()", flush=True)
            start_rows = await measure("start-up", startup)
            os.environ["AGENTDECK_CLAUDE_CLI_REUSE"] = "1"
            print("  reuse: one CLI kept, /clear between calls", flush=True)
            warm_rows = await measure("reuse", cold)
            stats = cli_pool.all_stats()
            await asyncio.to_thread(cli_pool.close_all)
    finally:
        server.close()

    def figures(rows: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "cli_cpu_s": summary([r["cli_cpu_s"] for r in rows], digits=3),
            "sdk_cpu_s": summary([r["sdk_cpu_s"] for r in rows], digits=3),
            "wall_s": summary([r["wall_s"] for r in rows], digits=3),
            "cli_peak_rss_mb": summary([r["cli_peak_rss_mb"] for r in rows], digits=1),
        }

    pairs = list(zip(cold_rows, warm_rows, strict=True))
    out = {
        "calls": calls_n,
        "cold": figures(cold_rows),
        "startup_alone": figures(start_rows),
        "reuse_first": figures(warm_rows[:1]),
        "reuse_next": figures(warm_rows[1:]) if len(warm_rows) > 1 else None,
        # The same answer as a CLI of its own gave; the request's size (input tokens) differs
        # by what /clear leaves in the new conversation (its command record), if anything.
        "reuse_same_text": all(a["result"].text == b["result"].text for a, b in pairs),
        "reuse_extra_input_tokens": [
            b["result"].usage.input_tokens - a["result"].usage.input_tokens for a, b in pairs
        ],
        "reuse_pool": {"started": stats.started, "reused": stats.reused},
    }
    return out


# -- part 2: one worker ------------------------------------------------------------------------


@dataclass
class Level:
    n: int
    runs: int
    questions: int
    figures: dict[str, Any] = field(default_factory=dict)


class Worker:
    def __init__(self, db_url: str, model_url: str, slots: int, root: Path, reuse: bool) -> None:
        env = dict(os.environ)
        for var in ("DBOS_SYSTEM_DATABASE_URL", "AGENTDECK_LAUNCH_CONCURRENCY"):
            env.pop(var, None)
        env.update(
            AGENTDECK_OFFLINE_URL=model_url,
            AGENTDECK_STATE_DIR=str(root / "worker-state"),
            AGENTDECK_LAUNCH_RATE="off",
            AGENTDECK_CLAUDE_CLI_REUSE="1" if reuse else "0",
            AGENTDECK_CLAUDE_CLI_IDLE=str(slots + 1),
        )
        root.mkdir(parents=True, exist_ok=True)
        self.stderr = (root / "worker.stderr").open("w")
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
                "density",
                "--concurrency",
                str(slots),
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
        line = self.proc.stdout.readline()
        if "serving" not in line:
            raise RuntimeError(f"the worker did not start: {line!r} ({self.proc.poll()})")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=20)
        self.stderr.close()


def plan_level(n: int, waves: int) -> Level:
    total = n * waves
    runs = math.ceil(total / 10)
    return Level(n=n, runs=runs, questions=math.ceil(total / runs))


async def run_level(
    level: Level, db_url: str, root: Path, reuse: bool, model: ModelServer
) -> dict[str, Any]:
    from tui.app import AgentDeckApp
    from tui.supervisor import Supervisor
    from tui.widgets.workflow_table import WorkflowTable

    worker = Worker(db_url, model.url, level.n, root / f"level-{level.n}", reuse)
    sampler: TreeSampler | None = None
    meter = FrameMeter()
    presser: KeyPresser | None = None
    sup = Supervisor(db_url)
    stop = asyncio.Event()
    before = len(model.requests())
    try:
        await asyncio.to_thread(worker.wait_serving)
        await sup.connect()
        base = tree_sample(worker.proc.pid)
        sampler = TreeSampler(worker.proc.pid, 0.1)
        sampler.start()
        app = AgentDeckApp(Supervisor(db_url), mode="attach")
        async with app.run_test(size=SIZE):
            await until(lambda: app.connected, 30, "the app to connect")
            table: Any = app.screen.query_one(WorkflowTable)
            meter.install()
            approver = asyncio.create_task(approve_all(sup, stop))
            jiffies0 = machine_jiffies()
            model_cpu0, self_cpu0 = model.cpu_s(), _self_cpu()
            tree0 = tree_sample(worker.proc.pid)
            t_launch = time.time()
            ids = []
            for i in range(level.runs):
                data = {"topic": f"{TOPIC} {i}", "questions": level.questions}
                ids.append((await sup.launch("research", data)).workflow_id)
            await until(lambda: table.row_count >= 1, 60, "the list")
            meter.probe = lambda: table.cursor_row
            presser = KeyPresser(app, row=lambda: table.cursor_row, rows=lambda: table.row_count)
            presser.start()
            deadline = time.monotonic() + LEVEL_TIMEOUT_S
            while True:
                rows = await sup.client.list_workflows_async(
                    workflow_ids=ids, load_input=False, load_output=False
                )
                if all(str(r.status) not in ("PENDING", "ENQUEUED") for r in rows):
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"level {level.n}: runs unfinished after {LEVEL_TIMEOUT_S} s"
                    )
                await asyncio.sleep(0.5)
            t_done = time.time()
            await presser.stop()
            meter.uninstall()
            jiffies1 = machine_jiffies()
            model_cpu, self_cpu = model.cpu_s() - model_cpu0, _self_cpu() - self_cpu0
            tree1 = tree_sample(worker.proc.pid)
            stop.set()
            approved = await approver
        sampler.stop()
        statuses = [str(r.status) for r in rows]
    finally:
        stop.set()
        if presser is not None:
            await presser.stop()
        meter.uninstall()
        if sampler is not None and sampler.is_alive():
            sampler.stop()
        await sup.close()
        worker.stop()

    reqs = model.requests()[before:]
    research = [r for r in reqs if r["task"] == "research"]
    t0 = min(r["started"] for r in research)
    t1 = max(r["started"] for r in research)
    if t1 - t0 < 2.0:  # a slot or two, one wave: the window is the research calls themselves
        t1 = max(r["ended"] or t_done for r in research)
    spans = [(r["started"], r["ended"] or t_done) for r in reqs]
    in_window = concurrency(spans, t0, t1)
    finished = [r for r in reqs if r["ended"] is not None and t0 <= r["ended"] <= t1]
    samples = sampler.between(t0, t1) if t1 > t0 else []
    all_samples = sampler.samples
    figures: dict[str, Any] = {
        "n": level.n,
        "runs": level.runs,
        "questions": level.questions,
        "succeeded": statuses.count("SUCCESS"),
        "approved": approved,
        "claude_calls": len(reqs),
        "cli_sessions": len({r["session"] for r in reqs}),
        "seconds": round(t_done - t_launch, 1),
        "window_s": round(t1 - t0, 1),
        "streaming": in_window,
        "calls_finished_in_window": len(finished),
        "machine_busy_pct": round(
            100.0 * (jiffies1[0] - jiffies0[0]) / max(1, jiffies1[1] - jiffies0[1]), 1
        ),
        "model_server_cpu_s": round(model_cpu, 1),
        "dashboard_cpu_s": round(self_cpu, 1),
        "worker_tree_cpu_s": round((tree1.tree_ticks - tree0.tree_ticks) / CLK_TCK, 1),
        # The cores busy with other work than this bench's (a shared machine), on average.
        "others_cores": round(
            (jiffies1[0] - jiffies0[0]) / CLK_TCK / max(1e-9, t_done - t_launch)
            - ((tree1.tree_ticks - tree0.tree_ticks) / CLK_TCK + model_cpu + self_cpu)
            / max(1e-9, t_done - t_launch),
            2,
        ),
        "worker_idle_rss_mb": round(base.root_rss_kb / 1024, 1),
        "peak_worker_rss_mb": round(max(s.root_rss_kb for s in all_samples) / 1024, 1),
        "peak_tree_rss_mb": round(max(s.root_rss_kb + s.cli_rss_kb for s in all_samples) / 1024, 1),
        "peak_clis": max(s.clis for s in all_samples),
        "biggest_cli_mb": round(max(s.cli_hwm_kb for s in all_samples) / 1024, 1),
        "min_available_mb": round(sampler.min_available_mb),
    }
    if len(samples) >= 2 and finished:
        a, b = samples[0], samples[-1]
        wall = b.t - a.t
        worker_cpu = (b.own_ticks - a.own_ticks) / CLK_TCK
        tree_cpu = (b.tree_ticks - a.tree_ticks) / CLK_TCK
        calls = len(finished) * wall / max(1e-9, t1 - t0)
        figures.update(
            {
                "cpu_s_per_step": round(tree_cpu / calls, 3),
                "cli_cpu_s_per_step": round((tree_cpu - worker_cpu) / calls, 3),
                "worker_cpu_s_per_step": round(worker_cpu / calls, 3),
                "cores_used": round(tree_cpu / wall, 2),
                "cores_per_streaming_step": round(tree_cpu / wall / max(0.1, in_window["mean"]), 3),
                "rss_mb_per_streaming_step": round(
                    (figures["peak_tree_rss_mb"] - figures["worker_idle_rss_mb"])
                    / max(1, in_window["peak"]),
                    1,
                ),
            }
        )
    frames = meter.between(t_launch, t_done, "WorkflowsScreen")
    keys, missed = presser.latencies(frames, t_done) if presser is not None else ([], 0)
    figures["frame_ms"] = summary([f.duration for f in frames], scale=1000.0, digits=1)
    figures["key_to_frame_ms"] = {
        **summary([d for _, d in keys], scale=1000.0, digits=1),
        "missed": missed,
    }
    p99 = figures["frame_ms"]["p99"]
    figures["holds"] = (
        p99 is not None
        and p99 <= FRAME_P99_MS
        and figures["min_available_mb"] >= MIN_AVAILABLE_MB
        and figures["succeeded"] == level.runs
    )
    return figures


async def worker_part(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    levels: list[dict[str, Any]] = []
    model = ModelServer(MODEL_TPS, root / "model-worker")
    try:
        with ExitStack() as stack:
            server = None
            if args.pg:
                from benchkit.pg import pg_server

                server = stack.enter_context(pg_server())
            for n in args.levels:
                if args.max_level and n > args.max_level:
                    break
                level = plan_level(n, args.waves)
                with ExitStack() as db_stack:
                    if server is not None:
                        db = db_stack.enter_context(server.database("agentdeck_density"))
                        db_url = db.url
                    else:
                        db_url = f"sqlite:///{root / f'density-{n}.sqlite'}"
                    load = os.getloadavg()
                    print(
                        f"  N={n}: {level.runs} runs x {level.questions} questions "
                        f"(load average {load[0]:.2f})",
                        flush=True,
                    )
                    f = await run_level(level, db_url, root, not args.cold, model)
                f["load_before"] = round(load[0], 2)
                levels.append(f)
                print(
                    f"    streaming mean {f['streaming']['mean']} peak {f['streaming']['peak']}, "
                    f"{f.get('cpu_s_per_step', '?')} CPU-s/step (CLI "
                    f"{f.get('cli_cpu_s_per_step', '?')}, worker "
                    f"{f.get('worker_cpu_s_per_step', '?')}), cores {f.get('cores_used', '?')}, "
                    f"machine busy {f['machine_busy_pct']}% (others' {f['others_cores']} cores), "
                    f"peak RSS {f['peak_tree_rss_mb']} MiB "
                    f"({f['peak_clis']} CLIs, biggest {f['biggest_cli_mb']} MiB), frames p99 "
                    f"{f['frame_ms']['p99']} ms, keys p99 {f['key_to_frame_ms']['p99']} ms, "
                    f"holds: {f['holds']}",
                    flush=True,
                )
                if not f["holds"] and not (args.quick or args.all_levels):
                    break
                if f["min_available_mb"] < MIN_AVAILABLE_MB:
                    break
    finally:
        model.close()
    held = []
    for f in levels:  # the levels held before the first that was not
        if not f["holds"]:
            break
        held.append(f["n"])
    return {
        "database": "PostgreSQL" if args.pg else "SQLite",
        "reuse": not args.cold,
        "waves": args.waves,
        "tps": MODEL_TPS,
        "levels": levels,
        "most_held": max(held) if held else 0,
        "most_streaming_held": max(
            (f["streaming"]["mean"] for f in levels if f["n"] in held), default=0
        ),
    }


def _options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--part", choices=("cli", "worker", "both"), default="both")
    p.add_argument("--levels", default=None, help="comma-separated concurrencies (1,2,4,...,64)")
    p.add_argument("--waves", type=int, default=None, help="questions per slot (4)")
    p.add_argument("--calls", type=int, default=None, help="part 1: calls per mode (8)")
    p.add_argument("--cold", action="store_true", help="part 2: claude_cli_reuse off")
    p.add_argument("--max-level", type=int, default=0, help="stop after this concurrency")
    p.add_argument(
        "--all-levels",
        action="store_true",
        help="go on past a level that does not hold (a shared machine's noise); not past memory",
    )


async def amain(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {"load_average": [round(x, 2) for x in os.getloadavg()]}
    print(f"density: load average {out['load_average']}", flush=True)
    with temp_dir("bench-density") as root:
        quiet_logging(root / "state")
        if args.part in ("cli", "both"):
            print(f"part 1: the CLI, {args.calls} research calls per mode, unpaced", flush=True)
            out["cli"] = await cli_part(args.calls, root)
            c = out["cli"]
            print(
                f"  cold {c['cold']['cli_cpu_s']['p50']} CLI CPU-s/call (+ SDK "
                f"{c['cold']['sdk_cpu_s']['p50']}), start-up alone "
                f"{c['startup_alone']['cli_cpu_s']['p50']} CPU-s / "
                f"{c['startup_alone']['wall_s']['p50']} s, reused "
                f"{(c['reuse_next'] or c['reuse_first'])['cli_cpu_s']['p50']} CPU-s/call; "
                f"same answers as cold: {c['reuse_same_text']}, extra input tokens "
                f"{c['reuse_extra_input_tokens']}",
                flush=True,
            )
        if args.part in ("worker", "both"):
            print(
                f"part 2: one worker, N = {args.levels}, {args.waves} questions per slot, "
                f"{'PostgreSQL' if args.pg else 'SQLite'}, reuse {'off' if args.cold else 'on'}",
                flush=True,
            )
            out["worker"] = await worker_part(args, root)
            w = out["worker"]
            print(
                f"  most concurrent streaming steps held: N={w['most_held']} "
                f"(mean streaming {w['most_streaming_held']})",
                flush=True,
            )
    return out


def main() -> int:
    args = parse_args(__doc__ or "", pg=True, extra=_options)
    if args.levels:
        args.levels = [int(x) for x in args.levels.split(",")]
    else:
        args.levels = [1, 2] if args.quick else [1, 2, 4, 8, 16, 32, 64]
    args.waves = args.waves or (1 if args.quick else 4)
    args.calls = args.calls or (2 if args.quick else 8)
    r = asyncio.run(amain(args))
    emit({"bench": "density", "quick": args.quick, **r})
    return 0


if __name__ == "__main__":
    sys.exit(main())
