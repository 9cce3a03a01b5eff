"""Textual's footer, recomposed only when the keys it shows change."""

from __future__ import annotations

from typing import Any

from textual.widgets import Footer as TextualFooter

__all__ = ["Footer"]


class Footer(TextualFooter):
    """Textual's ``Footer`` rebuilds all its keys (a widget each, styled from the stylesheet)
    on every bindings signal: each focus change, screen push and ``refresh_bindings``, several
    times per signal burst. Opening the dashboard built it five times (71 keys) before the
    first rows showed (bench/list_scroll.py). This one skips a rebuild that would show the keys
    it already shows."""

    _shown: tuple[Any, ...] | None = None

    def _keys(self) -> tuple[Any, ...] | None:
        if not self._bindings_ready or not self.is_attached:
            return None
        get_display = self.app.get_key_display
        return (self.compact,) + tuple(
            (b.key, b.action, b.description, b.group, enabled, tooltip, get_display(b))
            for (_, b, enabled, tooltip) in self.screen.active_bindings.values()
            if b.show
        )

    async def recompose(self) -> None:
        """Rebuild the keys, unless they are the ones shown already."""
        keys = self._keys()
        if keys is not None and keys == self._shown:
            return
        self._shown = keys
        await super().recompose()
