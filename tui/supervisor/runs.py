"""Reads of runs through DBOS's client: one run's row and detail, the runs in flight's events,
executors' heartbeats, the approval inbox. DBOS's ``WorkflowStatus`` and ``StepInfo`` become
frozen snapshots here; what DBOS has no call for is read through the data core (``.sql``).
"""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar, cast

from dbos import StepInfo, WorkflowStatus
from pydantic import BaseModel, ValidationError

from workflows.models import (
    APPROVAL_EVENT,
    PROGRESS_EVENT,
    STREAM_KEY,
    ApprovalRequest,
    CompareReport,
    CompareRequest,
    Progress,
    ResearchReport,
)
from workflows.presence import presence_ttl
from workflows.runtime import redact

from ..data.summary import summarize as _summarize
from .connection import Connection
from .describe import describe_child, describe_output
from .engine import RecvWait
from .errors import SupervisorError
from .models import ApprovalItem, BranchRow, EventItem, RunDetail, StepRow, WorkflowRow
from .threads import in_thread

__all__ = ["RunReads"]

M = TypeVar("M", bound=BaseModel)
_LIST_KEYS = (PROGRESS_EVENT, APPROVAL_EVENT)


def _sec(ms: int | None) -> float | None:
    return ms / 1000.0 if ms else None


def _error_text(err: Any) -> str:
    if err is None:
        return ""
    if isinstance(err, BaseException):
        text = str(err) or type(err).__name__
        return redact(f"{type(err).__name__}: {text}")
    return redact(str(err))


class RunReads(Connection):
    """Reads of single runs and of the runs in flight (mixed into ``Supervisor``)."""

    async def change_token(self) -> tuple[int, int, tuple[tuple[str, int], ...]]:
        return await self._call("refresh", in_thread(self.sql.change_token))

    async def executors(self) -> dict[str, tuple[float, str, bool]]:
        """Executors that announced themselves: id → (last heartbeat, app version, alive)."""
        ttl = presence_ttl()
        return await self._call("list executors", in_thread(self.sql.heartbeats, ttl))

    @staticmethod
    def _flag_stranded(
        row: WorkflowRow, presence: dict[str, tuple[float, str, bool]]
    ) -> WorkflowRow:
        """Why no executor will carry this run on by itself, judged from the presence rows.

        Without any presence rows (another app's database) nothing is flagged but DBOS's own
        MAX_RECOVERY_ATTEMPTS_EXCEEDED.
        """
        reason = ""
        if row.status == "MAX_RECOVERY_ATTEMPTS_EXCEEDED":
            reason = f"max recovery attempts exceeded ({row.recovery_attempts})"
        elif presence and row.active:
            alive = {e for e, (_, _, ok) in presence.items() if ok}
            versions = {v for _, v, ok in presence.values() if ok}
            if row.status == "PENDING" and row.executor and row.executor not in alive:
                reason = f"executor {row.executor} is gone (no heartbeat)"
            elif row.app_version and versions and row.app_version not in versions:
                reason = f"no live executor serves version {row.app_version}"
            elif not alive and row.active:
                reason = "no live executor"
        return row.model_copy(update={"stranded": reason}) if reason else row

    async def _rows(self, statuses: list[WorkflowStatus]) -> list[WorkflowRow]:
        """Rows with their events and, for failed runs, their errors: two queries.

        The rows are built in the same worker thread as the queries are made: building 500 of
        them (parsing events, validating models) is milliseconds of Python that would otherwise
        hold the event loop, and so the screen, while many runs are in flight.
        """
        return await self._call("read events", in_thread(self._build_rows, statuses))

    def _build_rows(self, statuses: list[WorkflowStatus]) -> list[WorkflowRow]:
        # Events of every listed run (progress and cost), one query; errors of failed ones.
        active_ids = [s.workflow_id for s in statuses]
        failed_ids = [s.workflow_id for s in statuses if s.status == "ERROR" and s.error is None]
        pending_ids = [s.workflow_id for s in statuses if s.status == "PENDING"]
        events, errors, waits = self._events_and_errors(active_ids, failed_ids, pending_ids)
        # Runs without a summary of their own (other apps'): their inputs, one statement.
        inputs = self.sql.input_summaries([s.workflow_id for s in statuses if not _summary(s)])
        return [
            self._row(
                s,
                events.get(s.workflow_id, {}),
                errors.get(s.workflow_id),
                waits.get(s.workflow_id),
                inputs.get(s.workflow_id, ""),
            )
            for s in statuses
        ]

    async def refresh_active(self, rows: list[WorkflowRow]) -> list[WorkflowRow]:
        """The same rows with the events (and recv waits) of the active ones re-read."""
        ids = [r.workflow_id for r in rows if r.active]
        if not ids:
            return rows
        pending = [r.workflow_id for r in rows if r.status == "PENDING"]
        events, _, waits = await self._call(
            "read events", in_thread(self._events_and_errors, ids, [], pending)
        )
        out = []
        for r in rows:
            if r.active:
                ev = events.get(r.workflow_id, {})
                wait = waits.get(r.workflow_id)
                r = r.model_copy(
                    update={
                        "progress": _parse(Progress, ev.get(PROGRESS_EVENT)),
                        "approval": _parse(ApprovalRequest, ev.get(APPROVAL_EVENT)),
                        "waiting_recv": wait is not None,
                        "recv_deadline": wait.deadline if wait is not None else None,
                    }
                )
            out.append(r)
        return out

    def _events_and_errors(
        self, active_ids: list[str], failed_ids: list[str], pending_ids: list[str]
    ) -> tuple[dict[str, dict[str, Any]], dict[str, Any], dict[str, RecvWait]]:
        return (
            self.sql.events(active_ids, _LIST_KEYS),
            self.sql.errors(failed_ids),
            self.sql.waiting_in_recv(pending_ids),
        )

    def _row(
        self,
        s: WorkflowStatus,
        events: dict[str, Any],
        error: Any = None,
        wait: RecvWait | None = None,
        inputs: str = "",
    ) -> WorkflowRow:
        progress = _parse(Progress, events.get(PROGRESS_EVENT))
        approval = _parse(ApprovalRequest, events.get(APPROVAL_EVENT))
        return WorkflowRow(
            workflow_id=s.workflow_id,
            name=s.name,
            status=str(s.status),
            created_at=_sec(s.created_at),
            updated_at=_sec(s.updated_at),
            completed_at=_sec(s.completed_at),
            queue=s.queue_name or "",
            partition=getattr(s, "queue_partition_key", None) or "",
            executor=s.executor_id or "",
            app_version=s.app_version or "",
            parent_id=s.parent_workflow_id or "",
            forked_from=s.forked_from or "",
            summary=_summary(s) or inputs,
            error=_error_text(s.error if s.error is not None else error),
            recovery_attempts=int(getattr(s, "recovery_attempts", 0) or 0),
            progress=progress,
            approval=approval,
            cost_usd=progress.cost_usd if progress is not None and progress.cost_usd else None,
            waiting_recv=wait is not None,
            recv_deadline=wait.deadline if wait is not None else None,
            timeout_s=_sec(getattr(s, "workflow_timeout_ms", None)),
            deadline=_sec(getattr(s, "workflow_deadline_epoch_ms", None)),
            delay_until=_sec(getattr(s, "delay_until_epoch_ms", None)),
        )

    async def resolve_id(self, partial: str) -> str:
        """A full workflow id from an id or a unique prefix; a clear error otherwise."""
        partial = partial.strip()
        if not partial:
            raise SupervisorError("no workflow id given")
        found = await self._call(
            "look up workflow",
            self.client.list_workflows_async(
                workflow_id_prefix=partial, limit=50, load_input=False, load_output=False
            ),
        )
        exact = [s for s in found if s.workflow_id == partial]
        if exact:
            return str(exact[0].workflow_id)
        if not found:
            raise SupervisorError(f"unknown workflow id: {partial}")
        # A run and its children share a prefix: the prefix names the run.
        roots = [s for s in found if not s.parent_workflow_id]
        if len(found) > 1 and len(roots) == 1:
            return str(roots[0].workflow_id)
        if len(found) > 1:
            raise SupervisorError(f"ambiguous workflow id prefix: {partial}")
        return str(found[0].workflow_id)

    async def get_row(self, workflow_id: str) -> WorkflowRow:
        found = await self._call(
            "read workflow",
            self.client.list_workflows_async(
                workflow_ids=[workflow_id], load_input=False, load_output=False
            ),
        )
        if not found:
            raise SupervisorError(f"unknown workflow id: {workflow_id}")
        (row,) = await self._rows(found)
        return self._flag_stranded(row, await self.executors()) if row.active else row

    async def detail(self, workflow_id: str) -> RunDetail:
        found = await self._call(
            "read workflow",
            self.client.list_workflows_async(
                workflow_ids=[workflow_id], load_input=False, load_output=False
            ),
        )
        if not found:
            raise SupervisorError(f"unknown workflow id: {workflow_id}")
        s = found[0]
        (row,) = await self._rows([s])
        (inputs, output, error), keys, topics = await self._call(
            "read payload",
            in_thread(
                lambda: (
                    self.sql.payload(workflow_id),
                    self.sql.stream_keys(workflow_id),
                    self.sql.pending_topics(workflow_id),
                )
            ),
        )
        results = await asyncio.gather(
            self._call("read steps", self.client.list_workflow_steps_async(workflow_id)),
            self._call("read events", in_thread(self.sql.all_events, workflow_id)),
            self._call(
                "read children",
                self.client.list_workflows_async(
                    parent_workflow_id=workflow_id, load_input=False, load_output=False
                ),
            ),
            self._call(
                "read forks",
                self.client.list_workflows_async(
                    forked_from=workflow_id, load_input=False, load_output=False
                ),
            ),
            self._call(
                "read attempts",
                in_thread(self.sql.step_attempts, workflow_id, STREAM_KEY),
            ),
            self._call("read inputs", in_thread(self.sql.child_inputs, workflow_id)),
            return_exceptions=True,  # collect every failure: none left unretrieved
        )
        for r in results:
            if isinstance(r, BaseException):
                raise r
        raw_steps, all_events, children, forks, attempts, asked = cast(list[Any], results)
        if self.codec is not None:  # the app's classes, decoded by its own code (bounded)
            inputs, output, error, all_events = await self.codec.resolve(
                (inputs, output, error, all_events)
            )
        steps = tuple(self._step(st, attempts) for st in raw_steps)
        result_md = output.markdown if isinstance(output, (ResearchReport, CompareReport)) else ""
        children_rows = tuple(await self._rows(children)) if children else ()
        branches, winner = _branches(inputs, output, steps, children_rows)
        return RunDetail(
            row=row,
            branches=branches,
            winner=winner,
            input_summary=_summarize(inputs),
            steps=steps,
            events=tuple(EventItem(key=k, value=v) for k, v in all_events.items()),
            children=children_rows,
            forks=tuple(f.workflow_id for f in forks),
            result=output,
            result_markdown=result_md,
            result_summary=_summarize(output, 2000),
            error=_error_text(error) or row.error,
            other_streams=tuple(k for k in keys if k != STREAM_KEY),
            pending_topics=tuple(topics),
            child_notes={wid: describe_child(name, args) for wid, (name, args) in asked.items()},
        )

    @staticmethod
    def _step(st: StepInfo, attempts: dict[int, int]) -> StepRow:
        done = st.get("completed_at_epoch_ms") is not None
        error = st.get("error")
        status = "error" if error is not None else ("done" if done else "running")
        fid = int(st["function_id"])
        return StepRow(
            step_id=fid,
            name=st["function_name"],
            status=status,
            started_at=_sec(st.get("started_at_epoch_ms")),
            completed_at=_sec(st.get("completed_at_epoch_ms")),
            error=_error_text(error),
            child_id=st.get("child_workflow_id") or "",
            attempts=attempts.get(fid, 1),
            output_summary=describe_output(
                st["function_name"], st.get("output"), at=_sec(st.get("completed_at_epoch_ms"))
            )
            if done
            else "",
        )

    async def approvals(self) -> list[ApprovalItem]:
        """Every workflow waiting for a human, across the system."""
        pending = await self._call(
            "list pending",
            self.client.list_workflows_async(
                status="PENDING", load_input=False, load_output=False, limit=1000
            ),
        )
        items = []
        for row in await self._rows(pending):
            if row.waiting_approval and row.approval is not None:
                items.append(ApprovalItem(row=row, request=row.approval))
        items.sort(key=lambda i: i.request.deadline)
        return items


def _summary(s: WorkflowStatus) -> str:
    """A run's own summary (the ``summary`` attribute agentdeck's launches set), or ""."""
    attrs = s.attributes if isinstance(s.attributes, dict) else {}
    return redact(str(attrs.get("summary", "")))


def _branches(
    inputs: Any, output: Any, steps: tuple[StepRow, ...], children: tuple[WorkflowRow, ...]
) -> tuple[tuple[BranchRow, ...], str]:
    """A fork-compare run's branches: specs from its input, runs in start order, results."""
    args = inputs.get("args") if isinstance(inputs, dict) else None
    req = args[0] if args else None
    if not isinstance(req, CompareRequest):
        return (), ""
    started = [s.child_id for s in steps if s.child_id and s.name == "compare.branch"]
    rows = {c.workflow_id: c for c in children}
    results = {b.label: b for b in output.branches} if isinstance(output, CompareReport) else {}
    out = []
    for i, spec in enumerate(req.specs):
        wid = started[i] if i < len(started) else ""
        out.append(
            BranchRow(
                label=spec.label,
                model=spec.model,
                style=spec.style,
                workflow_id=wid,
                row=rows.get(wid),
                result=results.get(spec.label),
            )
        )
    return tuple(out), output.winner if isinstance(output, CompareReport) else ""


def _parse(model: type[M], value: Any) -> M | None:
    if not isinstance(value, dict):
        return None
    try:
        return model.model_validate(value)
    except ValidationError:
        return None
