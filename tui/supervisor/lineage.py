"""Forks and what they change: fork a run from a step (with other settings, parked until they
are sent), the fork tree a run belongs to, and every Claude answer of a run (for diffs).
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from workflows.models import (
    SETTINGS_EVENT,
    SETTINGS_STEP,
    SETTINGS_TOPIC,
    ClaudeResult,
    StepSettings,
)
from workflows.runtime import LAUNCH_QUEUE

from .errors import SupervisorError
from .models import ActionResult, ForkNode, RunOutputs, WorkflowRow
from .runs import RunReads, _parse
from .threads import in_thread

__all__ = ["PARKING_QUEUE", "SETTINGS_WORKFLOWS", "Lineage"]

#: Forks with changed settings wait here (no runtime serves it) until they have their settings.
PARKING_QUEUE = "agentdeck-parking"
#: Workflows that take changed step settings from a fork (``workflows.research.step_settings``).
SETTINGS_WORKFLOWS = frozenset({"research"})


#: Generations of forks a tree shows below its original run.
_MAX_DEPTH = 20


class Lineage(RunReads):
    """Forks, fork trees and a run's answers (mixed into ``Supervisor``)."""

    async def fork(
        self,
        workflow_id: str,
        start_step: int,
        settings: StepSettings | dict[str, Any] | None = None,
    ) -> ActionResult:
        """A new run that replays ``workflow_id`` up to ``start_step`` and runs on from there.

        With ``settings`` (another model, extra instructions) the fork is parked on a queue no
        one serves, sent the settings (``SETTINGS_TOPIC``), then released onto the launch queue:
        the settings are there before its first step runs. Only workflows that read settings
        (``research``) accept them. Should the process die between park and release, the fork
        waits on the parking queue until ``r`` resumes it.
        """
        self._check_write("fork")
        if settings is not None and not isinstance(settings, StepSettings):
            try:
                settings = StepSettings.model_validate(settings)
            except ValidationError as exc:
                msgs = "; ".join(
                    f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()
                )
                raise SupervisorError(f"invalid settings: {msgs}") from None
        if settings is not None and settings.empty:
            settings = None
        asked = start_step
        if settings is not None:
            row = await self.get_row(workflow_id)
            if row.name not in SETTINGS_WORKFLOWS:
                raise SupervisorError(
                    f"{row.name} runs do not read step settings: fork without changes"
                )
            # Settings are read at marked points: start from the last one at or before the step.
            steps = await self._call(
                "read steps", self.client.list_workflow_steps_async(workflow_id)
            )
            points = [
                int(st["function_id"])
                for st in steps
                if st["function_name"] == SETTINGS_STEP and int(st["function_id"]) <= start_step
            ]
            start_step = max(points, default=start_step)
        handle = await self._write(
            "fork",
            self.client.fork_workflow_async(
                workflow_id,
                start_step,
                queue_name=PARKING_QUEUE if settings is not None else LAUNCH_QUEUE,
            ),
        )
        new_id = str(handle.workflow_id)
        what = ""
        if settings is not None:
            await self._write(
                "send settings",
                self.client.send_async(
                    new_id,
                    settings.model_dump(mode="json"),
                    SETTINGS_TOPIC,
                    idempotency_key=f"settings:{new_id}",
                ),
            )
            await self._write(
                "release fork", self.client.resume_workflow_async(new_id, queue_name=LAUNCH_QUEUE)
            )
            what = " with " + ", ".join(
                x
                for x in (
                    f"model {settings.model}" if settings.model else "",
                    "new instructions" if settings.instructions else "",
                )
                if x
            )
        where = f"step {start_step}" + (
            f" (the settings point before step {asked})" if asked != start_step else ""
        )
        return ActionResult(
            ok=True,
            message=f"forked {workflow_id} from {where}{what} as {new_id}",
            workflow_id=new_id,
        )

    async def lineage(self, workflow_id: str) -> ForkNode:
        """The fork tree ``workflow_id`` belongs to, from its original run down.

        One DBOS query per generation (its ``forked_from`` filter takes a list), and the
        settings each run was forked with in one statement; trees are small.
        """
        row = await self.get_row(workflow_id)
        seen = {row.workflow_id}
        while row.forked_from and row.forked_from not in seen:
            try:
                parent = await self.get_row(row.forked_from)
            except SupervisorError:
                break  # the original was deleted: the oldest one left is the root
            seen.add(parent.workflow_id)
            row = parent
        forks: dict[str, list[WorkflowRow]] = {}
        placed = {row.workflow_id}  # the tree's runs (a fork lists once, under its parent)
        generation = [row]
        for _depth in range(_MAX_DEPTH):
            found = await self._call(
                "read forks",
                self.client.list_workflows_async(
                    forked_from=[r.workflow_id for r in generation],
                    load_input=False,
                    load_output=False,
                ),
            )
            if not found:
                break
            generation = []
            for child in sorted(await self._rows(found), key=lambda r: r.created_at or 0):
                if child.workflow_id not in placed:
                    placed.add(child.workflow_id)
                    forks.setdefault(child.forked_from, []).append(child)
                    generation.append(child)
        settings = await self._call(
            "read settings", in_thread(self.sql.events, sorted(placed), [SETTINGS_EVENT])
        )

        def node(r: WorkflowRow) -> ForkNode:
            raw = settings.get(r.workflow_id, {}).get(SETTINGS_EVENT)
            kids = tuple(node(c) for c in forks.get(r.workflow_id, ()))
            return ForkNode(row=r, settings=_parse(StepSettings, raw), forks=kids)

        return node(row)

    async def outputs(self, workflow_id: str) -> RunOutputs:
        """Every Claude answer of a run, labelled by step (children's answers included).

        The run's steps are read with its descendants', a generation per statement.
        """
        row = await self.get_row(workflow_id)
        steps: dict[str, list[tuple[str, Any, str]]] = {}
        generation = [workflow_id]
        while generation:
            found = await self._call("read steps", in_thread(self.sql.step_outputs, generation))
            steps.update(found)
            generation = [
                child
                for wid in generation
                for name, _out, child in found.get(wid, [])
                if child and name not in _WAITS_ON_CHILD and child not in steps
            ]

        def answers(wid: str, seen: frozenset[str]) -> list[tuple[str, str, str]]:
            items: list[tuple[str, str, str]] = []
            counts: dict[str, int] = {}
            for name, out, child in steps.get(wid, []):
                if child and name not in _WAITS_ON_CHILD:
                    found = answers(child, seen | {child}) if child not in seen else []
                else:
                    answer = _answer_of(out)
                    found = [(name, answer.model, answer.text)] if answer is not None else []
                for label, model, text in found:
                    counts[label] = counts.get(label, 0) + 1
                    n = counts[label]
                    items.append((label if n == 1 else f"{label} {n}", model, text))
            return items

        return RunOutputs(row=row, items=tuple(answers(workflow_id, frozenset([workflow_id]))))


#: Steps that name a child workflow only to wait for it (its start is the step that owns it).
_WAITS_ON_CHILD = ("DBOS.getResult", "DBOS.waitFirst")


def _answer_of(out: Any) -> ClaudeResult | None:
    """The Claude answer in a step's output (a ClaudeResult, or a tuple holding one)."""
    if isinstance(out, ClaudeResult):
        return out
    if isinstance(out, tuple):
        for item in out:
            if isinstance(item, ClaudeResult):
                return item
    return None
