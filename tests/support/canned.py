"""A recorded, fixed snapshot of a system database: for SVG snapshots and `make screenshots`.

The dashboard normally reads a live database; pictures and snapshot tests need fixed ids, times
and text. This source answers the data layer's read calls from canned values shaped exactly like
what the real layer returns for the research workflow (the texts come from the offline script).
Writes are refused. Nothing here is used by the running product.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from tui.data.filters import STATUS_ALIASES, Filter
from tui.data.insights import Insights, InsightsQuery, StepCost
from tui.data.reads import ListQuery
from tui.supervisor import (
    ActionResult,
    EventItem,
    ForkNode,
    ListPage,
    RunDetail,
    RunOutputs,
    StepRow,
    StreamBatch,
    Supervisor,
    SupervisorError,
    WorkflowRow,
)
from tui.supervisor._queues import PartitionRow, QueueRow, ScheduleRow, ScheduleRun, next_run
from tui.supervisor.describe import describe_child, describe_output
from tui.supervisor.export import RunValues
from workflows.guards import Budget, budget_prompt
from workflows.model_offline.script import answer as scripted
from workflows.model_offline.script import plan_questions, thinking_for
from workflows.models import (
    Answer,
    ApprovalDecision,
    ApprovalRequest,
    ApprovalState,
    ChunkKind,
    ChunkPart,
    ClaudeResult,
    Plan,
    Progress,
    ResearchReport,
    ResearchRequest,
    StreamChunk,
    Usage,
)
from workflows.tools import approval_prompt

__all__ = ["CannedSupervisor", "NOW"]

NOW = 1_795_600_000.0  # the canned clock
TOPIC = "durable execution"


def _row(wid: str, status: str, age: float, took: float | None, **kw: Any) -> WorkflowRow:
    created = NOW - age
    done = created + took if took is not None else None
    return WorkflowRow(
        workflow_id=wid,
        name=kw.pop("name", "research"),
        status=status,
        created_at=created,
        updated_at=done or NOW,
        completed_at=done,
        queue="agentdeck-launch",
        executor="local",
        app_version="agentdeck-0.1.0",
        **kw,
    )


QUESTIONS = tuple(plan_questions(TOPIC, 3))
APPROVAL = ApprovalRequest(
    request_id="research-7b7a2c92e567:approve-plan",
    topic="approve-plan",
    prompt=f"Approve this research plan for “{TOPIC}”?\n\n"
    + "\n".join(f"{i + 1}. {q}" for i, q in enumerate(QUESTIONS)),
    proposal={"questions": list(QUESTIONS)},
    created_at=NOW - 42,
    deadline=NOW - 42 + 24 * 3600,
)
ANSWERS = tuple(
    Answer(index=i, question=q, text=scripted("research", f"Topic: {TOPIC}\nQuestion: {q}"))
    for i, q in enumerate(QUESTIONS)
)
REPORT_MD = scripted(
    "synthesize",
    f"Topic: {TOPIC}\n\n"
    + "\n\n".join(f"Q{a.index + 1}: {a.question}\nA{a.index + 1}: {a.text}" for a in ANSWERS),
)

WAITING = _row(
    "research-7b7a2c92e567",
    "PENDING",
    48,
    None,
    summary=f"{TOPIC} · 3q",
    progress=Progress(phase="awaiting approval", done=0, total=3),
    approval=APPROVAL,
    waiting_recv=True,
    recv_deadline=APPROVAL.deadline,
)
RUNNING = _row(
    "research-1f0c8e2d9a44",
    "PENDING",
    95,
    None,
    summary="vector databases · 4q",
    progress=Progress(phase="researching", done=2, total=4),
)
DONE = _row(
    "research-c3d2a1b0f9e8",
    "SUCCESS",
    1800,
    64.2,
    summary="CRDTs for collaborative editing · 3q",
    progress=Progress(phase="done", done=3, total=3),
    cost_usd=0.0412,
)
FAILED = _row(
    "research-9a8b7c6d5e4f",
    "ERROR",
    3600,
    21.7,
    summary="WebAssembly on the server · 2q",
    error="ResearchFailed: synthesis failed: invalid request (API error 400): API Error: 400 "
    "Invalid request (offline fault injection); not retried",
    progress=Progress(phase="failed", done=2, total=2, detail="synthesis failed"),
)
CANCELLED = _row("research-5e6f7a8b9c0d", "CANCELLED", 7200, 12.0, summary="eBPF tracing · 3q")
FORK = _row(
    "research-c3d2a1b0f9e8~fork",
    "SUCCESS",
    600,
    8.1,
    summary="CRDTs for collaborative editing",
    forked_from=DONE.workflow_id,
    cost_usd=0.0091,
)
QUEUED = _row("research-0d1e2f3a4b5c", "ENQUEUED", 3, None, summary="Raft vs Paxos · 5q")
CHILDREN = tuple(
    _row(
        f"{DONE.workflow_id}-{20 + i}",
        "SUCCESS",
        1780 - i,
        9.0 + 3 * i,
        name="research.question",
        parent_id=DONE.workflow_id,
        summary=q[:40],
    )
    for i, q in enumerate(QUESTIONS)
)
ROWS = (QUEUED, WAITING, RUNNING, FORK, DONE, FAILED, CANCELLED, *CHILDREN)


# Queues as the canned rows load them: the launch queue has QUEUED, WAITING and RUNNING (each
# holding its deduplication id) under the default rate limit; two of RUNNING's questions are in
# flight on the research queue (worker concurrency 2). The backfill queue is one an operator
# registered for scheduled catch-up runs (global limit, a rate limit whose window is full,
# priorities); the tenants queue is partitioned by customer (one run at a time and 10 starts a
# minute per tenant); DBOS's internal queue carries the scheduled run in flight.
TENANTS = (
    PartitionRow(
        key="acme",
        running=1,
        enqueued=3,
        queued_by_priority=((0, 3),),
        oldest_wait_s=95.0,
        rate_used=4,
    ),
    PartitionRow(key="globex", running=1, enqueued=0, rate_used=1),
    PartitionRow(
        key="initech",
        running=0,
        enqueued=1,
        queued_by_priority=((0, 1),),
        oldest_wait_s=12.0,
        rate_used=10,
        rate_frees_at=NOW + 8,
    ),
)
QUEUES = (
    QueueRow(
        name="agentdeck-backfill",
        global_concurrency=1,
        rate_limit=2,
        rate_period_s=60.0,
        rate_used=2,
        rate_frees_at=NOW + 17,
        priority_in_use=True,
        queued_by_priority=((1, 2), (5, 3)),
        enqueued=5,
        running=1,
        oldest_wait_s=252.0,
    ),
    QueueRow(
        name="agentdeck-launch",
        rate_limit=50,
        rate_period_s=60.0,
        rate_used=4,
        queued_by_priority=((0, 1),),
        enqueued=1,
        running=2,
        dedup_held=3,
        oldest_wait_s=3.0,
    ),
    QueueRow(name="agentdeck-research", worker_concurrency=2, running=2),
    QueueRow(
        name="tenant-reports",
        global_concurrency=4,
        partition_concurrency=1,
        partition_rate_limit=10,
        partition_rate_period_s=60.0,
        running=2,
        enqueued=4,
        queued_by_priority=((0, 4),),
        oldest_wait_s=95.0,
        partitions=TENANTS,
    ),
    QueueRow(name="_dbos_internal_queue", registered=False, running=1),
)
IDLE_QUEUES = (
    QueueRow(name="agentdeck-launch", rate_limit=50, rate_period_s=60.0, rate_used=0),
    QueueRow(name="agentdeck-research", worker_concurrency=2),
)


def _runs(schedule: str, *runs: tuple[str, str]) -> tuple[ScheduleRun, ...]:
    """Scheduled runs, newest first, named as DBOS names them: sched-<schedule>-<ISO time>."""
    from datetime import datetime

    out = []
    for iso, status in runs:
        at = datetime.fromisoformat(iso).timestamp()
        out.append(ScheduleRun(workflow_id=f"sched-{schedule}-{iso}", status=status, created_at=at))
    return tuple(out)


#: (row without its next run time): next_run is computed against the caller's clock.
SCHEDULES = (
    ScheduleRow(
        name="daily-digest",
        workflow_name="research.scheduled",
        cron="0 6 * * *",
        detail="durable execution digest · 3q · auto-approve",
        last_fired_at=NOW - 3 * 3600 - 2800,
        last_runs=_runs(
            "daily-digest",
            ("2026-11-25T06:00:00+00:00", "SUCCESS"),
            ("2026-11-24T06:00:00+00:00", "SUCCESS"),
        ),
    ),
    ScheduleRow(
        name="hourly-smoke",
        workflow_name="research",
        cron="*/15 * * * *",
        last_fired_at=NOW - 100,
        last_runs=_runs(
            "hourly-smoke",
            ("2026-11-25T09:45:00+00:00", "PENDING"),
            ("2026-11-25T09:30:00+00:00", "SUCCESS"),
            ("2026-11-25T09:15:00+00:00", "SUCCESS"),
        ),
    ),
    ScheduleRow(
        name="nightly-research",
        workflow_name="research",
        cron="0 3 * * *",
        queue="agentdeck-backfill",
        last_fired_at=NOW - 6 * 3600 - 2800,
        last_runs=_runs(
            "nightly-research",
            ("2026-11-25T03:00:00+00:00", "SUCCESS"),
            ("2026-11-24T03:00:00+00:00", "ERROR"),
            ("2026-11-23T03:00:00+00:00", "SUCCESS"),
        ),
    ),
    ScheduleRow(
        name="weekly-digest",
        workflow_name="research",
        cron="30 9 * * 1",
        timezone="Europe/Berlin",
        status="paused",
        last_runs=_runs(
            "weekly-digest",
            ("2026-11-16T09:30:00+01:00", "CANCELLED"),
            ("2026-11-09T09:30:00+01:00", "SUCCESS"),
        ),
    ),
)


PLAN_TEXT = scripted("plan", f"Topic: {TOPIC}\nQuestions: 3")
PLAN_RESULT = ClaudeResult(
    text=PLAN_TEXT,
    usage=Usage(input_tokens=10_512, output_tokens=67),
    cost_usd=0.0327,
    model="claude-sonnet-4-5",
    backend="offline scripted model",
)
SYNTH_RESULT = ClaudeResult(
    text=REPORT_MD,
    usage=Usage(input_tokens=21_430, output_tokens=1_184),
    cost_usd=0.0821,
    model="claude-sonnet-4-5",
    backend="offline scripted model",
)
APPROVED = {"decision": "approve", "questions": None, "comment": "", "by": "dashboard"}


def _step(
    fid: int, name: str, start: float, end: float | None, out: Any = None, **kw: Any
) -> StepRow:
    """A step as the data layer builds it (its output described as ``Supervisor._step`` does)."""
    return StepRow(
        step_id=fid,
        name=name,
        status=kw.pop("status", "done" if end is not None else "running"),
        started_at=start,
        completed_at=end,
        output_summary=describe_output(name, out, at=end) if end is not None else "",
        **kw,
    )


def _settings_read(fid: int, t: float) -> list[StepRow]:
    """``workflows.research.step_settings``: the marker, the recv (timeout 0), its sleep."""
    return [
        _step(fid, "settings", t, t + 0.01),
        _step(fid + 1, "DBOS.recv", t + 0.02, t + 0.04),
        _step(fid + 2, "DBOS.sleep", t + 0.02, t + 0.02, t + 0.02),
    ]


def _steps(row: WorkflowRow) -> tuple[StepRow, ...]:
    """The research workflow's steps in DBOS's numbering (``list_workflow_steps`` of a real
    run): plan at 6, the approval's recv at 12, a child per question from 20, synthesis."""
    t0 = row.created_at or NOW
    n = 2 if row is FAILED else len(QUESTIONS)
    asked = t0 + 6
    steps = [
        *_settings_read(1, t0),
        _step(4, "DBOS.setEvent", t0 + 0.05, t0 + 0.06),
        _step(5, "DBOS.setEvent", t0 + 0.07, t0 + 0.08),
        _step(6, "plan", t0 + 0.1, t0 + 4.2, (Plan(questions=QUESTIONS[:n]), PLAN_RESULT)),
        _step(7, "DBOS.setEvent", t0 + 4.21, t0 + 4.22),
        _step(8, "approval", t0 + 5.96, t0 + 5.97),
        _step(9, "clock", t0 + 5.98, asked, asked),
        _step(10, "DBOS.setEvent", asked + 0.01, asked + 0.02),
        _step(11, "clock", asked + 0.03, asked + 0.04, asked + 0.04),
    ]
    deadline = _step(13, "DBOS.sleep", asked + 0.05, asked + 0.05, asked + 24 * 3600)
    if row is WAITING:  # blocked in the recv at 12: DBOS has written only its timeout
        return (*steps, deadline)
    steps += [
        _step(12, "DBOS.recv", asked + 0.05, t0 + 19.0, APPROVED),
        deadline,
        _step(14, "clock", t0 + 19.0, t0 + 19.01, t0 + 19.01),
        _step(15, "DBOS.setEvent", t0 + 19.02, t0 + 19.03),
        *_settings_read(16, t0 + 19.04),
        _step(19, "DBOS.setEvent", t0 + 19.08, t0 + 19.09),
    ]
    for i in range(n):
        steps.append(
            _step(
                20 + i,
                "research.question",
                t0 + 19.1,
                t0 + 19.1,
                child_id=f"{row.workflow_id}-{20 + i}",
            )
        )
    fid = 20 + n
    for i in range(n):
        # As the children's rows say (CHILDREN); a failed run's were quicker (it took 22 s).
        done = t0 + (19.5 + 0.4 * i if row is FAILED else 29.0 + 4 * i)
        child = f"{row.workflow_id}-{20 + i}"
        steps += [
            _step(fid, "DBOS.waitFirst", t0 + 19.2, done, child),
            _step(fid + 1, "DBOS.getResult", done, done + 0.01, ANSWERS[i], child_id=child),
            _step(fid + 2, "DBOS.setEvent", done + 0.02, done + 0.03),
        ]
        fid += 3
    last = t0 + (20.5 if row is FAILED else 40.0)
    steps += [
        *_settings_read(fid, last),
        _step(fid + 3, "DBOS.setEvent", last + 0.1, last + 0.2),
    ]
    if row is FAILED:
        steps.append(
            _step(
                fid + 4,
                "synthesize",
                t0 + 20.9,
                t0 + 21.6,
                status="error",
                error="ClaudeFatalError: invalid request (API error 400): API Error: 400 "
                "Invalid request; not retried",
            )
        )
        return tuple(steps)
    steps += [
        _step(fid + 4, "synthesize", t0 + 45.0, t0 + 63.9, SYNTH_RESULT, attempts=2),
        _step(fid + 5, "DBOS.setEvent", t0 + 63.91, t0 + 63.92),
    ]
    return tuple(steps)


def _synth_id(row: WorkflowRow) -> int:
    """The synthesis's step number: after the children's starts and three steps per child
    (wait, result, progress), and a settings read (three) and a progress event."""
    n = 2 if row is FAILED else len(QUESTIONS)
    return 20 + n + 3 * n + 4


def _child_notes(row: WorkflowRow) -> dict[str, str]:
    """What the data layer says each research child works on (from its inputs)."""
    n = 2 if row is FAILED else len(QUESTIONS)
    return {
        f"{row.workflow_id}-{20 + i}": describe_child(
            "research.question", {"args": [TOPIC, i, QUESTIONS[i], "claude-sonnet-4-5"]}
        )
        for i in range(n)
    }


def _chunks(row: WorkflowRow) -> tuple[StreamChunk, ...]:
    plan_prompt = f"Topic: {TOPIC}\nQuestions: 3"
    t0 = row.created_at or NOW
    out = [
        StreamChunk(
            step_id=6,
            step_name="plan",
            attempt=1,
            seq=0,
            ts=t0 + 0.2,
            parts=(
                ChunkPart(
                    kind=ChunkKind.STATUS,
                    text="attempt 1 · claude-sonnet-4-5 · offline scripted model",
                ),
                ChunkPart(kind=ChunkKind.THINKING, text=thinking_for("plan", plan_prompt)),
                ChunkPart(kind=ChunkKind.TEXT, text=scripted("plan", plan_prompt)),
                ChunkPart(kind=ChunkKind.USAGE, text="10512 in / 67 out · $0.0327"),
            ),
        ),
    ]
    if row is not WAITING:
        synth = _synth_id(row)
        out += [
            StreamChunk(
                step_id=synth,
                step_name="synthesize",
                attempt=1,
                seq=0,
                ts=t0 + 45.1,
                parts=(
                    ChunkPart(kind=ChunkKind.TEXT, text=REPORT_MD[:180]),
                    ChunkPart(
                        kind=ChunkKind.ERROR,
                        text="attempt 1 failed: API error 529: Overloaded (will retry)",
                    ),
                ),
            ),
            StreamChunk(
                step_id=synth,
                step_name="synthesize",
                attempt=2,
                seq=0,
                ts=t0 + 47.0,
                parts=(ChunkPart(kind=ChunkKind.TEXT, text=REPORT_MD),),
            ),
        ]
    return tuple(out)


_SORTS: dict[str, Callable[[WorkflowRow], Any]] = {
    "started": lambda r: -(r.created_at or 0),
    "status": lambda r: (r.status, -(r.created_at or 0)),
    "name": lambda r: (r.name, -(r.created_at or 0)),
    "duration": lambda r: -(r.duration() or 0),
    "cost": lambda r: -(r.cost_usd or 0),
}


def _matches(text: str, row: WorkflowRow) -> bool:
    """The filter language over one canned row (the database does this for live sources)."""
    for key, value in Filter(text).terms():
        value_l = value.lower()
        if key == "":
            if value_l not in f"{row.name} {row.workflow_id} {row.summary}".lower():
                return False
        elif key == "status":
            wanted = {STATUS_ALIASES.get(v.lower(), v.upper()) for v in value.split(",") if v}
            if row.status not in wanted and row.shown_status not in wanted:
                return False
        elif key == "id" and not row.workflow_id.lower().startswith(value_l):
            return False
        elif key == "partition" or (key == "queue" and "[" in value_l):
            name, _, part = value_l.rpartition("[") if key == "queue" else ("", "", value_l)
            if name not in row.queue.lower() or part.rstrip("]") != row.partition.lower():
                return False
        elif key in ("name", "queue", "executor"):
            field = {"name": row.name, "queue": row.queue, "executor": row.executor}[key]
            if value_l not in field.lower():
                return False
        elif key == "input" and value_l not in row.summary.lower():
            return False
        elif key == "is":
            flag = {
                "waiting": row.waiting_approval or row.waiting_message,
                "child": bool(row.parent_id),
                "top": not row.parent_id,
                "fork": bool(row.forked_from),
                "active": row.active,
                "stranded": bool(row.stranded),
                "timed_out": bool(row.timed_out),
            }.get(value_l, True)
            if not flag:
                return False
    return True


class CannedSupervisor(Supervisor):
    """Serves the canned rows; every write is refused."""

    def __init__(self, *, empty: bool = False) -> None:
        super().__init__("sqlite:///canned.sqlite", read_only=False)
        from .canned_catalogue import COMPARE_ROWS

        self.rows = () if empty else (*ROWS, *COMPARE_ROWS)

    async def connect(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def change_token(self) -> tuple[int, int, tuple[tuple[str, int], ...]]:
        counts: dict[str, int] = {}
        for r in self.rows:
            counts[r.status] = counts.get(r.status, 0) + 1
        return len(self.rows), 0, tuple(sorted(counts.items()))

    async def list_workflows(
        self, *, limit: int = 500, top_level_only: bool = False
    ) -> list[WorkflowRow]:
        return list(self.rows)

    async def list_page(self, query: ListQuery) -> ListPage:
        """The canned rows the filter matches (evaluated here, in memory), in its order."""
        rows = [r for r in self.rows if _matches(query.filter, r)]
        rows.sort(key=_SORTS.get(query.sort, _SORTS["started"]))
        shown = rows[: query.limit]
        return ListPage(
            rows=tuple(shown),
            keys=tuple((r.created_at or 0.0, r.workflow_id) for r in shown),
            matching=len(rows),
            at_end=len(rows) <= query.limit,
            query=query,
        )

    async def live_rows(self, also: Sequence[str] = ()) -> list[WorkflowRow]:
        return list(self.rows)

    async def bulk_rows(
        self, *, filter_text: str | None = None, ids: Sequence[str] | None = None
    ) -> list[WorkflowRow]:
        if filter_text is not None:
            return [r for r in self.rows if _matches(filter_text, r)]
        return [r for r in self.rows if r.workflow_id in set(ids or ())]

    async def refresh_active(self, rows: list[WorkflowRow]) -> list[WorkflowRow]:
        return rows

    async def get_row(self, workflow_id: str) -> WorkflowRow:
        for r in self.rows:
            if r.workflow_id == workflow_id:
                return r
        raise SupervisorError(f"unknown workflow id: {workflow_id}")

    async def resolve_id(self, partial: str) -> str:
        return (await self.get_row(partial)).workflow_id

    async def detail(self, workflow_id: str) -> RunDetail:
        from .canned_catalogue import catalogue_detail

        row = await self.get_row(workflow_id)
        special = catalogue_detail(row)
        if special is not None:
            return special
        report = None
        if row.status == "SUCCESS" and row.name == "research":
            report = ResearchReport(
                topic=TOPIC,
                outcome="completed",
                markdown=REPORT_MD,
                questions=QUESTIONS,
                answers=ANSWERS,
                usage=Usage(input_tokens=42_000, output_tokens=1_900),
                cost_usd=row.cost_usd or 0.0,
                model="claude-sonnet-4-5",
                backend="offline scripted model",
            )
        events = [
            EventItem(
                key="agentdeck.progress",
                value=(row.progress or Progress(phase="queued")).model_dump(mode="json"),
            )
        ]
        if row.approval is not None:
            events.append(
                EventItem(
                    key="agentdeck.approval",
                    value={
                        "topic": row.approval.topic,
                        "state": ApprovalState.PENDING.value,
                        "deadline": row.approval.deadline,
                    },
                )
            )
        return RunDetail(
            row=row,
            input_summary=f"{row.summary.split(' · ')[0]} · 3q · claude-sonnet-4-5",
            steps=_steps(row) if row.name == "research" else (),
            child_notes=_child_notes(row) if row.name == "research" else {},
            events=tuple(events),
            children=CHILDREN if row is DONE else (),
            forks=(FORK.workflow_id,) if row is DONE else (),
            result=report,
            result_markdown=report.markdown if report else "",
            error=row.error,
        )

    async def read_streams(
        self, offsets: dict[str, int], *, key: str = "agentdeck.output"
    ) -> list[StreamBatch]:
        out = []
        for wid, off in offsets.items():
            if off:
                continue
            row = next((r for r in self.rows if r.workflow_id == wid), None)
            if row is not None and row.name == "compare.branch":
                from .canned_catalogue import catalogue_streams

                branch = catalogue_streams(wid)
                out.append(StreamBatch(workflow_id=wid, chunks=branch, next_offset=len(branch)))
                continue
            if row is None or row.name != "research":
                continue
            chunks = _chunks(row)
            out.append(StreamBatch(workflow_id=wid, chunks=chunks, next_offset=len(chunks)))
        return out

    async def _refuse(self, *args: Any, **kwargs: Any) -> ActionResult:
        raise SupervisorError("canned data: writes are disabled")

    launch = answer = cancel = resume = fork = send = _refuse

    async def lineage(self, workflow_id: str) -> ForkNode:
        from .canned_catalogue import canned_lineage

        return canned_lineage(workflow_id)

    async def run_values(self, workflow_id: str) -> RunValues:
        """The decoded inputs (a research run's request); step outputs are not recorded."""
        row = await self.get_row(workflow_id)
        inputs: dict[str, Any] = {"args": [], "kwargs": {}}
        if row.name == "research":
            topic = row.summary.split(" · ")[0]
            inputs["args"] = [ResearchRequest(topic=topic, questions=3)]
        return RunValues(workflow_id=workflow_id, inputs=inputs)

    async def outputs(self, workflow_id: str) -> RunOutputs:
        from .canned_catalogue import canned_outputs

        found = canned_outputs(workflow_id)
        if found is None:
            raise SupervisorError(f"no outputs recorded for {workflow_id}")
        return found

    trigger_schedule = _refuse

    # -- tui.supervisor._queues.RecordedQueues ---------------------------------------------

    def recorded_queues(self, now: float) -> list[QueueRow]:
        return list(QUEUES if self.rows else IDLE_QUEUES)

    def recorded_insights(self, query: InsightsQuery) -> Insights:
        from .canned_insights import canned_insights

        return canned_insights(query, query.now if query.now is not None else NOW)

    def recorded_step_costs(self, workflow_id: str) -> list[StepCost]:
        from .canned_insights import canned_step_costs

        return canned_step_costs(workflow_id, NOW)

    def recorded_schedules(self, now: float) -> list[ScheduleRow]:
        if not self.rows:
            return []
        return [
            s.model_copy(
                update={
                    "next_run_at": next_run(s.cron, after=now, tz=s.timezone)
                    if s.status == "active"
                    else None
                }
            )
            for s in SCHEDULES
        ]


# --------------------------------------------------------------------------------------------
# A tool approval (workflows.tools): question 3 of the running run wants to use Bash. Not in ROWS
# (the other pictures stay as they are); the tool-approval shots add TOOL_WAITING.

TOOL_INPUT = {
    "command": "echo 'vector databases' | wc -w",
    "description": "Count the words of the topic",
}
TOOL_APPROVAL = ApprovalRequest(
    request_id=f"{RUNNING.workflow_id}-14:tool:5bef11add55a",
    topic="tool:5bef11add55a",
    prompt=approval_prompt("Bash", TOOL_INPUT),
    options=(ApprovalDecision.APPROVE, ApprovalDecision.REJECT),
    proposal={"tool": "Bash", "input": TOOL_INPUT},
    created_at=NOW - 20,
    deadline=NOW - 20 + 24 * 3600,
)
TOOL_WAITING = _row(
    f"{RUNNING.workflow_id}-14",
    "PENDING",
    60,
    None,
    name="research.question",
    parent_id=RUNNING.workflow_id,
    approval=TOOL_APPROVAL,
)


# --------------------------------------------------------------------------------------------
# Guards (workflows.guards): a run paused at its budget, and a research question stopped at a
# tool loop. Not in ROWS; the guard shots add GUARD_ROWS.

BUDGET_PROPOSAL = {
    "phase": "research",
    "spent_usd": 0.0121,
    "spent_tokens": 1840,
    "estimate_usd": 0.072,
    "estimate_tokens": 9600,
    "budget_usd": 0.05,
    "budget_tokens": None,
    "remaining_steps": 4,
    "model": "claude-sonnet-4-5",
}
BUDGET_APPROVAL = ApprovalRequest(
    request_id="research-b0d9e7c6a5f4:budget:research",
    topic="budget:research",
    kind="budget",
    prompt=budget_prompt(
        "research", 0.0121, 1840, Budget(usd=0.05), 3, "claude-sonnet-4-5", 0.072, 9600, 4
    ),
    options=(
        ApprovalDecision.RAISE,
        ApprovalDecision.CONTINUE,
        ApprovalDecision.SWITCH,
        ApprovalDecision.STOP,
    ),
    proposal=BUDGET_PROPOSAL,
    created_at=NOW - 30,
    deadline=NOW - 30 + 24 * 3600,
)
BUDGET_WAITING = _row(
    "research-b0d9e7c6a5f4",
    "PENDING",
    70,
    None,
    summary="edge inference costs · 3q",
    progress=Progress(
        phase="research", done=0, total=3, cost_usd=0.0121, budget_usd=0.05, tokens=1840
    ),
    approval=BUDGET_APPROVAL,
    waiting_recv=True,
    recv_deadline=BUDGET_APPROVAL.deadline,
    cost_usd=0.0121,
)
LOOP_INPUT = {"file_path": "/srv/notes/vector-databases.md"}
LOOP_APPROVAL = ApprovalRequest(
    request_id=f"{RUNNING.workflow_id}-13:loop:0",
    topic="loop:0",
    kind="loop",
    prompt="Tool loop in this research question: the same call again after it ran "
    "(Read: /srv/notes/vector-databases.md).\n\nLet it continue, or stop this question "
    "(the others go on)?",
    options=(ApprovalDecision.CONTINUE, ApprovalDecision.STOP),
    proposal={
        "tool": "Read",
        "input": LOOP_INPUT,
        "reason": "the same call again after it ran (Read: /srv/notes/vector-databases.md)",
    },
    created_at=NOW - 12,
    deadline=NOW - 12 + 24 * 3600,
)
LOOP_WAITING = _row(
    f"{RUNNING.workflow_id}-13",
    "PENDING",
    50,
    None,
    name="research.question",
    parent_id=RUNNING.workflow_id,
    approval=LOOP_APPROVAL,
)
GUARD_ROWS = (BUDGET_WAITING, LOOP_WAITING)
