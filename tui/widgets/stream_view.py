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

import asyncio
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Awaitable, Callable, Iterable, Iterator
from math import ceil
from typing import Generic, Literal, TypeVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Span, Text
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import Reactive, var
from textual.scroll_view import ScrollView
from textual.scrollbar import ScrollBar
from textual.strip import Strip

__all__ = [
    "LineReader",
    "ReadBack",
    "Row",
    "Rows",
    "StreamDoc",
    "StreamView",
    "Line",
    "StyleTable",
    "ThumbScrollBar",
    "line_parts",
]

#: What a document's reader returns: the global index of the first line, the lines from there
#: on (each whole), and whether they reach the end of what has been fed (then the last one is the
#: line being written, and what was fed during the read follows it).
ReadBack = tuple[int, list[Text], bool]
#: Reads a document's lines ``[lo, hi)`` (``hi`` None: to what has been fed) back from where
#: they came from (its stream in the database); called on the event loop, it notes there what
#: has been fed so far, and does its reading and rendering in worker threads.
LineReader = Callable[[int, "int | None"], Awaitable[ReadBack]]
ReadKind = Literal["older", "newer", "tail", "start"]
#: One row of a wrapped line: its segments as (text, index of the style in the view's
#: :class:`StyleTable`). Tuples of strings and ints only: Python's cyclic GC stops tracking such
#: tuples after one pass, so the kept lines' rows (two or more per line, for 20,000 lines) are not
#: walked by every full (generation-2) pass, as segments holding ``Style`` objects were.
Row = tuple[tuple[str, int], ...]
#: The rows of one logical line.
Rows = tuple[Row, ...]
#: A kept line, compact: its text and its spans as (start, end, index of the style in the view's
#: ``span_styles``): strings and ints, untracked by the GC as rows are. The line being appended to
#: (and one with a style or settings of its own) stays a ``Text``.
Line = tuple[str, tuple[tuple[int, int, int], ...]]

S = TypeVar("S", str | Style, Style | None)


def line_parts(
    pieces: Iterable[tuple[str, str | Style]],
) -> Iterator[tuple[bool, str, str | Style]]:
    """Pieces split where lines end: how a document makes lines of what it is fed, and how the
    lines read back from a stream are made again (they must be the same lines).

    Args:
        pieces: (text, style) pairs.

    Returns:
        (starts a new line, text, style) for each part of each non-empty piece, in order.
    """
    for text, style in pieces:
        if not text:
            continue
        first, *more = text.split("\n")
        yield False, first, style
        for part in more:
            yield True, part, style


class StyleTable(Generic[S]):
    """Styles each stored once; rows and lines refer to them by index.

    Safe to add to from worker threads (lines read back are wrapped in one).
    """

    def __init__(self) -> None:
        self.styles: list[S] = []
        self._index: dict[S, int] = {}
        self._lock = threading.Lock()

    def index(self, style: S) -> int:
        """The index of a style, added if it is new.

        Args:
            style: A segment's style.

        Returns:
            Its index in ``styles``.
        """
        found = self._index.get(style)
        if found is not None:
            return found
        with self._lock:
            found = self._index.get(style)
            if found is None:
                found = len(self.styles)
                self.styles.append(style)  # (before the index: a reader finds it in place)
                self._index[style] = found
            return found


class ThumbScrollBar(ScrollBar):
    """A scrollbar repainted when its thumb moves on screen, not whenever the position changes.

    Paging through 40,000 rows moves the thumb of a 31-row bar by a fifth of an eighth of a cell
    per page: Textual's ``ScrollBar`` repaints at every change of ``position`` (1.5-2 ms of the
    frame, as much as the 31 rows of text), though the bar drawn is the same for most pages. The
    sizes and styles repaint it as before.

    Args:
        vertical: A vertical bar (else horizontal).
        name: The widget's name.
        thickness: Its thickness in cells.
    """

    position: Reactive[float] = Reactive(0, repaint=False)

    def watch_position(self, old: float, new: float) -> None:
        if self._bar(old) != self._bar(new):
            self.refresh()

    def _bar(self, position: float) -> list[tuple[str, Style | None]]:
        """The bar as drawn at ``position`` (what ``ScrollBarRender`` renders, default colours)."""
        size = self.size.height if self.vertical else self.size.width
        thickness = self.size.width if self.vertical else self.size.height
        window = self.window_size if self.window_size < self.window_virtual_size else 0
        bar = self.renderer.render_bar(
            size=size,
            virtual_size=ceil(self.window_virtual_size),
            window_size=ceil(window),
            position=position,
            thickness=thickness,
            vertical=self.vertical,
        )
        return [(seg.text, seg.style) for seg in bar.segments]


class StreamDoc:
    """Append-only styled lines; wrapped for the view that shows it, when it shows it.

    Args:
        view: The view that shows it (and wraps it, at its width).
    """

    def __init__(self, view: StreamView) -> None:
        self._view = view
        #: Logical lines: compact (see :data:`Line`) but for the last one, which text is
        #: appended to (a ``Text``; made compact when the next line starts).
        self._lines: list[Line | Text] = []
        #: Each line's rows as (text, style index) tuples: a ``Strip`` is made for a row when it
        #: is painted (a Strip carries seven caches, a Segment its Style: kept for every row of
        #: 20,000 lines they were most of the objects Python's cyclic GC walks, 120-170 ms a
        #: full pass, landing in a frame while scrolling).
        self._wrapped: list[Rows] = []
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
        #: Reads forgotten lines back (None: they are not read back; the top trims as before).
        self.reader: LineReader | None = None
        #: Away from the tail (newer lines forgotten from the bottom): the stream's line count
        #: and the length of its last line, counted as text is fed; None: the window ends at
        #: the tail and text fed is appended to it.
        self._tail: tuple[int, int] | None = None
        #: Text fed while a read-back is in flight (it follows the read's lines if they reach
        #: the end of what had been fed).
        self._pending: list[tuple[str, str | Style]] | None = None

    # -- content ------------------------------------------------------------------------------

    @property
    def line_count(self) -> int:
        """How many logical lines the document holds (forgotten ones not counted)."""
        return len(self._lines)

    @property
    def total(self) -> int:
        """Lines of the whole stream as fed (kept or not)."""
        return self._tail[0] if self._tail is not None else self.dropped + len(self._lines)

    @property
    def detached(self) -> bool:
        """Whether newer lines than the kept ones were forgotten (the reader is away from the
        tail): text fed is counted, not kept, until the tail is read back."""
        return self._tail is not None

    @property
    def below(self) -> int:
        """Lines after the kept ones (forgotten from the bottom)."""
        return self.total - self.dropped - len(self._lines) if self._tail is not None else 0

    def end_position(self) -> tuple[int, int]:
        """Where the end of what was fed is.

        Returns:
            The global index of the line being written, and its length so far.
        """
        if self._tail is not None:
            total, length = self._tail
            return max(0, total - 1), length
        if not self._lines:
            return 0, 0
        return self.dropped + len(self._lines) - 1, len(self._plain(self._lines[-1]))

    @staticmethod
    def _plain(line: Line | Text) -> str:
        return line.plain if isinstance(line, Text) else line[0]

    def _text(self, line: Line | Text) -> Text:
        """A line as ``Text`` (made again from a compact one)."""
        if isinstance(line, Text):
            return line
        styles = self._view.span_styles.styles
        return Text(line[0], spans=[Span(a, b, styles[i]) for a, b, i in line[1]])

    def _compact(self, line: Text) -> Line | Text:
        """A finished line, compact if it has no style or settings of its own."""
        if line.style or line.justify or line.overflow or line.no_wrap is not None:
            return line
        if line.end != "\n" or line.tab_size is not None:
            return line
        index = self._view.span_styles.index
        return (line.plain, tuple((s.start, s.end, index(s.style)) for s in line.spans))

    @property
    def plain(self) -> str:
        """The document's text, unstyled, its lines joined by newlines."""
        plain = self._plain
        return "\n".join(plain(line) for line in self._lines)

    @property
    def at_line_start(self) -> bool:
        """Whether the next append starts a line (the last line is empty)."""
        return not self._lines or not self._plain(self._lines[-1])

    def clear(self) -> None:
        """Forget every line (the view repaints if it shows this document)."""
        self._lines.clear()
        self._stale = 0
        self.dropped = 0
        self._tail = None
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
        if self._pending is not None:
            self._pending.extend(pieces)
        if self._tail is not None:
            self._count(pieces)  # nothing on screen changes
            return
        self._stale = min(self._stale, max(0, len(self._lines) - 1))
        lines = self._lines
        for new, text, style in line_parts(pieces):
            if new or not lines:
                lines.append(Text())
            last = lines[-1]
            if not isinstance(last, Text):  # appended to again (after a read-back)
                last = lines[-1] = self._text(last)
            last.append(text, style=style or None)
        self._keep_cap()
        self._view.changed(self)  # (wraps the shown document's new lines while they are Text)
        # The lines this batch finished are made compact, back to the last compact one.
        compact = self._compact
        for i in range(len(lines) - 2, -1, -1):
            done = lines[i]
            if not isinstance(done, Text):
                break
            lines[i] = compact(done)

    def _keep_cap(self) -> None:
        excess = len(self._lines) - self._view.max_lines
        if excess <= 0:
            return
        # A tenth more than the excess goes at once, so a document at its cap trims once per
        # tenth of it, not at every batch; what was wrapped is kept, shifted up.
        more = excess + self._view.max_lines // 10
        spare = self._view.lines_below_view(self) if self.reader is not None else None
        if spare is not None and spare >= excess:
            # The reader is scrolled up and the lines can be read back: the newest go, below
            # the view, and the lines under the reader's eyes stay where they are.
            self.drop_bottom(min(spare, more))
        else:
            self._trim(more)

    def _count(self, pieces: list[tuple[str, str | Style]]) -> None:
        """Away from the tail: count the lines fed (as ``append_many`` would make them)."""
        assert self._tail is not None
        total, length = self._tail
        for text, _style in pieces:
            if not text:
                continue
            total = max(total, 1)
            newlines = text.count("\n")
            if newlines:
                total += newlines
                length = len(text) - text.rfind("\n") - 1
            else:
                length += len(text)
        self._tail = (total, length)

    def drop_bottom(self, n: int) -> None:
        """Forget the last lines (the window leaves the tail; text fed after is counted).

        Args:
            n: How many lines to forget (the first line is always kept).
        """
        n = min(n, len(self._lines) - 1)
        if n <= 0:
            return
        self._detach()
        keep = len(self._lines) - n
        del self._lines[keep:]
        del self._wrapped[keep:]
        del self._starts[keep:]
        self._height = self._starts[-1] + len(self._wrapped[-1]) if self._wrapped else 0
        self._stale = min(self._stale, keep)

    def _detach(self) -> None:
        if self._tail is None:
            self._tail = (self.total, len(self._plain(self._lines[-1])) if self._lines else 0)

    def read_back(self, lo: int, lines: list[Text], strips: list[Rows] | None, width: int) -> None:
        """Place lines read back before the kept ones or after them (they abut), or instead.

        Args:
            lo: The global index of the first line read back.
            lines: The lines.
            strips: Their rows wrapped for ``width`` (in a worker thread), or None.
            width: The width they were wrapped for.
        """
        whole = len(self._wrapped) == len(self._lines) == self._stale and width == self._width
        fits = strips is not None and whole and len(strips) == len(lines)
        compact = self._compact
        kept = [compact(line) for line in lines]
        if lo + len(lines) == self.dropped and self._lines:  # before
            self._lines[:0] = kept
            self.dropped = lo
            if not fits or strips is None:
                self._stale = 0
                return
            starts, y = [], 0
            for s in strips:
                starts.append(y)
                y += len(s)
            self._wrapped[:0] = strips
            self._starts = starts + [row + y for row in self._starts]
            self._height += y
            self._stale = len(self._lines)
            return
        if not (lo == self.dropped + len(self._lines) and self._lines):  # instead
            self._detach()  # (attached again if the lines reach the end)
            self._lines.clear()
            self._wrapped.clear()
            self._starts.clear()
            self._height = self._stale = 0
            self.dropped = lo
            fits = strips is not None and width == self._width
        self._lines.extend(kept)  # after (or instead)
        if not fits or strips is None:
            return
        y = self._height
        for s in strips:
            self._starts.append(y)
            self._wrapped.append(s)
            y += len(s)
        self._height = y
        self._stale = len(self._lines)

    def attach(self, pending: list[tuple[str, str | Style]]) -> None:
        """The kept lines reach the end of what was fed again: what was fed since follows.

        Args:
            pending: The pieces fed while the kept lines were away from the tail.
        """
        self._tail = None
        self._stale = min(self._stale, max(0, len(self._lines) - 1))
        if pending:
            self.append_many(pending)
        else:
            self._keep_cap()

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
        if self._lines and self._plain(self._lines[-1]):
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
        plain = self._plain
        return [i for i, t in enumerate(self._lines) if low in plain(t).lower()] if low else []

    def line(self, index: int) -> Text:
        """One logical line.

        Args:
            index: Its index (0: the oldest line kept).

        Returns:
            The line's styled text (made again from its compact form, or the document's own
            for the last line: copy it before changing it).
        """
        return self._text(self._lines[index])

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
            rows_of, text = self._view.rows, self._text
            for line in self._lines[index:]:
                rows = rows_of(text(line), width)
                self._starts.append(y)
                self._wrapped.append(rows)
                y += len(rows)
            self._height = y
            self._stale = len(self._lines)
        return self._height

    def row(self, row: int) -> Row | None:
        """One visual row, as last laid out.

        Args:
            row: The row, from the top of the document.

        Returns:
            The row's (text, style index) pieces (the view's ``row_styles``); ``None`` past the end.
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

    class Moved(Message):
        """The kept lines moved: older or newer ones were read back from the stream."""

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
        #: The read-back in flight (one at a time), if any.
        self._reading: ReadKind | None = None
        self._read_seq = 0
        self._placing = False  # (placing lines read back moves the scroll: no read for that)
        self._paint_style: Style | None = None
        self._painted: LRUCache[tuple[int, int, int, Style], tuple[Row, Strip]] = LRUCache(512)
        #: The styles the documents' rows refer to, and their compact lines' spans.
        self.row_styles: StyleTable[Style | None] = StyleTable()
        self.span_styles: StyleTable[str | Style] = StyleTable()

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
        return self.auto_follow and not self.doc.detached and self.scroll_y >= self.max_scroll_y - 1

    def lines_below_view(self, doc: StreamDoc) -> int | None:
        """How far a document's view is from its last line.

        Args:
            doc: One of this view's documents.

        Returns:
            Lines after the last one in view; None when it follows its tail.
        """
        if doc is self.doc:
            if self._at_tail:
                return None
            y = self.scroll_y
        elif doc.scroll_y is None:
            return None
        else:
            y = doc.scroll_y
        return doc.line_count - 1 - doc.line_at(int(y) + max(1, self._rows))

    def _follow(self) -> None:
        """Scroll to the last row now. (``scroll_to`` refuses until the scrollbars have caught
        up with the new virtual size, a refresh later; ``max_scroll_y`` follows it at once.)"""
        self._scroll_now(self.max_scroll_y)

    def _scroll_now(self, y: float) -> None:
        self.scroll_target_y = self.scroll_y = y

    @property
    def vertical_scrollbar(self) -> ScrollBar:
        """The vertical scrollbar (made on first use, as Textual's): a :class:`ThumbScrollBar`.

        Returns:
            The scrollbar widget.
        """
        if self._vertical_scrollbar is None:
            bar = ThumbScrollBar(
                vertical=True, name="vertical", thickness=self.scrollbar_size_vertical
            )
            bar.display = False
            self._vertical_scrollbar = bar
            self.app._start_widget(self, bar)
        return self._vertical_scrollbar

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

    # -- reading forgotten lines back --------------------------------------------------------

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._want_more()

    def _want_more(self) -> None:
        """At the top of the kept lines with older ones forgotten, or at their bottom with newer
        ones forgotten: read some back (one read at a time)."""
        doc = self.doc
        if doc.reader is None or self._reading is not None or self._width <= 0 or self._placing:
            return
        if self.scroll_y <= 0 and doc.dropped > 0:
            self._read_back(doc, "older")
        elif doc.detached and self.scroll_y >= self.max_scroll_y:
            self._read_back(doc, "newer")

    def action_scroll_up(self) -> None:
        super().action_scroll_up()
        self._want_more()

    def action_scroll_down(self) -> None:
        super().action_scroll_down()
        self._want_more()

    def action_page_up(self) -> None:
        # Instant, as in less and k9s: an animated page paints a frame per step of the way.
        if not self.allow_vertical_scroll:
            super().action_page_up()  # (skips the action)
        self.scroll_page_up(animate=False)
        self._want_more()

    def action_page_down(self) -> None:
        if not self.allow_vertical_scroll:
            super().action_page_down()
        self.scroll_page_down(animate=False)
        self._want_more()

    def action_scroll_home(self) -> None:
        """The first line of the stream: read back if it is not kept."""
        doc = self.doc
        if doc.reader is not None and doc.dropped > 0:
            self._read_back(doc, "start")
            return
        self._scroll_now(0)

    def action_scroll_end(self) -> None:
        """The tail, followed: read back if the reader went up past the kept lines."""
        doc = self.doc
        if doc.reader is not None and doc.detached:
            self._read_back(doc, "tail")
            return
        self._follow()

    def _read_back(self, doc: StreamDoc, kind: ReadKind) -> None:
        reader = doc.reader
        if reader is None:
            return
        # A tenth of the cap (what a trim forgets at once), and at least two screens.
        page = max(self.max_lines // 10, 2 * self._rows, 1)
        lo, hi = {
            "older": (max(0, doc.dropped - page), doc.dropped),
            "newer": (doc.dropped + doc.line_count, doc.dropped + doc.line_count + page),
            "tail": (max(0, doc.total - page), None),
            "start": (0, page),
        }[kind]
        self._reading = kind
        self._read_seq += 1
        pending: list[tuple[str, str | Style]] = []
        doc._pending = pending  # what is fed from now on, for a read that reaches it
        # The reader notes now (on the event loop) how far the stream has been fed.
        self.run_worker(
            self._read(doc, kind, reader(lo, hi), pending, self._read_seq),
            group="read-back",
            exclusive=True,
            exit_on_error=False,
            description=f"read back {kind} lines",
        )

    async def _read(
        self,
        doc: StreamDoc,
        kind: ReadKind,
        read: Awaitable[ReadBack],
        pending: list[tuple[str, str | Style]],
        seq: int,
    ) -> None:
        try:
            lo, lines, end = await read
            width = self._width
            strips = await asyncio.to_thread(self._wrap_all, lines, width) if width > 0 else None
        finally:
            # (A key's read replaces one in flight: the one cancelled leaves the new one be.)
            if doc._pending is pending:
                doc._pending = None
            if self._read_seq == seq:
                self._reading = None
        self._place(doc, kind, lo, lines, strips, width, end, pending)

    def _wrap_all(self, lines: list[Text], width: int) -> list[Rows]:
        """(In a worker thread.)"""
        return [self.rows(line, width) for line in lines]

    def _place(
        self,
        doc: StreamDoc,
        kind: ReadKind,
        lo: int,
        lines: list[Text],
        strips: list[Rows] | None,
        width: int,
        end: bool,
        pending: list[tuple[str, str | Style]],
    ) -> None:
        """Put lines read back in the document, the reader's place kept (or moved, for the
        keys that move it: home, end)."""
        shown = doc is self.doc
        top = doc.dropped
        if kind == "older" and lo + len(lines) != top:
            return  # the kept lines moved meanwhile (a key did): the next scroll asks again
        if kind == "newer" and (not doc.detached or lo != top + doc.line_count):
            return
        if not lines:
            return
        # The reader's place: the line at the top of the view (its global index) and the row
        # of it there; it stays there (older and newer lines), or the key moves it (home, end).
        y = (self.scroll_y if shown else doc.scroll_y) or 0.0
        if self._width > 0:
            doc.layout(self._width)
        here = doc.line_at(int(y))
        anchor = (doc.dropped + here, y - (doc.first_row(here) or 0))
        doc.read_back(lo, lines, strips, width)
        if end:
            doc.attach(pending)
        excess = doc.line_count - self.max_lines
        if excess > 0 and kind == "older":
            doc.drop_bottom(excess + self.max_lines // 10)
        elif excess > 0:
            doc._trim(excess + self.max_lines // 10)
        doc.trimmed_rows = 0
        if self._width > 0:
            doc.layout(self._width)
        place: float | None = None  # None: the tail
        if kind == "start":
            place = 0.0
        elif kind != "tail":
            index = anchor[0] - doc.dropped
            row = doc.first_row(index) if 0 <= index < doc.line_count else None
            place = 0.0 if row is None else row + anchor[1]
        if not shown:
            doc.scroll_y = place
        else:
            self._placing = True
            try:
                self._layout()
                if place is None:
                    self._follow()
                else:
                    self._scroll_now(min(place, self.max_scroll_y))
            finally:
                self._placing = False
        self.mark = None  # a find's line numbers moved
        self.refresh()
        self.post_message(self.Moved())

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

    def rows(self, line: Text, width: int) -> Rows:
        """One logical line wrapped at a width, as the document keeps it (see :data:`Row`).

        Args:
            line: The styled line.
            width: The width in cells.

        Returns:
            One row per visual row, as :meth:`wrap` renders them (one empty row for an empty
            line), their styles in :attr:`row_styles`.
        """
        index = self.row_styles.index
        if not line.plain:
            return ((("", index(None)),),)  # as Strip.blank(0)
        console = self.app.console
        return tuple(
            tuple((seg.text, index(seg.style)) for seg in w.render(console))
            for w in line.wrap(console, width, overflow="fold")
        )

    def on_resize(self) -> None:
        region = self.scrollable_content_region
        # Following is judged against the height the view had: a view that shrinks (a pane
        # above it grows) would otherwise find itself rows short of its tail and stop following.
        was_max = max(0, self.virtual_size.height - self._rows)
        follow = self.auto_follow and not self.doc.detached and self.scroll_y >= was_max - 1
        self._rows = region.height
        if region.width != self._width:
            self._width = region.width
            self._layout()
        if follow:  # also text that arrived before the view had a size
            self._follow()
        self.refresh()

    def render_lines(self, crop: Region) -> list[Strip]:
        # The widget's style once per paint, not once per row (it walks the DOM each time).
        self._paint_style = self.rich_style
        try:
            return super().render_lines(crop)
        finally:
            self._paint_style = None

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.size.width
        style = self._paint_style or self.rich_style
        marked = self._marked_row(scroll_y + y)
        if marked is not None:
            return marked.crop_extend(scroll_x, scroll_x + width, style).apply_style(style)
        row = self.doc.row(scroll_y + y)
        if row is None:
            return Strip.blank(width, style)
        # Rows shown recently keep their strip: scrolling back over them (a page down after a
        # page up, a line at a time) paints them without making them again. (Keyed by the row
        # itself, kept in the value so its id is not reused.)
        key = (id(row), scroll_x, width, style)
        hit = self._painted.get(key)
        if hit is not None and hit[0] is row:
            return hit[1]
        styles = self.row_styles.styles
        segments = [Segment(text, styles[i]) for text, i in row]
        cells = sum(cell_len(text) for text, _ in row)
        if scroll_x == 0 and cells <= width:
            # What crop_extend and apply_style make (padded to the width, the view's style
            # under each segment's), in one Strip instead of three.
            if cells < width:
                segments.append(Segment(" " * (width - cells), style))
            painted = Strip(Segment.apply_style(segments, style), width)
        else:
            painted = (
                Strip(segments).crop_extend(scroll_x, scroll_x + width, style).apply_style(style)
            )
        self._painted[key] = (row, painted)
        return painted
