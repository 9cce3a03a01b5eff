"""Notifications that reach someone away from the terminal, sent durably from the workflow side.

The ``notify:`` section of ``agentdeck.yaml`` (or the ``notify_webhook`` / ``notify_command``
settings, ``AGENTDECK_NOTIFY_WEBHOOK`` / ``AGENTDECK_NOTIFY_COMMAND``, which win) names a webhook
(POST of a JSON body) and/or a command (run with the same JSON on stdin)::

    notify:
      webhook: https://hooks.example.com/agentdeck   # http(s) only
      command: ["notify-send-json"]                  # or one string, split like a shell
      timeout_s: 10                                  # per attempt
      events: [approval_needed, budget_reached, run_failed, run_timed_out, stranded_run]

Every notification is a :class:`NotifyEvent` with an idempotency ``key``. It is sent by the
``notify.send`` workflow, started with the key as its workflow id: DBOS starts one workflow per id,
so the same event started twice (a replayed workflow, two workers' watchers, a restart) is sent
once. The webhook and the command are one DBOS step each, retried with exponential backoff
(the ``notify_max_attempts``, ``notify_retry_interval`` and ``notify_backoff`` settings of
``workflows.config``); a target that keeps failing is logged as a warning (the dashboard's
log panel shows it) and the event is given up, never failing a run. A crash between a POST and its
checkpoint can repeat that one POST: the receiver dedupes on the ``Idempotency-Key`` header (the
event key, also in the body).

Who sends what:

* approvals (plan, tool, budget, loop): :func:`workflows.approvals.ask` starts the send as a
  child of the waiting workflow, right after it publishes the request;
* failed, timed-out and stranded runs cannot notify from inside (the run has ended, was cancelled
  by DBOS at its deadline, or its executor is dead): each runtime's :class:`Watcher` thread looks
  at the system database every few seconds and starts ``notify.send`` for each new such run.

The payload never holds a secret: the webhook URL (which often carries a token) and the command
are read from the configuration inside the step, never stored as step inputs or outputs.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
import os
import shlex
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from dbos import DBOS, SetWorkflowID
from dbos import error as dbos_error
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .config import AgentDeckSettings, ConfigError, config_path, section, settings
from .names import PRESENCE_WORKFLOW
from .settings import SECRET_ENV, presence_ttl, redact

__all__ = [
    "EVENTS",
    "NOTIFY_WORKFLOW",
    "NotifyConfig",
    "NotifyEvent",
    "NotifyEventKind",
    "Watcher",
    "approve_command",
    "load_notify",
    "notify_approval",
    "notify_context",
    "scan_events",
    "send_notification",
]

log = logging.getLogger("agentdeck.notify")

SECTION = "notify"
NOTIFY_WORKFLOW = "notify.send"
#: Left out of the environment a notify command runs in (the webhook URL often holds a token).
WEBHOOK_ENV = "AGENTDECK_NOTIFY_WEBHOOK"


class NotifyEventKind(enum.StrEnum):
    APPROVAL_NEEDED = "approval_needed"
    BUDGET_REACHED = "budget_reached"
    RUN_FAILED = "run_failed"
    RUN_TIMED_OUT = "run_timed_out"
    STRANDED_RUN = "stranded_run"


EVENTS: tuple[NotifyEventKind, ...] = tuple(NotifyEventKind)


def _retry_policy() -> dict[str, Any]:
    s = settings()
    return {
        "max_attempts": s.notify_max_attempts,
        "interval_seconds": s.notify_retry_interval,
        "backoff_rate": s.notify_backoff,
    }


#: Step retry policy of each target (DBOS retries with exponential backoff), read when the
#: module is imported (a DBOS step decorator takes it then); the ``notify_*`` settings shrink
#: it for fast tests.
NOTIFY_RETRY: dict[str, Any] = _retry_policy()


class NotifyConfig(BaseModel):
    """The ``notify:`` section (after the environment overrides)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    webhook: str | None = Field(default=None, description="URL to POST each event to (JSON).")
    command: tuple[str, ...] | None = Field(
        default=None, description="Command run per event with the JSON on stdin."
    )
    timeout_s: float = Field(default=10.0, gt=0, le=300, description="Per attempt.")
    events: tuple[NotifyEventKind, ...] = Field(default=EVENTS, description="Events to send.")

    @field_validator("webhook")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        v = v.strip()
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("webhook must be an http:// or https:// URL")
        return v

    @field_validator("command", mode="before")
    @classmethod
    def _command(cls, v: Any) -> Any:
        if v is None:
            return None
        if isinstance(v, str):
            try:
                v = shlex.split(v)
            except ValueError as exc:
                raise ValueError(f"command: {exc}") from None
        if isinstance(v, (list, tuple)) and not v:
            return None
        if isinstance(v, (list, tuple)) and not all(isinstance(a, str) for a in v):
            raise ValueError("command must be a string or a list of strings")
        return v

    @property
    def enabled(self) -> bool:
        return bool(self.webhook or self.command)

    def wants(self, kind: NotifyEventKind) -> bool:
        return self.enabled and kind in self.events

    def describe(self) -> str:
        """The targets, without secrets: the webhook's scheme and host, the command's name."""
        out = []
        if self.webhook:
            p = urlsplit(self.webhook)
            out.append(f"webhook {p.scheme}://{p.hostname}{f':{p.port}' if p.port else ''}/…")
        if self.command:
            out.append(f"command {Path(self.command[0]).name}")
        return ", ".join(out) or "nothing"


def load_notify(path: Path | None = None) -> NotifyConfig:
    """The ``notify:`` section, with the ``notify_webhook`` / ``notify_command`` settings (the
    environment) applied over it; raise a one-line :class:`ConfigError`."""
    where = path or config_path()
    raw = section(SECTION, where)
    if raw is not None and not isinstance(raw, dict):
        raise ConfigError(f"{where}: {SECTION}: expected a mapping (webhook:, command:, …)")
    data = dict(raw or {})
    current = settings()
    webhook = current.notify_webhook.get_secret_value() if current.notify_webhook else ""
    if webhook.strip():
        data["webhook"] = webhook
    if (current.notify_command or "").strip():
        data["command"] = current.notify_command
    try:
        return NotifyConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        msg = str(first["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"{where}: {SECTION}.{loc}: {msg}" if loc else msg) from None


# --------------------------------------------------------------------------------------------
# The payload


class NotifyEvent(BaseModel):
    """What a webhook receives (the JSON body) and a command reads on stdin."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(description="Idempotency key: the same event always has the same key.")
    event: NotifyEventKind
    run_id: str
    name: str = ""
    summary: str = ""
    #: For approvals: plan, tool, budget or loop.
    approval_kind: str = ""
    prompt: str = ""
    options: tuple[str, ...] = ()
    deadline: float | None = None
    #: The shell command that answers the approval (approve is the first option).
    approve_command: str = ""
    detail: str = ""
    created_at: float = Field(default_factory=time.time)
    source: Literal["agentdeck"] = "agentdeck"

    def body(self) -> bytes:
        return json.dumps(self.model_dump(mode="json"), ensure_ascii=False).encode()


def approve_command(run_id: str, options: Iterable[str] = ()) -> str:
    """``agentdeck approve <id>`` (plus the JSON answer form when approve is not an option)."""
    opts = list(options)
    base = f"agentdeck approve {shlex.quote(run_id)}"
    if not opts or "approve" in opts:
        return base
    return f"{base} --answer {shlex.quote(json.dumps({'decision': opts[0]}))}"


# --------------------------------------------------------------------------------------------
# Sending (the notify.send workflow and its steps)


class NotifyError(Exception):
    """One attempt at one target failed (a single string: picklable)."""


def _post(url: str, body: bytes, key: str, timeout: float) -> int:
    req = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Idempotency-Key": key,
            "User-Agent": "agentdeck-notify",
        },
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return int(resp.status)


@DBOS.step(name="notify.webhook", retries_allowed=True, **NOTIFY_RETRY)
async def post_webhook(event: NotifyEvent) -> str:
    """POST the event to the configured webhook; a non-2xx answer or no answer is retried."""
    cfg = load_notify()
    if not cfg.webhook:
        return "no webhook configured"
    try:
        status = await asyncio.to_thread(_post, cfg.webhook, event.body(), event.key, cfg.timeout_s)
    except urllib.error.HTTPError as exc:
        raise NotifyError(f"{cfg.describe()}: HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = redact(str(getattr(exc, "reason", exc))) or type(exc).__name__
        raise NotifyError(f"{cfg.describe()}: {reason}") from None
    return f"HTTP {status}"


def _command_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SECRET_ENV}
    env.pop(WEBHOOK_ENV, None)
    return env


@DBOS.step(name="notify.command", retries_allowed=True, **NOTIFY_RETRY)
async def run_command(event: NotifyEvent) -> str:
    """Run the configured command with the event's JSON on stdin; a non-zero exit is retried."""
    cfg = load_notify()
    if not cfg.command:
        return "no command configured"
    name = Path(cfg.command[0]).name
    try:
        proc = await asyncio.create_subprocess_exec(
            *cfg.command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            env=_command_env(),
        )
    except OSError as exc:
        raise NotifyError(f"command {name}: {exc.strerror or exc}") from None
    try:
        _, err = await asyncio.wait_for(proc.communicate(event.body()), timeout=cfg.timeout_s)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise NotifyError(f"command {name}: no exit within {cfg.timeout_s:g} s") from None
    if proc.returncode != 0:
        last = (err or b"").decode(errors="replace").strip().splitlines()[-1:] or [""]
        raise NotifyError(f"command {name}: exit {proc.returncode} {redact(last[0])[:200]}")
    return "exit 0"


@DBOS.workflow(name=NOTIFY_WORKFLOW)
async def send_notification(event: NotifyEvent) -> dict[str, str]:
    """Send one event to every target; a target that keeps failing is logged, never raised."""
    out: dict[str, str] = {}
    for target, step in (("webhook", post_webhook), ("command", run_command)):
        try:
            out[target] = await step(event)
        except (dbos_error.DBOSMaxStepRetriesExceeded, NotifyError) as exc:
            errors = getattr(exc, "errors", None)
            last = errors[-1] if errors else exc
            out[target] = f"gave up: {last}"
            log.warning("notification %s (%s) not sent, gave up: %s", event.key, target, last)
    return out


async def notify_context(approval_kind: str) -> dict[str, str] | None:
    """None when an approval of this kind is not to be notified; else the run's name and summary.

    Called inside the ``approval`` marker step (:func:`workflows.approvals.approval_point`), so
    a replay takes the same branch whatever the configuration says by then, at no extra step.
    """
    try:
        cfg = load_notify()
    except ConfigError as exc:
        log.warning("notifications off: %s", exc)
        return None
    if not cfg.wants(_event_kind(approval_kind)):
        return None
    wid = DBOS.workflow_id or ""
    status = await DBOS.get_workflow_status_async(wid)
    summary = ""
    if status is not None and isinstance(status.attributes, dict):
        summary = str(status.attributes.get("summary") or "")
    return {"name": status.name if status is not None else "", "summary": summary}


def _event_kind(approval_kind: str) -> NotifyEventKind:
    if approval_kind == "budget":
        return NotifyEventKind.BUDGET_REACHED
    return NotifyEventKind.APPROVAL_NEEDED


async def notify_approval(
    ctx: dict[str, str] | None,
    *,
    approval_kind: str,
    request_id: str,
    prompt: str,
    options: Iterable[str],
    deadline: float,
    created_at: float,
    detail: str = "",
) -> None:
    """From inside a workflow that is about to wait for an approval: start its notification
    (``ctx``: what :func:`notify_context` recorded; None = not notified).

    Not awaited to the end: the send runs as its own workflow (the event key is its id), so a slow
    or failing target never delays the approval.
    """
    if ctx is None:
        return
    kind = _event_kind(approval_kind)
    wid = DBOS.workflow_id or ""
    opts = tuple(options)
    event = NotifyEvent(
        # The request's creation time (a recorded clock reading) makes an approval asked again
        # after a rewind a new event, while a replay of the same asking stays the same one.
        key=f"{kind.value}:{request_id}@{int(created_at * 1000)}",
        event=kind,
        run_id=wid,
        name=ctx["name"],
        summary=redact(ctx["summary"]),
        approval_kind=approval_kind,
        prompt=redact(prompt),
        options=opts,
        deadline=deadline,
        approve_command=approve_command(wid, opts),
        detail=detail,
        created_at=created_at,
    )
    with SetWorkflowID(event.key):
        await DBOS.start_workflow_async(send_notification, event)


# --------------------------------------------------------------------------------------------
# The watcher: failed, timed-out and stranded runs


def _attrs(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        try:
            out = json.loads(value)
        except ValueError:
            return {}
        return out if isinstance(out, dict) else {}
    return {}


def _ended_ms(s: Any) -> int:
    return int(s.completed_at or s.updated_at or 0)


def scan_events(*, since_ms: int, now: float | None = None) -> list[NotifyEvent]:
    """Failed, timed-out and stranded top-level runs since ``since_ms`` (blocking: a thread).

    Timed out: cancelled at its deadline (DBOS cancels it), or failed because an approval's
    deadline passed. Stranded: pending on an executor whose heartbeat stopped (the rules of the
    dashboard's ``is:stranded``, for the agentdeck presence rows).
    """
    now = time.time() if now is None else now
    out: list[NotifyEvent] = []
    ended = DBOS.list_workflows(
        status=["ERROR", "CANCELLED", "MAX_RECOVERY_ATTEMPTS_EXCEEDED"],
        completed_after=_iso(since_ms),
        has_parent=False,
        load_input=False,
        load_output=True,  # the error, for the detail
    )
    for s in ended:
        if s.name in (NOTIFY_WORKFLOW, PRESENCE_WORKFLOW):
            continue
        summary = redact(str(_attrs(s.attributes).get("summary") or ""))
        deadline = s.workflow_deadline_epoch_ms
        if s.status == "CANCELLED":
            if deadline is None or _ended_ms(s) < deadline - 1000:
                continue  # cancelled by a person: nothing to tell
            kind, detail = NotifyEventKind.RUN_TIMED_OUT, "cancelled at its deadline"
        elif s.status == "MAX_RECOVERY_ATTEMPTS_EXCEEDED":
            kind, detail = NotifyEventKind.STRANDED_RUN, "max recovery attempts exceeded"
        else:
            detail = redact(str(s.error or "failed").splitlines()[0])[:500]
            kind = (
                NotifyEventKind.RUN_TIMED_OUT
                if "timed out" in detail and "approval" in detail
                else NotifyEventKind.RUN_FAILED
            )
        out.append(
            NotifyEvent(
                key=f"{kind.value}:{s.workflow_id}",
                event=kind,
                run_id=s.workflow_id,
                name=s.name,
                summary=summary,
                detail=detail,
                created_at=_ended_ms(s) / 1000,
            )
        )
    out.extend(_stranded(now))
    return out


def _iso(ms: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat()


def _stranded(now: float) -> list[NotifyEvent]:
    beats = DBOS.list_workflows(
        name=PRESENCE_WORKFLOW, status="PENDING", load_input=False, load_output=False
    )
    if not beats:
        return []  # not an agentdeck database: nothing is judged
    ttl = presence_ttl()
    alive = set()
    for b in beats:
        a = _attrs(b.attributes)
        hb = a.get("heartbeat")
        if isinstance(hb, (int, float)) and now - hb <= ttl:
            alive.add(str(a.get("executor") or b.executor_id))
    out = []
    pending = DBOS.list_workflows(
        status="PENDING", has_parent=False, load_input=False, load_output=False
    )
    for s in pending:
        if s.name in (NOTIFY_WORKFLOW, PRESENCE_WORKFLOW) or not s.executor_id:
            continue
        if s.executor_id in alive:
            continue
        out.append(
            NotifyEvent(
                key=f"{NotifyEventKind.STRANDED_RUN.value}:{s.workflow_id}:{s.executor_id}",
                event=NotifyEventKind.STRANDED_RUN,
                run_id=s.workflow_id,
                name=s.name,
                summary=redact(str(_attrs(s.attributes).get("summary") or "")),
                detail=f"executor {s.executor_id} is gone (no heartbeat)",
                created_at=now,
            )
        )
    return out


def watch_interval() -> float:
    """Seconds between the watcher's scans (``notify_watch_s``; its default if the settings
    went bad since the runtime started, so the watcher keeps watching)."""
    try:
        return settings().notify_watch_s
    except ConfigError:
        default: float = AgentDeckSettings.model_fields["notify_watch_s"].default
        return default


class Watcher:
    """A daemon thread per runtime: finds failed, timed-out and stranded runs and starts one
    ``notify.send`` per event, its key as workflow id (DBOS dedupes across workers and restarts).

    It looks back ``lookback_s`` (default 10 minutes) at start, then from its last scan (with a
    margin), so a run that ended while no runtime was up is still told about.
    """

    def __init__(self, config: NotifyConfig, *, lookback_s: float = 600.0) -> None:
        self.config = config
        self.lookback_s = lookback_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.started: set[str] = set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="agentdeck-notify", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        since = time.time() - self.lookback_s
        while not self._stop.is_set():
            scanned_at = time.time()
            try:
                self.tick(since)
                since = scanned_at - 60  # a margin for clocks and slow commits
            except Exception as exc:  # the database may be away for a while: keep watching
                log.warning("notification watcher: %s", redact(str(exc)).splitlines()[0])
            self._stop.wait(watch_interval())

    def tick(self, since: float) -> int:
        started = 0
        for ev in scan_events(since_ms=int(since * 1000)):
            if not self.config.wants(ev.event) or ev.key in self.started:
                continue
            with SetWorkflowID(ev.key):
                DBOS.start_workflow(send_notification, ev)
            self.started.add(ev.key)
            started += 1
        return started
