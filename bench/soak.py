"""A soak: the dashboard attached to a database where runs stream for 30 minutes.

A writer process (this script with ``--writer``, ``benchkit.writer``) runs a synthetic DBOS
workflow defined here, ``soak.stream``: steps that write ``StreamChunk``-shaped entries to the
``agentdeck.output`` stream with ``DBOS.write_stream_async`` (PORTABLE, as the Claude step does)
at a steady 10 writes/s, each write a slice of numbered lines. It is not the research workflow
(no Claude, no CLI): a soak needs a steady rate for half an hour, not a model. One run, the "big"
one, streams 1,000,000 lines over the soak (``--lines``; ~555 lines/s for 30 min), in parts of a
minute (a step each, as research steps are); beside it ``--background`` runs (3) stream 20
lines/s for a minute each and are replaced as they finish, so the list keeps changing.

The dashboard (``AgentDeckApp`` with a ``Supervisor`` attached, under ``App.run_test``, 140x40,
in this process) opens the big run's detail and follows it. A thread samples this process's CPU
(``utime+stime``) and RSS from ``/proc/self`` every 10 s (``benchkit.procstat``). Once the big run
has written its last line and the output pane has shown it, the output pane is focused and
scrolled (``pageup`` x N then ``pagedown`` x N, one key every 100 ms, through the driver as Pilot
sends keys) with ``benchkit.ui.FrameMeter`` installed (only then: a 30-minute list of frames
would be memory the soak measures). The frames of focusing the pane (a repaint of the screen
and the footer's new keys) come before the first key and are reported apart from the scroll's.

Reported: RSS at the end of the warm-up (5 min; a sixth of a shorter soak) and at the end, the
growth between them (target <= 10 %), mean CPU; the big run's lines written, seen by the pane
and kept by it (``StreamView.max_lines``: older lines are forgotten, and read back from the
stream when the reader scrolls to them: timed after the scroll, with ``home`` and ``end``);
scroll frame time p50/p99/max (target <= 16 ms) and key -> first frame that moved; whether the
pane kept following the tail while nobody scrolled (``tail_lost_at_s``: when it stopped,
checked every 100 ms).

Usage: ``python bench/soak.py [--quick] [--minutes M] [--lines N] [--background B] [--pg]``
(``--quick``: about 30 s, 30,000 lines, one background run at a time; samples every 2 s).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import os
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from benchkit import emit, parse_args, quiet_logging, summary, temp_dir
from benchkit.procstat import CLK_TCK, Sample, sample
from benchkit.ui import FrameMeter, until
from benchkit.writer import Writer
from dbos import DBOS
from dbos._serialization import WorkflowSerializationFormat

from workflows.models import STREAM_KEY, ChunkKind, ChunkPart, StreamChunk

SIZE = (140, 40)
ENV_URL, ENV_STATE, ENV_PLAN = "SOAK_DB_URL", "SOAK_STATE", "SOAK_PLAN"
WRITES_PER_S = 10.0  # what the Claude step's coalescer writes at most per stream
PART_S = 60.0  # one step per minute of the big run
BG_LINES_PER_S = 20.0
BIG_ID = "soak-big"
FILLER = "streamed agent output for the soak, about seventy characters long."
SCRIPT = Path(__file__).resolve()
SCROLL_KEYS = 30  # pageup presses, then as many pagedown
KEY_EVERY_S = 0.1
FOCUS_QUIET_S = 0.3  # no frame for this long after focusing the pane: its repaint is done


# -- the writer: a synthetic workflow streaming numbered lines ---------------------------------


@DBOS.step(name="soak.stream_part")
async def stream_part(tag: str, first: int, lines: int, seconds: float) -> int:
    status = DBOS.step_status
    step_id = status.step_id if status is not None else 0
    attempt = (status.current_attempt or 0) + 1 if status is not None else 1
    writes = max(1, round(seconds * WRITES_PER_S))
    start = time.monotonic()
    for w in range(writes):
        lo, hi = first + lines * w // writes, first + lines * (w + 1) // writes
        text = "".join(f"{tag} {i:>9} {FILLER}\n" for i in range(lo, hi))
        chunk = StreamChunk(
            step_id=step_id,
            step_name="soak.stream_part",
            attempt=attempt,
            seq=w,
            parts=(ChunkPart(kind=ChunkKind.TEXT, text=text),),
        )
        await DBOS.write_stream_async(
            STREAM_KEY,
            chunk.model_dump(mode="json"),
            serialization_type=WorkflowSerializationFormat.PORTABLE,
        )
        await asyncio.sleep(max(0.0, start + (w + 1) / WRITES_PER_S - time.monotonic()))
    return lines


@DBOS.workflow(name="soak.stream")
async def soak_stream(tag: str, lines: int, seconds: float) -> int:
    parts = max(1, math.ceil(seconds / PART_S))
    done = 0
    for p in range(parts):
        n = lines * (p + 1) // parts - lines * p // parts
        done += await stream_part(tag, done, n, seconds / parts)
    return done


async def _background(count: int, seconds: float, stop: asyncio.Event) -> int:
    """Keep ``count`` small runs streaming, a new one as each finishes; the runs started."""
    started = 0
    running: set[asyncio.Task[Any]] = set()

    async def one(i: int) -> None:
        lines = round(BG_LINES_PER_S * seconds)
        handle = await DBOS.start_workflow_async(soak_stream, f"bg{i}", lines, seconds)
        await handle.get_result()

    while not stop.is_set():
        while len(running) < count:
            started += 1
            running.add(asyncio.create_task(one(started)))
        finished, _ = await asyncio.wait(
            running | {asyncio.create_task(stop.wait())}, return_when=asyncio.FIRST_COMPLETED
        )
        for task in finished & running:
            running.discard(task)
            task.result()
    for task in running:
        task.cancel()
    return started


async def writer_main() -> int:
    """``--writer``: ``started <id>``, then ``done <figures>`` when the big run finished; the
    background runs go on until a line on stdin (or the bench kills this process)."""
    from workflows.model_offline.transport import transport_factory
    from workflows.runtime import Runtime, RuntimeSettings

    state = Path(os.environ[ENV_STATE])
    plan = json.loads(os.environ[ENV_PLAN])
    rt = Runtime(
        RuntimeSettings(
            db_url=os.environ[ENV_URL],
            offline=True,
            state_dir=state,
            transport_factory=transport_factory,  # no model calls here
        )
    )
    await asyncio.to_thread(rt.launch)
    quiet_logging(state)
    stop = asyncio.Event()
    try:
        bg = asyncio.create_task(_background(plan["background"], plan["bg_seconds"], stop))
        handle = await DBOS.start_workflow_async(soak_stream, "big", plan["lines"], plan["seconds"])
        print(f"started {handle.workflow_id}", flush=True)
        t0 = time.monotonic()
        lines = await handle.get_result()
        wall = time.monotonic() - t0
        print(f"done {json.dumps({'lines': lines, 'stream_s': round(wall, 1)})}", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        stop.set()
        print(f"background {await bg}", flush=True)
    finally:
        await asyncio.to_thread(rt.shutdown)
    return 0


# -- the dashboard ------------------------------------------------------------------------------


class Sampler(threading.Thread):
    """This process's CPU and RSS every ``every`` s (a thread: a busy event loop cannot delay
    it)."""

    def __init__(self, every: float, progress_every: float) -> None:
        super().__init__(daemon=True, name="soak-sampler")
        self.every, self.progress_every = every, progress_every
        self.samples: list[Sample] = []
        self._halt = threading.Event()

    def run(self) -> None:
        pid = os.getpid()
        self.samples.append(sample(pid, tree=False))
        t0 = last_print = self.samples[0].t
        while not self._halt.wait(self.every - (time.monotonic() - t0) % self.every):
            s = sample(pid, tree=False)
            self.samples.append(s)
            if s.t - last_print >= self.progress_every:
                last_print = s.t
                prev = self.samples[-2]
                cpu = 100.0 * (s.ticks - prev.ticks) / CLK_TCK / max(1e-9, s.t - prev.t)
                print(
                    f"  {(s.t - t0) / 60:5.1f} min: RSS {s.rss_kb / 1024:.1f} MiB, "
                    f"CPU {cpu:.0f}% of a core",
                    flush=True,
                )

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=30)


def memory_figures(samples: list[Sample], warm_s: float) -> dict[str, Any]:
    t0 = samples[0].t
    warm = next((s for s in samples if s.t - t0 >= warm_s), samples[-1])
    end = samples[-1]
    per = [
        100.0 * (b.ticks - a.ticks) / CLK_TCK / (b.t - a.t)
        for a, b in zip(samples, samples[1:], strict=False)
    ]
    after = [s for s in samples if s.t >= warm.t]
    return {
        "samples": len(samples),
        "seconds": round(end.t - t0, 1),
        "warmup_s": round(warm.t - t0, 1),
        "rss_start_mb": round(samples[0].rss_kb / 1024, 1),
        "rss_warm_mb": round(warm.rss_kb / 1024, 1),
        "rss_end_mb": round(end.rss_kb / 1024, 1),
        "rss_max_after_warm_mb": round(max(s.rss_kb for s in after) / 1024, 1),
        "rss_growth_pct": round(100.0 * (end.rss_kb - warm.rss_kb) / max(1, warm.rss_kb), 1),
        "hwm_mb": round(end.hwm_kb / 1024, 1),
        "cpu_mean_pct": round(
            100.0 * (end.ticks - samples[0].ticks) / CLK_TCK / max(1e-9, end.t - t0), 1
        ),
        "cpu_per_sample_pct": summary(per, digits=1),
        "rss_mb_series": [round(s.rss_kb / 1024, 1) for s in samples],
    }


async def watch_tail(pane: Any, lost: list[float]) -> None:
    """Record when the pane stops following its tail (nobody scrolls during the soak: never)."""
    t0 = time.monotonic()
    was = True
    while True:
        now = bool(pane.following)
        if was and not now:
            lost.append(round(time.monotonic() - t0, 2))
        was = now
        await asyncio.sleep(0.1)


async def scroll(app: Any, pane: Any) -> dict[str, Any]:
    """``pageup`` x N then ``pagedown`` x N on the focused output pane, frames measured."""
    from textual import events

    meter = FrameMeter(probe=lambda: pane.scroll_y)
    # Python's cyclic GC while scrolling: a full (generation 2) pass walks every object the
    # process holds (the pane's 20,000 lines and their wrapped strips among them).
    gcs: list[tuple[int, float, float]] = []  # (generation, start, seconds)
    started = [0.0, 0.0]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0], started[1] = time.time(), time.perf_counter()
        else:
            gcs.append((info["generation"], started[0], time.perf_counter() - started[1]))

    gc.callbacks.append(on_gc)
    meter.install()
    try:
        # Focusing the pane is not scrolling: it repaints the screen (the :focus styles) and the
        # footer lays itself out again for the pane's keys, 2-5 frames of 10-70 ms that landed
        # in the first 100 ms of the window and were most of its p99 (n is ~63: p99 is the
        # slowest frame but one). They are timed apart; the keys start once the screen has
        # painted no frame for FOCUS_QUIET_S (at most 5 s).
        f0 = time.time()
        pane.focus()
        await until(lambda: app.focused is pane, 10, "the output pane to take focus")
        quiet_from = time.monotonic()
        while time.monotonic() - quiet_from < 5.0:
            seen = len(meter.frames)
            await asyncio.sleep(FOCUS_QUIET_S)
            if len(meter.frames) == seen:
                break
        focus_frames = meter.between(f0, time.time(), "DetailScreen")
        driver = app._driver
        assert driver is not None
        presses: list[tuple[float, float, str]] = []
        t0 = time.time()
        for key in ["pageup"] * SCROLL_KEYS + ["pagedown"] * SCROLL_KEYS:
            presses.append((time.time(), float(pane.scroll_y), key))
            driver.send_message(events.Key(key, None))
            await asyncio.sleep(KEY_EVERY_S)  # the reader's pace, not a wait for a result
        await asyncio.sleep(0.5)  # the last key's frames
        t1 = time.time()
    finally:
        meter.uninstall()
        gc.callbacks.remove(on_gc)
    frames = meter.between(t0, t1, "DetailScreen")
    full = [(start, secs) for gen, start, secs in gcs if gen == 2 and t0 <= start <= t1]
    in_frames = [f for f in frames if any(f.start <= start <= f.end for start, _ in full)]
    keys, missed = [], {"pageup": 0, "pagedown": 0}
    for i, (t, before, key) in enumerate(presses):
        t_next = presses[i + 1][0] if i + 1 < len(presses) else t1
        hit = next((f for f in frames if t <= f.start < t_next and f.probe != before), None)
        if hit is None:
            missed[key] += 1
        else:
            keys.append(hit.end - t)
    ys = [float(y) for y in (f.probe for f in frames) if isinstance(y, int | float)]
    return {
        "keys": len(presses),
        "focus_frame_ms": [round(f.duration * 1000.0, 1) for f in focus_frames],
        "frame_ms": summary([f.duration for f in frames], scale=1000.0, digits=1),
        # The same frames' CPU time in the event loop's thread (what a frame costs, less the
        # time the busy machine gave the core to others).
        "frame_cpu_ms": summary([f.cpu for f in frames], scale=1000.0, digits=1),
        # Frames that laid the screen out again (not only repainted the pane), and their times.
        "layout_frames": sum(f.layout for f in frames),
        "layout_frame_ms": summary(
            [f.duration for f in frames if f.layout], scale=1000.0, digits=1
        ),
        "gc_full": {
            "passes": len(full),
            "ms": [round(secs * 1000.0, 1) for _, secs in full],
            "frames_with_one_ms": [round(f.duration * 1000.0, 1) for f in in_frames],
            "objects": len(gc.get_objects()),
        },
        "frames_without_full_gc_ms": summary(
            [f.duration for f in frames if f not in in_frames], scale=1000.0, digits=1
        ),
        "bytes_per_frame": summary([float(f.bytes) for f in frames], digits=0),
        "key_to_frame_ms": {**summary(keys, scale=1000.0, digits=1), "missed": missed},
        "end_scroll_y": round(float(pane.scroll_y)),
        "rows_travelled": round(max(ys) - min(ys)) if ys else 0,
        "max_scroll_y": round(float(pane.max_scroll_y)),
    }


def numbers(doc: Any, tag: str) -> list[int]:
    """The line numbers of the soak's lines a document keeps, in order."""
    out = []
    for i in range(doc.line_count):
        parts = doc.line(i).plain.split()
        if len(parts) > 2 and parts[0] == tag and parts[1].isdigit():
            out.append(int(parts[1]))
    return out


def consecutive(nums: list[int]) -> bool:
    return bool(nums) and all(b == a + 1 for a, b in zip(nums, nums[1:], strict=False))


async def read_back(app: Any, pane: Any, wid: str, last: int) -> dict[str, Any]:
    """Lines the pane forgot, read back from the stream: the top of the kept lines (older lines
    above them), ``home`` (the stream's first line), ``end`` (the tail, followed again); the time
    from the scroll or key until the lines are in place, and whether they are the stream's lines
    in order, with no gap and no line twice."""
    from textual import events

    doc = pane.views[wid]
    driver = app._driver
    out: dict[str, Any] = {}

    async def placed(what: str, cond: Any) -> float:
        t = time.monotonic()
        await until(lambda: cond() and pane._reading is None, 60, what)
        return round((time.monotonic() - t) * 1000.0, 1)

    first = doc.dropped
    top_before = numbers(doc, "big")[:1]
    pane.scroll_to(y=0, animate=False, immediate=True)
    out["older_ms"] = await placed("older lines", lambda: doc.dropped < first)
    nums = numbers(doc, "big")
    out["older_lines"] = first - doc.dropped
    out["older_in_order"] = consecutive(nums) and bool(top_before) and top_before[0] in nums
    driver.send_message(events.Key("home", None))
    out["home_ms"] = await placed("the first lines", lambda: doc.dropped == 0)
    nums = numbers(doc, "big")
    out["home_first_line"] = nums[0] if nums else None
    out["home_in_order"] = consecutive(nums)
    out["kept_away_from_tail"] = doc.line_count
    driver.send_message(events.Key("end", None))
    out["end_ms"] = await placed("the tail", lambda: not doc.detached and pane.following)
    nums = numbers(doc, "big")
    out["end_last_line"] = nums[-1] if nums else None
    out["end_in_order"] = consecutive(nums) and nums[-1] == last - 1
    out["following_after_end"] = pane.following
    out["kept_max"] = pane.max_lines
    return out


async def dashboard(args: argparse.Namespace, db_url: str, root: Path) -> dict[str, Any]:
    from tui.app import AgentDeckApp
    from tui.screens.detail import DetailScreen
    from tui.supervisor import Supervisor
    from tui.widgets.output import OutputPane

    seconds = args.minutes * 60.0
    plan = {
        "lines": args.lines,
        "seconds": seconds,
        "background": args.background,
        "bg_seconds": 8.0 if args.quick else 60.0,
    }
    env = {ENV_URL: db_url, ENV_STATE: str(root / "writer-state"), ENV_PLAN: json.dumps(plan)}
    writer = Writer(SCRIPT, env, root / "writer")
    sampler = Sampler(args.sample_s, 10.0 if args.quick else 60.0)
    quiet_logging(root / "state")
    try:
        wid = await writer.expect("started", 120)
        app = AgentDeckApp(Supervisor(db_url), mode="attach")
        async with app.run_test(size=SIZE):
            await until(lambda: app.connected, 30, "the app to connect")
            app.open_run(wid)
            await until(
                lambda: isinstance(app.screen, DetailScreen) and app.screen.query(OutputPane),
                30,
                "the run's detail",
            )
            pane = app.screen.query_one(OutputPane)
            sampler.start()

            def seen() -> int:
                doc = pane.views.get(wid)
                return 0 if doc is None else doc.dropped + doc.line_count

            tail_lost: list[float] = []
            watch = asyncio.create_task(watch_tail(pane, tail_lost))
            done = json.loads(await writer.expect("done", seconds + 600))
            t_done = time.monotonic()
            caught_up = True
            try:
                await until(lambda: seen() >= done["lines"], 120, "the pane to show the last line")
            except RuntimeError:
                caught_up = False
            catch_up_s = time.monotonic() - t_done
            sampler.stop()
            watch.cancel()
            doc = pane.views[wid]
            pane_figures = {
                "lines_written": done["lines"],
                "stream_s": done["stream_s"],
                "lines_seen": seen(),
                "lines_kept": doc.line_count,
                "lines_dropped": doc.dropped,
                "max_lines": pane.max_lines,
                "caught_up": caught_up,
                "catch_up_s": round(catch_up_s, 2),
                "read_back_on_scroll": True,
                "shown": pane.doc is doc,
                "following_at_end": pane.following,
                "tail_lost_at_s": tail_lost[:20],
            }
            scrolled = await scroll(app, pane)
            pane_figures["read_back"] = await read_back(app, pane, wid, done["lines"])
        writer.go()
        background = int(await writer.expect("background", 60))
    finally:
        if sampler.is_alive():
            sampler.stop()
        writer.close()
    warm_s = min(300.0, seconds / 6)
    return {
        "memory": memory_figures(sampler.samples, warm_s),
        "pane": pane_figures,
        "scroll": scrolled,
        "background_runs": background,
    }


def _options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--minutes", type=float, default=None, help="how long runs stream (30)")
    p.add_argument("--lines", type=int, default=None, help="lines the big run streams (1e6)")
    p.add_argument("--background", type=int, default=None, help="small runs at once (3)")
    p.add_argument("--sample-s", type=float, default=None, help="seconds between samples (10)")
    p.add_argument("--writer", action="store_true", help=argparse.SUPPRESS)


async def amain(args: argparse.Namespace) -> dict[str, Any]:
    with temp_dir("bench-soak") as root, ExitStack() as stack:
        if args.pg:
            from benchkit.pg import pg_database

            db = stack.enter_context(pg_database("agentdeck_soak"))
            db_url, where = db.url, f"PostgreSQL {db.version}"
        else:
            db_url, where = f"sqlite:///{root / 'soak.sqlite'}", "SQLite"
        print(
            f"soak: {args.minutes:g} min; the big run streams {args.lines:,} lines "
            f"({args.lines / (args.minutes * 60):,.0f}/s, {WRITES_PER_S:g} writes/s), "
            f"{args.background} background runs at {BG_LINES_PER_S:g} lines/s; {where}; "
            f"the dashboard attached shows the big run; samples every {args.sample_s:g} s",
            flush=True,
        )
        out = await dashboard(args, db_url, root)
        out["database"] = where
        return out


def main() -> int:
    args = parse_args(__doc__ or "", pg=True, extra=_options)
    if args.writer:
        return asyncio.run(writer_main())
    args.minutes = args.minutes or (0.5 if args.quick else 30.0)
    args.lines = args.lines or (30_000 if args.quick else 1_000_000)
    args.background = args.background if args.background is not None else (1 if args.quick else 3)
    args.sample_s = args.sample_s or (2.0 if args.quick else 10.0)
    r = asyncio.run(amain(args))
    m, p, s = r["memory"], r["pane"], r["scroll"]
    print(
        f"  RSS {m['rss_warm_mb']} MiB after {m['warmup_s']:g} s, {m['rss_end_mb']} MiB at the "
        f"end ({m['seconds']:g} s): growth {m['rss_growth_pct']}% (target <= 10%); "
        f"max after warm-up {m['rss_max_after_warm_mb']} MiB"
    )
    print(
        f"  CPU mean {m['cpu_mean_pct']}% of a core (per {args.sample_s:g} s sample: p50 "
        f"{m['cpu_per_sample_pct']['p50']}, max {m['cpu_per_sample_pct']['max']})"
    )
    print(
        f"  big run: {p['lines_written']:,} lines written over {p['stream_s']} s, "
        f"{p['lines_seen']:,} seen by the pane (caught up {p['catch_up_s']} s after the last), "
        f"{p['lines_kept']:,} kept (cap {p['max_lines']:,}), {p['lines_dropped']:,} forgotten"
    )
    rb = p["read_back"]
    print(
        f"  read back: {rb['older_lines']:,} older lines above the kept ones in "
        f"{rb['older_ms']} ms (in order: {rb['older_in_order']}); home: line "
        f"{rb['home_first_line']} in {rb['home_ms']} ms (in order: {rb['home_in_order']}, "
        f"{rb['kept_away_from_tail']:,} kept); end: the tail in {rb['end_ms']} ms (last line "
        f"{rb['end_last_line']}, in order: {rb['end_in_order']}, following: "
        f"{rb['following_after_end']})"
    )
    print(
        f"  the pane followed the tail throughout: {not p['tail_lost_at_s']} "
        f"(stopped following at {p['tail_lost_at_s']} s; following at the end: "
        f"{p['following_at_end']})"
    )
    print(
        f"  scroll: {s['keys']} pageup/pagedown keys, {s['rows_travelled']} rows travelled; "
        f"frame ms p50 {s['frame_ms']['p50']} p99 {s['frame_ms']['p99']} max "
        f"{s['frame_ms']['max']} (n={s['frame_ms']['n']}, target <= 16; CPU in the frame p50 "
        f"{s['frame_cpu_ms']['p50']} p99 {s['frame_cpu_ms']['p99']}); key -> frame ms p50 "
        f"{s['key_to_frame_ms']['p50']} p99 {s['key_to_frame_ms']['p99']} "
        f"(missed: {s['key_to_frame_ms']['missed']}); focusing the pane before the keys: "
        f"frames {s['focus_frame_ms']} ms"
    )
    g = s["gc_full"]
    print(
        f"  full GC passes while scrolling: {g['passes']} ({g['ms']} ms; {g['objects']:,} "
        "objects), "
        f"frames they fell in: {g['frames_with_one_ms']} ms; the other frames: p50 "
        f"{s['frames_without_full_gc_ms']['p50']} p99 {s['frames_without_full_gc_ms']['p99']} ms"
    )
    emit(
        {
            "bench": "soak",
            "quick": args.quick,
            "minutes": args.minutes,
            "lines": args.lines,
            "background": args.background,
            **r,
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
