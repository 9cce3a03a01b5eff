"""Updating a Static without laying the screen out again when its size cannot have changed."""

from __future__ import annotations

from weakref import WeakKeyDictionary

from rich.cells import cell_len
from rich.text import Text
from textual.widgets import Static

__all__ = ["escape", "show_text"]

#: What each widget shows, and its lines' lengths.
_shown: WeakKeyDictionary[Static, tuple[str | Text, list[int]]] = WeakKeyDictionary()


def escape(text: str) -> str:
    """``text`` as Textual markup that shows exactly ``text``.

    Rich's and Textual's own ``escape`` only escape what looks like a tag (``[b]``), but
    Textual's parser also reads ``["x=\\"y\\""]`` (a JSON list: a step's output, an answer quoting
    a file) as a tag and fails on it. Every ``[`` escaped round-trips any text
    (tests/screens/test_bad_input.py), but one: a backslash at the end would escape the tag that
    follows (Textual has no escaped backslash), so it gets a space after it.

    Args:
        text: Any text.

    Returns:
        The markup.
    """
    return text.replace("[", "\\[") + (" " if text.endswith("\\") else "")


def _line_lengths(content: str | Text) -> list[int]:
    plain = content.plain if isinstance(content, Text) else Text.from_markup(content).plain
    return [cell_len(line) for line in plain.split("\n")]


def show_text(widget: Static, content: str | Text) -> None:
    """Show ``content`` (markup or Text) in ``widget``.

    Nothing happens when it is what the widget shows already; when the widget's size is fixed in
    CSS, or only characters changed (a clock, a count of the same width: every line as long as
    before, so it wraps the same), only the widget is repainted. ``Static.update`` lays the
    whole screen out again by default, which made every poll and every duration tick repaint
    every widget on the screen (the footer's keys included).

    Args:
        widget: The widget to update.
        content: Markup, or styled text.
    """
    before = _shown.get(widget)
    if before is not None and before[0] == content:
        return
    lengths = _line_lengths(content)
    height, width = widget.styles.height, widget.styles.width
    fixed = height is not None and not height.is_auto and not (width is not None and width.is_auto)
    same_size = before is not None and before[1] == lengths
    _shown[widget] = (content, lengths)
    widget.update(content, layout=not (fixed or same_size))
