"""Agent output: one StreamDoc per source workflow (the run and each child), one shown."""

from __future__ import annotations

from rich.style import Style

from ..supervisor import StreamBatch
from .stream_view import StreamDoc, StreamView

__all__ = ["OutputPane", "STYLES"]

STYLES: dict[str, str] = {
    "text": "",
    "thinking": "italic dim",
    "tool_use": "magenta",
    "tool_result": "dim magenta",
    "usage": "dim green",
    "status": "dim cyan",
    "error": "bold red",
}


class OutputPane(StreamView):
    """Keeps every source's output, shows the selected one; sections per step and attempt.

    Args:
        **kwargs: As :class:`StreamView` takes them (``id``, ``classes``).
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._last: dict[str, tuple[int, int]] = {}
        self._last_kind: dict[str, str] = {}
        self.views: dict[str, StreamDoc] = {}
        self._first = True

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
        pieces: list[tuple[str, str | Style]] = []
        if self._last.get(batch.workflow_id) != (-1, hash(batch.key)):
            self._last[batch.workflow_id] = (-1, hash(batch.key))
            lead = "" if view.at_line_start and not view.line_count else "\n"
            pieces.append((f"{lead}── stream {batch.key} ──\n", "bold"))
        for offset, value in batch.values:
            pieces.append((f"{offset:>4}  ", "dim"))
            pieces.append((f"{value}\n", ""))
        if batch.closed:
            pieces.append(("── end of stream ──\n", "dim"))
        view.append_many(pieces)

    def feed(self, batch: StreamBatch) -> int:
        """Append a batch of chunks in one layout pass, a heading at each new step or attempt.

        Args:
            batch: New chunks of agentdeck's output stream of one workflow.

        Returns:
            The number of parts appended.
        """
        view = self.view_for(batch.workflow_id)
        pieces: list[tuple[str, str | Style]] = []
        n = 0
        for chunk in batch.chunks:
            key = (chunk.step_id, chunk.attempt)
            if self._last.get(batch.workflow_id) != key:
                self._last[batch.workflow_id] = key
                retry = " · retry" if chunk.attempt > 1 else ""
                head = (
                    f"── {chunk.step_name} · step {chunk.step_id}"
                    f" · attempt {chunk.attempt}{retry} ──"
                )
                lead = "\n\n" if view.line_count else ""
                pieces.append((f"{lead}{head}\n", "bold yellow" if retry else "bold"))
                self._last_kind.pop(batch.workflow_id, None)
            for part in chunk.parts:
                text = part.text
                kind = str(part.kind)
                previous = self._last_kind.get(batch.workflow_id)
                if kind in ("status", "usage", "error"):
                    fresh = view.at_line_start if not pieces else pieces[-1][0].endswith("\n")
                    text = f"{'' if fresh else chr(10)}[{kind}] {text.strip()}\n"
                elif previous is not None and previous != kind and not text.startswith("\n"):
                    text = "\n" + text  # thinking → text, text → tool call: a new line
                self._last_kind[batch.workflow_id] = kind
                pieces.append((text, STYLES.get(kind, "")))
                n += 1
        if batch.closed:
            pieces.append(("\n── end of stream ──\n", "dim"))
        view.append_many(pieces)
        return n
