"""Agent output: one StreamDoc per source workflow (the run and each child), one shown.

A document keeps the newest ``max_lines`` lines of its stream; older ones (and newer ones, once
the reader has gone up past what is kept) are read back from the stream in the database when
the reader scrolls to them. The pane renders entries to lines with :func:`render` both as they
stream and when it reads them back, from a :class:`Mark` noted as they streamed (an entry's
offset, the line its text began on, and the renderer's state there), so the lines read back are
the lines that were shown.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

from rich.style import Style
from rich.text import Text

from workflows.models import STREAM_KEY, StreamChunk

from ..supervisor import StreamBatch
from .stream_view import ReadBack, StreamDoc, StreamView, line_parts

__all__ = ["STYLES", "FeedState", "Mark", "OutputPane", "StreamReader", "render"]

#: Reads a workflow's agentdeck output stream from an offset (``Source.read_streams``).
StreamReader = Callable[[str, int], Awaitable[list[StreamBatch]]]
Pieces = list[tuple[str, str | Style]]

STYLES: dict[str, str] = {
    "text": "",
    "thinking": "italic dim",
    "tool_use": "magenta",
    "tool_result": "dim magenta",
    "usage": "dim green",
    "status": "dim cyan",
    "error": "bold red",
}


@dataclass
class FeedState:
    """What the rendering of the next entries depends on."""

    #: The section (step, attempt) the last chunk was in; (-1, key) for a foreign stream.
    last: tuple[int, int] | None = None
    #: The kind of the last part.
    kind: str | None = None
    #: The document's last line is empty (or there is none).
    line_start: bool = True
    #: The document has a line.
    has_lines: bool = False

    def note(self, text: str) -> None:
        """Move past a piece of text appended to the document.

        Args:
            text: The piece's text.
        """
        if text:
            self.has_lines = True
            self.line_start = text.endswith("\n")


def render(state: FeedState, chunks: Sequence[StreamChunk], closed: bool) -> Pieces:
    """Pieces for a document, for chunks of agentdeck's stream (``state`` moves past them).

    Args:
        state: What the rendering so far leaves for the next entries; updated.
        chunks: The next chunks of the stream.
        closed: The stream ends after them.

    Returns:
        Text and style pieces, in order.
    """
    pieces: Pieces = []

    def put(text: str, style: str) -> None:
        pieces.append((text, style))
        state.note(text)

    for chunk in chunks:
        key = (chunk.step_id, chunk.attempt)
        if state.last != key:
            state.last = key
            retry = " · retry" if chunk.attempt > 1 else ""
            head = (
                f"── {chunk.step_name} · step {chunk.step_id} · attempt {chunk.attempt}{retry} ──"
            )
            lead = "\n\n" if state.has_lines else ""
            put(f"{lead}{head}\n", "bold yellow" if retry else "bold")
            state.kind = None
        for part in chunk.parts:
            text = part.text
            kind = str(part.kind)
            if kind in ("status", "usage", "error"):
                text = f"{'' if state.line_start else chr(10)}[{kind}] {text.strip()}\n"
            elif state.kind is not None and state.kind != kind and not text.startswith("\n"):
                text = "\n" + text  # thinking → text, text → tool call: a new line
            state.kind = kind
            put(text, STYLES.get(kind, ""))
    if closed:
        put("\n── end of stream ──\n", "dim")
    return pieces


@dataclass(frozen=True)
class Mark:
    """Where rendering can start again: the entry at ``offset`` began on line ``line`` (global),
    ``column`` characters in (0: at its start), the renderer in ``state``."""

    offset: int
    line: int
    column: int
    state: FeedState


class _Lines:
    """Lines of rendered pieces, as ``StreamDoc.append_many`` makes them, kept from ``lo`` up to
    ``hi`` (global indices; the line a mark starts in the middle of is not whole: never kept)."""

    def __init__(self, mark: Mark, lo: int, hi: int | None) -> None:
        self.index = mark.line  # the line being written
        self.whole_from = mark.line + (1 if mark.column else 0)
        self.lo = max(lo, self.whole_from)
        self.hi = hi
        self.current = Text()
        self.out: list[Text] = []

    @property
    def done(self) -> bool:
        return self.hi is not None and self.index >= self.hi

    def render(self, state: FeedState, chunks: Sequence[StreamChunk], closed: bool) -> None:
        """(In a worker thread.)"""
        self.add(render(state, chunks, closed))

    def add(self, pieces: Pieces) -> None:
        for new, text, style in line_parts(pieces):
            if new:
                self._close()
                self.current = Text()
                self.index += 1
            self.current.append(text, style=style or None)

    def _close(self) -> None:
        if self.lo <= self.index and (self.hi is None or self.index < self.hi):
            self.out.append(self.current)

    def result(self, end: bool) -> ReadBack:
        if end:  # the line being written ends the lines read back
            self._close()
        return self.lo, self.out, end


class _Backing:
    """A document's stream: how far it was fed, and marks to render from again."""

    #: At most this many marks; beyond, every other one goes (and they are noted half as often).
    MAX_MARKS = 512

    def __init__(self, every: int) -> None:
        self.offset = 0
        self.state = FeedState()
        self.marks = [Mark(0, 0, 0, FeedState())]
        self.every = max(1, every)

    def note(self, doc: StreamDoc) -> None:
        """A mark at the entry about to be fed, if the last one is ``every`` lines back."""
        line, column = doc.end_position()
        if line - self.marks[-1].line < self.every:
            return
        self.marks.append(Mark(self.offset, line, column, replace(self.state)))
        if len(self.marks) > self.MAX_MARKS:
            self.marks = self.marks[::2]
            self.every *= 2

    def mark_for(self, lo: int) -> Mark:
        """The last mark from which line ``lo`` is rendered whole."""
        best = self.marks[0]
        for mark in self.marks:
            if mark.line < lo or (mark.line == lo and not mark.column):
                best = mark
            else:
                break
        return best


class OutputPane(StreamView):
    """Keeps every source's output, shows the selected one; sections per step and attempt.

    Args:
        **kwargs: As :class:`StreamView` takes them (``id``, ``classes``).
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.views: dict[str, StreamDoc] = {}
        self._first = True
        self._states: dict[str, FeedState] = {}
        self._backing: dict[str, _Backing] = {}
        #: Reads a source's stream from an offset; None: lines forgotten are not read back.
        self.stream_reader: StreamReader | None = None

    def view_for(self, source: str) -> StreamDoc:
        """``source``'s document (the first one asked for is shown until another is selected).

        Args:
            source: The workflow id whose output it holds.

        Returns:
            The document, made on first use.
        """
        doc = self.views.get(source)
        if doc is None:
            doc = self.doc if self._first else StreamDoc(self)
            self._first = False
            self.views[source] = doc
        return doc

    def select(self, source: str) -> None:
        """Show ``source``'s output.

        Args:
            source: The workflow id (the run, or one of its children).
        """
        self.show(self.view_for(source))

    def feed_values(self, batch: StreamBatch) -> None:
        """A foreign stream (any values, not agentdeck chunks): one line per value.

        Args:
            batch: New entries of a stream, with their offsets.
        """
        view = self.view_for(batch.workflow_id)
        # Lines of a foreign stream, or of entries that are not chunks, are not read back: the
        # document shows more than one stream's entries in the order they were read.
        self._backing.pop(batch.workflow_id, None)
        view.reader = None
        state = self._state(batch.workflow_id)
        pieces: Pieces = []
        if state.last != (-1, hash(batch.key)):
            state.last = (-1, hash(batch.key))
            lead = "\n" if state.has_lines else ""
            pieces.append((f"{lead}── stream {batch.key} ──\n", "bold"))
        for offset, value in batch.values:
            pieces.append((f"{offset:>4}  ", "dim"))
            pieces.append((f"{value}\n", ""))
        if batch.closed:
            pieces.append(("── end of stream ──\n", "dim"))
        for text, _style in pieces:
            state.note(text)
        view.append_many(pieces)

    def _state(self, source: str) -> FeedState:
        return self._states.setdefault(source, FeedState())

    def feed(self, batch: StreamBatch) -> int:
        """Append a batch of chunks in one layout pass, a heading at each new step or attempt.

        Args:
            batch: New chunks of agentdeck's output stream of one workflow.

        Returns:
            The number of parts appended.
        """
        wid = batch.workflow_id
        view = self.view_for(wid)
        fresh = wid not in self._states  # (a document fed before the reader came: not read back)
        state = self._state(wid)
        backing = self._backing.get(wid)
        if fresh and self.stream_reader is not None and batch.key == STREAM_KEY:
            backing = self._backing[wid] = _Backing(self.max_lines // 10)
            view.reader = self._reader(wid, backing)
        if backing is not None:
            if batch.values or batch.key != STREAM_KEY:
                self._backing.pop(wid, None)
                view.reader = None
            else:
                backing.note(view)
        pieces = render(state, batch.chunks, batch.closed)
        if backing is not None:
            backing.offset = batch.next_offset
            backing.state = replace(state)
        view.append_many(pieces)
        return sum(len(c.parts) for c in batch.chunks)

    def _reader(
        self, wid: str, backing: _Backing
    ) -> Callable[[int, int | None], Awaitable[ReadBack]]:
        def read(lo: int, hi: int | None) -> Awaitable[ReadBack]:
            # Noted now, on the event loop: how far the document was fed (``hi`` None reads up
            # to there; what is fed after follows the lines read back).
            return self._read_lines(wid, backing.mark_for(lo), lo, hi, backing.offset)

        return read

    async def _read_lines(
        self, wid: str, mark: Mark, lo: int, hi: int | None, until: int
    ) -> ReadBack:
        """Lines ``[lo, hi)`` rendered again from ``mark``, reading entries up to ``until``."""
        reader = self.stream_reader
        lines = _Lines(mark, lo, hi)
        state = replace(mark.state)
        offset = mark.offset
        while offset < until and not lines.done and reader is not None:
            batch = next((b for b in await reader(wid, offset) if b.workflow_id == wid), None)
            if batch is None or batch.next_offset <= offset:
                break
            chunks, closed = batch.chunks, batch.closed
            if batch.next_offset > until:  # written since: the live feed brings those
                chunks, closed = chunks[: until - offset], False
            offset = min(batch.next_offset, until)
            await asyncio.to_thread(lines.render, state, chunks, closed)
        return lines.result(end=offset >= until and not lines.done)
