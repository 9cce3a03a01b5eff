"""The research workflow: plan → human approval → parallel research on a queue → synthesis.

Every Claude call is a DBOS step that streams to the workflow's ``agentdeck.output`` stream and
returns the complete text (which DBOS checkpoints). Each research question runs as a child
workflow on the ``agentdeck-research`` queue, so concurrency is bounded by DBOS, not by us, and a
failed question is reported as failed while the others still count.
"""

from __future__ import annotations

import json
import re

from dbos import DBOS
from dbos import error as dbos_error
from pydantic import ValidationError

from .approvals import ApprovalTimeout, ask, publish_event, publish_progress
from .claude import (
    RETRY_POLICY,
    ClaudeBudgetStop,
    ClaudeError,
    failure_text,
    is_retryable,
    run_claude,
)
from .guards import Budget, budget_guard, call_cap, resolve_guards, spent
from .models import (
    SETTINGS_EVENT,
    SETTINGS_STEP,
    SETTINGS_TOPIC,
    Answer,
    ApprovalDecision,
    ClaudeCall,
    ClaudeResult,
    LoopRequest,
    Plan,
    ResearchReport,
    ResearchRequest,
    StepSettings,
    StepUsage,
    ToolRequest,
    Usage,
)
from .names import APPROVAL_TOPIC, RESEARCH_QUEUE
from .prompts import (
    fault_for_question,
    plan_call,
    research_call,
    synthesize_call,
    with_instructions,
)
from .queues import wake_queues
from .tools import LoopDetected, ToolApprovalNeeded, approval_prompt

__all__ = [
    "ApprovalTimeout",
    "InvalidPlanError",
    "ResearchFailed",
    "parse_plan",
    "research",
    "research_question",
]


class InvalidPlanError(Exception):
    """Claude's plan was not the JSON asked for; the plan step retries it."""

    retryable = True


class ResearchFailed(Exception):
    """The research run cannot go on (e.g. no valid plan after every attempt)."""


def parse_plan(text: str, n: int) -> Plan:
    """Parse Claude's plan: a JSON object with exactly ``n`` questions (code fences tolerated)."""
    body = text.strip()
    fenced = re.search(r"```(?:json)?\s*(.*?)```", body, re.S)
    if fenced:
        body = fenced.group(1).strip()
    start, end = body.find("{"), body.rfind("}")
    if start < 0 or end <= start:
        raise InvalidPlanError(f"the plan is not a JSON object: {text[:120]!r}")
    try:
        plan = Plan.model_validate(json.loads(body[start : end + 1]))
    except (json.JSONDecodeError, ValidationError) as exc:
        raise InvalidPlanError(f"the plan is not valid: {str(exc).splitlines()[0]}") from None
    if len(plan.questions) != n:
        raise InvalidPlanError(f"the plan has {len(plan.questions)} questions, {n} were asked")
    return plan


def _drop_targeted(spec: str) -> str:
    return ",".join(i for i in spec.split(",") if i.strip() and "@" not in i)


def _plan_retryable(exc: BaseException) -> bool:
    return isinstance(exc, InvalidPlanError) or is_retryable(exc)


@DBOS.step(
    name="plan",
    retries_allowed=True,
    should_retry=_plan_retryable,
    preemptible=True,
    **RETRY_POLICY,
)
async def plan_step(
    req: ResearchRequest, settings: StepSettings | None = None, cap: float | None = None
) -> tuple[Plan, ClaudeResult]:
    call = plan_call(req.topic, req.questions, model=req.model, fault=_drop_targeted(req.fault))
    result = await run_claude(
        _capped(with_instructions(call, settings), cap),
        step_name="plan",
        check=lambda text: parse_plan(text, req.questions),
    )
    return parse_plan(result.text, req.questions), result


@DBOS.step(
    name="research",
    retries_allowed=True,
    should_retry=is_retryable,
    preemptible=True,
    **RETRY_POLICY,
)
async def research_step(
    topic: str,
    question: str,
    model: str,
    fault: str,
    instructions: str = "",
    tools: tuple[str, ...] = (),
    decisions: dict[str, tuple[bool, str]] | None = None,
    cap: float | None = None,
    loop_n: int | None = None,
    loop_ok: tuple[str, ...] = (),
) -> ClaudeResult | ToolRequest | LoopRequest:
    """The answer, or the tool call that needs a human decision first (it did not run), or the
    tool loop the loop guard stopped."""
    call = research_call(topic, question, model=model, fault=fault, tools=tools)
    try:
        return await run_claude(
            _capped(with_instructions(call, StepSettings(instructions=instructions)), cap),
            step_name="research",
            decisions=decisions,
            loop_n=loop_n,
            loop_ok=loop_ok,
        )
    except LoopDetected as exc:
        return LoopRequest(tool=exc.tool, input=exc.tool_input, key=exc.key, reason=exc.reason)
    except ToolApprovalNeeded as exc:
        return ToolRequest(tool=exc.tool, input=exc.tool_input, key=exc.key)


@DBOS.step(
    name="synthesize",
    retries_allowed=True,
    should_retry=is_retryable,
    preemptible=True,
    **RETRY_POLICY,
)
async def synthesize_step(
    req: ResearchRequest,
    answers: tuple[Answer, ...],
    settings: StepSettings | None = None,
    cap: float | None = None,
) -> ClaudeResult:
    call = synthesize_call(req.topic, answers, model=req.model, fault=_drop_targeted(req.fault))
    return await run_claude(_capped(with_instructions(call, settings), cap), step_name="synthesize")


def _capped(call: ClaudeCall, cap: float | None) -> ClaudeCall:
    """The call with the SDK's per-call budget (``max_budget_usd``) when the run has one."""
    return call if cap is None else call.model_copy(update={"max_budget_usd": cap})


def _budget_stop(exc: BaseException) -> ClaudeBudgetStop | None:
    """The SDK's per-call budget stop behind a failed step, if that is what it was."""
    if isinstance(exc, ClaudeBudgetStop):
        return exc
    errors = getattr(exc, "errors", None) or []
    last = errors[-1] if errors else None
    return last if isinstance(last, ClaudeBudgetStop) else None


@DBOS.step(name=SETTINGS_STEP)
async def settings_point() -> None:
    """Marks where a fork with changed settings starts (the dashboard forks from here)."""


async def step_settings(current: StepSettings, *, first: bool = False) -> StepSettings:
    """Take changed settings a fork was given (``SETTINGS_TOPIC``), else keep ``current``.

    Called before each phase with a zero timeout, in every run, so that the sequence of steps is
    the same whether or not settings arrive (a replay must see the same steps). In the original
    run nothing arrives; a fork made with changed settings gets its message before it starts (the
    dashboard parks the fork, sends, then releases it), so the first phase the fork runs again
    takes them. Every run publishes the settings it uses as the ``agentdeck.settings`` event.
    """
    await settings_point()
    raw = await DBOS.recv_async(SETTINGS_TOPIC, timeout_seconds=0)
    changed = current
    if raw is not None:
        try:
            changed = current.merged(StepSettings.model_validate(raw))
        except ValidationError as exc:
            DBOS.logger.warning("ignoring invalid step settings: %s", exc.errors()[0]["msg"])
    if first or raw is not None:
        await publish_event(SETTINGS_EVENT, changed.model_dump(mode="json"))
    return changed


#: Tool calls one research question may ask a human about before it gives up.
MAX_TOOL_APPROVALS = 5


async def _tool_decision(req: ToolRequest, timeout_s: float) -> tuple[bool, str]:
    """Ask a human to allow or deny one tool call (a durable approval); no answer = deny."""
    try:
        answer = await ask(
            topic=req.topic,
            prompt=approval_prompt(req.tool, req.input),
            timeout_s=timeout_s,
            proposal={"tool": req.tool, "input": req.input},
            options=(ApprovalDecision.APPROVE, ApprovalDecision.REJECT),
            kind="tool",
        )
    except ApprovalTimeout:
        return False, f"nobody answered within {timeout_s:g} s"
    return answer.decision is ApprovalDecision.APPROVE, answer.comment


async def _loop_decision(req: LoopRequest, n: int, timeout_s: float) -> bool:
    """Ask whether a question stopped at a tool loop goes on (a durable approval of kind
    ``loop``); no answer = stop."""
    try:
        answer = await ask(
            topic=f"loop:{n}",
            prompt=f"Tool loop in this research question: {req.reason}.\n\n"
            f"Let it continue, or stop this question (the others go on)?\n\n"
            + approval_prompt(req.tool, req.input).split("\n\n", 1)[-1],
            timeout_s=timeout_s,
            proposal={"tool": req.tool, "input": req.input, "reason": req.reason},
            options=(ApprovalDecision.CONTINUE, ApprovalDecision.STOP),
            kind="loop",
        )
    except ApprovalTimeout:
        return False
    return answer.decision is ApprovalDecision.CONTINUE


@DBOS.workflow(name="research.question")
async def research_question(
    topic: str,
    index: int,
    question: str,
    model: str,
    fault: str = "",
    instructions: str = "",
    tools: tuple[str, ...] = (),
    approval_timeout_s: float = 24 * 3600,
    cap: float | None = None,
    loop_n: int | None = None,
) -> Answer:
    """One research question (a child workflow on the research queue).

    With ``tools``, a tool call the policy says to ask about stops the research step; the call
    becomes a durable approval (``tool:<key>``), and the step runs again from the start with every
    decision so far. The decision is a ``recv`` checkpoint of this workflow and the step only acts
    on decisions in its input, so a crash anywhere neither loses a decision nor runs the tool
    without one.
    """
    fault = fault_for_question(fault, index)
    decisions: dict[str, tuple[bool, str]] = {}
    loop_ok: list[str] = []
    while True:
        out = await research_step(
            topic,
            question,
            model,
            fault,
            instructions,
            tuple(tools),
            dict(decisions),
            cap,
            loop_n,
            tuple(loop_ok),
        )
        if isinstance(out, LoopRequest):
            if out.key in loop_ok:
                raise ResearchFailed(f"the loop guard stopped a loop let go on: {out.reason}")
            if not await _loop_decision(out, len(loop_ok), approval_timeout_s):
                return Answer(
                    index=index,
                    question=question,
                    ok=False,
                    error=f"stopped at a tool loop: {out.reason}",
                    workflow_id=DBOS.workflow_id or "",
                )
            loop_ok.append(out.key)
            continue
        if isinstance(out, ClaudeResult):
            return Answer(
                index=index,
                question=question,
                text=out.text,
                workflow_id=DBOS.workflow_id or "",
                result=out,
            )
        if out.key in decisions:  # a decided call must not be asked about again
            raise ResearchFailed(f"the {out.tool} call was decided but asked about again")
        if len(decisions) >= MAX_TOOL_APPROVALS:
            raise ResearchFailed(
                f"more than {MAX_TOOL_APPROVALS} tool calls needed an approval; gave up"
            )
        decisions[out.key] = await _tool_decision(out, approval_timeout_s)


@DBOS.workflow(name="research")
async def research(req: ResearchRequest) -> ResearchReport:
    """Plan, get the plan approved, research each question in parallel, synthesize a report.

    With a budget (its own or the ``guards:`` default), each phase first passes a budget guard
    (:func:`workflows.guards.budget_guard`): it may pause the run and ask to raise, continue once,
    switch model, or stop with a partial report.
    """
    steps: list[StepUsage] = []

    def account(name: str, r: ClaudeResult) -> None:
        steps.append(StepUsage(step=name, model=r.model, usage=r.usage, cost_usd=r.cost_usd))

    budget_usd, budget_tokens, loop_n = await resolve_guards(req.budget_usd, req.budget_tokens)
    budget = Budget(budget_usd, budget_tokens)

    async def progress(
        phase: str, done: int = 0, total: int = 0, detail: str = "", *, extra: float = 0.0
    ) -> None:
        usd, tokens = spent(steps)
        await publish_progress(
            phase,
            done,
            total,
            detail,
            cost=usd + extra,
            budget_usd=budget.usd or 0.0,
            budget_tokens=budget.tokens or 0,
            tokens=tokens,
        )

    settings = await step_settings(StepSettings(model=req.model), first=True)

    async def guard(phase: str, calls: int, remaining: int) -> str | None:
        """None to go on (maybe on another model), else why the run stops here."""
        nonlocal budget, settings
        if not budget.set:
            return None
        model = settings.model or req.model
        await progress(phase)
        verdict = await budget_guard(
            budget,
            steps,
            phase=phase,
            task=phase,
            model=model,
            calls=calls,
            remaining=remaining,
            timeout_s=req.approval_timeout_s,
        )
        budget = verdict.budget
        if verdict.model != model:
            settings = settings.merged(StepSettings(model=verdict.model))
            await publish_event(SETTINGS_EVENT, settings.model_dump(mode="json"))
        return verdict.note if verdict.action == "stop" else None

    def cap(task: str) -> float | None:
        return call_cap(budget, steps, task, settings.model or req.model)

    async def stopped(
        note: str, questions: tuple[str, ...] = (), answers: tuple[Answer, ...] = ()
    ) -> ResearchReport:
        usd, tokens = spent(steps)
        await progress("stopped at budget", detail=note)
        md = [
            f"# {req.topic}\n",
            f"**Stopped at the budget**: {note}. Spent ${usd:.4f} ({tokens:,} tokens) of "
            f"{budget.text()}. What the run had by then:\n",
        ]
        if questions:
            md.append("## Plan\n")
            md.extend(f"{i + 1}. {q}" for i, q in enumerate(questions))
            md.append("")
        for a in answers:
            md.append(f"## {a.index + 1}. {a.question}\n")
            md.append((a.text if a.ok else f"_failed: {a.error}_") + "\n")
        if questions and not answers:
            md.append("_No question was researched._\n")
        return ResearchReport(
            topic=req.topic,
            outcome="stopped at budget",
            markdown="\n".join(md),
            questions=questions,
            answers=answers,
            steps=tuple(steps),
            usage=sum((s.usage for s in steps), Usage()),
            cost_usd=round(usd, 6),
            model=settings.model or req.model,
            backend=next((a.result.backend for a in answers if a.result), ""),
            note=note,
        )

    n = req.questions
    if (why := await guard("plan", 1, n + 2)) is not None:
        return await stopped(why)
    await progress("planning", 0, n)
    try:
        plan, plan_result = await plan_step(req, settings, cap("plan"))
    except (dbos_error.DBOSMaxStepRetriesExceeded, ClaudeError, InvalidPlanError) as exc:
        if (capped := _budget_stop(exc)) is not None:
            return await stopped(str(capped))
        await progress("failed", detail="no valid plan")
        raise ResearchFailed(f"planning failed: {failure_text(exc)}") from None
    account("plan", plan_result)

    await progress("awaiting approval", 0, len(plan.questions))
    numbered = "\n".join(f"{i + 1}. {q}" for i, q in enumerate(plan.questions))
    answer = await ask(
        topic=APPROVAL_TOPIC,
        prompt=f"Approve this research plan for “{req.topic}”?\n\n{numbered}",
        timeout_s=req.approval_timeout_s,
        proposal={"questions": list(plan.questions)},
    )
    if answer.decision is ApprovalDecision.REJECT:
        await progress("rejected")
        return ResearchReport(
            topic=req.topic,
            outcome="rejected",
            markdown=f"# {req.topic}\n\nThe plan was rejected"
            + (f": {answer.comment}" if answer.comment else ".")
            + "\n",
            questions=plan.questions,
            steps=tuple(steps),
            usage=plan_result.usage,
            cost_usd=plan_result.cost_usd,
            model=plan_result.model,
            backend=plan_result.backend,
        )
    questions = answer.questions if answer.decision is ApprovalDecision.EDIT else plan.questions
    questions = questions or plan.questions

    total = len(questions)
    settings = await step_settings(settings)
    if (why := await guard("research", total, total + 1)) is not None:
        return await stopped(why, tuple(questions))
    model = settings.model or req.model
    await progress("researching", 0, total)
    handles = [
        await DBOS.enqueue_workflow_async(
            RESEARCH_QUEUE,
            research_question,
            req.topic,
            i,
            q,
            model,
            req.fault,
            settings.instructions,
            req.tools,
            req.approval_timeout_s,
            cap("research"),
            loop_n,
        )
        for i, q in enumerate(questions)
    ]
    # The research queue is polled every few seconds: take the questions now.
    wake_queues()
    answers: dict[int, Answer] = {}
    pending = list(handles)
    while pending:
        done = await DBOS.wait_first_async(pending, polling_interval_sec=0.1)
        pending = [h for h in pending if h.workflow_id != done.workflow_id]
        if pending:
            wake_queues()  # a slot is free: the next question starts now
        index = handles.index(next(h for h in handles if h.workflow_id == done.workflow_id))
        try:
            answers[index] = await done.get_result()
        except Exception as exc:  # a failed question is kept and reported, not fatal
            answers[index] = Answer(
                index=index,
                question=questions[index],
                ok=False,
                error=failure_text(exc),
                workflow_id=done.workflow_id,
            )
        done_cost = sum(a.result.cost_usd for a in answers.values() if a.result is not None)
        await progress("researching", len(answers), total, extra=done_cost)
    ordered = tuple(answers[i] for i in range(total))
    for a in ordered:
        if a.result is not None:
            account(f"research {a.index + 1}", a.result)
    if not any(a.ok for a in ordered):
        await progress("failed", total, total, "every question failed")
        raise ResearchFailed("every research question failed: " + ordered[0].error)

    settings = await step_settings(settings)
    if (why := await guard("synthesize", 1, 1)) is not None:
        return await stopped(why, tuple(questions), ordered)
    await progress("synthesizing", total, total)
    try:
        synthesis = await synthesize_step(req, ordered, settings, cap("synthesize"))
    except (dbos_error.DBOSMaxStepRetriesExceeded, ClaudeError) as exc:
        if (capped := _budget_stop(exc)) is not None:
            return await stopped(str(capped), tuple(questions), ordered)
        await progress("failed", total, total, "synthesis failed")
        raise ResearchFailed(f"synthesis failed: {failure_text(exc)}") from None
    account("synthesize", synthesis)
    await progress("done", total, total)
    failed = [a for a in ordered if not a.ok]
    usage = sum((s.usage for s in steps), Usage())
    return ResearchReport(
        topic=req.topic,
        outcome="completed",
        markdown=synthesis.text,
        questions=tuple(questions),
        answers=ordered,
        steps=tuple(steps),
        usage=usage,
        cost_usd=round(sum(s.cost_usd for s in steps), 6),
        model=synthesis.model,
        backend=synthesis.backend,
        note=f"{len(failed)} of {total} questions failed" if failed else "",
    )
