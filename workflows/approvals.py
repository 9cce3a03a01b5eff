"""The approval convention: a human-in-the-loop step any observer can see and answer.

In the workflow, :func:`ask` publishes an :class:`ApprovalRequest` as the ``agentdeck.approval``
event, blocks in ``DBOS.recv`` on the request's topic, then publishes the resolution (answered or
timed out) on the same event key. Observers answer with ``send(workflow_id, answer, topic,
idempotency_key=request.idempotency_key)``: a second answer to the same request is stored once
and consumed never, so a double keypress or two dashboards deliver exactly one answer.
"""

from __future__ import annotations

import time
from typing import Any

from dbos import DBOS, WorkflowSerializationFormat
from pydantic import ValidationError

from .models import (
    APPROVAL_EVENT,
    APPROVAL_STEP,
    PROGRESS_EVENT,
    ApprovalAnswer,
    ApprovalDecision,
    ApprovalKind,
    ApprovalRequest,
    ApprovalState,
    Progress,
)
from .notify import notify_approval, notify_context

__all__ = ["ApprovalTimeout", "ask", "parse_answer", "publish_event", "publish_progress"]

PORTABLE = WorkflowSerializationFormat.PORTABLE


class ApprovalTimeout(Exception):
    """No answer arrived before the approval deadline; the run ends with this error."""


async def publish_event(key: str, value: dict[str, Any]) -> None:
    await DBOS.set_event_async(key, value, serialization_type=PORTABLE)


async def publish_progress(
    phase: str,
    done: int = 0,
    total: int = 0,
    detail: str = "",
    *,
    cost: float = 0.0,
    budget_usd: float = 0.0,
    budget_tokens: int = 0,
    tokens: int = 0,
) -> None:
    """The run's ``agentdeck.progress`` event: what the list shows without loading outputs."""
    p = Progress(
        phase=phase,
        done=done,
        total=total,
        detail=detail,
        cost_usd=round(cost, 6),
        budget_usd=round(budget_usd, 6),
        budget_tokens=budget_tokens,
        tokens=tokens,
    )
    await publish_event(PROGRESS_EVENT, p.model_dump(mode="json"))


def parse_answer(raw: Any) -> ApprovalAnswer | str:
    """Validate a received message; return an error string if it is not a valid answer."""
    try:
        return ApprovalAnswer.model_validate(raw)
    except ValidationError as exc:
        return "; ".join(e["msg"] for e in exc.errors())


async def ask(
    *,
    topic: str,
    prompt: str,
    timeout_s: float,
    proposal: dict[str, Any] | None = None,
    options: tuple[ApprovalDecision, ...] | None = None,
    kind: ApprovalKind = "plan",
) -> ApprovalAnswer:
    """Publish an approval request, wait for a valid answer, publish the resolution.

    ``options`` are the decisions offered (default: approve, reject, edit). Invalid messages (not
    an :class:`ApprovalAnswer`, or a decision not offered) are logged and ignored: the request
    stays pending until a valid answer or the deadline. Raises :class:`ApprovalTimeout` at the
    deadline.
    """
    wid = DBOS.workflow_id or "?"
    notify = await approval_point(kind)
    # The deadline is computed once and checkpointed, so a recovered workflow keeps it.
    now = await _now()
    request = ApprovalRequest(
        request_id=f"{wid}:{topic}",
        topic=topic,
        prompt=prompt,
        proposal=proposal or {},
        **({"options": options} if options else {}),
        kind=kind,
        answer_schema=ApprovalAnswer.model_json_schema(),
        created_at=now,
        deadline=now + timeout_s,
    )
    await publish_event(APPROVAL_EVENT, request.model_dump(mode="json"))
    await notify_approval(
        notify,
        approval_kind=kind,
        request_id=request.request_id,
        prompt=prompt,
        options=[o.value for o in request.options],
        deadline=request.deadline,
        created_at=request.created_at,
    )
    while True:
        remaining = request.deadline - await _now()
        raw = await DBOS.recv_async(topic, timeout_seconds=max(remaining, 0.0))
        if raw is None and await _now() < request.deadline:
            # recv returns None on timeout and for a null message alike: before the deadline
            # it was a message (sent by mistake); ignore it like any other invalid answer.
            DBOS.logger.warning("ignoring a null message to %s", request.request_id)
            continue
        if raw is None:
            resolved = request.model_copy(
                update={"state": ApprovalState.TIMED_OUT, "resolved_at": await _now()}
            )
            await publish_event(APPROVAL_EVENT, resolved.model_dump(mode="json"))
            raise ApprovalTimeout(
                f"approval '{topic}' timed out after {timeout_s:g} s without an answer"
            )
        answer = parse_answer(raw)
        if isinstance(answer, ApprovalAnswer) and answer.decision not in request.options:
            answer = f"{answer.decision.value} is not one of the options offered"
        if isinstance(answer, ApprovalAnswer):
            resolved = request.model_copy(
                update={
                    "state": ApprovalState.ANSWERED,
                    "answer": answer,
                    "resolved_at": await _now(),
                }
            )
            await publish_event(APPROVAL_EVENT, resolved.model_dump(mode="json"))
            return answer
        DBOS.logger.warning("ignoring an invalid answer to %s: %s", request.request_id, answer)


@DBOS.step(name=APPROVAL_STEP)
async def approval_point(kind: str = "plan") -> dict[str, str] | None:
    """Marks where an approval starts: a rewind from here asks again with a fresh deadline.

    Returns whether (and with what) the approval is notified (:func:`notify_context`), so the
    decision is recorded here rather than in a step of its own.
    """
    return await notify_context(kind)


@DBOS.step(name="clock")
async def _now() -> float:
    """Wall-clock time as a step, so a replayed workflow sees the same instants."""
    return time.time()
