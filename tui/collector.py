"""Full garbage collections wait while the user types.

A full collection walks every object the collector tracks and holds the GIL while it does:
20-80 ms in a dashboard streaming 50 runs (bench/many_streams.py), every two seconds or so at
CPython's pacing. Landing in the middle of a keypress, that pause was the slowest key ->
repaint of the run. So while keys or the mouse are in use, CPython's full collections are held
back; a second after the last one, CPython's own pacing (and its own rule for when a full
collection is worth it) is back. Young collections are never touched, and if the user never
stops, a full collection runs anyway once long overdue.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

__all__ = ["QuietCollector"]

#: A third threshold CPython never reaches: no automatic full collection.
_HELD = 1_000_000


class QuietCollector:
    #: Young (generation 1) collections since the last full one after which a full one runs
    #: even while the user types (CPython's own threshold is 10).
    OVERDUE = 300
    #: Input this recent holds full collections back.
    QUIET_S = 1.0

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.last_input = clock()
        self.collections = 0
        self._threshold: tuple[int, int, int] | None = None
        self._holding = False

    def start(self) -> None:
        """Freeze what is alive now; from now on, hold full collections back while typing.

        Everything loaded by startup (Textual, DBOS, SQLAlchemy, pydantic) lives as long as the
        app: frozen, the collector never walks it again (its full passes over ~285k objects took
        120-200 ms and were the worst frames while streaming: bench/screen_latency.py).
        """
        gc.collect()
        gc.freeze()
        if self._threshold is None:
            self._threshold = gc.get_threshold()

    def stop(self) -> None:
        """Give full collections back to CPython (several apps run in one test process)."""
        self._release()
        self._threshold = None

    @property
    def holding(self) -> bool:
        """Whether full collections are being held back now."""
        return self._holding

    def touched(self) -> None:
        """The user pressed a key or used the mouse: hold full collections back."""
        self.last_input = self.clock()
        if self._threshold is not None and not self._holding:
            young, middle, _ = self._threshold
            gc.set_threshold(young, middle, _HELD)
            self._holding = True

    def tick(self) -> bool:
        """Called every second: release after a quiet second, or collect if long overdue.
        Whether a collection ran."""
        if not self._holding:
            return False
        if self.clock() - self.last_input >= self.QUIET_S:
            self._release()
            return False
        if gc.get_count()[2] >= self.OVERDUE:
            gc.collect()
            self.collections += 1
            return True
        return False

    def _release(self) -> None:
        if self._holding and self._threshold is not None:
            gc.set_threshold(*self._threshold)
        self._holding = False
