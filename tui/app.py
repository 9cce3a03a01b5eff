"""AgentDeckApp: the shell. Screens own their state; the data layer is ``tui.supervisor``."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from textual import events, on, work
from textual.app import App
from textual.binding import Binding
from textual.notifications import SeverityLevel
from textual.screen import Screen

from .collector import QuietCollector
from .commands import AgentDeckCommands
from .deck import Deck
from .messages import ConnectionChanged, Snapshot, SnapshotTaken, WorkflowsRefreshed
from .poller import Poller
from .supervisor import ActionResult, Supervisor, SupervisorError
from .supervisor.contract import Source
from .workers import WorkerErrors

__all__ = ["AgentDeckApp", "run_dashboard"]

audit_log = logging.getLogger("agentdeck.audit")


class AgentDeckApp(WorkerErrors, App[None]):
    """The dashboard: the workflow list, and the screens each key opens over it.

    It polls its :class:`Source` (an embedded runtime's database, or an attached one) for a
    change token and hands the screens frozen snapshots; the screens never query on their own
    event loop.

    | Key(s) | Description |
    | :- | :- |
    | q | Quit (asks first when runs of an embedded runtime are in flight). |
    | ? | Help: every key of the screen in front. |
    | i | The inbox: every run waiting for a human. |
    | l | The log: what this dashboard did and what DBOS said. |
    | n | Launch a new run. |
    | Q | Queues: depth, limits and partitions. |
    | S | Schedules: next fire time, pause and resume. |
    | I | Insights: charts of runs, durations, cost, waits and errors. |
    """

    TITLE = "AgentDeck"
    CSS_PATH = ["styles/app.tcss"]
    COMMANDS = App.COMMANDS | {AgentDeckCommands}
    BINDINGS = [
        Binding("q", "request_quit", "Quit", id="app.quit"),
        Binding("question_mark", "help", "Help", key_display="?", id="app.help"),
        Binding("i", "inbox", "Inbox", id="app.inbox"),
        Binding("l", "log", "Log", id="app.log"),
        Binding("n", "launch", "New run", id="app.launch"),
        Binding("Q", "queues", "Queues", show=False, id="app.queues"),
        Binding("S", "schedules", "Schedules", show=False, id="app.schedules"),
        Binding("I", "insights", "Insights", show=False, id="app.insights"),
    ]

    def __init__(
        self,
        source: Source,
        *,
        runtime: Any = None,
        mode: str = "embedded",
        model_label: str = "",
        clock: Callable[[], float] = time.time,
        poll_interval: float = 0.25,
    ) -> None:
        super().__init__()
        self.source = source
        self.runtime = runtime
        self.mode = mode
        self.model_label = model_label
        self.clock = clock
        self.snapshot = Snapshot(rows=(), taken_at=clock())
        self.connected = False
        self.connection_detail = "starting…"
        self.audit: list[tuple[float, str]] = []
        self.poller = Poller(self, source, interval=poll_interval)
        self._primed = False
        self._listed = asyncio.Event()
        self._ever_connected = False
        self.collector = QuietCollector()

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Notifications carry database errors, ids and topics: shown as they are, never read
        as markup (a ``[`` in an error would fail to parse, or style what follows it)."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    @property
    def _background_screens(self) -> list[Screen[Any]]:
        """Screens that show through the current one: none when it is opaque.

        Textual counts the screen under the current one as visible whatever the current one's
        background, so every refresh of the workflow list under a run's detail repainted the
        whole detail screen (half its frames while 50 runs streamed: bench/many_streams.py).
        Modal screens (translucent) keep the screens under them.
        """
        try:
            opaque = self.screen.styles.background.a == 1
        except Exception:  # no screen yet
            opaque = False
        return [] if opaque else super()._background_screens

    @property
    def read_only(self) -> bool:
        return self.source.read_only

    def on_mount(self) -> None:
        from .screens.workflows import WorkflowsScreen

        self.push_screen(WorkflowsScreen())
        self.start()
        if self.source.codec is not None:
            self.start_codec()

    @work(exclusive=True, group="codec", exit_on_error=False, description="import the app")
    async def start_codec(self) -> None:
        """``--app-path``: say that the app's code runs, and import it now (so a module that
        fails to import says so at once, not at the first run opened)."""
        codec = self.source.codec
        assert codec is not None
        codec.on_problem = lambda text: self.notify(
            text, title="App code", severity="error", timeout=10
        )
        warning = (
            f"importing {codec.spec.label}'s code from {codec.spec.path} in a helper process "
            "to decode its classes: its module-level code runs (DBOS is not launched there)"
        )
        audit_log.warning("%s", warning)
        self.notify(warning, title="App code", severity="warning", timeout=8)
        await codec.start()

    @work(exclusive=True, group="startup", exit_on_error=False, description="start DBOS")
    async def start(self) -> None:
        poller: asyncio.Future[None] | None = None
        try:
            if self.runtime is not None and not self.runtime.launched:
                self.connection_detail = "starting DBOS…"
                if await self._readable():
                    # An existing database is listed first: DBOS's executor starts after the
                    # first paint. Its start (imports, the model server, recovery: a second or
                    # more) would compete with that paint for the GIL (bench/cold_start.py).
                    poller = asyncio.ensure_future(self.poller.run())
                    await self._painted(within=3.0)
                try:
                    await asyncio.to_thread(self.runtime.launch)
                except Exception as exc:
                    from workflows.runtime import redact

                    self.poller.stop()
                    if poller is not None:
                        await poller
                    detail = redact(f"DBOS failed to start: {exc}")
                    self.post_message(ConnectionChanged(False, detail))
                    return
                if self.runtime.endpoint is not None:
                    self.model_label = self.runtime.endpoint.label
            self.collector.start()
            self.set_interval(1.0, self.collector.tick)
            if poller is None:
                poller = asyncio.ensure_future(self.poller.run())
            await poller
        finally:
            self.poller.stop()
            if poller is not None and not poller.done():
                poller.cancel()

    async def _readable(self) -> bool:
        """Whether the data layer can read the database before DBOS has started here (a
        SQLite file that is not there yet is left for DBOS to create: see Supervisor.connect)."""
        try:
            await self.source.connect()
            await self.source.change_token()
        except SupervisorError:
            return False
        return True

    async def _painted(self, *, within: float) -> None:
        """Until the first list has been shown (or ``within`` seconds have passed)."""
        shown = asyncio.get_running_loop().create_future()

        def after_refresh() -> None:
            if not shown.done():
                shown.set_result(None)

        async def first() -> None:
            await self._listed.wait()
            self.call_after_refresh(after_refresh)
            await shown

        try:
            await asyncio.wait_for(first(), timeout=within)
        except TimeoutError:
            pass

    # -- fan-out of data-layer news to every screen ------------------------------------------

    @on(SnapshotTaken)
    def _fan_out(self, message: SnapshotTaken) -> None:
        old = self.snapshot.by_id()
        self.snapshot = message.snapshot
        self._listed.set()
        self._alert(old, message.snapshot)
        for screen in self.screen_stack:
            screen.post_message(WorkflowsRefreshed(message.snapshot))

    @on(ConnectionChanged)
    def _connection(self, message: ConnectionChanged) -> None:
        was = self.connected
        self.connected, self.connection_detail = message.connected, message.detail
        if was and not message.connected:
            self.notify(message.detail, title="Disconnected", severity="error", timeout=6)
        elif not was and message.connected and self._ever_connected:
            self.notify("Connected again", timeout=3)
        self._ever_connected |= message.connected
        for screen in self.screen_stack:
            screen.post_message(ConnectionChanged(message.connected, message.detail))

    def _alert(self, old: dict[str, Any], snap: Snapshot) -> None:
        """A bell and a toast when a run starts waiting for approval or fails."""
        if not self._primed:  # the first snapshot has nothing *new* in it
            self._primed = True
            return
        for row in snap.rows:
            before = old.get(row.workflow_id)
            waits = row.waiting_approval or row.waiting_message
            if waits and not (before and (before.waiting_approval or before.waiting_message)):
                self.bell()
                self.notify(
                    f"{row.summary or row.workflow_id}: press a to answer",
                    title="Waiting for approval" if row.waiting_approval else "Waiting in recv",
                    severity="warning",
                    timeout=8,
                )
            elif row.status == "ERROR" and before is not None and before.status != "ERROR":
                self.bell()
                self.notify(
                    row.error[:200] or row.workflow_id,
                    title=f"Failed: {row.name}",
                    severity="error",
                    timeout=8,
                )

    # -- actions shared by screens -----------------------------------------------------------

    def record(self, result: ActionResult | str, *, error: bool = False) -> None:
        """Audit an action taken from the dashboard and tell the user how it went."""
        text = result if isinstance(result, str) else result.message
        ok = not error and (isinstance(result, str) or result.ok)
        self.audit.append((self.clock(), text))
        audit_log.info("%s", text)
        self.notify(text, severity="information" if ok else "warning", timeout=5)

    async def act(self, what: str, coro: Any) -> ActionResult | None:
        try:
            result: ActionResult = await coro
        except SupervisorError as exc:
            self.record(f"{what}: {exc}", error=True)
            return None
        self.record(result)
        return result

    def action_help(self) -> None:
        from .modals.help import HelpScreen

        self.push_screen(HelpScreen(self.screen))

    def action_log(self) -> None:
        from .modals.log import LogScreen

        self.push_screen(LogScreen())

    def action_inbox(self) -> None:
        from .screens.inbox import InboxScreen

        if not isinstance(self.screen, InboxScreen):
            self.push_screen(InboxScreen())

    def action_queues(self) -> None:
        from .screens.queues import QueuesScreen, open_view

        open_view(self, QueuesScreen)

    def action_schedules(self) -> None:
        from .screens.queues import SchedulesScreen, open_view

        open_view(self, SchedulesScreen)

    def action_insights(self) -> None:
        """The insights screen, with the list's filter when opened from the list."""
        from .screens.insights import InsightsScreen

        if isinstance(self.screen, InsightsScreen):
            return
        listed = getattr(self.screen, "filter", None)
        text = getattr(listed, "text", "")
        self.push_screen(InsightsScreen(filter_text=text if isinstance(text, str) else ""))

    def action_resume_failed(self) -> None:
        """Every failed (or stuck, or timed-out) top-level run, resumed after a confirm."""
        from .modals.bulk import BulkScreen

        if self.read_only:
            self.notify("read-only: cannot resume", severity="warning")
            return
        self.push_screen(
            BulkScreen("resume", filter_text="status:error,stuck,timed_out is:top"),
            lambda _: self.poller.kick(),
        )

    def action_launch(self) -> None:
        from .modals.launch import LaunchScreen

        if self.read_only:
            self.notify("read-only: launching is disabled", severity="warning")
            return
        self.push_screen(LaunchScreen(), self._launched)

    def _launched(self, workflow_id: str | None) -> None:
        if workflow_id:
            self.open_run(workflow_id)

    def open_run(self, workflow_id: str) -> None:
        from .screens.detail import DetailScreen

        self.push_screen(DetailScreen(workflow_id))

    def action_request_quit(self) -> None:
        from .modals.confirm import ConfirmScreen

        in_flight = [r for r in self.snapshot.rows if r.active and not r.parent_id]
        if self.runtime is None or not in_flight:
            self.exit()
            return
        self.push_screen(
            ConfirmScreen(
                f"{len(in_flight)} run(s) are in flight in this process. They stop now and "
                "continue from their last completed step the next time agentdeck starts.",
                title="Quit?",
                confirm="Quit",
            ),
            lambda ok: self.exit() if ok else None,
        )

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key | events.MouseEvent):
            self.collector.touched()
        await super().on_event(event)

    async def on_unmount(self) -> None:
        self.collector.stop()
        self.poller.stop()
        await self.source.close()
        if self.runtime is not None:
            await asyncio.to_thread(self.runtime.shutdown)


def run_dashboard(
    *, db: str | None, offline: bool | None, read_only: bool, attach: bool, app: Any = None
) -> int:
    """``app``: an ``AppSpec`` (``--app-path``), whose code decodes the app's classes."""
    build_dashboard(db=db, offline=offline, read_only=read_only, attach=attach, app=app).run()
    return 0


def build_dashboard(
    *, db: str | None, offline: bool | None, read_only: bool, attach: bool, app: Any = None
) -> AgentDeckApp:
    """The dashboard ``agentdeck`` runs, not started (:func:`run_dashboard`)."""
    from workflows.runtime import Runtime, RuntimeSettings, configure_logging, resolve_db_url

    settings = RuntimeSettings(db_url=resolve_db_url(db), offline=offline)
    configure_logging(settings.state_dir)
    embedded = not attach and not read_only
    runtime = Runtime(settings) if embedded else None
    label = "model: runs in the workers"
    if runtime is not None:
        label = "offline scripted model" if runtime.offline else "Claude API"
    codec = None
    if app is not None:
        from .supervisor.codec import AppCodec

        codec = AppCodec(app)
    source = Supervisor(settings.db_url, read_only=read_only, codec=codec)
    return AgentDeckApp(
        source,
        runtime=runtime,
        mode="embedded" if embedded else "attach",  # the status line adds "read-only"
        model_label=label,
    )


def _implements_deck(app: AgentDeckApp) -> Deck:
    """mypy checks here that the app has every member the screens use (``tui.deck.Deck``)."""
    return app
