"""A scrolling view of streamed agent output: styled, wrapped, appended in place.

Textual's ``Log`` appends partial lines cheaply but has no per-span styles; ``RichLog`` styles
but writes whole lines only. Agent output needs both: tokens land mid-line, and thinking, tool
calls, status lines and errors must look different from the answer text. A :class:`StreamDoc`
keeps logical lines as ``rich.text.Text`` and their wrapped strips (re-wrapping only the line
being appended to); a :class:`StreamView` shows one document at a time and renders from its strip
cache, like ``Log`` (textual/widgets/_log.py).

One view with many documents, rather than one widget per document: showing another document is a
repaint of this widget, not a layout of the screen (a ``ContentSwitcher`` toggles ``display``),
and a document not shown has its new lines wrapped after the screen has been painted, so the
key that shows it finds it ready.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right

from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.reactive import var
from textual.scroll_view import ScrollView
from textual.strip import Strip

__all__ = ["StreamDoc", "StreamView"]


class StreamDoc:
    """Append-only styled lines; wrapped for the view that shows it, when it shows it.

    Args:
        view: The view that shows it (and wraps it, at its width).
    """

    def __init__(self, view: StreamView) -> None:
        self._view = view
        self._lines: list[Text] = []
        self._wrapped: list[list[Strip]] = []
        self._starts: list[int] = []  # first visual row of each logical line
        self._height = 0
        self._width = 0
        #: Logical lines from this index on are not wrapped (for ``_width``) yet.
        self._stale = 0
        #: Where the view was scrolled when it last showed this document (None: the end).
        self.scroll_y: float | None = None
        #: Lines forgotten from the top to keep at most ``StreamView.max_lines`` (the stream in
        #: the database keeps them all: ``agentdeck stream ID`` and export print them).
        self.dropped = 0
        #: Visual rows forgotten since the view last looked (it moves its scroll by them).
        self.trimmed_rows = 0

    # -- content ------------------------------------------------------------------------------

    @property
    def line_count(self) -> int:
        """How many logical lines the document holds (forgotten ones not counted)."""
        return len(self._lines)

    @property
    def plain(self) -> str:
        """The document's text, unstyled, its lines joined by newlines."""
        return "\n".join(t.plain for t in self._lines)

    @property
    def at_line_start(self) -> bool:
        """Whether the next append starts a line (the last line is empty)."""
        return not self._lines or not self._lines[-1].plain

    def clear(self) -> None:
        """Forget every line (the view repaints if it shows this document)."""
        self._lines.clear()
        self._stale = 0
        self.dropped = 0
        self._view.changed(self)

    def append(self, text: str, style: str | Style = "") -> None:
        """Append text, continuing the last line; newlines start new lines.

        Args:
            text: The text.
            style: Its style (a Rich style or style name; ``""``: the view's own).
        """
        self.append_many([(text, style)])

    def append_many(self, pieces: list[tuple[str, str | Style]]) -> None:
        """Append a batch of (text, style) pieces; the view is repainted once if it shows this.

        Past ``StreamView.max_lines`` the oldest lines are forgotten (a tenth more at once).

        Args:
            pieces: (text, style) pairs, each as :meth:`append` takes them.
        """
        if not pieces:
            return
        self._stale = min(self._stale, max(0, len(self._lines) - 1))
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
        excess = len(self._lines) - self._view.max_lines
        if excess > 0:
            # A tenth more than the excess goes at once, so a document at its cap trims once
            # per tenth of it, not at every batch; what was wrapped is kept, shifted up.
            self._trim(excess + self._view.max_lines // 10)
        self._view.changed(self)

    def _trim(self, n: int) -> None:
        """Forget the first ``n`` lines (memory stays bounded however long the stream)."""
        n = min(n, len(self._lines) - 1)
        if n <= 0:
            return
        del self._lines[:n]
        self.dropped += n
        wrapped = min(n, len(self._wrapped))
        rows = self._starts[wrapped] if wrapped < len(self._starts) else self._height
        del self._wrapped[:wrapped]
        self._starts = [y - rows for y in self._starts[wrapped:]]
        self._height -= rows
        self._stale = max(0, self._stale - n)
        self.trimmed_rows += rows
        if self.scroll_y is not None:
            self.scroll_y = max(0.0, self.scroll_y - rows)

    def new_line(self) -> None:
        """Start a new line unless the last one is empty."""
        if self._lines and self._lines[-1].plain:
            self.append("\n")

    # -- finding ------------------------------------------------------------------------------

    def hits(self, needle: str) -> list[int]:
        """The logical lines whose text contains ``needle``, ignoring case, in order.

        Args:
            needle: The text to find.

        Returns:
            The indexes of those lines; none for an empty needle.
        """
        low = needle.lower()
        return [i for i, t in enumerate(self._lines) if low in t.plain.lower()] if low else []

    def line(self, index: int) -> Text:
        """One logical line.

        Args:
            index: Its index (0: the oldest line kept).

        Returns:
            The line's styled text (the document's own: copy it before changing it).
        """
        return self._lines[index]

    # -- layout -------------------------------------------------------------------------------

    def layout(self, width: int) -> int:
        """Wrap what is not wrapped for ``width`` yet (everything, when the width changed).

        Args:
            width: The width to wrap at, in cells.

        Returns:
            The document's height in visual rows.
        """
        if width != self._width:
            self._width, self._stale = width, 0
        index = self._stale
        if index < len(self._lines) or len(self._wrapped) != len(self._lines):
            del self._wrapped[index:]
            del self._starts[index:]
            y = self._starts[-1] + len(self._wrapped[-1]) if self._wrapped else 0
            for line in self._lines[index:]:
                strips = self._view.wrap(line, width)
                self._starts.append(y)
                self._wrapped.append(strips)
                y += len(strips)
            self._height = y
            self._stale = len(self._lines)
        return self._height

    def row(self, row: int) -> Strip | None:
        """One visual row, as last laid out.

        Args:
            row: The row, from the top of the document.

        Returns:
            The row's strip; ``None`` past the end.
        """
        if row >= self._height or not self._starts:
            return None
        i = bisect_right(self._starts, row) - 1
        return self._wrapped[i][row - self._starts[i]]

    def line_at(self, row: int) -> int:
        """The logical line shown at visual ``row`` (as last laid out).

        Args:
            row: The row, from the top of the document.

        Returns:
            The index of the logical line that row belongs to.
        """
        return max(0, bisect_right(self._starts, row) - 1)

    def first_row(self, index: int) -> int | None:
        """The visual row where logical line ``index`` starts.

        Args:
            index: The logical line.

        Returns:
            Its first row; ``None`` if it is not laid out.
        """
        return self._starts[index] if index < len(self._starts) else None


class StreamView(ScrollView, can_focus=True):
    """Shows one :class:`StreamDoc`, following its tail unless scrolled up.

    Args:
        id: The widget's id.
        classes: Its CSS classes.
    """

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
        self.doc = StreamDoc(self)
        self._width = 0
        self._rows = 0  # the height shown, as of the last resize
        #: Documents not shown whose new lines are not wrapped yet.
        self._behind: set[StreamDoc] = set()
        #: A find's current match: the logical line, and the text marked in it.
        self.mark: tuple[int, str] | None = None
        self._marked: tuple[tuple[int, int, str, int, int], list[Strip]] | None = None

    # -- finding ------------------------------------------------------------------------------

    def find(self, needle: str, step: int = 0) -> tuple[int, int] | None:
        """Mark a line that contains ``needle``, ignoring case, and scroll to it.

        Scrolling to a match leaves the tail, so the view stops following it; ``end`` follows
        again.

        Args:
            needle: The text to find.
            step: 1 for the next matching line after the mark, -1 for the previous one (both
                wrap round), 0 for the first from the top of the view (as the needle is typed).

        Returns:
            (which match, how many lines match), or ``None`` for no match.
        """
        doc = self.doc
        self._layout()
        hits = doc.hits(needle)  # one pass over the lines, whatever the step
        if not hits:
            self.clear_mark()
            return None
        if step and self.mark is not None and self.mark[1].lower() == needle.lower():
            here = self.mark[0]
            # After the mark (or before it, going back), wrapping round.
            n = bisect_right(hits, here) if step > 0 else bisect_left(hits, here) - 1
        else:
            n = bisect_left(hits, doc.line_at(int(self.scroll_y)))  # from the top of the view
        n %= len(hits)
        found = hits[n]
        self.mark = (found, needle)
        row = doc.first_row(found) or 0
        self._scroll_now(max(0, min(row - 2, self.max_scroll_y)))  # two lines above it
        self.refresh()
        return n + 1, len(hits)

    def clear_mark(self) -> None:
        """Remove a find's mark (the view stays where it is)."""
        if self.mark is not None:
            self.mark = None
            self.refresh()

    def _marked_row(self, row: int) -> Strip | None:
        """Row ``row`` of the marked line, the match highlighted (None if it is another)."""
        if self.mark is None:
            return None
        index, needle = self.mark
        first = self.doc.first_row(index) if index < self.doc.line_count else None
        if first is None or row < first:
            return None
        # (The line may be the one text is being appended to: its length is in the key.)
        key = (id(self.doc), index, needle, self._width, len(self.doc.line(index)))
        if self._marked is None or self._marked[0] != key:
            line = self.doc.line(index).copy()
            line.highlight_words([needle], style="reverse bold", case_sensitive=False)
            self._marked = (key, self.wrap(line, self._width))
        strips = self._marked[1]
        return strips[row - first] if row - first < len(strips) else None

    # -- showing a document -------------------------------------------------------------------

    def show(self, doc: StreamDoc) -> None:
        """Show ``doc`` where it was left (its tail, if it was followed).

        Args:
            doc: The document to show (one of this view's).
        """
        if doc is self.doc:
            return
        self.doc.scroll_y = None if self._at_tail else self.scroll_y
        self.mark = None
        self.doc = doc
        self._layout()
        if doc.scroll_y is None:
            self._follow()
        else:
            self._scroll_now(min(doc.scroll_y, self.max_scroll_y))
        self.refresh()

    def changed(self, doc: StreamDoc) -> None:
        """``doc`` grew or was cleared: if it is the one shown, lay it out and repaint; if not,
        wrap its new lines once the screen has been painted, so showing it later (a key on the
        timeline) finds it ready.

        Args:
            doc: The document that changed.
        """
        if doc is not self.doc:
            if not self._behind:
                self.call_after_refresh(self._catch_up)
            self._behind.add(doc)
            return
        follow = self._at_tail
        trimmed, doc.trimmed_rows = doc.trimmed_rows, 0
        self._layout()
        if follow:
            self._follow()
        elif trimmed:  # the lines under the reader's eyes stay there
            self._scroll_now(max(0.0, self.scroll_y - trimmed))
        if trimmed:
            self.mark = None  # a find's line numbers moved
        self.refresh()

    @property
    def following(self) -> bool:
        """Whether the view follows its document's tail (the user has not scrolled up)."""
        return self._at_tail

    @property
    def _at_tail(self) -> bool:
        """Following: scrolled to the last row (within one), with following on."""
        return self.auto_follow and self.scroll_y >= self.max_scroll_y - 1

    def _follow(self) -> None:
        """Scroll to the last row now. (``scroll_to`` refuses until the scrollbars have caught
        up with the new virtual size, a refresh later; ``max_scroll_y`` follows it at once.)"""
        self._scroll_now(self.max_scroll_y)

    def _scroll_now(self, y: float) -> None:
        self.scroll_target_y = self.scroll_y = y

    def _scroll_update(self, virtual_size: Size) -> None:
        # Textual's hook for a new virtual size (it shows or hides the scrollbars): a scrollbar
        # that appears now missed the scroll_y watcher that placed its thumb.
        super()._scroll_update(virtual_size)
        if self.show_vertical_scrollbar:
            self.vertical_scrollbar.position = self.scroll_y

    def _catch_up(self) -> None:
        docs, self._behind = self._behind, set()
        if self._width > 0:
            for doc in docs:
                doc.layout(self._width)

    def _layout(self) -> None:
        if self._width <= 0:  # nothing is wrapped before the view has a size
            return
        size = Size(self._width, self.doc.layout(self._width))
        old = self.virtual_size
        if size == old:
            return
        rows = self.container_size.height
        if old.width == size.width and (old.height > rows) == (size.height > rows) and rows:
            # Only the scrollable length changed, and the scrollbar stays as it was (shown or
            # not; the gutter is reserved either way): no need to lay the screen out, which the
            # virtual_size reactive would do at every append (a full repaint of the screen per
            # stream batch). Textual's own hook updates the scrollbar's extent.
            self.set_reactive(StreamView.virtual_size, size)
            self._scroll_update(size)
        else:
            self.virtual_size = size

    def wrap(self, line: Text, width: int) -> list[Strip]:
        """One logical line wrapped at a width, rendered (long words fold).

        Args:
            line: The styled line.
            width: The width in cells.

        Returns:
            One strip per visual row (one blank strip for an empty line).
        """
        if not line.plain:
            return [Strip.blank(0)]
        console = self.app.console
        return [Strip(w.render(console)) for w in line.wrap(console, width, overflow="fold")]

    def on_resize(self) -> None:
        region = self.scrollable_content_region
        # Following is judged against the height the view had: a view that shrinks (a pane
        # above it grows) would otherwise find itself rows short of its tail and stop following.
        was_max = max(0, self.virtual_size.height - self._rows)
        follow = self.auto_follow and self.scroll_y >= was_max - 1
        self._rows = region.height
        if region.width != self._width:
            self._width = region.width
            self._layout()
        if follow:  # also text that arrived before the view had a size
            self._follow()
        self.refresh()

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.size.width
        style = self.rich_style
        strip = self._marked_row(scroll_y + y) or self.doc.row(scroll_y + y)
        if strip is None:
            return Strip.blank(width, style)
        return strip.crop_extend(scroll_x, scroll_x + width, style).apply_style(style)
