"""Charts of the insights screen, drawn by plotext through ``textual-plotext``.

Each chart keeps the data it was given and draws it again when the app's theme changes: the
series take the theme's colours (``$success``, ``$error``, ``$warning``…), the background and
axes are the theme's (textual-plotext's "auto" theme).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from functools import partial
from typing import Any, cast

from rich.text import Text
from textual.app import RenderResult
from textual.color import Color
from textual_plotext import PlotextPlot

from ..data.insights import Bucket, Histogram
from ..formatting import duration

__all__ = ["Chart", "CostChart", "HistogramChart", "RunsChart", "bucket_labels"]

RGB = tuple[int, int, int]


def bucket_labels(buckets: Sequence[Bucket], bucket_s: int) -> list[str]:
    """A short label per bucket: ``14:00`` for hour buckets and below, ``12-03`` for days,
    ``03 06h`` in between.

    Args:
        buckets: The window's buckets.
        bucket_s: Their size in seconds.

    Returns:
        One label per bucket, in local time.
    """
    if bucket_s >= 86400:
        fmt = "%m-%d"
    elif bucket_s >= 6 * 3600:
        fmt = "%d %Hh"
    else:
        fmt = "%H:%M"
    return [time.strftime(fmt, time.localtime(b.start)) for b in buckets]


class Chart(PlotextPlot):
    """A plot built on a worker thread (plotext takes tens of milliseconds for a wide chart:
    not on the UI thread), drawn again when its data, its size or the theme changes.

    ``redraw`` takes the theme's colours on the UI thread and marks the drawing stale; the next
    render starts a build of that version at that size and shows the last one meanwhile.
    Nothing is built before the first data is shown (``show`` calls ``redraw``): an empty chart
    built while the screen's first statement runs only took the CPU from it.
    """

    #: The theme colours a chart may use, read on the UI thread for the builder.
    COLOURS = ("success", "error", "warning", "primary", "accent", "secondary", "foreground")

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 (Textual's name)
        super().__init__(id=id)
        self._lock = threading.Lock()
        self._palette: dict[str, RGB] = {}
        self._version = 0
        self._built: tuple[tuple[Any, ...], Text] | None = None
        self._pending: tuple[Any, ...] | None = None
        self._shown = False
        self._drawn = asyncio.Event()

    def on_mount(self) -> None:
        super().on_mount()
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._theme_changed())

    def _theme_changed(self) -> None:
        if self._shown:
            self.redraw()

    @property
    def building(self) -> bool:
        """A build of the data shown is under way or due (screenshots wait for it)."""
        if not self._shown:
            return False
        return self._pending is not None or self._built is None or self._built[0] != self._key()

    async def drawn(self) -> None:
        """Wait until the data last shown is drawn (a chart with no room on screen is never
        built: no wait for it). Callers bound the wait (``asyncio.timeout``)."""
        if self.building and self.size.width and self.size.height:
            await self._drawn.wait()

    def colour(self, name: str) -> RGB:
        """A theme colour, as last read on the UI thread.

        Args:
            name: One of :attr:`COLOURS`.

        Returns:
            Its RGB (the foreground's, or grey, before the theme was read).
        """
        return self._palette.get(name) or self._palette.get("foreground") or (128, 128, 128)

    def redraw(self) -> None:
        """Read the theme's colours and draw again (on the next render, in a worker)."""
        variables = self.app.theme_variables
        self._palette = {
            n: Color.parse(variables.get(n) or variables["foreground"]).rgb for n in self.COLOURS
        }
        self._version += 1
        self._shown = True
        self._drawn.clear()
        # Built now when the chart has its size (not at the next paint: a frame later, 10-20
        # ms of the insights' first paint); else when it is laid out and painted.
        self._start_build()
        self.refresh()

    def _key(self) -> tuple[Any, ...]:
        return (self._version, self.size.width, self.size.height, self.app.theme)

    def _start_build(self) -> tuple[Any, ...]:
        """Start building the current version at the current size, unless it is built or
        being built, or the chart has no size yet. Returns the current key."""
        key = self._key()
        built = self._built is not None and self._built[0] == key
        if not built and self.size.width > 0 and self.size.height > 0 and self._pending != key:
            self._pending = key
            theme = self._get_plotext_theme_name(self.app.theme)
            self.run_worker(
                partial(self._build, key, theme),
                thread=True,
                group="charts",
                exit_on_error=False,
                description="draw a chart",
            )
        return key

    def render(self) -> RenderResult:
        if not self._shown:
            return Text("")
        self._start_build()
        # The current drawing, or the last one until the build of the current one is in.
        return self._built[1] if self._built is not None else Text("")

    def _build(self, key: tuple[Any, ...], theme: str) -> None:
        """In a worker thread: the whole figure of ``key``'s version at its size."""
        _, width, height, _ = key
        with self._lock:
            plt = self.plt
            plt.clear_figure()
            self.draw()
            plt.plotsize(width, height)
            plt._set_size(width, height)  # as PlotextPlot.render does (textual-plotext #5)
            plt.theme(theme)
            text = Text.from_ansi(plt.build())
        try:
            self.app.call_from_thread(self._built_one, key, text)
        except RuntimeError:  # the app has closed meanwhile
            pass

    def _built_one(self, key: tuple[Any, ...], text: Text) -> None:
        if self._built is None or self._built[0][0] <= key[0]:
            self._built = (key, text)
        if self._pending == key:
            self._pending = None
        if not self.building:
            self._drawn.set()
        self.refresh()

    def draw(self) -> None:
        """Draw the chart with ``self.plt`` (in a worker thread: subclasses draw their data).

        Raises:
            NotImplementedError: In the base class.
        """
        raise NotImplementedError

    #: At most this many x labels, whatever the width (so that 60 columns hold them and the
    #: labels do not depend on a width that moves while the screen lays out).
    LABELS = 6

    def ticks(self, labels: list[str]) -> None:
        """Label the x axis with at most :attr:`LABELS` of ``labels``, evenly spaced.

        Args:
            labels: A label per bar.
        """
        n = len(labels)
        if not n:
            return
        every = -(-n // self.LABELS)
        shown = list(range(0, n, every))
        self.plt.xticks([i + 1 for i in shown], [labels[i] for i in shown])


def counts_axis(plt: Any, top: int) -> None:
    """Give a chart a y axis of counts from 0 with whole, round ticks.

    Ticks are 1, 2 or 5 × 10^k apart, at most five steps: plotext would centre an all-zero
    chart on 0 (-1 to 1) and tick counts in fractions.

    Args:
        plt: The chart's plotext module (``PlotextPlot.plt``).
        top: The largest count drawn.
    """
    step = 1
    while max(top, 1) > 5 * step:
        step = step * 5 // 2 if str(step)[0] == "2" else step * 2
    last = -(-max(top, 1) // step) * step
    plt.ylim(0, last)
    plt.yticks(list(range(0, last + 1, step)))


def _counts(b: Bucket) -> tuple[float, int, int, int, int]:
    return (b.start, b.started, b.succeeded, b.failed, b.cancelled)


class RunsChart(Chart):
    """Runs started per bucket, stacked by outcome (succeeded, failed, cancelled, in flight)."""

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 (Textual's name)
        super().__init__(id=id)
        self.buckets: tuple[Bucket, ...] = ()
        self.bucket_s = 3600

    def show(self, buckets: Sequence[Bucket], bucket_s: int) -> None:
        """Draw these counts; the same counts again (a first read's rest, a refresh where no
        run started or ended) keep the drawing (a build is 40-100 ms of CPU).

        Args:
            buckets: The window's buckets.
            bucket_s: Their size in seconds (for the labels).
        """
        before = (self.bucket_s, [_counts(b) for b in self.buckets])
        self.buckets, self.bucket_s = tuple(buckets), bucket_s
        if not self._shown or before != (bucket_s, [_counts(b) for b in self.buckets]):
            self.redraw()

    def draw(self) -> None:
        plt = self.plt
        b = self.buckets
        if not b:
            plt.title("no runs")
            return
        xs = list(range(1, len(b) + 1))
        ok = [x.succeeded for x in b]
        failed = [x.failed for x in b]
        cancelled = [x.cancelled for x in b]
        other = [x.started - x.succeeded - x.failed - x.cancelled for x in b]
        series = [
            (ys, label, self.colour(colour))
            for ys, label, colour in (
                (ok, "succeeded", "success"),
                (failed, "failed", "error"),
                (cancelled, "cancelled", "warning"),
                (other, "in flight", "primary"),
            )
            # Only the outcomes the window has (the legend names those): plotext fills every
            # bar of every series, so two empty series were half of a 45 ms build.
            if any(ys)
        ] or [(ok, "succeeded", self.colour("success"))]
        # textual-plotext's typed copy of plotext says ``label`` and one colour; plotext 5.3
        # itself, which draws, takes ``labels`` and a colour per series.
        cast(Any, plt).stacked_bar(
            xs,
            [ys for ys, _, _ in series],
            labels=[label for _, label, _ in series],
            color=[colour for _, _, colour in series],
        )
        self.ticks(bucket_labels(b, self.bucket_s))
        counts_axis(plt, max(x.started for x in b))


class CostChart(Chart):
    """Cost per bucket, stacked by model."""

    PALETTE = ("primary", "accent", "secondary", "warning", "success")

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.buckets: tuple[Bucket, ...] = ()
        self.bucket_s = 3600

    def show(self, buckets: Sequence[Bucket], bucket_s: int) -> None:
        """Chart these buckets.

        Args:
            buckets: The window's buckets.
            bucket_s: Their size in seconds (for the labels).
        """
        self.buckets, self.bucket_s = tuple(buckets), bucket_s
        self.redraw()

    def models(self) -> list[str]:
        """The models that cost anything in the window.

        Returns:
            Their names, the costliest first.
        """
        totals: dict[str, float] = {}
        for b in self.buckets:
            for m, c in b.cost.items():
                totals[m] = totals.get(m, 0.0) + c
        return sorted(totals, key=lambda m: -totals[m])

    def draw(self) -> None:
        plt = self.plt
        models = self.models()
        if not models:
            plt.title("no Claude calls")
            return
        xs = list(range(1, len(self.buckets) + 1))
        series = [[b.cost.get(m, 0.0) for b in self.buckets] for m in models]
        # textual-plotext's typed copy of plotext says ``label`` and one colour; plotext 5.3
        # itself, which draws, takes ``labels`` and a colour per series.
        cast(Any, plt).stacked_bar(
            xs,
            series,
            labels=models,
            color=[self.colour(self.PALETTE[i % len(self.PALETTE)]) for i in range(len(models))],
        )
        plt.ylabel("USD")
        top = max((sum(x) for x in zip(*series, strict=True)), default=0.0)
        plt.ylim(0, top if top > 0 else 1)
        self.ticks(bucket_labels(self.buckets, self.bucket_s))


class HistogramChart(Chart):
    """How the durations of the selected workflow or step name spread."""

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.histogram: Histogram | None = None

    def show(self, histogram: Histogram | None) -> None:
        """Chart this histogram.

        Args:
            histogram: The selected row's durations (``None``: nothing selected).
        """
        self.histogram = histogram
        self.redraw()

    def draw(self) -> None:
        plt = self.plt
        h = self.histogram
        if h is None or not sum(h.counts):
            plt.title("select a row: its durations")
            return
        n = len(h.counts)
        width = (h.hi_s - h.lo_s) / n if n else 0.0
        xs = list(range(1, n + 1))
        plt.bar(xs, list(h.counts), color=self.colour("accent"))
        counts_axis(plt, max(h.counts))
        plt.title(f"{h.kind} {h.name}: durations")
        labels = [duration(h.lo_s + i * width) for i in range(n)]
        self.ticks(labels)
