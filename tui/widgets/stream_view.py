"""A scrolling view of streamed agent output: styled, wrapped, appended in place.

Textual's ``Log`` appends partial lines cheaply but has no per-span styles; ``RichLog`` styles
but writes whole lines only. Agent output needs both: tokens land mid-line, and thinking, tool
calls, status lines and errors must look different from the answer text. This widget keeps
logical lines as ``rich.text.Text``, wraps each one once (re-wrapping only the line being
appended to), and renders from a strip cache, like ``Log`` (textual/widgets/_log.py).
"""

from __future__ import annotations

from bisect import bisect_right

from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.reactive import var
from textual.scroll_view import ScrollView
from textual.strip import Strip

__all__ = ["StreamView"]


class StreamView(ScrollView, can_focus=True):
    """Append-only styled text with follow-the-tail scrolling."""

    DEFAULT_CSS = """
    StreamView {
        background: $surface;
        scrollbar-gutter: stable;
    }
    """

    max_lines: var[int] = var(20_000)
    auto_follow: var[bool] = var(True)

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id, classes=classes)
        self._lines: list[Text] = []
        self._wrapped: list[list[Strip]] = []
        self._starts: list[int] = []  # first visual row of each logical line
        self._height = 0
        self._width = 0

    # -- content ------------------------------------------------------------------------------

    @property
    def line_count(self) -> int:
        return len(self._lines)

    @property
    def plain(self) -> str:
        return "\n".join(t.plain for t in self._lines)

    def clear(self) -> None:
        self._lines.clear()
        self._wrapped.clear()
        self._starts.clear()
        self._height = 0
        self.virtual_size = Size(self._width, 0)
        self.refresh()

    def append(self, text: str, style: str | Style = "") -> None:
        """Append text, continuing the last line; newlines start new lines."""
        self.append_many([(text, style)])

    def append_many(self, pieces: list[tuple[str, str | Style]]) -> None:
        """Append a batch of (text, style) pieces with one re-layout and one refresh."""
        if not pieces:
            return
        follow = self.auto_follow and self.scroll_y >= self.max_scroll_y - 1
        first_touched = max(0, len(self._lines) - 1)
        for text, style in pieces:
            if not text:
                continue
            parts = text.split("\n")
            if not self._lines:
                self._lines.append(Text())
            self._lines[-1].append(parts[0], style=style or None)
            for more in parts[1:]:
                line = Text()
                line.append(more, style=style or None)
                self._lines.append(line)
        self._relayout_from(first_touched)
        self._prune()
        if follow:
            self.scroll_end(animate=False, immediate=False, x_axis=False)
        self.refresh()

    @property
    def at_line_start(self) -> bool:
        return not self._lines or not self._lines[-1].plain

    def new_line(self) -> None:
        if self._lines and self._lines[-1].plain:
            self.append("\n")

    # -- layout -------------------------------------------------------------------------------

    def _wrap(self, line: Text) -> list[Strip]:
        width = max(1, self._width)
        if not line.plain:
            return [Strip.blank(0)]
        console = self.app.console
        out = []
        for wrapped in line.wrap(console, width, overflow="fold"):
            out.append(Strip(wrapped.render(console)))
        return out

    def _relayout_from(self, index: int) -> None:
        del self._wrapped[index:]
        del self._starts[index:]
        y = self._starts[-1] + len(self._wrapped[-1]) if self._wrapped else 0
        for line in self._lines[index:]:
            strips = self._wrap(line)
            self._starts.append(y)
            self._wrapped.append(strips)
            y += len(strips)
        self._height = y
        self.virtual_size = Size(self._width, self._height)

    def _prune(self) -> None:
        excess = len(self._lines) - self.max_lines
        if excess > 0:
            del self._lines[:excess]
            self._relayout_from(0)

    def on_resize(self) -> None:
        width = self.scrollable_content_region.width
        if width != self._width:
            self._width = width
            self._relayout_from(0)
            self.refresh()

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        row = scroll_y + y
        width = self.size.width
        style = self.rich_style
        if row >= self._height or not self._starts:
            return Strip.blank(width, style)
        i = bisect_right(self._starts, row) - 1
        strip = self._wrapped[i][row - self._starts[i]]
        return strip.crop_extend(scroll_x, scroll_x + width, style).apply_style(style)
