"""Embedded DBOS runtime: configuration, model endpoint, logging, launch and shutdown.

One :class:`Runtime` per process. The dashboard (embedded mode), ``agentdeck worker`` and
``agentdeck launch --wait`` each build one; read-only commands use a ``DBOSClient`` instead and
never start DBOS (so they never recover, and run, someone else's workflows).
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
import tempfile
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dbos import DBOS, DBOSConfig

from .config import settings
from .names import APP_NAME, LAUNCH_QUEUE
from .settings import CONFIG_FILE, DEFAULT_DB_URL, SECRET_ENV, redact, resolve_db_url

if TYPE_CHECKING:
    # The Claude step loads claude_agent_sdk (~0.6 s): read-only commands must not pay for it.
    from .claude import Endpoint

__all__ = [
    "APP_NAME",
    "CONFIG_FILE",
    "DEFAULT_DB_URL",
    "LAUNCH_QUEUE",
    "LogBuffer",
    "Runtime",
    "RuntimeSettings",
    "app_version",
    "configure_logging",
    "has_claude_credentials",
    "redact",
    "resolve_db_url",
]

log = logging.getLogger("agentdeck.runtime")


def app_version() -> str:
    """The pinned application version: workflows are recovered only by the same version."""
    pinned = settings().app_version
    if pinned:
        return pinned
    try:
        return f"agentdeck-{metadata.version('agentdeck')}"
    except metadata.PackageNotFoundError:
        return "agentdeck-dev"


class _QuietHeartbeats(logging.Filter):
    """DBOS logs every attribute update at INFO: drop the heartbeats' (one per 10 s each)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (
            record.name == "dbos"
            and isinstance(record.msg, str)
            and record.msg.startswith("Updating attributes of workflow: agentdeck-worker:")
        )


class _RedactFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            msg = record.getMessage()
        except Exception:  # a malformed log call must not break logging
            return True
        clean = redact(msg)
        if clean != msg:
            record.msg, record.args = clean, None
        return True


@dataclass(frozen=True)
class LogLine:
    ts: float
    level: str
    logger: str
    message: str


class LogBuffer(logging.Handler):
    """Keeps the last log records in memory for the dashboard's log panel."""

    def __init__(self, capacity: int = 2000) -> None:
        super().__init__(level=logging.INFO)
        self.lines: deque[LogLine] = deque(maxlen=capacity)
        self._listeners: list[Callable[[LogLine], None]] = []
        self._lock2 = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = LogLine(record.created, record.levelname, record.name, record.getMessage())
        except Exception:
            return
        self.lines.append(line)
        with self._lock2:
            listeners = list(self._listeners)
        for fn in listeners:
            fn(line)

    def subscribe(self, fn: Callable[[LogLine], None]) -> None:
        with self._lock2:
            self._listeners.append(fn)

    def unsubscribe(self, fn: Callable[[LogLine], None]) -> None:
        with self._lock2:
            if fn in self._listeners:
                self._listeners.remove(fn)


LOG_BUFFER = LogBuffer()
_QUIET = _QuietHeartbeats()


def configure_logging(state_dir: Path, *, level: int = logging.INFO) -> Path:
    """Send DBOS's and our logs to a file and the in-memory buffer, never to the terminal.

    DBOS adds its console handler only when its logger has none, so ours must be in place first.
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / "agentdeck.log"
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    file_handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=5_000_000, backupCount=2, encoding="utf-8"
    )
    file_handler.setFormatter(fmt)
    redactor = _RedactFilter()
    # asyncio's own warnings too (e.g. a child process that exits after its loop closed).
    for name in ("dbos", "agentdeck", "claude_agent_sdk", "asyncio"):
        logger = logging.getLogger(name)
        for h in list(logger.handlers):
            if isinstance(h, (logging.StreamHandler, LogBuffer)) and not isinstance(
                h, logging.FileHandler
            ):
                logger.removeHandler(h)
            elif isinstance(h, logging.FileHandler):
                logger.removeHandler(h)
                h.close()
        logger.addHandler(file_handler)
        logger.addHandler(LOG_BUFFER)
        logger.addFilter(redactor)
        logger.addFilter(_QUIET)
        file_handler.addFilter(redactor)
        logger.setLevel(level)
        logger.propagate = False
    # "Exception ignored in ..." (an object finalised after its event loop closed, at exit)
    # goes to the log as well, not over the terminal the dashboard leaves.
    sys.unraisablehook = _unraisable_to_log
    return path


def _unraisable_to_log(u: sys.UnraisableHookArgs) -> None:
    exc = (u.exc_type, u.exc_value, u.exc_traceback) if u.exc_value is not None else None
    where = u.err_msg or "Exception ignored in"
    logging.getLogger("agentdeck").warning("%s: %r", where, u.object, exc_info=exc)


# --------------------------------------------------------------------------------------------
# Model endpoint


def has_claude_credentials(env: dict[str, str] | None = None, home: Path | None = None) -> bool:
    """True when real Claude can be reached: an API key, a token, a base URL or a Claude login."""
    env = dict(os.environ) if env is None else env
    if any(env.get(k) for k in (*SECRET_ENV, "ANTHROPIC_BASE_URL")):
        return True
    home = home or Path(env.get("HOME", str(Path.home())))
    return (home / ".claude" / ".credentials.json").is_file()


@dataclass
class RuntimeSettings:
    db_url: str = field(default_factory=resolve_db_url)
    offline: bool | None = None  # None: offline unless credentials exist
    offline_tps: float = field(default_factory=lambda: settings().offline_tps)
    offline_faults: str = field(default_factory=lambda: settings().offline_faults)
    state_dir: Path = field(default_factory=lambda: settings().state_dir)
    executor_id: str | None = None
    #: How often DBOS re-reads the database for ``recv``/``get_event`` waits on SQLite (an
    #: approval's answer reaches its run within this). Each wake-up costs CPU even with nothing
    #: waiting: 0.05 s was ~0.15 % of a core of an idle embedded dashboard (bench/idle.py).
    polling_interval_s: float = 0.1
    #: Tests: build an SDK transport instead of the CLI (see workflows.claude.Endpoint).
    transport_factory: Any = None


def _shorten_notification_fallback() -> None:
    """Catch a dropped NOTIFY in seconds, not a minute.

    On PostgreSQL a ``recv``/``get_event`` wait is woken by LISTEN/NOTIFY; a notification sent
    while the listener was reconnecting (after a database outage) is caught only by DBOS's
    fallback poll, every 60 s by default. A run answered right after an outage would sit idle for
    up to a minute; the ``notify_fallback_s`` setting (default 5) shortens that poll. Each waiting
    workflow then reads once per interval.
    """
    from .dbos_private import set_notification_fallback_poll

    set_notification_fallback_poll(max(0.5, settings().notify_fallback_s))


class Runtime:
    """Owns the process's DBOS instance and the model endpoint."""

    def __init__(self, settings: RuntimeSettings | None = None) -> None:
        self.settings = settings or RuntimeSettings()
        self.offline_server: Any = None
        self.endpoint: Endpoint | None = None
        self.heartbeat: Any = None
        self.watcher: Any = None
        self.launched = False

    @property
    def offline(self) -> bool:
        if self.settings.offline is None:
            return not has_claude_credentials()
        return self.settings.offline

    def start_model(self) -> Endpoint:
        """Start the offline model server if needed and point the Claude step at it."""
        from .claude import Endpoint, configure_endpoint

        if self.endpoint is not None:
            return self.endpoint
        if self.settings.transport_factory is not None:
            ep = Endpoint(
                label="offline scripted model (in-process transport)",
                offline=True,
                transport_factory=self.settings.transport_factory,
            )
        elif self.offline:
            from .model_offline import OFFLINE_MODEL_LABEL, OfflineModelServer, offline_env

            external = settings().offline_url.strip()
            if external:
                # A shared offline server (`python -m workflows.model_offline`), e.g. one that
                # outlives crashing processes and counts every request they made.
                base_url = external
            else:
                server = OfflineModelServer(
                    tokens_per_second=self.settings.offline_tps,
                    faults=self.settings.offline_faults,
                )
                base_url = server.start()
                self.offline_server = server
            home = self.settings.state_dir / "claude-home"
            home.mkdir(parents=True, exist_ok=True)
            ep = Endpoint(
                label=OFFLINE_MODEL_LABEL,
                offline=True,
                env=offline_env(base_url, str(home.resolve())),
                cwd=str(home.resolve()),
            )
        else:
            work = Path(tempfile.gettempdir()) / "agentdeck-claude-cwd"
            work.mkdir(exist_ok=True)
            ep = Endpoint(label="Claude API", offline=False, cwd=str(work))
        configure_endpoint(ep)
        self.endpoint = ep
        return ep

    def dbos_config(self) -> DBOSConfig:
        cfg: DBOSConfig = {
            "name": APP_NAME,
            "system_database_url": self.settings.db_url,
            "application_version": app_version(),
            "notification_listener_polling_interval_sec": self.settings.polling_interval_s,
            "log_level": "INFO",
        }
        if self.settings.db_url.startswith("sqlite"):
            # A pool ping before each checkout guards against a server that dropped the
            # connection; a SQLite file has none. Each queue poll checks out three times a
            # second, so on SQLite the pings were a third of an idle executor's statements.
            cfg["db_engine_kwargs"] = {"pool_pre_ping": False}
        if self.settings.executor_id:
            cfg["executor_id"] = self.settings.executor_id
        return cfg

    def launch(self) -> None:
        """Configure and launch DBOS (blocking: call it from a thread in a UI)."""
        if self.launched:
            return
        configure_logging(self.settings.state_dir)
        from .schedules import apply_schedules, load_schedules

        schedules = load_schedules()  # a bad agentdeck.yaml stops here, before anything starts
        from .notify import Watcher, load_notify

        notify_config = load_notify()  # so does a bad notify: section
        self.start_model()
        # Import the workflows so DBOS registers them before launch.
        from . import compare, notify, research  # noqa: F401
        from .presence import Heartbeat
        from .queues import register_queues

        _shorten_notification_fallback()
        DBOS(config=self.dbos_config())
        from .dbos_private import make_queue_threads_wakeable, set_internal_queue_poll
        from .queues import QUIET_QUEUE_POLL_S

        set_internal_queue_poll(QUIET_QUEUE_POLL_S)
        DBOS.launch()
        make_queue_threads_wakeable()  # for wake_queues(): a launch from here starts at once
        register_queues()  # the launch queue (rate limit, concurrency) and the research queue
        apply_schedules(schedules)
        self.heartbeat = Heartbeat(DBOS.executor_id, app_version())
        self.heartbeat.start()
        if notify_config.enabled:
            self.watcher = Watcher(notify_config)
            self.watcher.start()
            log.info("notifications to %s", notify_config.describe())
        self.launched = True
        log.info(
            "runtime up: db=%s model=%s version=%s",
            redact(self.settings.db_url),
            self.endpoint.label if self.endpoint else "?",
            app_version(),
        )

    def shutdown(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
            self.watcher = None
        if self.heartbeat is not None:
            self.heartbeat.stop()
            self.heartbeat = None
        if self.launched:
            from .cli_pool import close_all

            close_all()  # the CLIs kept between steps (claude_cli_reuse), on their loops
            DBOS.destroy(destroy_registry=False)
            self.launched = False
        if self.offline_server is not None:
            self.offline_server.stop()
            self.offline_server = None
        self.endpoint = None
