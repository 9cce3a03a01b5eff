"""The one data layer: every read and write the dashboard and the CLI make, through DBOSClient.

The same code serves embedded mode (this process also runs a DBOS executor) and attach mode
(workflows run elsewhere): launches are enqueued on the launch queue that every agentdeck runtime
serves, and everything else goes through ``DBOSClient`` or the SQL module. Everything returns
frozen snapshots (``tui.supervisor.models``). ``read_only`` refuses every write here, not only in
key bindings.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from collections.abc import Iterable
from typing import Any, cast

from dbos import DBOSClient, EnqueueOptions
from pydantic import BaseModel, ValidationError

from workflows.models import (
    APPROVAL_EVENT,
    APPROVAL_STEP,
    PROGRESS_EVENT,
    SETTINGS_EVENT,
    SETTINGS_STEP,
    SETTINGS_TOPIC,
    STREAM_KEY,
    ApprovalAnswer,
    ApprovalRequest,
    ApprovalState,
    ClaudeResult,
    CompareReport,
    CompareRequest,
    Progress,
    ResearchReport,
    ResearchRequest,
    StepSettings,
    StreamChunk,
)
from workflows.presence import PRESENCE_WORKFLOW, presence_ttl
from workflows.queues import MAX_PRIORITY, MIN_PRIORITY, debounce_key, dedup_id
from workflows.runtime import APP_NAME, LAUNCH_QUEUE, redact

from ..data.insights import Histogram, Insights, InsightsQuery, StepCost
from ..data.summary import summarize as _summarize
from ..fastls import not_dbos, sqlite_path
from . import _insights
from ._queues import QueueRow, ScheduleRow, queue_rows, schedule_rows
from ._sql import SQL, STREAM_CLOSED, RecvWait
from .bulk import BulkActions
from .codec import AppCodec, CodecError
from .describe import describe_child, describe_output
from .errors import (
    ReadOnlyError,
    SupervisorError,
    _one_line,
    _read_timeout,
    _write_timeout,
)
from .listing import ListReads
from .models import (
    ActionResult,
    ApprovalItem,
    BranchRow,
    EventItem,
    ForkNode,
    RunDetail,
    RunOutputs,
    StepRow,
    StreamBatch,
    WorkflowRow,
)
from .wakeups import StreamWakeups

__all__ = ["ReadOnlyError", "Supervisor", "SupervisorError", "WORKFLOW_TYPES"]

log = logging.getLogger("agentdeck.supervisor")

#: Launchable workflow types: name → (DBOS workflow name, input model).
WORKFLOW_TYPES: dict[str, tuple[str, type[BaseModel]]] = {
    "research": ("research", ResearchRequest),
    "compare": ("compare", CompareRequest),
}

_LIST_KEYS = (PROGRESS_EVENT, APPROVAL_EVENT)
#: Forks with changed settings wait here (no runtime serves it) until they have their settings.
PARKING_QUEUE = "agentdeck-parking"
#: Workflows that take changed step settings from a fork (``workflows.research.step_settings``).
SETTINGS_WORKFLOWS = frozenset({"research"})
#: The longest workflow timeout a launch accepts (30 days).
MAX_TIMEOUT_S = 30 * 24 * 3600.0


def _sec(ms: int | None) -> float | None:
    return ms / 1000.0 if ms else None


def _error_text(err: Any) -> str:
    if err is None:
        return ""
    if isinstance(err, BaseException):
        text = str(err) or type(err).__name__
        return redact(f"{type(err).__name__}: {text}")
    return redact(str(err))


class Supervisor(ListReads, BulkActions):
    """Reads and acts on a DBOS system database. All methods are async and never block the loop."""

    def __init__(
        self, db_url: str, *, read_only: bool = False, codec: AppCodec | None = None
    ) -> None:
        self.db_url = db_url
        self.read_only = read_only
        #: The app's own code, to decode its pickled classes (``--app-path``); closed with this.
        self.codec = codec
        self._client: DBOSClient | None = None
        self._sql: SQL | None = None
        self._wakeups: StreamWakeups | None = None
        self.display_url = redact(db_url)

    # -- connection -------------------------------------------------------------------------

    async def connect(self) -> None:
        if self._client is not None:
            return
        path = sqlite_path(self.db_url)
        if path and path != ":memory:" and not await asyncio.to_thread(os.path.exists, path):
            # Connecting would create an empty file: a mistyped path would leave one behind.
            raise SupervisorError(f"no database at {path} yet (a worker or --embedded makes it)")
        try:
            self._client = await asyncio.to_thread(
                DBOSClient,
                system_database_url=self.db_url,
                # No application of its own: a client scoped to none sees every app's rows
                # (attach to any DBOS app); launches name agentdeck as their owner instead.
                application_name=None,
                retry_connection_errors=False,
            )
        except Exception as exc:
            raise SupervisorError(f"cannot open {self.display_url}: {_one_line(exc)}") from None
        self._sql = SQL(self._client._sys_db.engine)

    @property
    def client(self) -> DBOSClient:
        if self._client is None:
            raise SupervisorError("not connected")
        return self._client

    @property
    def sql(self) -> SQL:
        if self._sql is None:
            raise SupervisorError("not connected")
        return self._sql

    async def close(self) -> None:
        if self.codec is not None:
            await self.codec.close()
        if self._wakeups is not None:
            wakeups, self._wakeups = self._wakeups, None
            await asyncio.to_thread(wakeups.stop)
        if self._sql is not None:
            await asyncio.to_thread(self._sql.close_marker)
        if self._client is not None:
            client, self._client = self._client, None
            await asyncio.to_thread(client.destroy)

    def _check_write(self, what: str) -> None:
        if self.read_only:
            raise ReadOnlyError(f"read-only: refusing to {what}")

    async def _write(self, what: str, coro: Any) -> Any:
        """A write with a bounded wait: a locked database answers in seconds, not never.

        SQLite waits up to DBOS's 30 s busy timeout (and retries) while another process holds
        the write lock. After ``AGENTDECK_WRITE_TIMEOUT_S`` (10 s) the user is told; the write
        itself goes on and lands when the lock is released (all writes here are idempotent).
        """
        task = asyncio.ensure_future(self._unbounded(what, coro))
        try:
            return await asyncio.wait_for(asyncio.shield(task), timeout=_write_timeout())
        except TimeoutError:
            raise SupervisorError(
                f"{what}: the database did not take the write within {_write_timeout():g} s "
                "(locked by another process?); it will be applied when the database frees up"
            ) from None

    async def _unbounded(self, what: str, coro: Any) -> Any:
        try:
            return await coro
        except Exception as exc:
            raise self._failure(what, exc) from None

    def _failure(self, what: str, exc: BaseException) -> SupervisorError:
        text = _one_line(exc)
        if not_dbos(text):
            return SupervisorError(
                f"not a DBOS system database yet: {self.display_url} ({text}); "
                "a worker or --embedded creates its tables"
            )
        return SupervisorError(f"{what} failed: {text}")

    async def _call(self, what: str, coro: Any) -> Any:
        """Await a data-layer call; any failure becomes a one-line, redacted SupervisorError.

        Reads are bounded too: DBOS runs its SQLite reads in write-locking transactions, so a
        database locked by another process would otherwise hold the poller for minutes.
        """
        try:
            return await asyncio.wait_for(coro, timeout=_read_timeout())
        except SupervisorError:
            raise
        except TimeoutError:
            raise SupervisorError(
                f"{what}: the database did not answer within {_read_timeout():g} s "
                "(locked by another process?)"
            ) from None
        except Exception as exc:
            raise self._failure(what, exc) from None

    # -- reads ------------------------------------------------------------------------------

    async def change_token(self) -> tuple[int, int, tuple[tuple[str, int], ...]]:
        return await self._call("refresh", asyncio.to_thread(self.sql.change_token))  # type: ignore[no-any-return]

    async def executors(self) -> dict[str, tuple[float, str, bool]]:
        """Executors that announced themselves: id → (last heartbeat, app version, alive)."""
        found = await self._call(
            "list executors", asyncio.to_thread(self.sql.pending_named, PRESENCE_WORKFLOW)
        )
        now, ttl = time.time(), presence_ttl()
        out: dict[str, tuple[float, str, bool]] = {}
        for executor_id, attrs in found:
            beat = float(attrs.get("heartbeat") or 0)
            executor = str(attrs.get("executor") or executor_id or "")
            out[executor] = (beat, str(attrs.get("app_version") or ""), now - beat <= ttl)
        return out

    @staticmethod
    def _flag_stranded(
        row: WorkflowRow, presence: dict[str, tuple[float, str, bool]]
    ) -> WorkflowRow:
        """Why no executor will carry this run on by itself, judged from the presence rows.

        Without any presence rows (another app's database) nothing is flagged but DBOS's own
        MAX_RECOVERY_ATTEMPTS_EXCEEDED.
        """
        reason = ""
        if row.status == "MAX_RECOVERY_ATTEMPTS_EXCEEDED":
            reason = f"max recovery attempts exceeded ({row.recovery_attempts})"
        elif presence and row.active:
            alive = {e for e, (_, _, ok) in presence.items() if ok}
            versions = {v for _, v, ok in presence.values() if ok}
            if row.status == "PENDING" and row.executor and row.executor not in alive:
                reason = f"executor {row.executor} is gone (no heartbeat)"
            elif row.app_version and versions and row.app_version not in versions:
                reason = f"no live executor serves version {row.app_version}"
            elif not alive and row.active:
                reason = "no live executor"
        return row.model_copy(update={"stranded": reason}) if reason else row

    async def _rows(self, statuses: list[Any]) -> list[WorkflowRow]:
        """Rows with their events and, for failed runs, their errors: two queries.

        The rows are built in the same worker thread as the queries are made: building 500 of
        them (parsing events, validating models) is milliseconds of Python that would otherwise
        hold the event loop, and so the screen, while many runs are in flight.
        """
        return await self._call(  # type: ignore[no-any-return]
            "read events", asyncio.to_thread(self._build_rows, statuses)
        )

    def _build_rows(self, statuses: list[Any]) -> list[WorkflowRow]:
        # Events of every listed run (progress and cost), one query; errors of failed ones.
        active_ids = [s.workflow_id for s in statuses]
        failed_ids = [s.workflow_id for s in statuses if s.status == "ERROR" and s.error is None]
        pending_ids = [s.workflow_id for s in statuses if s.status == "PENDING"]
        events, errors, waits = self._events_and_errors(active_ids, failed_ids, pending_ids)
        # Runs without a summary of their own (other apps'): their inputs, one statement.
        inputs = self.sql.input_summaries([s.workflow_id for s in statuses if not _summary(s)])
        return [
            self._row(
                s,
                events.get(s.workflow_id, {}),
                errors.get(s.workflow_id),
                waits.get(s.workflow_id),
                inputs.get(s.workflow_id, ""),
            )  # fmt: skip
            for s in statuses
        ]

    async def refresh_active(self, rows: list[WorkflowRow]) -> list[WorkflowRow]:
        """The same rows with the events (and recv waits) of the active ones re-read."""
        ids = [r.workflow_id for r in rows if r.active]
        if not ids:
            return rows
        pending = [r.workflow_id for r in rows if r.status == "PENDING"]
        events, _, waits = await self._call(
            "read events", asyncio.to_thread(self._events_and_errors, ids, [], pending)
        )
        out = []
        for r in rows:
            if r.active:
                ev = events.get(r.workflow_id, {})
                wait = waits.get(r.workflow_id)
                r = r.model_copy(
                    update={
                        "progress": _parse(Progress, ev.get(PROGRESS_EVENT)),
                        "approval": _parse(ApprovalRequest, ev.get(APPROVAL_EVENT)),
                        "waiting_recv": wait is not None,
                        "recv_deadline": wait.deadline if wait is not None else None,
                    }
                )
            out.append(r)
        return out

    def _events_and_errors(
        self, active_ids: list[str], failed_ids: list[str], pending_ids: list[str]
    ) -> tuple[dict[str, dict[str, Any]], dict[str, Any], dict[str, RecvWait]]:
        return (
            self.sql.events(active_ids, _LIST_KEYS),
            self.sql.errors(failed_ids),
            self.sql.waiting_in_recv(pending_ids),
        )

    def _row(
        self, s: Any, events: dict[str, Any], error: Any = None, wait: RecvWait | None = None,
        inputs: str = "",
    ) -> WorkflowRow:  # fmt: skip
        progress = _parse(Progress, events.get(PROGRESS_EVENT))
        approval = _parse(ApprovalRequest, events.get(APPROVAL_EVENT))
        return WorkflowRow(
            workflow_id=s.workflow_id,
            name=s.name,
            status=str(s.status),
            created_at=_sec(s.created_at),
            updated_at=_sec(s.updated_at),
            completed_at=_sec(s.completed_at),
            queue=s.queue_name or "",
            partition=getattr(s, "queue_partition_key", None) or "",
            executor=s.executor_id or "",
            app_version=s.app_version or "",
            parent_id=s.parent_workflow_id or "",
            forked_from=s.forked_from or "",
            summary=_summary(s) or inputs,
            error=_error_text(s.error if s.error is not None else error),
            recovery_attempts=int(getattr(s, "recovery_attempts", 0) or 0),
            progress=progress,
            approval=approval,
            cost_usd=progress.cost_usd if progress is not None and progress.cost_usd else None,
            waiting_recv=wait is not None,
            recv_deadline=wait.deadline if wait is not None else None,
            timeout_s=_sec(getattr(s, "workflow_timeout_ms", None)),
            deadline=_sec(getattr(s, "workflow_deadline_epoch_ms", None)),
            delay_until=_sec(getattr(s, "delay_until_epoch_ms", None)),
        )

    async def resolve_id(self, partial: str) -> str:
        """A full workflow id from an id or a unique prefix; a clear error otherwise."""
        partial = partial.strip()
        if not partial:
            raise SupervisorError("no workflow id given")
        found = await self._call(
            "look up workflow",
            self.client.list_workflows_async(
                workflow_id_prefix=partial, limit=50, load_input=False, load_output=False
            ),
        )
        exact = [s for s in found if s.workflow_id == partial]
        if exact:
            return str(exact[0].workflow_id)
        if not found:
            raise SupervisorError(f"unknown workflow id: {partial}")
        # A run and its children share a prefix: the prefix names the run.
        roots = [s for s in found if not s.parent_workflow_id]
        if len(found) > 1 and len(roots) == 1:
            return str(roots[0].workflow_id)
        if len(found) > 1:
            raise SupervisorError(f"ambiguous workflow id prefix: {partial}")
        return str(found[0].workflow_id)

    async def get_row(self, workflow_id: str) -> WorkflowRow:
        found = await self._call(
            "read workflow",
            self.client.list_workflows_async(
                workflow_ids=[workflow_id], load_input=False, load_output=False
            ),
        )
        if not found:
            raise SupervisorError(f"unknown workflow id: {workflow_id}")
        (row,) = await self._rows(found)
        return self._flag_stranded(row, await self.executors()) if row.active else row

    async def detail(self, workflow_id: str) -> RunDetail:
        found = await self._call(
            "read workflow",
            self.client.list_workflows_async(
                workflow_ids=[workflow_id], load_input=False, load_output=False
            ),
        )
        if not found:
            raise SupervisorError(f"unknown workflow id: {workflow_id}")
        s = found[0]
        (row,) = await self._rows([s])
        (inputs, output, error), keys, topics = await self._call(
            "read payload",
            asyncio.to_thread(
                lambda: (
                    self.sql.payload(workflow_id),
                    self.sql.stream_keys(workflow_id),
                    self.sql.pending_topics(workflow_id),
                )
            ),
        )
        results = await asyncio.gather(
            self._call("read steps", self.client.list_workflow_steps_async(workflow_id)),
            self._call("read events", asyncio.to_thread(self.sql.all_events, workflow_id)),
            self._call(
                "read children",
                self.client.list_workflows_async(
                    parent_workflow_id=workflow_id, load_input=False, load_output=False
                ),
            ),
            self._call(
                "read forks",
                self.client.list_workflows_async(
                    forked_from=workflow_id, load_input=False, load_output=False
                ),
            ),
            self._call(
                "read attempts",
                asyncio.to_thread(self.sql.step_attempts, workflow_id, STREAM_KEY),
            ),
            self._call("read inputs", asyncio.to_thread(self.sql.child_inputs, workflow_id)),
            return_exceptions=True,  # collect every failure: none left unretrieved
        )
        for r in results:
            if isinstance(r, BaseException):
                raise r
        raw_steps, all_events, children, forks, attempts, asked = cast(list[Any], results)
        if self.codec is not None:  # the app's classes, decoded by its own code (bounded)
            inputs, output, error, all_events = await self.codec.resolve(
                (inputs, output, error, all_events)
            )
        steps = tuple(self._step(st, attempts) for st in raw_steps)
        result_md = output.markdown if isinstance(output, (ResearchReport, CompareReport)) else ""
        children_rows = tuple(await self._rows(children)) if children else ()
        branches, winner = _branches(inputs, output, steps, children_rows)
        return RunDetail(
            row=row,
            branches=branches,
            winner=winner,
            input_summary=_summarize(inputs),
            steps=steps,
            events=tuple(EventItem(key=k, value=v) for k, v in all_events.items()),
            children=children_rows,
            forks=tuple(f.workflow_id for f in forks),
            result=output,
            result_markdown=result_md,
            result_summary=_summarize(output, 2000),
            error=_error_text(error) or row.error,
            other_streams=tuple(k for k in keys if k != STREAM_KEY),
            pending_topics=tuple(topics),
            child_notes={wid: describe_child(name, args) for wid, (name, args) in asked.items()},
        )

    @staticmethod
    def _step(st: Any, attempts: dict[int, int]) -> StepRow:
        done = st.get("completed_at_epoch_ms") is not None
        error = st.get("error")
        status = "error" if error is not None else ("done" if done else "running")
        fid = int(st["function_id"])
        return StepRow(
            step_id=fid,
            name=st["function_name"],
            status=status,
            started_at=_sec(st.get("started_at_epoch_ms")),
            completed_at=_sec(st.get("completed_at_epoch_ms")),
            error=_error_text(error),
            child_id=st.get("child_workflow_id") or "",
            attempts=attempts.get(fid, 1),
            output_summary=describe_output(
                st["function_name"], st.get("output"), at=_sec(st.get("completed_at_epoch_ms"))
            )
            if done
            else "",
        )

    async def read_streams(
        self, offsets: dict[str, int], *, key: str = STREAM_KEY
    ) -> list[StreamBatch]:
        """New entries of one stream key of many workflows since their offsets, in one query.

        agentdeck's own output stream comes back as ``chunks``; any other stream (a foreign
        app's) as raw decoded ``values``.
        """
        return await self._call(  # type: ignore[no-any-return]
            "read streams", asyncio.to_thread(self._stream_batches, offsets, key)
        )

    #: With stream notifications trusted, the longest a follower waits without one.
    STREAM_FALLBACK_S = 0.25

    async def wait_streams(self, workflow_ids: Iterable[str], poll: float) -> None:
        """Until the given workflows may have written to a stream again.

        On PostgreSQL, once DBOS's stream notifications have been heard: when one of them
        writes, or after ``poll`` s (at least STREAM_FALLBACK_S, for writers that do not
        notify). Otherwise (SQLite, or no notification yet): after ``poll`` s.
        """
        wakeups = self._stream_wakeups()
        if wakeups is None or not wakeups.heard:
            await asyncio.sleep(poll)
            return
        await wakeups.wait(workflow_ids, max(poll, self.STREAM_FALLBACK_S))

    def _stream_wakeups(self) -> StreamWakeups | None:
        """The LISTEN thread, started by the first wait (only screens that follow streams)."""
        if self._wakeups is None and self._sql is not None and not self._sql.sqlite:
            self._wakeups = StreamWakeups(self._sql.engine, asyncio.get_running_loop())
            self._wakeups.start()
        return self._wakeups

    def _stream_batches(self, offsets: dict[str, int], key: str) -> list[StreamBatch]:
        """The query and the parsing of its entries, both in the worker thread (the run detail
        calls this every 20 ms while a run streams: nothing of it runs on the event loop)."""
        raw = self.sql.stream_since(offsets, key)
        batches = []
        for wid, entries in raw.items():
            chunks: list[StreamChunk] = []
            closed = False
            next_offset = offsets.get(wid, 0)
            values: list[tuple[int, Any]] = []
            for off, value in entries:
                next_offset = off + 1
                if value == STREAM_CLOSED:
                    closed = True
                    continue
                chunk = _parse(StreamChunk, value) if key == STREAM_KEY else None
                if chunk is not None:
                    chunks.append(chunk)
                else:
                    values.append((off, value))
            batches.append(
                StreamBatch(
                    workflow_id=wid, chunks=tuple(chunks), next_offset=next_offset,
                    closed=closed, key=key, values=tuple(values),
                )
            )  # fmt: skip
        return batches

    async def approvals(self) -> list[ApprovalItem]:
        """Every workflow waiting for a human, across the system."""
        pending = await self._call(
            "list pending",
            self.client.list_workflows_async(
                status="PENDING", load_input=False, load_output=False, limit=1000
            ),
        )
        items = []
        for row in await self._rows(pending):
            if row.waiting_approval and row.approval is not None:
                items.append(ApprovalItem(row=row, request=row.approval))
        items.sort(key=lambda i: i.request.deadline)
        return items

    # -- writes -----------------------------------------------------------------------------

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
        handle: Any = await self._write("launch", self.client.enqueue_async(options, req))
        if handle.workflow_id != wid:
            holder = str(handle.workflow_id)
            status = await self._status_word(holder)
            return ActionResult(
                ok=False, workflow_id=holder,
                message=f"not launched: the same {kind} request is already {status} as "
                f"{holder} (launch anyway to run it twice)",
            )  # fmt: skip
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
                ok=False, message=f"already {how}: {req.topic} of {workflow_id}",
                workflow_id=workflow_id,
            )  # fmt: skip
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
            ok=True, message=f"{answer.decision.value} sent to {workflow_id}",
            workflow_id=workflow_id,
        )  # fmt: skip

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
                ok=True, message=f"resumed {workflow_id} from step {start}",
                workflow_id=workflow_id,
            )  # fmt: skip
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
            ok=True, message=f"{workflow_id} handed to the live executors (resumed)",
            workflow_id=workflow_id,
        )  # fmt: skip

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
            points = [int(st["function_id"]) for st in steps
                      if st["function_name"] == SETTINGS_STEP
                      and int(st["function_id"]) <= start_step]  # fmt: skip
            start_step = max(points, default=start_step)
        handle: Any = await self._write(
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
                    new_id, settings.model_dump(mode="json"), SETTINGS_TOPIC,
                    idempotency_key=f"settings:{new_id}",
                ),
            )  # fmt: skip
            await self._write(
                "release fork", self.client.resume_workflow_async(new_id, queue_name=LAUNCH_QUEUE)
            )
            what = " with " + ", ".join(
                x for x in (
                    f"model {settings.model}" if settings.model else "",
                    "new instructions" if settings.instructions else "",
                ) if x
            )  # fmt: skip
        where = f"step {start_step}" + (
            f" (the settings point before step {asked})" if asked != start_step else ""
        )
        return ActionResult(
            ok=True, message=f"forked {workflow_id} from {where}{what} as {new_id}",
            workflow_id=new_id,
        )  # fmt: skip

    async def lineage(self, workflow_id: str) -> ForkNode:
        """The fork tree ``workflow_id`` belongs to, from its original run down.

        One query per generation (DBOS's ``forked_from`` filter takes one id, so one query per
        run that has forks); trees are small.
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
        return await self._fork_node(row, depth=0)

    async def _fork_node(self, row: WorkflowRow, depth: int) -> ForkNode:
        forks = await self._call(
            "read forks",
            self.client.list_workflows_async(
                forked_from=row.workflow_id, load_input=False, load_output=False
            ),
        )
        kids = []
        if forks and depth < 20:
            for child in sorted(await self._rows(forks), key=lambda r: r.created_at or 0):
                kids.append(await self._fork_node(child, depth + 1))
        settings = await self._call(
            "read settings", asyncio.to_thread(self.sql.events, [row.workflow_id], [SETTINGS_EVENT])
        )
        raw = settings.get(row.workflow_id, {}).get(SETTINGS_EVENT)
        return ForkNode(row=row, settings=_parse(StepSettings, raw), forks=tuple(kids))

    async def outputs(self, workflow_id: str) -> RunOutputs:
        """Every Claude answer of a run, labelled by step (children's answers included).

        The run's steps are read with its descendants', a generation per statement.
        """
        row = await self.get_row(workflow_id)
        steps: dict[str, list[tuple[str, Any, str]]] = {}
        generation = [workflow_id]
        while generation:
            found = await self._call(
                "read steps", asyncio.to_thread(self.sql.step_outputs, generation)
            )
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

    async def wait_result(self, workflow_id: str, *, within: float | None = None) -> Any:
        handle: Any = await self.client.retrieve_workflow_async(workflow_id)
        return await asyncio.wait_for(handle.get_result(polling_interval_sec=0.1), within)

    # -- queue features: debounced launch, schedules (tui/supervisor/_queues.py reads them) ----

    async def _launch_debounced(
        self, kind: str, req: BaseModel, options: EnqueueOptions, seconds: float
    ) -> ActionResult:
        """DBOS's debouncer: one DELAYED run per topic; each launch replaces its input and
        pushes its start ``seconds`` on."""
        from dbos import DebouncerClient

        debouncer: DebouncerClient = DebouncerClient(self.client, options)
        handle: Any = await self._write(
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
                    wid, {"summary": options.get("attributes", {}).get("summary", "")},
                    merge=True,
                ),
            )  # fmt: skip
        delay_ms = getattr(found[0], "delay_until_epoch_ms", None) if found else None
        at = delay_ms / 1000.0 if delay_ms else time.time() + seconds
        clock = time.strftime("%H:%M:%S", time.localtime(at))
        return ActionResult(
            ok=True, workflow_id=wid,
            message=f"debounced: {wid} will start at {clock} unless launched again",
        )  # fmt: skip

    async def _status_word(self, workflow_id: str) -> str:
        found = await self._call(
            "read workflow",
            self.client.list_workflows_async(
                workflow_ids=[workflow_id], load_input=False, load_output=False
            ),
        )
        status = str(found[0].status) if found else "?"
        return {"PENDING": "running", "ENQUEUED": "queued"}.get(status, status.lower())

    async def queue_rows(self, *, now: float | None = None) -> list[QueueRow]:
        """Every registered queue plus any queue with work on it (``_queues.queue_rows``)."""
        return await queue_rows(self, now=now)

    async def schedule_rows(self, *, now: float | None = None) -> list[ScheduleRow]:
        """Every schedule with its next run and latest runs (``_queues.schedule_rows``)."""
        return await schedule_rows(self, now=now)

    async def insights(self, query: InsightsQuery) -> Insights:
        """The insights screen's figures (``_insights.insights``)."""
        return await _insights.insights(self, query)

    async def insights_histogram(self, query: InsightsQuery) -> Histogram | None:
        return await _insights.insights_histogram(self, query)

    async def step_costs(self, workflow_id: str) -> list[StepCost]:
        """The run detail's per-step breakdown (``_insights.run_step_costs``)."""
        return await _insights.run_step_costs(self, workflow_id)

    async def trigger_schedule(self, name: str) -> ActionResult:
        """Fire a schedule now (DBOS's ``trigger_schedule``: a run like a cron firing's)."""
        self._check_write("trigger a schedule")
        handle: Any = await self._write(
            "trigger schedule", asyncio.to_thread(self.client.trigger_schedule, name)
        )
        return ActionResult(
            ok=True, message=f"triggered {name}: {handle.workflow_id}",
            workflow_id=str(handle.workflow_id),
        )  # fmt: skip


def _summary(s: Any) -> str:
    """A run's own summary (the ``summary`` attribute agentdeck's launches set), or ""."""
    attrs = s.attributes if isinstance(s.attributes, dict) else {}
    return redact(str(attrs.get("summary", "")))


def _branches(
    inputs: Any, output: Any, steps: tuple[StepRow, ...], children: tuple[WorkflowRow, ...]
) -> tuple[tuple[BranchRow, ...], str]:
    """A fork-compare run's branches: specs from its input, runs in start order, results."""
    args = inputs.get("args") if isinstance(inputs, dict) else None
    req = args[0] if args else None
    if not isinstance(req, CompareRequest):
        return (), ""
    started = [s.child_id for s in steps if s.child_id and s.name == "compare.branch"]
    rows = {c.workflow_id: c for c in children}
    results = {b.label: b for b in output.branches} if isinstance(output, CompareReport) else {}
    out = []
    for i, spec in enumerate(req.specs):
        wid = started[i] if i < len(started) else ""
        out.append(
            BranchRow(
                label=spec.label, model=spec.model, style=spec.style, workflow_id=wid,
                row=rows.get(wid), result=results.get(spec.label),
            )
        )  # fmt: skip
    return tuple(out), output.winner if isinstance(output, CompareReport) else ""


def _approval_start(steps: list[Any]) -> int | None:
    """The marker step of the last approval asked (``workflows.approvals.ask``)."""
    marks = [int(st["function_id"]) for st in steps if st["function_name"] == APPROVAL_STEP]
    return marks[-1] if marks else None


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


def _parse(model: Any, value: Any) -> Any:
    if not isinstance(value, dict):
        return None
    try:
        return model.model_validate(value)
    except ValidationError:
        return None
