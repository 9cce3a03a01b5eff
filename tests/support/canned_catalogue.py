"""Canned fork-compare, fork-lineage and diff data for the pictures (see ``tests.support.canned``).

A compare run caught mid-way (branch A done, B and C streaming), and a second-generation fork
of the canned research run, made with changed settings, for the lineage tree and the diff.
"""

from __future__ import annotations

from tui.supervisor import BranchRow, ForkNode, RunDetail, RunOutputs, StepRow, WorkflowRow
from workflows.model_offline.script import answer as scripted
from workflows.models import (
    BranchResult,
    ChunkKind,
    ChunkPart,
    ClaudeResult,
    CompareRequest,
    Progress,
    StepSettings,
    StreamChunk,
    Usage,
)
from workflows.prompts import branch_call

from .canned import ANSWERS, DONE, FORK, NOW, QUESTIONS, REPORT_MD, TOPIC, _row

__all__ = ["COMPARE", "COMPARE_ROWS", "FORK2", "catalogue_detail", "catalogue_streams"]

QUESTION = "When is event sourcing worth its cost?"
REQUEST = CompareRequest(
    question=QUESTION,
    branches="claude-sonnet-4-5:concise, claude-opus-4-1:detailed, claude-haiku-4-5:skeptical",
)
COMPARE = _row(
    "compare-4f1e2d3c5b6a",
    "PENDING",
    14,
    None,
    name="compare",
    summary=f"{QUESTION} · 3 branches",
    progress=Progress(phase="branching", done=1, total=3, cost_usd=0.0093),
    cost_usd=0.0093,
)
BRANCH_ROWS = tuple(
    _row(
        f"{COMPARE.workflow_id}-{i + 1}",
        "SUCCESS" if i == 0 else "PENDING",
        13.5,
        6.2 if i == 0 else None,
        name="compare.branch",
        parent_id=COMPARE.workflow_id,
    ).model_copy(update={"queue": ""})
    for i in range(3)
)
FORK2 = _row(
    f"{FORK.workflow_id}~2",
    "SUCCESS",
    120,
    7.4,
    summary="CRDTs for collaborative editing",
    forked_from=FORK.workflow_id,
    cost_usd=0.0089,
)
COMPARE_ROWS: tuple[WorkflowRow, ...] = (COMPARE, FORK2, *BRANCH_ROWS)

_SHARE = (1.0, 0.62, 0.35)  # how much of each branch's answer has streamed


def _text(i: int) -> str:
    spec = REQUEST.specs[i]
    call = branch_call(QUESTION, spec.style, model=spec.model)
    return scripted("research", call.prompt)


def _branch_result(i: int) -> BranchResult:
    spec = REQUEST.specs[i]
    text = _text(i)
    result = ClaudeResult(
        text=text,
        usage=Usage(input_tokens=10_480, output_tokens=len(text.split())),
        cost_usd=0.0093,
        model=spec.model,
        backend="offline scripted model",
        duration_s=6.2,
    )
    return BranchResult(
        label=spec.label,
        model=spec.model,
        style=spec.style,
        text=text,
        workflow_id=BRANCH_ROWS[i].workflow_id,
        result=result,
    )


def catalogue_detail(row: WorkflowRow) -> RunDetail | None:
    if row is not COMPARE:
        return None
    t0 = row.created_at or NOW
    steps = tuple(
        StepRow(
            step_id=2 + i,
            name="compare.branch",
            status="done",
            started_at=t0 + 0.1,
            completed_at=t0 + 0.1,
            child_id=b.workflow_id,
        )
        for i, b in enumerate(BRANCH_ROWS)
    )
    branches = tuple(
        BranchRow(
            label=s.label,
            model=s.model,
            style=s.style,
            workflow_id=b.workflow_id,
            row=b,
            result=_branch_result(i) if b.status == "SUCCESS" else None,
        )
        for i, (s, b) in enumerate(zip(REQUEST.specs, BRANCH_ROWS, strict=True))
    )
    return RunDetail(
        row=row,
        input_summary=f"{QUESTION} · 3 branches",
        steps=steps,
        children=BRANCH_ROWS,
        branches=branches,
    )


def catalogue_streams(workflow_id: str) -> tuple[StreamChunk, ...]:
    for i, b in enumerate(BRANCH_ROWS):
        if b.workflow_id != workflow_id:
            continue
        spec = REQUEST.specs[i]
        text = _text(i)
        shown = text[: int(len(text) * _SHARE[i])]
        parts = [
            ChunkPart(kind=ChunkKind.STATUS, text=f"attempt 1 · {spec.model} · offline model"),
            ChunkPart(kind=ChunkKind.TEXT, text=shown),
        ]
        if i == 0:
            parts.append(ChunkPart(kind=ChunkKind.USAGE, text="10480 in / 96 out · $0.0093"))
        t = (b.created_at or NOW) + 0.2
        return (
            StreamChunk(step_id=1, step_name="answer", attempt=1, seq=0, ts=t, parts=tuple(parts)),
        )
    return ()


# -- lineage and diff ------------------------------------------------------------------------

FORK_SETTINGS = StepSettings(model="claude-opus-4-1", instructions="Write it for managers.")
BASE_SETTINGS = StepSettings(model="claude-sonnet-4-5")


def canned_lineage(workflow_id: str) -> ForkNode:
    leaf = ForkNode(row=FORK2, settings=FORK_SETTINGS)
    fork = ForkNode(row=FORK, settings=FORK_SETTINGS, forks=(leaf,))
    return ForkNode(row=DONE, settings=BASE_SETTINGS, forks=(fork,))


def canned_outputs(workflow_id: str) -> RunOutputs | None:
    rows = {r.workflow_id: r for r in (DONE, FORK, FORK2)}
    row = rows.get(workflow_id)
    if row is None:
        return None
    plan = "\n".join(f"{i + 1}. {q}" for i, q in enumerate(QUESTIONS))
    items: list[tuple[str, str, str]] = [("plan", "claude-sonnet-4-5", plan)]
    for i, a in enumerate(ANSWERS):
        items.append(("research" if i == 0 else f"research {i + 1}", "claude-sonnet-4-5", a.text))
    if row is DONE:
        items.append(("synthesize", "claude-sonnet-4-5", REPORT_MD))
    else:
        managers = scripted(
            "synthesize",
            f"Instructions: {FORK_SETTINGS.instructions}\n\nTopic: {TOPIC}\n\n"
            + "\n\n".join(
                f"Q{a.index + 1}: {a.question}\nA{a.index + 1}: {a.text}" for a in ANSWERS
            ),
        )
        items.append(("synthesize", "claude-opus-4-1", managers))
    return RunOutputs(row=row, items=tuple(items))
