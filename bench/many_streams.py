"""50 research runs streaming at once on SQLite: DB stream writes/s, frame time, key → repaint.

R research runs (50; 4 with ``--quick``) of Q questions each (2; 1) run on a temporary SQLite file
with the research queue's concurrency set to R (``AGENTDECK_RESEARCH_CONCURRENCY``), so once the
plans are approved R Claude calls stream at once until the questions run out, then the syntheses.
Plans are approved as soon as they are asked (``benchkit.load.approve_all``, through the data
layer). Claude is the offline model through the in-process SDK transport, paced at 80 tokens/s per
call (``benchkit.load.PacedTransport``): the SDK's real protocol and parsing, the Claude step's real
coalescer and DBOS stream writes, but no CLI process per call (50 Claude Code CLIs do not fit on 2
cores next to the dashboard).

The real dashboard (``AgentDeckApp`` under ``App.run_test``, 140x40) shows, in one pass, the
workflow list and, in another, with fresh runs, the detail of one run (its output pane follows its
streams). Two ways to run the load, each with both screens:

* ``embedded``: the runs execute in the dashboard's own process (its runtime), as plain
  ``agentdeck`` runs them: the 50 streams' SDK parsing and DBOS writes share the GIL with the UI;
* ``attach``: the runs execute in a separate process (this script with ``--load``), as with
  ``agentdeck worker``; the dashboard only reads the database.

Every ~250 ms a ``down``/``up`` key goes through the driver to the focused table (the list / the
timeline). Recorded, as in ``screen_latency.py`` (``benchkit.ui.FrameMeter``):

* every screen update's duration (frame time), and key press → end of the first frame showing
  the moved cursor;
* every stream entry's ``ts`` (read back from DBOS's ``streams`` table at the end): DB stream
  writes per second, overall and per stream;
* when each Claude call streamed: how many streamed at once (mean, peak), and the figures again
  for the time when at least 80% of R streamed at once ("busy").

``--quick`` runs the list embedded and the detail attached.

Usage: ``python bench/many_streams.py [--quick] [--runs R] [--questions Q] [--tps T]
[--screen list|detail|both] [--mode embedded|attach|both]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchkit import emit, parse_args, quiet_logging, summary, temp_dir
from benchkit.load import StreamLog, approve_all, concurrency, paced_factory, research_runtime
from benchkit.ui import Frame, FrameMeter, KeyPresser, LoopLag, until

from tui.supervisor import Supervisor

if TYPE_CHECKING:
    from workflows.runtime import Runtime

SIZE = (140, 40)
#: The load process's settings (never a URL on a command line).
ENV_URL, ENV_STATE = "BENCH_LOAD_DB_URL", "BENCH_LOAD_STATE"
TOPIC = "durable execution for long-running AI agents"
RUN_TIMEOUT_S = 180.0
#: "Busy": at least this share of the runs streaming at once.
BUSY = 0.8


def full_load(spans: list[tuple[float, float]], level: int) -> list[tuple[float, float]]:
    """The intervals during which at least ``level`` calls streamed at once."""
    edges = sorted([(a, 1) for a, _ in spans] + [(b, -1) for _, b in spans])
    out: list[tuple[float, float]] = []
    open_, since = 0, 0.0
    for t, step in edges:
        before = open_
        open_ += step
        if before < level <= open_:
            since = t
        elif open_ < level <= before and t > since:
            out.append((since, t))
    return out


def inside(t: float, intervals: list[tuple[float, float]]) -> bool:
    return any(a <= t <= b for a, b in intervals)


def per_second(stamps: list[float], t0: float, t1: float) -> list[int]:
    """Entries per whole second from ``t0`` (the last, partial second dropped)."""
    bins = [0] * max(1, int(t1 - t0))
    for t in stamps:
        i = int(t - t0)
        if 0 <= i < len(bins):
            bins[i] += 1
    return bins


async def all_stamps(sup: Supervisor) -> list[float]:
    """``ts`` of every stream entry of every workflow in the database."""
    ids = [r.workflow_id for r in await sup.list_workflows(limit=100_000)]
    offsets = dict.fromkeys(ids, 0)
    stamps: list[float] = []
    while offsets:
        progressed = {}
        for b in await sup.read_streams(offsets):
            stamps.extend(c.ts for c in b.chunks)
            if b.next_offset > offsets[b.workflow_id] and not b.closed:
                progressed[b.workflow_id] = b.next_offset
        offsets = progressed
    return stamps


async def launch_runs(sup: Supervisor, runs: int, questions: int) -> list[str]:
    ids = []
    for i in range(runs):
        data = {"topic": f"{TOPIC} {i}", "questions": questions}
        ids.append((await sup.launch("research", data)).workflow_id)
    return ids


async def statuses(sup: Supervisor, ids: list[str]) -> list[str]:
    rows = await sup.client.list_workflows_async(
        workflow_ids=ids, load_input=False, load_output=False
    )
    return [str(r.status) for r in rows]


async def wait_finished(sup: Supervisor, ids: list[str]) -> None:
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while any(s in ("PENDING", "ENQUEUED") for s in await statuses(sup, ids)):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the runs did not finish within {RUN_TIMEOUT_S:g} s")
        await asyncio.sleep(0.5)


def _runtime(db_url: str, state: Path, runs: int, tps: float, log: StreamLog) -> Runtime:
    return research_runtime(
        db_url, state, transport_factory=paced_factory(tps, log), research_concurrency=runs
    )


class Load:
    """The runs, in this process (embedded: the dashboard's own runtime runs them)."""

    def __init__(self, db_url: str, state: Path, runs: int, questions: int, tps: float) -> None:
        self.db_url, self.runs, self.questions = db_url, runs, questions
        self.log = StreamLog()
        self.runtime: Runtime | None = _runtime(db_url, state, runs, tps, self.log)
        self.state = state
        self.sup = Supervisor(db_url)
        self.stop = asyncio.Event()
        self.approver: asyncio.Task[int] | None = None
        self.ids: list[str] = []
        self.approved = 0
        self.spans: list[tuple[float, float]] = []
        self.statuses: list[str] = []

    async def start(self) -> None:
        assert self.runtime is not None
        await asyncio.to_thread(self.runtime.launch)
        quiet_logging(self.state)
        await self.sup.connect()

    async def go(self) -> None:
        self.approver = asyncio.create_task(approve_all(self.sup, self.stop))
        self.ids = await launch_runs(self.sup, self.runs, self.questions)

    async def finish(self) -> None:
        await wait_finished(self.sup, self.ids)
        self.stop.set()
        assert self.approver is not None
        self.approved = await self.approver
        self.statuses = await statuses(self.sup, self.ids)
        self.spans = list(self.log.spans)

    async def close(self) -> None:
        self.stop.set()
        if self.approver is not None and not self.approver.done():
            self.approver.cancel()
        await self.sup.close()
        if self.runtime is not None:
            await asyncio.to_thread(self.runtime.shutdown)  # done already if the app unmounted


class ChildLoad(Load):
    """The runs in a separate process (this script with ``--load``): the dashboard attaches."""

    def __init__(self, db_url: str, state: Path, runs: int, questions: int, tps: float) -> None:
        self.db_url, self.runs, self.questions = db_url, runs, questions
        self.runtime = None
        self.sup = Supervisor(db_url)
        self.ids, self.approved, self.spans, self.statuses = [], 0, [], []
        state.mkdir(parents=True, exist_ok=True)
        self.stderr = (state / "load.stderr").open("w")
        env = dict(os.environ, **{ENV_URL: db_url, ENV_STATE: str(state)})
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--load",
                "--runs",
                str(runs),
                "--questions",
                str(questions),
                "--tps",
                str(tps),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            env=env,
            text=True,
        )

    async def _line(self, word: str, within: float = RUN_TIMEOUT_S) -> str:
        assert self.proc.stdout is not None
        stdout = self.proc.stdout
        line = await asyncio.wait_for(asyncio.to_thread(stdout.readline), within)
        if not line.startswith(word):
            raise RuntimeError(f"load process: {line!r} instead of {word!r} ({self.proc.poll()})")
        return line[len(word) :].strip()

    async def start(self) -> None:
        await self._line("ready", 60)
        await self.sup.connect()

    async def go(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        self.ids = json.loads(await self._line("launched", 60))

    async def finish(self) -> None:
        done = json.loads(await self._line("done"))
        self.approved, self.statuses = done["approved"], done["statuses"]
        self.spans = [(a, b) for a, b in done["spans"]]

    async def close(self) -> None:
        await self.sup.close()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)
        self.stderr.close()


async def load_main(args: argparse.Namespace) -> int:
    """``--load``: run the load, lines on stdout; ``go`` on stdin launches the runs."""
    load = Load(
        os.environ[ENV_URL], Path(os.environ[ENV_STATE]), args.runs, args.questions, args.tps
    )
    try:
        await load.start()
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        await load.go()
        print(f"launched {json.dumps(load.ids)}", flush=True)
        await load.finish()
        done = {"approved": load.approved, "statuses": load.statuses, "spans": load.spans}
        print(f"done {json.dumps(done)}", flush=True)
    finally:
        await load.close()
    return 0


async def one_pass(
    root: Path, screen: str, mode: str, runs: int, questions: int, tps: float
) -> dict[str, Any]:
    from tui.app import AgentDeckApp
    from tui.screens.detail import DetailScreen
    from tui.widgets.timeline import Timeline
    from tui.widgets.workflow_table import WorkflowTable

    name = f"{screen}-{mode}"
    db_url = f"sqlite:///{root / f'many-{name}.sqlite'}"
    kind = ChildLoad if mode == "attach" else Load
    load = kind(db_url, root / f"state-{name}", runs, questions, tps)
    meter = FrameMeter()
    meter.install()
    lag = LoopLag()
    presser: KeyPresser | None = None
    try:
        await load.start()
        app = AgentDeckApp(Supervisor(db_url), runtime=load.runtime, mode=mode)
        async with app.run_test(size=SIZE):
            await until(lambda: app.connected, 30, "the app to connect")
            t_launch = time.time()
            await load.go()
            launch_s = time.time() - t_launch
            if screen == "detail":
                app.open_run(load.ids[0])
                await until(
                    lambda: isinstance(app.screen, DetailScreen) and app.screen.query(Timeline),
                    10,
                    "the detail screen",
                )
                table: Any = app.screen.query_one(Timeline)
                await until(lambda: table.row_count >= 2, 60, "the timeline")
            else:
                table = app.screen.query_one(WorkflowTable)
                await until(lambda: table.row_count >= runs, 60, "the list")
            meter.probe = lambda: table.cursor_row
            presser = KeyPresser(app, row=lambda: table.cursor_row, rows=lambda: table.row_count)
            t_start = time.time()
            lag.start()
            presser.start()
            await load.finish()
            await presser.stop()
            t_end = time.time()
            await lag.stop()
        stamps = await all_stamps(load.sup)
    finally:
        if presser is not None:
            await presser.stop()
        meter.uninstall()
        await load.close()

    screen_name = "DetailScreen" if screen == "detail" else "WorkflowsScreen"
    frames = meter.between(t_start, t_end, screen_name)
    keys, missed = presser.latencies(frames, t_end)
    spans = load.spans
    s0 = min(a for a, _ in spans)
    s1 = max(b for _, b in spans)
    level = max(1, round(BUSY * runs))
    full = full_load(spans, level)
    full_s = sum(b - a for a, b in full)

    def frame_ms(fs: list[Frame]) -> dict[str, Any]:
        return summary([f.duration for f in fs], scale=1000.0, digits=1)

    def key_ms(pairs: list[tuple[float, float]]) -> dict[str, Any]:
        return summary([d for _, d in pairs], scale=1000.0, digits=1)

    load_frames = [f for f in frames if s0 <= f.start <= s1]
    full_frames = [f for f in frames if inside(f.start, full)]
    in_load = [s for s in stamps if s0 <= s <= s1]
    in_full = [s for s in stamps if inside(s, full)]
    busy = concurrency(spans, s0, s1)
    bins = per_second(stamps, s0, s1)
    return {
        "screen": screen,
        "mode": mode,
        "runs": runs,
        "questions": questions,
        "succeeded": load.statuses.count("SUCCESS"),
        "approved": load.approved,
        "launch_s": round(launch_s, 2),
        "claude_calls": len(spans),
        "streaming_s": round(s1 - s0, 1),
        "streams_at_once": busy,
        "busy_level": level,
        "busy_s": round(full_s, 1),
        "stream_writes": {
            "total": len(stamps),
            "per_s_while_streaming": round(len(in_load) / max(1e-9, s1 - s0), 1),
            "per_stream_per_s": round(len(in_load) / max(1e-9, s1 - s0) / busy["mean"], 2)
            if busy["mean"]
            else None,
            "per_s_busy": round(len(in_full) / full_s, 1) if full_s else None,
            "per_1s_window": summary(bins, digits=0),
        },
        "frames": {
            "n": len(load_frames),
            "per_s": round(len(load_frames) / max(1e-9, s1 - s0), 1),
            "duration_ms": frame_ms(load_frames),
            # Milliseconds per second spent in frames: the UI thread's rendering load.
            "ms_per_s": round(1000 * sum(f.duration for f in load_frames) / max(1e-9, s1 - s0)),
            "duration_ms_busy": frame_ms(full_frames),
        },
        "keypress_ms": {
            **key_ms([k for k in keys if s0 <= k[0] <= s1]),
            "busy": key_ms([k for k in keys if inside(k[0], full)]),
            "presses": len(presser.presses),
            "missed": missed,
        },
        "loop_lag_ms": summary(lag.lags, scale=1000.0, digits=1),
    }


def _options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runs", type=int, default=None, help="research runs at once (50)")
    p.add_argument("--questions", type=int, default=None, help="questions per run (2)")
    p.add_argument("--tps", type=float, default=80.0, help="tokens per second per call (80)")
    p.add_argument(
        "--screen", choices=["list", "detail", "both"], default="both", help="what the app shows"
    )
    p.add_argument(
        "--mode",
        choices=["embedded", "attach", "both"],
        default="both",
        help="the runs in the dashboard's process (embedded) or in another one (attach)",
    )
    p.add_argument("--load", action="store_true", help=argparse.SUPPRESS)


async def amain(args: argparse.Namespace) -> list[dict[str, Any]]:
    screens = ["list", "detail"] if args.screen == "both" else [args.screen]
    modes = ["embedded", "attach"] if args.mode == "both" else [args.mode]
    plan = [(mode, screen) for mode in modes for screen in screens]
    if args.quick and args.screen == args.mode == "both":
        plan = [("embedded", "list"), ("attach", "detail")]  # each mode and screen once
    print(
        f"many_streams: {args.runs} research runs x {args.questions} questions, {args.runs} "
        f"Claude calls at once at {args.tps:g} tokens/s each (in-process paced transport), "
        f"SQLite; the dashboard shows: {', '.join(screens)}; runs: {', '.join(modes)}"
    )
    out = []
    with temp_dir("bench-many") as root:
        for mode, screen in plan:
            out.append(await one_pass(root, screen, mode, args.runs, args.questions, args.tps))
    return out


def _row(label: str, s: dict[str, Any]) -> str:
    return (
        f"    {label:<40} p50 {s['p50']!s:>7}  p99 {s['p99']!s:>7}  max {s['max']!s:>7}  "
        f"(n={s['n']})"
    )


def main() -> int:
    args = parse_args(__doc__ or "", extra=_options)
    args.runs = args.runs or (4 if args.quick else 50)
    args.questions = args.questions or (1 if args.quick else 2)
    if args.load:
        return asyncio.run(load_main(args))
    passes = asyncio.run(amain(args))
    for p in passes:
        w, f, k = p["stream_writes"], p["frames"], p["keypress_ms"]
        print(
            f"  {p['screen']} ({p['mode']}): {p['succeeded']}/{p['runs']} runs succeeded, "
            f"{p['claude_calls']} Claude calls streamed over {p['streaming_s']} s; at once: mean "
            f"{p['streams_at_once']['mean']}, peak {p['streams_at_once']['peak']}; "
            f">= {p['busy_level']} at once for {p['busy_s']} s"
        )
        print(
            f"    DB stream writes/s: {w['per_s_while_streaming']} while streaming "
            f"(1 s windows p50 {w['per_1s_window']['p50']}, max {w['per_1s_window']['max']}); "
            f"{w['per_stream_per_s']} per stream; with >= {p['busy_level']} streaming: "
            f"{w['per_s_busy']}"
        )
        print(_row(f"frame ms ({f['per_s']}/s, {f['ms_per_s']} ms/s)", f["duration_ms"]))
        print(_row(f"frame ms, >= {p['busy_level']} streaming", f["duration_ms_busy"]))
        print(_row(f"key -> frame ms ({k['missed']} of {k['presses']} missed)", k))
        print(_row(f"key -> frame ms, >= {p['busy_level']} streaming", k["busy"]))
        print(_row("event-loop lag ms (5 ms sleeper)", p["loop_lag_ms"]))
    emit({"bench": "many_streams", "quick": args.quick, "tps": args.tps, "passes": passes})
    return 0


if __name__ == "__main__":
    sys.exit(main())
