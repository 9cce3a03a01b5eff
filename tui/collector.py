"""Full garbage collections while nobody types.

A full collection walks every object the collector tracks and holds the GIL while it does:
20-80 ms in a dashboard streaming 50 runs (bench/many_streams.py), once every two seconds or so
at CPython's default pacing. Landing in the middle of a keypress, that pause was the slowest
key -> repaint of the run. The dashboard keeps CPython's young collections (they are short)
and runs the full ones itself: when they are due and the keyboard and mouse have been quiet
for a second, or, if the user never stops, once they are long overdue. Nothing is left
uncollected for more than about a minute of heavy streaming.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

__all__ = ["QuietCollector"]


class QuietCollector:
    #: Young (generation 1) collections since the last full one after which a full one is due:
    #: CPython's own third threshold.
    DUE = 10
    #: ... and after which it runs even while the user types.
    OVERDUE = 300
    #: Input this recent postpones a due collection.
    QUIET_S = 1.0

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.last_input = clock()
        self.collections = 0
        self._threshold: tuple[int, int, int] | None = None

    def start(self) -> None:
        """Freeze what is alive now and take over full collections.

        Everything loaded by startup (Textual, DBOS, SQLAlchemy, pydantic) lives as long as the
        app: frozen, the collector never walks it again (its full passes over ~285k objects took
        120-200 ms and were the worst frames while streaming: bench/screen_latency.py).
        """
        gc.collect()
        gc.freeze()
        if self._threshold is None:
            self._threshold = gc.get_threshold()
            young, middle, _ = self._threshold
            gc.set_threshold(young, middle, 1_000_000)  # full collections: ours only

    def stop(self) -> None:
        """Give full collections back to CPython (several apps run in one test process)."""
        if self._threshold is not None:
            gc.set_threshold(*self._threshold)
            self._threshold = None

    def touched(self) -> None:
        """The user pressed a key or used the mouse."""
        self.last_input = self.clock()

    def tick(self) -> bool:
        """Run a full collection if one is due now (called every second); whether it ran."""
        if self._threshold is None:
            return False
        pending = gc.get_count()[2]
        quiet = self.clock() - self.last_input >= self.QUIET_S
        if pending >= self.OVERDUE or (pending >= self.DUE and quiet):
            gc.collect()
            self.collections += 1
            return True
        return False
