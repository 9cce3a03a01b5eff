"""Scheduled research: the ``schedules:`` section of ``agentdeck.yaml`` as DBOS cron schedules.

Each entry names a cron expression and a research request. Every runtime (the embedded dashboard,
``agentdeck worker``) validates the section before it starts DBOS (a bad entry stops it with one
line naming the file and the entry) and applies it once DBOS is up with
``DBOS.apply_schedules``: an idempotent upsert by name that keeps a schedule's paused/active state
and last fire time. Schedules of :data:`SCHEDULED_WORKFLOW` that the file no longer lists are
deleted, so the file is the source of truth for them. DBOS fires each one on every runtime, under
the same workflow id (``sched-<name>-<time>``), so several workers run it once.

A firing runs :func:`scheduled_research`, which enqueues the research on the launch queue as its
child (rate limit and deduplication apply: if an identical research is still queued or running,
the firing attaches to it instead of starting a second one) and, with ``auto_approve: true``,
sends the plan's approval before the child even asks for it (the child consumes it at its
``recv``). Without it the run waits in the approval inbox like any other, until
``approval_timeout_s``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

from croniter import croniter  # type: ignore[import-untyped]
from dbos import DBOS
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .approvals import publish_event
from .config import ConfigError, config_path, section
from .models import (
    DEFAULT_MODEL,
    PROGRESS_EVENT,
    ApprovalAnswer,
    ApprovalDecision,
    ModelName,
    Progress,
    ResearchReport,
    ResearchRequest,
    Topic,
)
from .names import APP_NAME, APPROVAL_TOPIC, LAUNCH_QUEUE
from .queues import dedup_id, wake_queues

__all__ = [
    "SCHEDULED_WORKFLOW",
    "ResearchSchedule",
    "apply_schedules",
    "load_schedules",
    "scheduled_research",
]

SCHEDULED_WORKFLOW = "research.scheduled"
SECTION = "schedules"


class ResearchSchedule(BaseModel):
    """One entry of ``schedules:`` in agentdeck.yaml."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
        description="Unique name: letters, digits, '.', '_' and '-' (it is part of run ids).",
    )
    cron: str = Field(description="5 fields, or 6 with seconds first (DBOS's cron).")
    timezone: str | None = Field(default=None, description="IANA zone of the cron; default UTC.")
    topic: Topic
    questions: int = Field(default=3, ge=1, le=10)
    model: ModelName = DEFAULT_MODEL
    auto_approve: bool = Field(
        default=False, description="Approve the plan without a human (a nightly digest)."
    )
    approval_timeout_s: float = Field(default=24 * 3600, gt=0, le=30 * 24 * 3600)

    @field_validator("cron")
    @classmethod
    def _cron(cls, v: str) -> str:
        v = " ".join(v.split())
        if not croniter.is_valid(v, second_at_beginning=True):
            raise ValueError(f"not a cron expression: {v!r}")
        return v

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str | None) -> str | None:
        if v is None:
            return v
        try:
            ZoneInfo(v)
        except Exception:
            raise ValueError(f"unknown time zone: {v!r}") from None
        return v

    def request(self) -> ResearchRequest:
        return ResearchRequest(
            topic=self.topic,
            questions=self.questions,
            model=self.model,
            approval_timeout_s=self.approval_timeout_s,
        )

    def summary(self) -> str:
        approve = "auto-approve" if self.auto_approve else "asks approval"
        return f"{self.topic} · {self.questions}q · {approve}"


def _entry_name(raw: Any, index: int) -> str:
    name = raw.get("name") if isinstance(raw, dict) else None
    return f"schedules[{index}]" + (f" ({name})" if isinstance(name, str) and name else "")


def load_schedules(path: Path | None = None) -> list[ResearchSchedule]:
    """The validated ``schedules:`` section (empty when absent).

    Raises :class:`~workflows.config.ConfigError` with one line naming the file and the entry.
    """
    where = path or config_path()
    raw = section(SECTION, where)
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ConfigError(f"{where}: schedules: expected a list of entries (- name: …)")
    out: list[ResearchSchedule] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        try:
            entry = ResearchSchedule.model_validate(item)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"]) or "entry"
            msg = err["msg"].removeprefix("Value error, ")
            raise ConfigError(f"{where}: {_entry_name(item, i)}: {field}: {msg}") from None
        if entry.name in seen:
            raise ConfigError(f"{where}: {_entry_name(item, i)}: name: used twice")
        seen.add(entry.name)
        out.append(entry)
    return out


def apply_schedules(entries: Sequence[ResearchSchedule]) -> None:
    """Create or update the configured schedules; delete the scheduled-research ones it dropped.

    Blocking (DBOS's schedule API): call it from a thread, once DBOS is launched.
    """
    if entries:
        DBOS.apply_schedules(
            [
                {
                    "schedule_name": e.name,
                    # DBOS types a scheduled workflow as returning None; ours returns the report,
                    # which the run detail shows.
                    "workflow_fn": cast(Any, scheduled_research),
                    "schedule": e.cron,
                    "context": e.model_dump(mode="json"),
                    "cron_timezone": e.timezone,
                }
                for e in entries
            ]
        )
    keep = {e.name for e in entries}
    for s in DBOS.list_schedules(workflow_name=SCHEDULED_WORKFLOW):
        if s["schedule_name"] not in keep:
            DBOS.delete_schedule(s["schedule_name"])


@DBOS.workflow(name=SCHEDULED_WORKFLOW)
async def scheduled_research(scheduled_at: datetime, context: Any) -> ResearchReport:
    """One firing of a research schedule: the research runs as this run's child."""
    entry = ResearchSchedule.model_validate(context)
    req = entry.request()
    me = DBOS.workflow_id or "scheduled"
    child_id = f"{me}-research"
    await DBOS.update_workflow_attributes_async(
        me,
        {"summary": f"{entry.name}: {entry.summary()}"[:120], "schedule": entry.name},
        merge=True,
    )
    handle = await DBOS.enqueue_workflow_with_options_async(
        {
            "workflow_name": "research",
            "queue_name": LAUNCH_QUEUE,
            "workflow_id": child_id,
            # An identical research still queued or running (last night's, waiting for its
            # approval, or one launched by hand): attach to it rather than run it twice.
            "deduplication_id": dedup_id("research", req),
            "duplication_policy": "return-existing",
            "attributes": {
                "summary": f"{req.topic} · {req.questions}q"[:120],
                "kind": "research",
                "schedule": entry.name,
            },
            "application_name": APP_NAME,
        },
        req,
    )
    wake_queues()  # this runtime takes the research now, not at its next queue poll
    attached = handle.workflow_id != child_id
    fired = scheduled_at.strftime("%Y-%m-%d %H:%M:%S")
    detail = f"{fired}: " + (
        f"attached to {handle.workflow_id}" if attached else f"research {child_id}"
    )
    await publish_event(
        PROGRESS_EVENT, Progress(phase="scheduled research", detail=detail).model_dump(mode="json")
    )
    if entry.auto_approve and not attached:
        answer = ApprovalAnswer(
            decision=ApprovalDecision.APPROVE,
            by=f"schedule {entry.name}",
            comment="auto_approve: true in agentdeck.yaml",
        )
        # The same idempotency key as a dashboard's answer: whichever is first is the one stored.
        await DBOS.send_async(
            child_id,
            answer.model_dump(mode="json"),
            APPROVAL_TOPIC,
            idempotency_key=f"approval:{child_id}:{APPROVAL_TOPIC}",
        )
    report: ResearchReport = await handle.get_result()
    # No cost here: it is the child's, and the list shows it there.
    await publish_event(
        PROGRESS_EVENT, Progress(phase="done", detail=detail).model_dump(mode="json")
    )
    return report
