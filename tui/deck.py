"""What the screens, modals and the command palette need from the app: a small protocol.

They are typed against :class:`Deck`, not against ``tui.app.AgentDeckApp``, so no screen imports
the app (an import-linter contract in ``pyproject.toml`` holds it) and a screen can be hosted by
any app that has these members (the tests' small host apps do). ``AgentDeckApp`` implements it;
``tui.app`` checks that with mypy.

Textual's own ``App`` methods (``notify``, ``push_screen``, ``run_worker``…) are reached through
``self.app`` as usual.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .messages import Snapshot
    from .poller import Poller
    from .supervisor import ActionResult
    from .supervisor.contract import Source

__all__ = ["Deck"]


class Deck(Protocol):
    """The app as the screens see it."""

    #: The data layer: every read and action.
    source: Source
    #: What the poller last saw: the runs in flight and the list's window.
    snapshot: Snapshot
    poller: Poller
    #: ``embedded`` or ``attach``.
    mode: str
    #: The model the runtime uses (``offline scripted model`` is shown in yellow).
    model_label: str
    connected: bool
    #: Why the database is not reachable, or its display URL.
    connection_detail: str
    #: Every action taken here: (time, line), newest last.
    audit: list[tuple[float, str]]
    #: The time now (a fixed clock in snapshot tests).
    clock: Callable[[], float]

    @property
    def read_only(self) -> bool: ...

    def record(self, result: ActionResult | str, *, error: bool = False) -> None:
        """Report an action's outcome: a notification and an audit line."""

    async def act(self, what: str, coro: Awaitable[Any]) -> ActionResult | None:
        """Await an action of the data layer; record its result or its error."""

    def open_run(self, workflow_id: str) -> None:
        """Open a run's detail screen."""
