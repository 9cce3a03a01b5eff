"""Actions on runs: launch (deduplicated, debounced, prioritised, with a timeout), answer an
approval, send a message, cancel, resume, take over, and fire a schedule. Each is refused when
read-only, bounded in time, and answered with an :class:`ActionResult`.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from dbos import EnqueueOptions, StepInfo, WorkflowHandleAsync
from pydantic import BaseModel, ValidationError

from workflows.models import (
    APPROVAL_STEP,
    ApprovalAnswer,
    ApprovalState,
    CompareRequest,
    ResearchRequest,
)
from workflows.queues import MAX_PRIORITY, MIN_PRIORITY, debounce_key, dedup_id
from workflows.runtime import APP_NAME, LAUNCH_QUEUE

from ..data.summary import summarize as _summarize
from .codec import CodecError
from .errors import SupervisorError
from .models import ActionResult
from .runs import RunReads
from .threads import in_thread

__all__ = ["MAX_TIMEOUT_S", "WORKFLOW_TYPES", "Actions"]

#: Launchable workflow types: name → (DBOS workflow name, input model).
WORKFLOW_TYPES: dict[str, tuple[str, type[BaseModel]]] = {
    "research": ("research", ResearchRequest),
    "compare": ("compare", CompareRequest),
}
#: The longest workflow timeout a launch accepts (30 days).
MAX_TIMEOUT_S = 30 * 24 * 3600.0


class Actions(RunReads):
    """Actions on single runs (mixed into ``Supervisor``)."""

    async def launch(
        self,
        kind: str,
        data: dict[str, Any],
        *,
        workflow_id: str | None = None,
        priority: int | None = None,
        dedupe: bool = True,
        debounce_s: float | None = None,
        timeout_s: float | None = None,
    ) -> ActionResult:
        """Validate the input and enqueue the workflow on the launch queue (idempotent by id).

        ``timeout_s``: DBOS's workflow timeout; the deadline is set when the run starts, and
        DBOS cancels it (and its children) there. The dashboard shows such a run as timed out.

        ``priority``: DBOS's, 1 (dequeued first) to 2,147,483,647; none counts as 0, ahead of
        all. ``dedupe``: an identical request (same kind and validated input) still queued or
        running is not launched again; the result names it (``ok=False``). ``debounce_s``: the
        run waits DELAYED that long, and a launch of the same topic meanwhile replaces its input
        and restarts the wait (DBOS's debouncer); it cannot have a priority.
        """
        self._check_write("launch a workflow")
        if kind not in WORKFLOW_TYPES:
            raise SupervisorError(f"unknown workflow type: {kind}")
        if priority is not None and not MIN_PRIORITY <= priority <= MAX_PRIORITY:
            raise SupervisorError(
                f"priority must be {MIN_PRIORITY} (runs first) to {MAX_PRIORITY}, not {priority}"
            )
        debounce = debounce_s if debounce_s is not None and debounce_s > 0 else None
        if debounce is not None and priority is not None:
            raise SupervisorError("a debounced launch cannot have a priority (DBOS's debouncer)")
        if timeout_s is not None and not 0 < timeout_s <= MAX_TIMEOUT_S:
            raise SupervisorError(
                f"timeout must be more than 0 s and at most 30 days, not {timeout_s:g} s"
            )
        wf_name, model = WORKFLOW_TYPES[kind]
        try:
            req = model.model_validate(data)
        except ValidationError as exc:
            msgs = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise SupervisorError(f"invalid {kind} input: {msgs}") from None
        wid = (workflow_id or "").strip() or f"{kind}-{uuid.uuid4().hex[:12]}"
        existing = await self._call(
            "check id",
            self.client.list_workflows_async(
                workflow_ids=[wid], load_input=False, load_output=False
            ),
        )
        if existing:
            return ActionResult(
                ok=True,
                message=f"{wid} already exists ({existing[0].status}); not launched again",
                workflow_id=wid,
            )
        summary = _summarize(req) if isinstance(req, (ResearchRequest, CompareRequest)) else kind
        options: EnqueueOptions = {
            "workflow_name": wf_name,
            "queue_name": LAUNCH_QUEUE,
            "workflow_id": wid,
            "attributes": {"summary": summary[:120], "kind": kind},
            "application_name": APP_NAME,
        }
        if timeout_s is not None:
            options["workflow_timeout"] = timeout_s
        if debounce is not None:
            return await self._launch_debounced(kind, req, options, debounce)
        if priority is not None:
            options["priority"] = priority
        if dedupe:
            # DBOS refuses a second workflow with this id on the queue until the first ends;
            # "return-existing" hands back the one holding it, so the message can name it.
            options["deduplication_id"] = dedup_id(kind, req)
            options["duplication_policy"] = "return-existing"
        handle: WorkflowHandleAsync[Any] = await self._write(
            "launch", self.client.enqueue_async(options, req)
        )
        if handle.workflow_id != wid:
            holder = str(handle.workflow_id)
            status = await self._status_word(holder)
            return ActionResult(
                ok=False,
                workflow_id=holder,
                message=f"not launched: the same {kind} request is already {status} as "
                f"{holder} (launch anyway to run it twice)",
            )
        what = f" with priority {priority}" if priority is not None else ""
        what += f", timeout {timeout_s:g} s" if timeout_s is not None else ""
        return ActionResult(ok=True, message=f"launched {wid}{what}", workflow_id=wid)

    async def answer(
        self, workflow_id: str, answer: ApprovalAnswer | dict[str, Any]
    ) -> ActionResult:
        """Answer a pending approval once; a second answer is reported as already answered."""
        self._check_write("answer an approval")
        if not isinstance(answer, ApprovalAnswer):
            try:
                answer = ApprovalAnswer.model_validate(answer)
            except ValidationError as exc:
                raise SupervisorError(
                    "invalid answer: " + "; ".join(e["msg"] for e in exc.errors())
                ) from None
        row = await self.get_row(workflow_id)
        req = row.approval
        if req is None:
            raise SupervisorError(f"{workflow_id} has no approval request")
        if req.state is not ApprovalState.PENDING or not row.active:
            how = req.answer.decision.value if req.answer else req.state.value
            return ActionResult(
                ok=False,
                message=f"already {how}: {req.topic} of {workflow_id}",
                workflow_id=workflow_id,
            )
        if answer.decision not in req.options:  # e.g. "edit" for a tool call (allow/deny only)
            offered = " / ".join(o.value for o in req.options)
            raise SupervisorError(f"{answer.decision.value} is not an option here ({offered})")
        if req.deadline < time.time():
            return ActionResult(ok=False, message="the approval deadline has passed")
        await self._write(
            "send answer",
            self.client.send_async(
                workflow_id,
                answer.model_dump(mode="json"),
                req.topic,
                idempotency_key=req.idempotency_key,
            ),
        )
        return ActionResult(
            ok=True,
            message=f"{answer.decision.value} sent to {workflow_id}",
            workflow_id=workflow_id,
        )

    async def send(
        self,
        workflow_id: str,
        message: Any,
        topic: str | None,
        *,
        idempotency_key: str | None,
        as_class: str | None = None,
    ) -> ActionResult:
        """``as_class``: the message is built as that class of the app (``--app-path``) from
        ``message`` (JSON), for a ``recv`` that expects the app's own type."""
        self._check_write("send a message")
        if as_class:
            if self.codec is None:
                raise SupervisorError(f"cannot build {as_class}: no app code (--app-path) given")
            try:
                message = await self.codec.build(as_class, message)
            except CodecError as exc:
                raise SupervisorError(str(exc)) from None
        await self._write(
            "send",
            self.client.send_async(workflow_id, message, topic, idempotency_key=idempotency_key),
        )
        what = f"{message!r} " if as_class else ""
        return ActionResult(
            ok=True, message=f"sent {what}to {workflow_id}", workflow_id=workflow_id
        )

    async def cancel(self, workflow_id: str) -> ActionResult:
        self._check_write("cancel")
        row = await self.get_row(workflow_id)
        if not row.active:
            return ActionResult(
                ok=False, message=f"{workflow_id} is {row.status}: nothing to cancel"
            )
        await self._write("cancel", self.client.cancel_workflow_async(workflow_id))
        return ActionResult(ok=True, message=f"cancelled {workflow_id}", workflow_id=workflow_id)

    async def resume(self, workflow_id: str) -> ActionResult:
        """Cancelled or stuck runs resume; failed runs are rewound to their failed step."""
        self._check_write("resume")
        row = await self.get_row(workflow_id)
        if row.status == "SUCCESS":
            return ActionResult(ok=False, message=f"{workflow_id} succeeded: nothing to resume")
        if row.status in ("PENDING", "ENQUEUED", "DELAYED"):
            return ActionResult(ok=False, message=f"{workflow_id} is {row.status}: still running")
        if row.status == "ERROR":
            steps = await self._call(
                "read steps", self.client.list_workflow_steps_async(workflow_id)
            )
            failed = [int(s["function_id"]) for s in steps if s.get("error") is not None]
            start = failed[0] if failed else (int(steps[-1]["function_id"]) if steps else 1)
            if row.timed_out == "approval":
                # Ask again, with a fresh deadline: rewind to where the approval was asked.
                start = _approval_start(steps) or start
            await self._write(
                "rewind",
                self.client.rewind_workflow_async(
                    workflow_id, start_step=start, queue_name=LAUNCH_QUEUE
                ),
            )
            return ActionResult(
                ok=True,
                message=f"resumed {workflow_id} from step {start}",
                workflow_id=workflow_id,
            )
        await self._write(
            "resume", self.client.resume_workflow_async(workflow_id, queue_name=LAUNCH_QUEUE)
        )
        return ActionResult(ok=True, message=f"resumed {workflow_id}", workflow_id=workflow_id)

    async def take_over(self, workflow_id: str) -> ActionResult:
        """Hand a stranded run to any live executor: DBOS resume onto the launch queue.

        The run replays its checkpointed steps and carries on; should the old executor still
        be alive after all, DBOS's ownership check stops its copy at the next step.
        """
        self._check_write("take over")
        row = await self.get_row(workflow_id)
        if row.status in ("SUCCESS", "ERROR", "CANCELLED"):
            return ActionResult(ok=False, message=f"{workflow_id} is {row.status}: not stranded")
        await self._write(
            "take over", self.client.resume_workflow_async(workflow_id, queue_name=LAUNCH_QUEUE)
        )
        return ActionResult(
            ok=True,
            message=f"{workflow_id} handed to the live executors (resumed)",
            workflow_id=workflow_id,
        )

    async def _launch_debounced(
        self, kind: str, req: BaseModel, options: EnqueueOptions, seconds: float
    ) -> ActionResult:
        """DBOS's debouncer: one DELAYED run per topic; each launch replaces its input and
        pushes its start ``seconds`` on."""
        from dbos import DebouncerClient

        debouncer: DebouncerClient = DebouncerClient(self.client, options)
        handle: WorkflowHandleAsync[Any] = await self._write(
            "launch (debounced)",
            debouncer.debounce_async(debounce_key(kind, req), seconds, req),
        )
        wid = str(handle.workflow_id)
        found = await self._call(
            "read launch",
            self.client.list_workflows_async(
                workflow_ids=[wid], load_input=False, load_output=False
            ),
        )
        if wid != options.get("workflow_id"):  # an earlier launch's run now has this input
            await self._write(
                "update summary",
                self.client.update_workflow_attributes_async(
                    wid,
                    {"summary": options.get("attributes", {}).get("summary", "")},
                    merge=True,
                ),
            )
        delay_ms = getattr(found[0], "delay_until_epoch_ms", None) if found else None
        at = delay_ms / 1000.0 if delay_ms else time.time() + seconds
        clock = time.strftime("%H:%M:%S", time.localtime(at))
        return ActionResult(
            ok=True,
            workflow_id=wid,
            message=f"debounced: {wid} will start at {clock} unless launched again",
        )

    async def _status_word(self, workflow_id: str) -> str:
        found = await self._call(
            "read workflow",
            self.client.list_workflows_async(
                workflow_ids=[workflow_id], load_input=False, load_output=False
            ),
        )
        status = str(found[0].status) if found else "?"
        return {"PENDING": "running", "ENQUEUED": "queued"}.get(status, status.lower())

    async def trigger_schedule(self, name: str) -> ActionResult:
        """Fire a schedule now (DBOS's ``trigger_schedule``: a run like a cron firing's)."""
        self._check_write("trigger a schedule")
        handle = await self._write(
            "trigger schedule", in_thread(self.client.trigger_schedule, name)
        )
        return ActionResult(
            ok=True,
            message=f"triggered {name}: {handle.workflow_id}",
            workflow_id=str(handle.workflow_id),
        )


def _approval_start(steps: list[StepInfo]) -> int | None:
    """The marker step of the last approval asked (``workflows.approvals.ask``)."""
    marks = [int(st["function_id"]) for st in steps if st["function_name"] == APPROVAL_STEP]
    return marks[-1] if marks else None
