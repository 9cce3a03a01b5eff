"""The footer rebuilds its keys only when the keys it shows change."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets._footer import FooterKey

from tui.widgets.footer import Footer


class Keys(App[None]):
    BINDINGS = [Binding("a", "one", "One"), Binding("b", "two", "Two")]

    def __init__(self) -> None:
        super().__init__()
        self.two_enabled = True

    def compose(self) -> ComposeResult:
        yield Footer()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return None if action == "two" and not self.two_enabled else True

    def action_one(self) -> None: ...

    def action_two(self) -> None: ...


def keys(app: Keys) -> list[FooterKey]:
    return list(app.screen.query(FooterKey))


async def test_the_same_keys_are_not_rebuilt_and_a_change_is_shown() -> None:
    app = Keys()
    async with app.run_test() as pilot:
        await pilot.pause()
        first = keys(app)
        assert [k.description for k in first][:2] == ["One", "Two"]
        for _ in range(3):
            app.refresh_bindings()
            await pilot.pause()
        assert keys(app) == first  # the same widgets: nothing rebuilt

        app.two_enabled = False
        app.refresh_bindings()
        await pilot.pause()
        now = keys(app)
        assert now != first and [k.has_class("-disabled") for k in now][:2] == [False, True]
