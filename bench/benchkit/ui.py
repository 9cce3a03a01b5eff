"""Measuring a Textual app driven by Pilot: its screen updates (frames) and its event loop.

``FrameMeter`` wraps, at class level and for this process only, the three Textual methods a screen
update goes through (``Screen._on_timer_update`` → ``Screen._refresh_layout`` →
``Screen._compositor_refresh`` → ``App._display``) and records one :class:`Frame` per update of
the current screen that reached ``_display``: wall-clock start and end, duration (layout, render of
the dirty widgets, composition), whether it laid the screen out again, and the value of an
optional ``probe`` taken at its start (what the frame shows, e.g. a table's cursor row).

A headless app (``run_test``) never turns the update into terminal output; the meter does it
anyway (``CompositorUpdate.render_segments``, the string a real terminal would be sent, minus the
write itself) so a frame costs what it would on a terminal, and counts the bytes.

Do not drive a measured app with ``pilot.pause()``: it calls ``screen._on_timer_update()`` itself,
so frames would happen when the test polls instead of on the app's own ~60 Hz update timer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Frame", "FrameMeter", "GcMeter", "KeyPresser", "LoopLag", "until"]


@dataclass(frozen=True)
class Frame:
    start: float  # time.time()
    end: float
    duration: float  # seconds, perf_counter
    screen: str
    probe: object
    bytes: int
    #: A layout pass (sizes and positions recomputed), not only a repaint of dirty widgets.
    layout: bool
    #: CPU seconds of the event loop's thread during the frame (``duration`` less the time
    #: other processes had the core: on a busy machine, what the frame itself costs).
    cpu: float = 0.0


@dataclass
class FrameMeter:
    probe: Callable[[], object] | None = None
    frames: list[Frame] = field(default_factory=list)
    _saved: dict[tuple[type, str], Any] = field(default_factory=dict)
    _depth: int = 0
    _start: float = 0.0
    _t0: float = 0.0
    _probe_value: object = None
    _bytes: int = -1
    _layout: bool = False
    _c0: float = 0.0

    def install(self) -> None:
        from textual.app import App
        from textual.screen import Screen

        meter = self

        def outer(name: str) -> None:
            original = getattr(Screen, name)
            self._saved[(Screen, name)] = original

            def wrapper(screen: Any, *args: Any, **kwargs: Any) -> Any:
                if meter._depth == 0:
                    meter._start, meter._t0 = time.time(), time.perf_counter()
                    meter._c0 = time.thread_time()
                    meter._bytes = -1
                    meter._probe_value = meter._safe_probe()
                    meter._layout = False
                if name == "_refresh_layout" or getattr(screen, "_layout_required", False):
                    meter._layout = True
                meter._depth += 1
                try:
                    return original(screen, *args, **kwargs)
                finally:
                    meter._depth -= 1
                    if meter._depth == 0 and meter._bytes >= 0:
                        meter.frames.append(
                            Frame(
                                start=meter._start,
                                end=time.time(),
                                duration=time.perf_counter() - meter._t0,
                                screen=type(screen).__name__,
                                probe=meter._probe_value,
                                bytes=meter._bytes,
                                layout=meter._layout,
                                cpu=time.thread_time() - meter._c0,
                            )
                        )

            setattr(Screen, name, wrapper)

        for name in ("_on_timer_update", "_refresh_layout", "_compositor_refresh"):
            outer(name)

        display_name = "_display"
        display = getattr(App, display_name)
        self._saved[(App, display_name)] = display

        def display_wrapper(app: Any, screen: Any, renderable: Any) -> None:
            from textual._compositor import CompositorUpdate

            display(app, screen, renderable)
            if renderable is None or app._batch_count:
                return
            n = 0
            if app.is_headless and isinstance(renderable, CompositorUpdate):
                n = len(renderable.render_segments(app.console))
            meter._bytes = max(meter._bytes, 0) + n

        setattr(App, display_name, display_wrapper)

    def uninstall(self) -> None:
        for (cls, name), original in self._saved.items():
            setattr(cls, name, original)
        self._saved.clear()

    def _safe_probe(self) -> object:
        if self.probe is None:
            return None
        try:
            return self.probe()
        except Exception:
            return None

    def between(self, t0: float, t1: float, screen: str | None = None) -> list[Frame]:
        return [
            f for f in self.frames if t0 <= f.start <= t1 and (screen is None or f.screen == screen)
        ]


class LoopLag:
    """How late the event loop wakes a task that sleeps ``tick`` seconds (UI responsiveness)."""

    def __init__(self, tick: float = 0.005) -> None:
        self.tick = tick
        self.lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            t = time.perf_counter()
            await asyncio.sleep(self.tick)
            self.lags.append(max(0.0, time.perf_counter() - t - self.tick))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None


class GcMeter:
    """Durations of the garbage collector's passes per generation (``gc.callbacks``).

    A full (generation 2) pass walks every tracked object and holds the GIL throughout: in a
    process of a few hundred thousand objects it stops the event loop for tens of milliseconds.
    """

    def __init__(self) -> None:
        self.passes: dict[int, list[tuple[float, float]]] = {0: [], 1: [], 2: []}  # (start, s)
        self._started: dict[int, tuple[float, float]] = {}

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        gen = int(info.get("generation", 0))
        if phase == "start":
            self._started[gen] = (time.time(), time.perf_counter())
        elif gen in self._started:
            at, t0 = self._started.pop(gen)
            self.passes.setdefault(gen, []).append((at, time.perf_counter() - t0))

    def start(self) -> None:
        import gc

        gc.callbacks.append(self._callback)

    def stop(self) -> None:
        import gc

        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)

    def between(self, t0: float, t1: float, gen: int) -> list[float]:
        return [s for at, s in self.passes.get(gen, []) if t0 <= at <= t1]


async def until(cond: Callable[[], object], within: float, what: str) -> None:
    """Wait (polling every 20 ms) until ``cond()`` is truthy; RuntimeError after ``within`` s."""
    deadline = time.monotonic() + within
    while not cond():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


@dataclass
class KeyPresser:
    """Presses ``down``/``up`` every ~``every`` s through the app's driver, as Pilot sends keys.

    ``row()`` is the cursor row the keys move (a table's ``cursor_row``); each press records the
    row the next frame should show. :meth:`latencies` matches presses to the first frame (of a
    :class:`FrameMeter` whose ``probe`` is the same ``row``) that shows it.
    """

    app: Any
    row: Callable[[], int]
    rows: Callable[[], int]
    every: float = 0.25
    presses: list[tuple[float, int]] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        import random

        from textual import events

        rng = random.Random(7)
        key = "up"
        driver = self.app._driver
        assert driver is not None
        while True:
            await asyncio.sleep(self.every * rng.uniform(0.8, 1.2))
            row, last = self.row(), self.rows() - 1
            if last < 1:
                continue
            key = "up" if (key == "down" and row > 0) or row >= last else "down"
            self.presses.append((time.time(), row + (1 if key == "down" else -1)))
            driver.send_message(events.Key(key, None))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    def latencies(self, frames: list[Frame], t_end: float) -> tuple[list[tuple[float, float]], int]:
        """``(press time, seconds to the frame showing it)`` per press, and the presses missed
        (no frame showed the expected row before the next press)."""
        out: list[tuple[float, float]] = []
        missed = 0
        for i, (t0, expected) in enumerate(self.presses):
            t1 = self.presses[i + 1][0] if i + 1 < len(self.presses) else t_end
            hit = next((f for f in frames if t0 <= f.start < t1 and f.probe == expected), None)
            if hit is None:
                missed += 1
            else:
                out.append((t0, hit.end - t0))
        return out, missed
