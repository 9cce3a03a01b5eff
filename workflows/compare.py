"""Fork-compare: one question answered by 2-4 branches in parallel, then judged by Claude.

Each branch (a model and a prompt style) is a child workflow started at once, so the branches
stream side by side. The parent gathers them with errors kept: a failed branch is reported as
failed and the others still count. The judge is a streamed Claude step that sees every branch
that answered; the run fails only when no branch answered.
"""

from __future__ import annotations

import re

from dbos import DBOS
from dbos import error as dbos_error

from .approvals import publish_progress
from .claude import RETRY_POLICY, ClaudeError, failure_text, is_retryable, run_claude
from .guards import Budget, budget_guard, call_cap, estimate, resolve_guards, spent
from .models import (
    BranchResult,
    ClaudeResult,
    CompareReport,
    CompareRequest,
    StepUsage,
)
from .prompts import branch_call, fault_for_target, judge_call

__all__ = ["CompareFailed", "compare", "compare_branch", "fault_for_branch"]


#: How long a compare run waits for an answer at its budget (then it stops).
BUDGET_APPROVAL_TIMEOUT_S = 24 * 3600.0


class CompareFailed(Exception):
    """No branch answered, or the judge failed after every attempt."""


def fault_for_branch(spec: str, index: int) -> str:
    """Fault items for branch ``index`` (0-based): ``branch@N.kind`` targets branch N only;
    ``judge.*`` items are the judge's."""
    items = fault_for_target(spec, index, "branch").split(",")
    return ",".join(i for i in items if i and not i.startswith("judge."))


def _judge_faults(spec: str) -> str:
    return ",".join(i.strip() for i in spec.split(",") if i.strip().startswith("judge."))


@DBOS.step(
    name="answer", retries_allowed=True, should_retry=is_retryable, preemptible=True, **RETRY_POLICY
)
async def answer_step(
    question: str, style: str, model: str, fault: str, cap: float | None = None
) -> ClaudeResult:
    call = branch_call(question, style, model=model, fault=fault)
    if cap is not None:
        call = call.model_copy(update={"max_budget_usd": cap})
    return await run_claude(call, step_name="answer")


@DBOS.step(
    name="judge", retries_allowed=True, should_retry=is_retryable, preemptible=True, **RETRY_POLICY
)
async def judge_step(
    req: CompareRequest,
    branches: tuple[BranchResult, ...],
    cap: float | None = None,
    model: str | None = None,
) -> ClaudeResult:
    call = judge_call(
        req.question, branches, model=model or req.judge_model, fault=_judge_faults(req.fault)
    )
    if cap is not None:
        call = call.model_copy(update={"max_budget_usd": cap})
    return await run_claude(call, step_name="judge")


@DBOS.workflow(name="compare.branch")
async def compare_branch(
    question: str, label: str, model: str, style: str, fault: str = "", cap: float | None = None
) -> BranchResult:
    """One branch of a fork-compare run (a child workflow)."""
    result = await answer_step(question, style, model, fault, cap)
    return BranchResult(
        label=label,
        model=result.model or model,
        style=style,
        text=result.text,
        workflow_id=DBOS.workflow_id or "",
        result=result,
    )


def winner_of(verdict: str, labels: list[str]) -> str:
    """The first bold ``Answer X`` (or bare label) the judge names."""
    for m in re.finditer(r"\*\*(?:Answer\s+)?([A-Za-z0-9]+)\*\*", verdict):
        if m.group(1) in labels:
            return m.group(1)
    return ""


def _table(branches: tuple[BranchResult, ...], winner: str) -> str:
    rows = [
        "| branch | model | style | status | words | tokens out | cost | time |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for b in branches:
        r = b.result
        mark = " ★" if b.label == winner else ""
        rows.append(
            f"| {b.label}{mark} | {b.model} | {b.style} | {'ok' if b.ok else 'failed'} | "
            f"{b.words if b.ok else '-'} | {r.usage.output_tokens if r else '-'} | "
            f"{f'${r.cost_usd:.4f}' if r else '-'} | {f'{r.duration_s:.1f} s' if r else '-'} |"
        )
    return "\n".join(rows)


@DBOS.workflow(name="compare")
async def compare(req: CompareRequest) -> CompareReport:
    """Answer one question on every branch in parallel, keep failures, judge the answers.

    With a budget, the branches (together) and the judge each pass a budget guard first
    (:func:`workflows.guards.budget_guard`); ``switch`` puts every remaining call on one model.
    """
    specs = req.specs
    total = len(specs)
    budget_usd, budget_tokens, _ = await resolve_guards(req.budget_usd, req.budget_tokens)
    budget = Budget(budget_usd, budget_tokens)
    steps: list[StepUsage] = []
    switched: str | None = None

    async def progress(phase: str, done: int = 0, detail: str = "", cost: float = 0.0) -> None:
        await publish_progress(
            phase,
            done,
            total,
            detail,
            cost=cost,
            budget_usd=budget.usd or 0.0,
            budget_tokens=budget.tokens or 0,
            tokens=spent(steps)[1],
        )

    async def guard(phase: str, task: str, model: str, calls: int, remaining: int) -> str | None:
        nonlocal budget, switched
        if not budget.set:
            return None
        verdict = await budget_guard(
            budget,
            steps,
            phase=phase,
            task=task,
            model=model,
            calls=calls,
            remaining=remaining,
            timeout_s=BUDGET_APPROVAL_TIMEOUT_S,
        )
        budget = verdict.budget
        if verdict.model != model:
            switched = verdict.model
        return verdict.note if verdict.action == "stop" else None

    def stopped(note: str, branches: tuple[BranchResult, ...] = ()) -> CompareReport:
        usd, tokens = spent(steps)
        md = [
            f"# {req.question}\n",
            f"**Stopped at the budget**: {note}. Spent ${usd:.4f} ({tokens:,} tokens) of "
            f"{budget.text()}.\n",
        ]
        if branches:
            md += ["## Branches\n", _table(branches, ""), ""]
            md += [f"### {b.label}\n\n{b.text}\n" for b in branches if b.ok]
        return CompareReport(
            question=req.question,
            branches=branches,
            markdown="\n".join(md),
            cost_usd=round(usd, 6),
            note=note,
            outcome="stopped at budget",
        )

    dearest = max((b.model for b in specs), key=lambda m: estimate("answer", m, [])[0])
    if (why := await guard("branches", "answer", dearest, total, total + 1)) is not None:
        await progress("stopped at budget", detail=why)
        return stopped(why)
    await progress("branching")
    handles = [
        await DBOS.start_workflow_async(
            compare_branch,
            req.question,
            b.label,
            switched or b.model,
            b.style,
            fault_for_branch(req.fault, i),
            call_cap(budget, steps, "answer", switched or b.model),
        )
        for i, b in enumerate(specs)
    ]
    results: dict[int, BranchResult] = {}
    pending = list(handles)
    while pending:
        done = await DBOS.wait_first_async(pending, polling_interval_sec=0.1)
        pending = [h for h in pending if h.workflow_id != done.workflow_id]
        i = next(k for k, h in enumerate(handles) if h.workflow_id == done.workflow_id)
        try:
            results[i] = await done.get_result()
        except Exception as exc:  # a failed branch is reported, not fatal
            b = specs[i]
            results[i] = BranchResult(
                label=b.label,
                model=b.model,
                style=b.style,
                ok=False,
                error=failure_text(exc),
                workflow_id=done.workflow_id,
            )
        cost = sum(r.result.cost_usd for r in results.values() if r.result is not None)
        await progress("branching", len(results), cost=cost)
    branches = tuple(results[i] for i in range(total))
    for br in branches:
        if br.result is not None:
            r = br.result
            steps.append(
                StepUsage(
                    step=f"answer {br.label}", model=r.model, usage=r.usage, cost_usd=r.cost_usd
                )
            )
    spent_usd = spent(steps)[0]
    ok = [b for b in branches if b.ok]
    if not ok:
        await progress("failed", total, "every branch failed", cost=spent_usd)
        raise CompareFailed("every branch failed: " + branches[0].error)

    judge_model = switched or req.judge_model
    if (why := await guard("judge", "judge", judge_model, 1, 1)) is not None:
        await progress("stopped at budget", total, why, cost=spent_usd)
        return stopped(why, branches)
    judge_model = switched or judge_model
    await progress("judging", total, cost=spent_usd)
    try:
        judged = await judge_step(
            req,
            branches,
            call_cap(budget, steps, "judge", judge_model),
            judge_model if judge_model != req.judge_model else None,
        )
    except (dbos_error.DBOSMaxStepRetriesExceeded, ClaudeError) as exc:
        await progress("failed", total, "the judge failed", cost=spent_usd)
        raise CompareFailed(f"judging failed: {failure_text(exc)}") from None
    spent_usd += judged.cost_usd
    winner = winner_of(judged.text, [b.label for b in ok])
    await progress("done", total, cost=spent_usd)
    failed = [b for b in branches if not b.ok]
    note = f"{len(failed)} of {total} branches failed" if failed else ""
    markdown = (
        f"# {req.question}\n\n{judged.text}\n\n## Branches\n\n{_table(branches, winner)}\n"
        + ("".join(f"\n- branch {b.label} failed: {b.error}" for b in failed))
    )
    return CompareReport(
        question=req.question,
        branches=branches,
        verdict=judged.text,
        winner=winner,
        markdown=markdown,
        cost_usd=round(spent_usd, 6),
        backend=judged.backend,
        note=note,
    )
