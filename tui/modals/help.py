"""Every key of the screen underneath and of the app."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

__all__ = ["HelpScreen"]

FILTER_HELP = (
    "[b]Filter[/] (/): words match name, id and input; terms: status:error,running · "
    "name:research · id:<prefix> · queue:… · partition:<key> · is:waiting|child|fork|active. "
    "Up/down recall earlier filters; esc clears. Tabs 1-5: all, running, waiting, failed, done."
)


class HelpScreen(ModalScreen[None]):
    """Every key of the screen underneath and of the app, and the filter language.

    | Key(s) | Description |
    | :- | :- |
    | escape, ?, q | Close. |
    """

    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close", show=False)]

    def __init__(self, under: Screen[object]) -> None:
        super().__init__()
        self.under = under

    def compose(self) -> ComposeResult:
        rows: list[str] = [f"[b]Keys on {type(self.under).__name__.removesuffix('Screen')}[/]"]
        seen: set[str] = set()
        sources = [self.under._bindings, self.app._bindings]
        for bindings in sources:
            for _key, binding in bindings:
                if not isinstance(binding, Binding) or binding.action in seen:
                    continue
                seen.add(binding.action)
                shown = binding.key_display or self.app.get_key_display(binding)
                desc = binding.description or binding.action
                rows.append(f"  [b cyan]{shown:>10}[/]  {desc}")
        rows.append("  [b cyan]    ctrl+p[/]  command palette (actions, go to workflow, theme)")
        rows.append("")
        rows.append(FILTER_HELP)
        with VerticalScroll(classes="dialog help"):
            yield Static("\n".join(rows))
            yield Static("[dim]esc closes[/]")
