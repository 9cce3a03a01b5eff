"""Real runs for the insights tests: a mix of success, failure, retries, approvals (plan and
tool, answered, rejected and one left open), a cancellation and two models, made once on a
SQLite file by the embedded runtime with the offline model (fast SDK transport)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import _settings, connected, launched, wait_for
from tui.supervisor import Supervisor
from workflows.model_offline.transport import reset_faults
from workflows.models import ApprovalAnswer, ApprovalDecision, ClaudeResult

__all__ = ["MODELS", "Launched", "claude_totals", "make_runs"]

MODELS = ("claude-sonnet-4-5", "claude-opus-4-1")
APPROVE = ApprovalAnswer(decision=ApprovalDecision.APPROVE, by="test")
REJECT = ApprovalAnswer(decision=ApprovalDecision.REJECT, by="test", comment="too broad")


@dataclass
class Launched:
    """What the builder launched: top-level research run ids by expected final status."""

    db_url: str
    runs: dict[str, str] = field(default_factory=dict)  # id -> status at the end
    models: dict[str, str] = field(default_factory=dict)  # id -> model
    roles: dict[str, str] = field(default_factory=dict)  # role -> id
    #: Questions researched (children), approvals answered per kind, left open.
    children: int = 0
    answered: dict[str, int] = field(default_factory=dict)
    open: int = 0
    #: The compare run (two branches, one per model; the judge on the second model).
    compare: str = ""
    branches: int = 2

    @property
    def research_runs(self) -> int:
        """research and research.question runs."""
        return len(self.runs) + self.children

    @property
    def total(self) -> int:
        return self.research_runs + 1 + self.branches


async def _launch(sup: Supervisor, out: Launched, model: str, **data: object) -> str:
    res = await sup.launch(
        "research", {"topic": f"insights {len(out.runs)}", "model": model, **data}
    )
    assert res.ok, res.message
    out.runs[res.workflow_id] = "?"
    out.models[res.workflow_id] = model
    return res.workflow_id


async def _approval(sup: Supervisor, wid: str) -> None:
    async def waiting() -> bool:
        return (await sup.get_row(wid)).waiting_approval

    await wait_for(waiting, within=60)


async def _finish(sup: Supervisor, out: Launched, wid: str) -> None:
    async def done() -> bool:
        return not (await sup.get_row(wid)).active

    await wait_for(done, within=90)
    out.runs[wid] = (await sup.get_row(wid)).status


async def _tool_child(sup: Supervisor, parent: str) -> str:
    found: list[str] = []

    async def asked() -> bool:
        found[:] = [a.row.workflow_id for a in await sup.approvals() if a.row.parent_id == parent]
        return bool(found)

    await wait_for(asked, within=60)
    return found[0]


async def _build(tmp: Path, db_url: str) -> Launched:
    reset_faults()
    out = Launched(db_url)
    async with launched(_settings(tmp, db_url, cli=False)), connected(db_url) as sup:
        a = await _launch(sup, out, MODELS[0], questions=2)
        b = await _launch(sup, out, MODELS[1], questions=1)
        retried = await _launch(sup, out, MODELS[0], questions=1, fault="synthesize.overload*1")
        failed = await _launch(
            sup, out, MODELS[1], questions=1, fault="synthesize.invalid_request*1"
        )
        plan_failed = await _launch(sup, out, MODELS[0], fault="plan.auth")
        rejected = await _launch(sup, out, MODELS[1], questions=1)
        cancelled = await _launch(sup, out, MODELS[0], questions=1)
        tool = await _launch(sup, out, MODELS[1], questions=1, tools="Bash")
        open_ = await _launch(sup, out, MODELS[0], questions=1)
        compare = await sup.launch(
            "compare",
            {
                "question": "insights compare",
                "judge_model": MODELS[1],
                "branches": f"{MODELS[0]}:concise, {MODELS[1]}:detailed",
            },
        )
        assert compare.ok, compare.message
        out.compare = compare.workflow_id
        for wid in (a, b, retried, failed, tool):
            await _approval(sup, wid)
            assert (await sup.answer(wid, APPROVE)).ok
        await _approval(sup, rejected)
        assert (await sup.answer(rejected, REJECT)).ok
        child = await _tool_child(sup, tool)
        assert (await sup.answer(child, APPROVE)).ok
        await _approval(sup, cancelled)
        assert (await sup.cancel(cancelled)).ok
        await _approval(sup, open_)
        for wid in (a, b, retried, failed, plan_failed, rejected, cancelled, tool):
            await _finish(sup, out, wid)
        out.runs[open_] = "PENDING"

        async def compared() -> bool:
            return (await sup.get_row(out.compare)).status == "SUCCESS"

        await wait_for(compared, within=90)
    out.roles = {
        "a": a,
        "b": b,
        "retried": retried,
        "failed": failed,
        "plan_failed": plan_failed,
        "rejected": rejected,
        "cancelled": cancelled,
        "tool": tool,
        "open": open_,
    }
    out.children = 2 + 1 + 1 + 1 + 1  # questions of the runs approved
    out.answered = {"plan": 6, "tool": 1}  # a, b, retried, failed, tool, rejected; tool's one
    out.open = 1
    return out


def make_runs(tmp: Path, db_url: str | None = None) -> Launched:
    """Make the runs (in this thread's own event loop) on ``db_url`` (default: a SQLite file
    in ``tmp``)."""
    return asyncio.run(_build(tmp, db_url or f"sqlite:///{tmp / 'agentdeck.sqlite'}"))


async def claude_totals(sup: Supervisor) -> dict[str, tuple[int, float]]:
    """model → (calls, cost) of every Claude step of every run, read through DBOS's own API
    (``list_workflow_steps`` decodes the outputs): what stats must add up to."""
    out: dict[str, tuple[int, float]] = {}
    for wf in await sup.client.list_workflows_async(load_input=False, load_output=False):
        for step in await sup.client.list_workflow_steps_async(wf.workflow_id):
            value = step["output"]
            for item in value if isinstance(value, tuple) else (value,):
                if isinstance(item, ClaudeResult):
                    calls, cost = out.get(item.model, (0, 0.0))
                    out[item.model] = (calls + 1, cost + item.cost_usd)
    return out
