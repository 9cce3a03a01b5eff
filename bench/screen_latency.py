"""Stream chunk written in a DBOS step → on screen in the run detail, with the real app (Pilot).

A tiny workflow defined here runs four quick steps (so the run's timeline has rows to move
through) and then one step that writes N agentdeck ``StreamChunk``s at ~10 per second to the
``agentdeck.output`` stream, exactly as the Claude step writes them (``DBOS.write_stream_async``,
PORTABLE serialization, ``ts`` stamped just before the write); each chunk's text starts with a
unique marker. ``AgentDeckApp`` runs headless under ``App.run_test`` (140x40) with the run's
``DetailScreen`` open (``app.open_run``), and for every marker this records, from its ``ts``:

* ``read``: when the detail screen's ``Supervisor.read_streams`` (every 50 ms) returned it;
* ``appended``: when it was appended to the run's output view (a wrapper on ``OutputPane.feed``);
* ``text``: when a watcher polling every 5 ms found it in ``pane.view_for(wid).plain``;
* ``frame``: the end of the first screen update (frame) that began after it was appended: the
  moment it is on a terminal. Frames are timed with ``benchkit.ui.FrameMeter``, which also turns
  each headless update into terminal output as a real terminal app would.

Meanwhile it presses ``down``/``up`` in the timeline every ~250 ms (a key event through the
driver, as Pilot sends it) and times key → end of the first frame showing the moved cursor; and
it reports every frame's duration (split into frames that laid the screen out and frames that only
repainted), how late the event loop wakes a 5 ms sleeper, and the garbage collector's full passes
(``--gc-freeze`` tries ``gc.freeze()`` once the screen is up, which the app does not do).

Modes: embedded on SQLite (default; the workflow runs in the dashboard's process and event loop,
as ``agentdeck`` runs them); ``--attach``: the app only reads (``Supervisor`` on the URL, no
DBOS in its process) while a separate process (this script with ``--writer``) runs DBOS and the
workflow; ``--pg``: attach mode on PostgreSQL (a throwaway server or ``$AGENTDECK_TEST_PG_URL``).

Usage: ``python bench/screen_latency.py [--quick] [--pg | --attach] [--gc-freeze] [--chunks N]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import sys
import time
from bisect import bisect_left
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchkit import emit, parse_args, quiet_logging, summary, summary_row, temp_dir
from benchkit.ui import FrameMeter, GcMeter, LoopLag, until
from benchkit.writer import Gate, Writer
from dbos import DBOS
from dbos._serialization import WorkflowSerializationFormat

from tui.supervisor import StreamBatch, Supervisor
from workflows.model_offline.transport import transport_factory
from workflows.models import STREAM_KEY, ChunkKind, ChunkPart, StreamChunk
from workflows.runtime import Runtime, RuntimeSettings

WRITE_RATE = 10.0  # chunks per second: what the coalescer writes per stream at full tilt
PREP_STEPS = 4
KEY_INTERVAL_S = 0.25
POLL_S = 0.005
SIZE = (140, 40)
TEXT = "one coalesced flush of about eight tokens of model output."
MARK = re.compile(r"M(\d{5})Z")
SCRIPT = Path(__file__).resolve()
#: The writer process's settings (the URL holds a password: never on a command line).
ENV_URL, ENV_N, ENV_RATE, ENV_STATE = (
    "BENCH_WRITER_DB_URL",
    "BENCH_WRITER_CHUNKS",
    "BENCH_WRITER_RATE",
    "BENCH_WRITER_STATE",
)


def marker(seq: int) -> str:
    return f"M{seq:05d}Z"


#: Passed by the streaming step before its first write: the bench opens the screen meanwhile.
GATE = Gate()


@DBOS.step(name="bench.prepare")
async def prepare(i: int) -> int:
    return i


@DBOS.step(name="bench.stream")
async def stream_chunks(n: int, rate: float) -> int:
    await GATE.passed()
    status = DBOS.step_status
    step_id = status.step_id if status is not None else 0
    start = time.monotonic()
    for seq in range(n):
        chunk = StreamChunk(
            step_id=step_id,
            step_name="bench.stream",
            attempt=1,
            seq=seq,
            parts=(ChunkPart(kind=ChunkKind.TEXT, text=f"\n{marker(seq)} {TEXT}"),),
        )
        await DBOS.write_stream_async(
            STREAM_KEY,
            chunk.model_dump(mode="json"),
            serialization_type=WorkflowSerializationFormat.PORTABLE,
        )
        await asyncio.sleep(max(0.0, start + (seq + 1) / rate - time.monotonic()))
    return n


@DBOS.workflow(name="bench.screen_latency")
async def screen_writer(n: int, rate: float) -> int:
    for i in range(PREP_STEPS):
        await prepare(i)
    return await stream_chunks(n, rate)


def _runtime(db_url: str, state_dir: Path) -> Runtime:
    return Runtime(
        RuntimeSettings(
            db_url=db_url,
            offline=True,
            state_dir=state_dir,
            polling_interval_s=0.05,
            transport_factory=transport_factory,  # no model calls here: no server, no CLI
        )
    )


# -- the writer process (attach modes) ---------------------------------------------------------


async def writer_main() -> int:
    """``--writer``: run DBOS and the workflow; lines on stdout, ``go`` on stdin opens the gate."""
    state = Path(os.environ[ENV_STATE])
    rt = _runtime(os.environ[ENV_URL], state)
    await asyncio.to_thread(rt.launch)
    quiet_logging(state)
    GATE.in_writer()
    try:
        handle = await DBOS.start_workflow_async(
            screen_writer, int(os.environ[ENV_N]), float(os.environ[ENV_RATE])
        )
        print(f"started {handle.workflow_id}", flush=True)
        print(f"done {await handle.get_result()}", flush=True)
    finally:
        await asyncio.to_thread(rt.shutdown)
    return 0


# -- the measured app ----------------------------------------------------------------------------


class TimedSupervisor(Supervisor):
    """Records when ``read_streams`` first returns each chunk of the watched run."""

    watch: str = ""

    def __init__(self, db_url: str) -> None:
        super().__init__(db_url)
        self.read_at: dict[int, float] = {}
        self.written_at: dict[int, float] = {}  # the chunks' ts
        self.read_walls: list[tuple[float, float]] = []  # (time.time(), seconds)

    async def read_streams(
        self, offsets: dict[str, int], *, key: str = STREAM_KEY
    ) -> list[StreamBatch]:
        t0 = time.perf_counter()
        batches = await super().read_streams(offsets, key=key)
        now = time.time()
        self.read_walls.append((now, time.perf_counter() - t0))
        for b in batches:
            if b.workflow_id == self.watch:
                for c in b.chunks:
                    self.read_at.setdefault(c.seq, now)
                    self.written_at[c.seq] = c.ts
        return batches


def _watch_appends() -> tuple[dict[int, float], Callable[[], None]]:
    """Wrap ``OutputPane.feed`` (which appends a batch to the source's view in one go): when each
    marker was appended (and an undo)."""
    from tui.widgets.output import OutputPane

    appended: dict[int, float] = {}
    name = "feed"
    original = getattr(OutputPane, name)

    def feed(pane: OutputPane, batch: StreamBatch) -> int:
        n: int = original(pane, batch)
        now = time.time()
        for chunk in batch.chunks:
            for part in chunk.parts:
                for m in MARK.finditer(part.text):
                    appended.setdefault(int(m.group(1)), now)
        return n

    setattr(OutputPane, name, feed)
    return appended, lambda: setattr(OutputPane, name, original)


async def measure(
    n: int, root: Path, db_url: str, *, attach: bool, gc_freeze: bool = False
) -> dict[str, Any]:
    import gc

    from textual import events

    from tui.app import AgentDeckApp
    from tui.screens.detail import DetailScreen
    from tui.widgets.output import OutputPane
    from tui.widgets.timeline import Timeline

    rt: Runtime | None = None
    writer: Writer | None = None
    handle: Any = None
    seen: dict[int, float] = {}
    presses: list[tuple[float, int]] = []
    lag = LoopLag()
    collector = GcMeter()
    meter = FrameMeter()
    meter.install()
    appended, unwatch = _watch_appends()
    try:
        quiet_logging(root / "state")
        if attach:
            state = root / "writer"
            env = {ENV_URL: db_url, ENV_N: str(n), ENV_RATE: str(WRITE_RATE), ENV_STATE: str(state)}
            writer = Writer(SCRIPT, env, state)
            # The run (and DBOS's tables) exist before the app starts.
            wid = await writer.expect("started")
            await writer.expect("gated")
        else:
            rt = _runtime(db_url, root / "state")
            await asyncio.to_thread(rt.launch)
            quiet_logging(root / "state")
            GATE.in_process()
        sup = TimedSupervisor(db_url)
        app = AgentDeckApp(sup, runtime=rt, mode="attach" if attach else "embedded")
        async with app.run_test(size=SIZE) as pilot:
            await until(lambda: app.connected, 30, "the app to connect")
            if writer is None:
                handle = await DBOS.start_workflow_async(screen_writer, n, WRITE_RATE)
                wid = handle.workflow_id
                await asyncio.wait_for(GATE.reached.wait(), 30)
            sup.watch = wid
            app.open_run(wid)
            await until(lambda: isinstance(app.screen, DetailScreen), 10, "the detail screen")
            screen = app.screen
            assert isinstance(screen, DetailScreen)
            await until(lambda: screen.query(Timeline) and screen.query(OutputPane), 10, "compose")
            timeline = screen.query_one(Timeline)
            view = screen.query_one(OutputPane).view_for(wid)
            await until(lambda: len(timeline.items) >= PREP_STEPS, 30, "the timeline")
            await asyncio.sleep(0.5)  # settle: first loads, layout
            meter.probe = lambda: timeline.cursor_row
            driver = app._driver
            assert driver is not None
            if gc_freeze:
                gc.collect()
                gc.freeze()  # what is alive now is never scanned again
            collector.start()
            t_start = time.time()
            lag.start()
            if writer is not None:
                writer.go()
            else:
                GATE.open()

            async def watch_text() -> None:
                while len(seen) < n:
                    await asyncio.sleep(POLL_S)
                    text = view.plain
                    now = time.time()
                    for m in MARK.finditer(text):
                        seen.setdefault(int(m.group(1)), now)

            async def press_keys() -> None:
                rng = random.Random(7)
                key = "down"
                while True:
                    await asyncio.sleep(KEY_INTERVAL_S * rng.uniform(0.8, 1.2))
                    row = timeline.cursor_row
                    key = "up" if key == "down" and row > 0 else "down"
                    expected = row + (1 if key == "down" else -1)
                    presses.append((time.time(), expected))
                    driver.send_message(events.Key(key, None))

            keys = asyncio.create_task(press_keys())
            try:
                await asyncio.wait_for(watch_text(), 60 + 2 * n / WRITE_RATE)
            finally:
                keys.cancel()
                t_end = time.time()
                await asyncio.sleep(0.3)  # the frames that show the last chunks
                t_frames = time.time()
                await lag.stop()
                collector.stop()
            if writer is not None:
                assert int(await writer.expect("done")) == n
            elif handle is not None:
                assert await handle.get_result() == n
            await pilot.pause()
    finally:
        unwatch()
        meter.uninstall()
        collector.stop()
        if gc_freeze:
            gc.unfreeze()
        GATE.close()
        if writer is not None:
            writer.close()
        if rt is not None:
            rt.shutdown()  # done already when the app unmounted (and DBOS's executor is gone)

    frames = meter.between(t_start, t_frames, "DetailScreen")
    starts = [f.start for f in frames]

    def frame_after(t: float) -> float | None:
        i = bisect_left(starts, t)
        return frames[i].end if i < len(frames) else None

    ts = sup.written_at
    if len(ts) != n:
        raise RuntimeError(f"the detail screen read {len(ts)} chunks, not {n}")
    lat: dict[str, list[float]] = {"read": [], "appended": [], "text": [], "frame": []}
    stages: dict[str, list[float]] = {
        "write_to_read": [],
        "read_to_append": [],
        "append_to_frame": [],
    }
    for seq, t_write in ts.items():
        t_read, t_app, t_seen = sup.read_at.get(seq), appended.get(seq), seen.get(seq)
        t_frame = frame_after(t_app) if t_app is not None else None
        for name, t in (
            ("read", t_read),
            ("appended", t_app),
            ("text", t_seen),
            ("frame", t_frame),
        ):
            if t is not None:
                lat[name].append(t - t_write)
        if t_read is not None:
            stages["write_to_read"].append(t_read - t_write)
            if t_app is not None:
                stages["read_to_append"].append(t_app - t_read)
                if t_frame is not None:
                    stages["append_to_frame"].append(t_frame - t_app)

    key_lat: list[float] = []
    missed = 0
    for i, (t0, expected) in enumerate(presses):
        t1 = presses[i + 1][0] if i + 1 < len(presses) else t_frames
        hit = next((f for f in frames if t0 <= f.start < t1 and f.probe == expected), None)
        if hit is None:
            missed += 1
        else:
            key_lat.append(hit.end - t0)
    window = max(1e-9, t_frames - t_start)
    reads = [wall for t, wall in sup.read_walls if t_start <= t <= t_end]
    layouts = [f.duration for f in frames if f.layout]
    paints = [f.duration for f in frames if not f.layout]

    def ms(values: list[float]) -> dict[str, Any]:
        return summary(values, scale=1000.0, digits=1)

    return {
        "chunks": n,
        "write_rate_per_s": WRITE_RATE,
        "wall_s": round(window, 2),
        "latency_ms": {name: ms(v) for name, v in lat.items()},
        "stages_ms": {name: ms(v) for name, v in stages.items()},
        "keypress_ms": {**ms(key_lat), "presses": len(presses), "missed": missed},
        "frames": {
            "n": len(frames),
            "per_s": round(len(frames) / window, 1),
            "duration_ms": summary([f.duration for f in frames], scale=1000.0, digits=2),
            "layout_duration_ms": summary(layouts, scale=1000.0, digits=2),
            "paint_only_duration_ms": summary(paints, scale=1000.0, digits=2),
            "bytes_mean": round(sum(f.bytes for f in frames) / len(frames)) if frames else None,
        },
        "loop_lag_ms": summary(lag.lags, scale=1000.0, digits=2),
        "gc_full_pass_ms": ms(collector.between(t_start, t_frames, 2)),
        "gc_young_passes": len(collector.between(t_start, t_frames, 0))
        + len(collector.between(t_start, t_frames, 1)),
        "gc_frozen": gc_freeze,
        "gc_tracked_objects": len(gc.get_objects()),
        "read_streams": {"calls": len(reads), "wall_ms": summary(reads, scale=1000.0, digits=2)},
    }


def _options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--attach",
        action="store_true",
        help="SQLite, but the workflow runs in a separate process (as --pg does)",
    )
    p.add_argument(
        "--gc-freeze",
        action="store_true",
        help="gc.freeze() once the screen is up (an experiment: the app does not do it)",
    )
    p.add_argument(
        "--chunks", type=int, default=0, help="chunks to stream (default 200; --quick: 30)"
    )
    p.add_argument("--writer", action="store_true", help=argparse.SUPPRESS)


async def amain(args: argparse.Namespace) -> dict[str, Any]:
    n = 30 if args.quick else args.chunks or 200
    attach = bool(args.attach or args.pg)
    backend = "postgresql" if args.pg else "sqlite"
    mode = "attach" if attach else "embedded"
    print(
        f"screen_latency: {n} chunks at {WRITE_RATE:g}/s to the run detail of a real app "
        f"({mode}, {backend}); keys every ~{KEY_INTERVAL_S * 1000:.0f} ms"
    )
    with temp_dir("bench-screen") as root:
        if args.pg:
            from benchkit.pg import pg_database

            with pg_database() as db:
                result = await measure(n, root, db.url, attach=attach, gc_freeze=args.gc_freeze)
                result["pg"] = db.describe()
        else:
            url = f"sqlite:///{root / 'screen.sqlite'}"
            result = await measure(n, root, url, attach=attach, gc_freeze=args.gc_freeze)
    return {"quick": args.quick, "backend": backend, "mode": mode, **result}


def main() -> int:
    args = parse_args(__doc__ or "", pg=True, extra=_options)
    if args.writer:
        return asyncio.run(writer_main())
    result = asyncio.run(amain(args))
    labels = {
        "read": "read by the detail screen (read_streams)",
        "appended": "handed to the output pane (OutputPane.feed)",
        "text": "in the output document (polled every 5 ms)",
        "frame": "on screen (end of the next frame)",
    }
    print("  chunk written -> ... (ms)")
    for name, label in labels.items():
        print(summary_row(label, result["latency_ms"][name]))
    print("  stages (ms)")
    for name, s in result["stages_ms"].items():
        print(summary_row(name.replace("_", " "), s))
    k = result["keypress_ms"]
    print(summary_row(f"key down/up -> frame showing it ({k['missed']} missed)", k))
    f = result["frames"]
    label = f"frame duration ({f['per_s']}/s, ~{f['bytes_mean']} B each)"
    print(summary_row(label, f["duration_ms"]))
    print(summary_row("  frames that laid the screen out", f["layout_duration_ms"]))
    print(summary_row("  frames that only repainted", f["paint_only_duration_ms"]))
    print(summary_row("event-loop lag (5 ms sleeper)", result["loop_lag_ms"]))
    print(
        summary_row(
            f"full GC passes ({result['gc_tracked_objects']} objects)", result["gc_full_pass_ms"]
        )
    )
    print(
        summary_row(
            f"read_streams query ({result['read_streams']['calls']} calls)",
            result["read_streams"]["wall_ms"],
        )
    )
    emit({"bench": "screen_latency", **result})
    return 0


if __name__ == "__main__":
    sys.exit(main())
