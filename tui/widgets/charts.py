"""Charts of the insights screen, drawn by plotext through ``textual-plotext``.

Each chart keeps the data it was given and draws it again when the app's theme changes: the
series take the theme's colours (``$success``, ``$error``, ``$warning``…), the background and
axes are the theme's (textual-plotext's "auto" theme).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, cast

from textual.color import Color
from textual_plotext import PlotextPlot

from ..data.insights import Bucket, Histogram
from ..formatting import duration

__all__ = ["CostChart", "HistogramChart", "RunsChart", "bucket_labels"]

RGB = tuple[int, int, int]


def bucket_labels(buckets: Sequence[Bucket], bucket_s: int) -> list[str]:
    """A short label per bucket: ``14:00`` for hour buckets and below, ``12-03`` for days,
    ``12-03 06h`` in between."""
    if bucket_s >= 86400:
        fmt = "%m-%d"
    elif bucket_s >= 6 * 3600:
        fmt = "%d %Hh"
    else:
        fmt = "%H:%M"
    return [time.strftime(fmt, time.localtime(b.start)) for b in buckets]


class _Chart(PlotextPlot):
    """A plot that redraws itself (with the theme's colours) when the theme changes."""

    def on_mount(self) -> None:
        super().on_mount()
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.redraw())

    def colour(self, name: str) -> RGB:
        value = self.app.theme_variables.get(name) or self.app.theme_variables["foreground"]
        return Color.parse(value).rgb

    def redraw(self) -> None:
        plt = self.plt
        plt.clear_figure()
        self.draw()
        self.refresh()

    def draw(self) -> None:
        raise NotImplementedError

    #: At most this many x labels, whatever the width (so that 60 columns hold them and the
    #: labels do not depend on a width that moves while the screen lays out).
    LABELS = 6

    def ticks(self, labels: list[str]) -> None:
        n = len(labels)
        if not n:
            return
        every = -(-n // self.LABELS)
        shown = list(range(0, n, every))
        self.plt.xticks([i + 1 for i in shown], [labels[i] for i in shown])


class RunsChart(_Chart):
    """Runs started per bucket, stacked by outcome (succeeded, failed, cancelled, in flight)."""

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 (Textual's name)
        super().__init__(id=id)
        self.buckets: tuple[Bucket, ...] = ()
        self.bucket_s = 3600

    def show(self, buckets: Sequence[Bucket], bucket_s: int) -> None:
        self.buckets, self.bucket_s = tuple(buckets), bucket_s
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
        # textual-plotext's typed copy of plotext says ``label`` and one colour; plotext 5.3
        # itself, which draws, takes ``labels`` and a colour per series.
        cast(Any, plt).stacked_bar(
            xs,
            [ok, failed, cancelled, other],
            labels=["succeeded", "failed", "cancelled", "in flight"],
            color=[
                self.colour("success"),
                self.colour("error"),
                self.colour("warning"),
                self.colour("primary"),
            ],
        )
        self.ticks(bucket_labels(b, self.bucket_s))


class CostChart(_Chart):
    """Cost per bucket, stacked by model."""

    PALETTE = ("primary", "accent", "secondary", "warning", "success")

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.buckets: tuple[Bucket, ...] = ()
        self.bucket_s = 3600

    def show(self, buckets: Sequence[Bucket], bucket_s: int) -> None:
        self.buckets, self.bucket_s = tuple(buckets), bucket_s
        self.redraw()

    def models(self) -> list[str]:
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
        self.ticks(bucket_labels(self.buckets, self.bucket_s))


class HistogramChart(_Chart):
    """How the durations of the selected workflow or step name spread."""

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.histogram: Histogram | None = None

    def show(self, histogram: Histogram | None) -> None:
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
        plt.title(f"{h.kind} {h.name}: durations")
        labels = [duration(h.lo_s + i * width) for i in range(n)]
        self.ticks(labels)
