"""Research runs through the data layer, as the tests make them: launch, wait for the plan
approval, approve, wait for the end."""

from __future__ import annotations

from tests.conftest import wait_for
from tui.supervisor import Supervisor
from workflows.models import ApprovalAnswer, ApprovalDecision

__all__ = ["TOPIC", "approve_and_finish", "finish", "launch", "wait_approval"]

TOPIC = "durable execution"


async def launch(sup: Supervisor, **data: object) -> str:
    res = await sup.launch("research", {"topic": TOPIC, **data})
    assert res.ok
    return res.workflow_id


async def wait_approval(sup: Supervisor, wid: str) -> None:
    async def waiting() -> bool:
        return (await sup.get_row(wid)).waiting_approval

    await wait_for(waiting)


async def finish(sup: Supervisor, wid: str) -> str:
    async def done() -> bool:
        return not (await sup.get_row(wid)).active

    await wait_for(done, within=60)
    return (await sup.get_row(wid)).status


async def approve_and_finish(sup: Supervisor, wid: str) -> str:
    """Wait for the run's plan approval, approve it, wait for the run to end: its status."""
    await wait_approval(sup, wid)
    await sup.answer(wid, ApprovalAnswer(decision=ApprovalDecision.APPROVE))
    return await finish(sup, wid)
