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
from .models import (
    BranchResult,
    ClaudeResult,
    CompareReport,
    CompareRequest,
)
from .prompts import branch_call, fault_for_target, judge_call

__all__ = ["CompareFailed", "compare", "compare_branch", "fault_for_branch"]


class CompareFailed(Exception):
    """No branch answered, or the judge failed after every attempt."""


def fault_for_branch(spec: str, index: int) -> str:
    """Fault items for branch ``index`` (0-based): ``branch@N.kind`` targets branch N only;
    ``judge.*`` items are the judge's."""
    items = fault_for_target(spec, index, "branch").split(",")
    return ",".join(i for i in items if i and not i.startswith("judge."))


def _judge_faults(spec: str) -> str:
    return ",".join(i.strip() for i in spec.split(",") if i.strip().startswith("judge."))


@DBOS.step(name="answer", retries_allowed=True, should_retry=is_retryable, preemptible=True,
           **RETRY_POLICY)  # fmt: skip
async def answer_step(question: str, style: str, model: str, fault: str) -> ClaudeResult:
    return await run_claude(branch_call(question, style, model=model, fault=fault),
                            step_name="answer")  # fmt: skip


@DBOS.step(name="judge", retries_allowed=True, should_retry=is_retryable, preemptible=True,
           **RETRY_POLICY)  # fmt: skip
async def judge_step(req: CompareRequest, branches: tuple[BranchResult, ...]) -> ClaudeResult:
    call = judge_call(req.question, branches, model=req.judge_model,
                      fault=_judge_faults(req.fault))  # fmt: skip
    return await run_claude(call, step_name="judge")


@DBOS.workflow(name="compare.branch")
async def compare_branch(
    question: str, label: str, model: str, style: str, fault: str = ""
) -> BranchResult:
    """One branch of a fork-compare run (a child workflow)."""
    result = await answer_step(question, style, model, fault)
    return BranchResult(
        label=label, model=result.model or model, style=style, text=result.text,
        workflow_id=DBOS.workflow_id or "", result=result,
    )  # fmt: skip


def winner_of(verdict: str, labels: list[str]) -> str:
    """The first bold ``Answer X`` (or bare label) the judge names."""
    for m in re.finditer(r"\*\*(?:Answer\s+)?([A-Za-z0-9]+)\*\*", verdict):
        if m.group(1) in labels:
            return m.group(1)
    return ""


def _table(branches: tuple[BranchResult, ...], winner: str) -> str:
    rows = ["| branch | model | style | status | words | tokens out | cost | time |",
            "|---|---|---|---|---|---|---|---|"]  # fmt: skip
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
    """Answer one question on every branch in parallel, keep failures, judge the answers."""
    specs = req.specs
    total = len(specs)
    await publish_progress("branching", 0, total)
    handles = [
        await DBOS.start_workflow_async(
            compare_branch, req.question, b.label, b.model, b.style, fault_for_branch(req.fault, i)
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
                label=b.label, model=b.model, style=b.style, ok=False, error=failure_text(exc),
                workflow_id=done.workflow_id,
            )  # fmt: skip
        cost = sum(r.result.cost_usd for r in results.values() if r.result is not None)
        await publish_progress("branching", len(results), total, cost=cost)
    branches = tuple(results[i] for i in range(total))
    spent = sum(b.result.cost_usd for b in branches if b.result is not None)
    ok = [b for b in branches if b.ok]
    if not ok:
        await publish_progress("failed", total, total, "every branch failed", cost=spent)
        raise CompareFailed("every branch failed: " + branches[0].error)

    await publish_progress("judging", total, total, cost=spent)
    try:
        judged = await judge_step(req, branches)
    except (dbos_error.DBOSMaxStepRetriesExceeded, ClaudeError) as exc:
        await publish_progress("failed", total, total, "the judge failed", cost=spent)
        raise CompareFailed(f"judging failed: {failure_text(exc)}") from None
    spent += judged.cost_usd
    winner = winner_of(judged.text, [b.label for b in ok])
    await publish_progress("done", total, total, cost=spent)
    failed = [b for b in branches if not b.ok]
    note = f"{len(failed)} of {total} branches failed" if failed else ""
    markdown = (
        f"# {req.question}\n\n{judged.text}\n\n## Branches\n\n{_table(branches, winner)}\n"
        + ("".join(f"\n- branch {b.label} failed: {b.error}" for b in failed))
    )
    return CompareReport(
        question=req.question, branches=branches, verdict=judged.text, winner=winner,
        markdown=markdown, cost_usd=round(spent, 6), backend=judged.backend, note=note,
    )  # fmt: skip
