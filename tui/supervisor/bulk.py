"""Bulk cancel and resume: on the runs marked in the list, or on every run a filter matches.

What each run gets is what the single action does: cancel stops runs in flight; resume
rewinds a failed run to its failed step (an approval that timed out: to where it was asked),
and resumes cancelled and stuck ones. Failed steps of every run are found in one statement per
1,000 runs; cancels and plain resumes go to DBOS in batches (``cancel_workflows`` /
``resume_workflows``); rewinds, which DBOS has no batch call for, one by one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from dbos import DBOSClient

from workflows.runtime import LAUNCH_QUEUE

from ..data import reads, runs
from ..data.sql import DB
from .engine import SQL
from .models import ActionResult, WorkflowRow
from .threads import in_thread

__all__ = ["BATCH", "BulkPlan", "BulkResult", "BulkActions", "plan"]

Verb = Literal["cancel", "resume"]
#: Runs per DBOS batch call.
BATCH = 100
#: Rewinds in flight at once (each is its own DBOS transaction, on a thread).
REWINDS_AT_ONCE = 8
_RESUMABLE = frozenset({"ERROR", "CANCELLED", "MAX_RECOVERY_ATTEMPTS_EXCEEDED"})


@dataclass(frozen=True)
class BulkPlan:
    """What a bulk action would do: the runs it acts on and the ones it leaves, with why."""

    verb: Verb
    act_on: tuple[WorkflowRow, ...]
    refused: tuple[tuple[str, str], ...]

    def refused_summary(self) -> str:
        """``30 succeeded (nothing to resume), 7 still running``."""
        counts: dict[str, int] = {}
        for _, why in self.refused:
            counts[why] = counts.get(why, 0) + 1
        return ", ".join(f"{n} {why}" for why, n in sorted(counts.items(), key=lambda x: -x[1]))


@dataclass
class BulkResult:
    done: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    statements: int = 0

    def message(self, plan_: BulkPlan) -> str:
        verb = "cancelled" if plan_.verb == "cancel" else "resumed"
        text = f"{verb} {len(self.done)} run(s)"
        if self.failed:
            text += f"; {len(self.failed)} failed ({self.failed[0][1]})"
        if plan_.refused:
            text += f"; left {len(plan_.refused)}: {plan_.refused_summary()}"
        return text


def plan(verb: Verb, rows: Sequence[WorkflowRow]) -> BulkPlan:
    """Split ``rows`` into those the action applies to and those it refuses, with reasons."""
    act: list[WorkflowRow] = []
    refused: list[tuple[str, str]] = []
    for r in rows:
        if verb == "cancel":
            if r.active:
                act.append(r)
            else:
                refused.append((r.workflow_id, f"{r.shown_status.lower()} (not in flight)"))
        elif r.status in _RESUMABLE:
            act.append(r)
        elif r.status == "SUCCESS":
            refused.append((r.workflow_id, "succeeded (nothing to resume)"))
        else:
            refused.append((r.workflow_id, "still in flight"))
    return BulkPlan(verb, tuple(act), tuple(refused))


class _Host(Protocol):
    read_only: bool

    @property
    def sql(self) -> SQL: ...

    @property
    def client(self) -> DBOSClient: ...

    def _check_write(self, what: str) -> None: ...

    async def _write(self, what: str, coro: Awaitable[Any]) -> Any: ...

    async def _call(self, what: str, coro: Awaitable[Any]) -> Any: ...

    async def resume(self, workflow_id: str) -> ActionResult: ...

    async def matching_rows(self, text: str, *, limit: int | None = None) -> list[WorkflowRow]: ...


class BulkActions:
    """Bulk actions (mixed into ``Supervisor``); read-only dashboards refuse them here."""

    async def bulk_rows(
        self: _Host, *, filter_text: str | None = None, ids: Sequence[str] | None = None
    ) -> list[WorkflowRow]:
        """The runs a bulk action is about: every match of a filter, or the given ids."""
        if filter_text is not None:
            return await self.matching_rows(filter_text)

        def read(db: DB) -> list[WorkflowRow]:
            from workflows.presence import presence_ttl
            from workflows.settings import redact

            beats = reads.heartbeats(db, presence_ttl())
            found = reads.rows_of(db, reads.by_ids(db, list(ids or ())), beats, redact)
            return [WorkflowRow.model_validate(r) for r in found]

        return await self._call("list workflows", in_thread(self.sql.with_db, read))  # type: ignore[no-any-return]

    async def bulk_apply(
        self: _Host, plan_: BulkPlan, progress: Callable[[int, int], None] | None = None
    ) -> BulkResult:
        """Carry a plan out; ``progress(done, total)`` after each batch."""
        import asyncio

        self._check_write(plan_.verb)
        before = self.sql.statements
        result = BulkResult()
        rows = list(plan_.act_on)
        total = len(rows)

        def tick() -> None:
            if progress is not None:
                progress(len(result.done) + len(result.failed), total)

        async def batch_call(what: str, ids: list[str], call: Callable[[list[str]], Any]) -> None:
            for i in range(0, len(ids), BATCH):
                chunk = ids[i : i + BATCH]
                try:
                    await self._write(what, call(chunk))
                    result.done += chunk
                except Exception as exc:  # a SupervisorError: one line, secrets removed
                    result.failed += [(w, str(exc)) for w in chunk]
                tick()

        if plan_.verb == "cancel":
            await batch_call(
                "cancel",
                [r.workflow_id for r in rows],
                lambda c: self.client.cancel_workflows_async(c),
            )
            result.statements = self.sql.statements - before
            return result
        plain = [r.workflow_id for r in rows if r.status != "ERROR"]
        failed = [r for r in rows if r.status == "ERROR" and r.timed_out != "approval"]
        asked = [r for r in rows if r.status == "ERROR" and r.timed_out == "approval"]
        ids = [r.workflow_id for r in failed]
        starts: dict[str, int] = {}
        if ids:

            def read(db: DB) -> dict[str, int]:
                return {**runs.last_steps(db, ids), **runs.failed_steps(db, ids)}

            starts = await self._call("read steps", in_thread(self.sql.with_db, read))
        await batch_call(
            "resume",
            plain,
            lambda c: self.client.resume_workflows_async(c, queue_name=LAUNCH_QUEUE),
        )
        gate = asyncio.Semaphore(REWINDS_AT_ONCE)

        async def rewind(wid: str) -> None:
            async with gate:
                try:
                    await self._write(
                        "rewind",
                        self.client.rewind_workflow_async(
                            wid, start_step=starts.get(wid, 1), queue_name=LAUNCH_QUEUE
                        ),
                    )
                    result.done.append(wid)
                except Exception as exc:
                    result.failed.append((wid, str(exc)))
                if (len(result.done) + len(result.failed)) % 20 == 0:
                    tick()

        await asyncio.gather(*(rewind(r.workflow_id) for r in failed))
        for r in asked:  # rare: the single action's own path (it finds the approval step)
            try:
                res = await self.resume(r.workflow_id)
                (
                    result.done.append(r.workflow_id)
                    if res.ok
                    else result.failed.append((r.workflow_id, res.message))
                )
            except Exception as exc:
                result.failed.append((r.workflow_id, str(exc)))
        tick()
        result.statements = self.sql.statements - before
        return result
