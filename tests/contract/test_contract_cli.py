"""Contract tests: the Claude step through the REAL bundled Claude Code CLI and the loopback server.

Every test here spawns the Claude Code CLI (``claude_agent_sdk/_bundled/claude``) the way
production does, pointed at :class:`~workflows.model_offline.OfflineModelServer`, inside an
embedded DBOS on a real SQLite file. A test-only workflow (``contract.call``) runs one
:func:`~workflows.claude.claude_step`; the research workflow is driven through the
:class:`~tui.supervisor.Supervisor` as the dashboard does.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sqlite3
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from dbos import DBOS

from tests.conftest import wait_for
from tui.supervisor import Supervisor
from workflows.claude import (
    ClaudeFatalError,
    claude_step,
    configure_endpoint,
    current_endpoint,
)
from workflows.model_offline import OFFLINE_MODEL_LABEL, RequestRecord
from workflows.model_offline.script import answer, thinking_for
from workflows.models import (
    DEFAULT_MODEL,
    ApprovalAnswer,
    ApprovalDecision,
    ChunkKind,
    ClaudeCall,
    ClaudeResult,
    ResearchReport,
    StreamChunk,
)
from workflows.prompts import plan_call, research_call
from workflows.runtime import Runtime, RuntimeSettings

pytestmark = [pytest.mark.contract, pytest.mark.timeout(90)]

TOPIC = "durable execution"
QUESTION = "How do retries interact with idempotency?"
#: The pacing of the offline server for the stream-rate tests (tokens per second).
PACED_TPS = 200.0
CLI_MARK = "_bundled/claude"


@DBOS.workflow(name="contract.call")
async def contract_call(call: ClaudeCall) -> ClaudeResult:
    """One durable Claude call (the generic ``claude`` step) and nothing else."""
    return await claude_step(call)


# --------------------------------------------------------------------------------------------
# helpers


@pytest.fixture
async def paced_runtime(tmp_path: Path, db_url: str) -> AsyncIterator[Runtime]:
    """Like ``cli_runtime`` (the real CLI), with the offline server paced at PACED_TPS."""
    rt = Runtime(
        RuntimeSettings(
            db_url=db_url,
            offline=True,
            offline_tps=PACED_TPS,
            state_dir=tmp_path / "state",
            polling_interval_s=0.02,
        )
    )
    await asyncio.to_thread(rt.launch)
    try:
        yield rt
    finally:
        await asyncio.to_thread(rt.shutdown)


@pytest.fixture
async def paced_sup(db_url: str, paced_runtime: Runtime) -> AsyncIterator[Supervisor]:
    s = Supervisor(db_url)
    await s.connect()
    try:
        yield s
    finally:
        await s.close()


def research(fault: str = "", question: str = QUESTION) -> ClaudeCall:
    return research_call(TOPIC, question, model=DEFAULT_MODEL, fault=fault)


async def start(call: ClaudeCall) -> str:
    handle = await DBOS.start_workflow_async(contract_call, call)
    return handle.workflow_id


async def call_ok(call: ClaudeCall) -> tuple[str, ClaudeResult]:
    handle = await DBOS.start_workflow_async(contract_call, call)
    result = await asyncio.wait_for(handle.get_result(), 60)
    assert isinstance(result, ClaudeResult)
    return handle.workflow_id, result


async def call_fails(call: ClaudeCall) -> tuple[str, BaseException]:
    handle = await DBOS.start_workflow_async(contract_call, call)
    with pytest.raises(Exception) as info:
        await asyncio.wait_for(handle.get_result(), 60)
    status = await handle.get_status()
    assert status.status == "ERROR"
    return handle.workflow_id, info.value


async def stream(sup: Supervisor, wid: str) -> tuple[StreamChunk, ...]:
    batches = await sup.read_streams({wid: 0})
    return next((b.chunks for b in batches if b.workflow_id == wid), ())


def by_attempt(chunks: Sequence[StreamChunk], step: str) -> dict[int, list[StreamChunk]]:
    out: dict[int, list[StreamChunk]] = defaultdict(list)
    for c in chunks:
        if c.step_name == step:
            out[c.attempt].append(c)
    for group in out.values():
        group.sort(key=lambda c: c.seq)
    return dict(out)


def parts(chunks: Sequence[StreamChunk], kind: ChunkKind) -> list[str]:
    return [p.text for c in chunks for p in c.parts if p.kind is kind]


def text_of(chunks: Sequence[StreamChunk]) -> str:
    return "".join(c.text for c in chunks)


def server_of(rt: Runtime) -> Any:
    assert rt.offline_server is not None, "the runtime runs the loopback server"
    return rt.offline_server


def requests(rt: Runtime, task: str | None = None) -> list[RequestRecord]:
    records: list[RequestRecord] = server_of(rt).requests()
    return [r for r in records if task is None or r.task == task]


def sessions(records: Sequence[RequestRecord]) -> list[str | None]:
    """CLI sessions in arrival order: one per ``query()``, i.e. one per step attempt."""
    seen: list[str | None] = []
    for r in records:
        if r.session not in seen:
            seen.append(r.session)
    return seen


def _ppid_and_state(pid: int) -> tuple[int, str] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may hold spaces: split after the last ')'.
    rest = stat[stat.rfind(")") + 2 :].split()
    return int(rest[1]), rest[0]


def cli_children() -> set[int]:
    """Live descendants of this process that are the bundled Claude Code CLI (via /proc).

    A zombie (exited, never reaped) counts as left behind too: its cmdline is empty, so it is
    recognised by its command name.
    """
    parents: dict[int, list[int]] = defaultdict(list)
    states: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        info = _ppid_and_state(int(entry))
        if info is not None:
            parents[info[0]].append(int(entry))
            states[int(entry)] = info[1]
    found: set[int] = set()
    todo = [os.getpid()]
    while todo:
        for child in parents.get(todo.pop(), []):
            todo.append(child)
            try:
                cmdline = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
                comm = Path(f"/proc/{child}/comm").read_text().strip()
            except OSError:
                continue
            if CLI_MARK.encode() in cmdline or (states[child] == "Z" and comm == "claude"):
                found.add(child)
    return found


# --------------------------------------------------------------------------------------------
# streaming


async def test_text_arrives_in_several_chunks_that_join_to_the_result(
    paced_runtime: Runtime, paced_sup: Supervisor
) -> None:
    call = research()
    wid, result = await call_ok(call)
    assert result.text == answer("research", call.prompt)  # the script, through the real CLI
    attempts = by_attempt(await stream(paced_sup, wid), "research")
    assert list(attempts) == [1]
    chunks = attempts[1]
    assert [c.seq for c in chunks] == list(range(len(chunks)))
    with_text = [c for c in chunks if c.text]
    assert len(with_text) >= 4, f"only {len(with_text)} chunks carry text"
    assert text_of(chunks) == result.text
    assert result.step_id == chunks[0].step_id and result.attempt == 1
    status = parts(chunks, ChunkKind.STATUS)
    assert status[0].startswith("attempt 1 · ") and OFFLINE_MODEL_LABEL in status[0]
    assert len(requests(paced_runtime)) == 1


async def test_usage_cost_and_offline_label(cli_runtime: Runtime, cli_sup: Supervisor) -> None:
    wid, result = await call_ok(research())
    assert result.usage.output_tokens > 0 and result.usage.input_tokens > 0
    assert result.cost_usd > 0
    assert result.backend == OFFLINE_MODEL_LABEL and "offline" in result.backend
    assert result.model == DEFAULT_MODEL  # the server echoes the model the step asked for
    assert result.session_id and result.duration_s > 0
    (record,) = requests(cli_runtime)
    assert record.output_tokens == result.usage.output_tokens
    assert (record.model, record.status, record.outcome) == (DEFAULT_MODEL, 200, "completed")
    chunks = await stream(cli_sup, wid)
    (usage,) = parts(chunks, ChunkKind.USAGE)
    assert f"{result.usage.output_tokens} out" in usage and f"${result.cost_usd:.4f}" in usage


async def test_thinking_chunks_are_kept_apart_from_text(
    cli_runtime: Runtime, cli_sup: Supervisor
) -> None:
    call = plan_call(TOPIC, 3, model=DEFAULT_MODEL)
    wid, result = await call_ok(call)
    chunks = await stream(cli_sup, wid)
    thinking = "".join(parts(chunks, ChunkKind.THINKING))
    # (Once in CI the thinking was missing from the stream: what the CLI asked, if it recurs.)
    sent = [(r.stream, r.outcome, r.status) for r in requests(cli_runtime)]
    assert thinking == thinking_for("plan", call.prompt) and thinking.strip(), sent
    assert text_of(chunks) == result.text == answer("plan", call.prompt)
    assert thinking not in result.text and result.text not in thinking
    kinds = [
        p.kind for c in chunks for p in c.parts if p.kind in (ChunkKind.THINKING, ChunkKind.TEXT)
    ]
    assert kinds[0] is ChunkKind.THINKING and kinds[-1] is ChunkKind.TEXT
    last_thinking = max(i for i, k in enumerate(kinds) if k is ChunkKind.THINKING)
    first_text = kinds.index(ChunkKind.TEXT)
    assert last_thinking < first_text  # the thinking block streams first, then the text
    assert {c.step_name for c in chunks} == {"plan"}


# --------------------------------------------------------------------------------------------
# retried faults


@pytest.mark.parametrize(
    ("fault", "status", "needle"),
    [("overload*1", 529, "529"), ("ratelimit*1", 429, "429")],
)
async def test_transient_api_error_is_retried(
    cli_runtime: Runtime, cli_sup: Supervisor, fault: str, status: int, needle: str
) -> None:
    call = research(fault)
    wid, result = await call_ok(call)
    assert result.attempt == 2
    assert result.text == answer("research", call.prompt)
    attempts = by_attempt(await stream(cli_sup, wid), "research")
    assert sorted(attempts) == [1, 2]
    (error,) = parts(attempts[1], ChunkKind.ERROR)
    assert "attempt 1 failed" in error and needle in error and "will retry" in error
    assert parts(attempts[2], ChunkKind.ERROR) == []
    assert text_of(attempts[2]) == result.text
    assert parts(attempts[2], ChunkKind.STATUS)[0].startswith("attempt 2 · ")
    records = requests(cli_runtime)
    assert len(sessions(records)) == 2  # two CLI runs: DBOS retried the step
    assert (records[0].status, records[0].fault) == (status, fault)
    assert (records[-1].status, records[-1].fault, records[-1].outcome) == (200, None, "completed")
    steps = await DBOS.list_workflow_steps_async(wid)
    assert [s["function_name"] for s in steps] == ["claude"]
    assert steps[0]["error"] is None and steps[0]["output"] == result


async def test_invalid_plan_is_retried_then_the_run_succeeds(
    cli_runtime: Runtime, cli_sup: Supervisor
) -> None:
    res = await cli_sup.launch(
        "research", {"topic": TOPIC, "questions": 1, "fault": "plan.invalid_plan*1"}
    )
    wid = res.workflow_id

    async def waiting() -> bool:
        return (await cli_sup.get_row(wid)).waiting_approval

    await wait_for(waiting, within=60)
    attempts = by_attempt(await stream(cli_sup, wid), "plan")
    assert sorted(attempts) == [1, 2]
    (error,) = parts(attempts[1], ChunkKind.ERROR)
    assert "plan is not" in error and "will retry" in error
    assert not text_of(attempts[1]).lstrip().startswith("{")  # prose, not JSON
    assert text_of(attempts[2]).lstrip().startswith("{")
    plans = requests(cli_runtime, "plan")
    assert [r.fault for r in plans] == ["plan.invalid_plan*1", None]
    assert all(r.status == 200 for r in plans)  # a valid HTTP answer: the step's check failed
    detail = await cli_sup.detail(wid)
    plan_step = next(s for s in detail.steps if s.name == "plan")
    assert (plan_step.status, plan_step.attempts) == ("done", 2)

    await cli_sup.answer(wid, ApprovalAnswer(decision=ApprovalDecision.APPROVE, by="test"))

    async def finished() -> bool:
        return not (await cli_sup.get_row(wid)).active

    await wait_for(finished, within=60)
    detail = await cli_sup.detail(wid)
    assert detail.row.status == "SUCCESS", detail.error
    report = detail.result
    assert isinstance(report, ResearchReport) and report.outcome == "completed"
    assert len(report.answers) == 1 and report.answers[0].ok


async def test_midstream_failure_keeps_partial_text_marked_and_out_of_the_result(
    cli_runtime: Runtime, cli_sup: Supervisor
) -> None:
    call = research("midstream*1")
    wid, result = await call_ok(call)
    full = answer("research", call.prompt)
    assert result.attempt == 2 and result.text == full

    attempts = by_attempt(await stream(cli_sup, wid), "research")
    assert sorted(attempts) == [1, 2]
    partial = text_of(attempts[1])
    assert partial.strip() and len(partial) < len(full) and full.startswith(partial)
    # The partial text is marked: the attempt's last part is its error, after the text.
    last = attempts[1][-1].parts[-1]
    assert last.kind is ChunkKind.ERROR
    assert "attempt 1 failed" in last.text and "will retry" in last.text
    assert text_of(attempts[2]) == full

    # What DBOS checkpointed is the successful attempt's text only.
    (step,) = await DBOS.list_workflow_steps_async(wid)
    assert isinstance(step["output"], ClaudeResult) and step["output"].text == full
    records = requests(cli_runtime)
    assert [(r.stream, r.fault) for r in records] == [
        (True, "midstream*1"),  # half the text, then an SSE error
        (False, "midstream*1"),  # the CLI's own non-streaming re-send, same session
        (True, None),  # DBOS's retry: a new CLI run
    ]


# --------------------------------------------------------------------------------------------
# fatal errors


@pytest.mark.parametrize(
    ("fault", "status", "what"),
    [("auth", 401, "authentication failed"), ("invalid_request*1", 400, "invalid request")],
)
async def test_fatal_api_error_is_not_retried(
    cli_runtime: Runtime, cli_sup: Supervisor, fault: str, status: int, what: str
) -> None:
    wid, error = await call_fails(research(fault))
    assert isinstance(error, ClaudeFatalError)
    assert what in str(error) and "not retried" in str(error) and str(status) in str(error)
    chunks = await stream(cli_sup, wid)
    assert {c.attempt for c in chunks} == {1}
    (marked,) = parts(chunks, ChunkKind.ERROR)
    assert what in marked and "(not retried)" in marked
    records = requests(cli_runtime)
    # One CLI run (one session), even though the CLI re-sends a 400 by itself.
    assert len(sessions(records)) == 1
    assert {r.status for r in records} == {status}
    row = await cli_sup.get_row(wid)
    assert row.status == "ERROR" and what in row.error


async def test_missing_cli_binary_fails_clearly_without_retry(
    cli_runtime: Runtime, cli_sup: Supervisor, tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-dir" / "claude"
    before = current_endpoint()
    configure_endpoint(dataclasses.replace(before, cli_path=str(missing)))
    try:
        wid, error = await call_fails(research())
    finally:
        configure_endpoint(before)
    assert isinstance(error, ClaudeFatalError)
    text = str(error)
    assert "not found" in text and str(missing) in text and "not retried" in text
    chunks = await stream(cli_sup, wid)
    assert {c.attempt for c in chunks} == {1}
    (marked,) = parts(chunks, ChunkKind.ERROR)
    assert "not found" in marked and "(not retried)" in marked
    assert requests(cli_runtime) == []
    (step,) = await DBOS.list_workflow_steps_async(wid)
    assert isinstance(step["error"], ClaudeFatalError)


# --------------------------------------------------------------------------------------------
# cancellation


async def test_cancel_mid_stream_ends_the_cli_process(
    cli_runtime: Runtime, cli_sup: Supervisor
) -> None:
    before = cli_children()
    wid = await start(research("hang"))

    async def mid_stream() -> bool:
        return bool(text_of(await stream(cli_sup, wid)))

    await wait_for(mid_stream, within=30)  # a few tokens arrived, then the server stalls
    spawned = cli_children() - before
    assert spawned, "the Claude Code CLI runs as a child of this process"
    (record,) = requests(cli_runtime)
    assert record.outcome == "in_progress" and record.fault == "hang*1"

    assert (await cli_sup.cancel(wid)).ok
    # DBOS notices the cancellation (preemptible step), the SDK closes the CLI: no orphan.
    await wait_for(lambda: not (cli_children() & spawned), within=30, interval=0.1)

    async def cancelled() -> bool:
        return (await cli_sup.get_row(wid)).status == "CANCELLED"

    await wait_for(cancelled, within=10)
    await wait_for(lambda: requests(cli_runtime)[0].outcome == "disconnected", within=10)
    assert len(requests(cli_runtime)) == 1  # not retried after the cancel
    steps = await DBOS.list_workflow_steps_async(wid)
    assert all(s["output"] is None for s in steps)  # nothing checkpointed as a result


# --------------------------------------------------------------------------------------------
# the research workflow end to end


async def test_research_end_to_end_with_approval(
    cli_runtime: Runtime, cli_sup: Supervisor, db_url: str
) -> None:
    res = await cli_sup.launch("research", {"topic": TOPIC, "questions": 2})
    wid = res.workflow_id

    async def waiting() -> bool:
        return (await cli_sup.get_row(wid)).waiting_approval

    await wait_for(waiting, within=60)
    row = await cli_sup.get_row(wid)
    assert row.approval is not None
    questions = tuple(row.approval.proposal["questions"])
    assert len(questions) == 2

    approve = ApprovalAnswer(decision=ApprovalDecision.APPROVE, by="contract test")
    # Two dashboards answering at once: one message is stored (send's idempotency key).
    first, second = await asyncio.gather(cli_sup.answer(wid, approve), cli_sup.answer(wid, approve))
    assert first.ok and second.ok
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
        (n,) = conn.execute(
            "select count(*) from notifications where destination_uuid = ?", (wid,)
        ).fetchone()
    assert n == 1

    async def finished() -> bool:
        return not (await cli_sup.get_row(wid)).active

    await wait_for(finished, within=60)
    detail = await cli_sup.detail(wid)
    assert detail.row.status == "SUCCESS", detail.error
    report = detail.result
    assert isinstance(report, ResearchReport) and report.outcome == "completed"
    assert report.questions == questions
    assert [a.question for a in report.answers] == list(questions)
    assert all(a.ok and a.text for a in report.answers)
    assert report.backend == OFFLINE_MODEL_LABEL
    assert report.cost_usd > 0 and report.usage.output_tokens > 0
    assert [s.step for s in report.steps] == ["plan", "research 1", "research 2", "synthesize"]
    assert [r.task for r in requests(cli_runtime)].count("plan") == 1
    assert sorted(r.task or "" for r in requests(cli_runtime)) == [
        "plan",
        "research",
        "research",
        "synthesize",
    ]
    assert all(r.status == 200 and r.outcome == "completed" for r in requests(cli_runtime))
    synth = [c for c in await stream(cli_sup, wid) if c.step_name == "synthesize"]
    assert text_of(synth) == report.markdown
    late = await cli_sup.answer(wid, ApprovalAnswer(decision=ApprovalDecision.REJECT))
    assert not late.ok and "already approve" in late.message


# --------------------------------------------------------------------------------------------
# stream write rate


@dataclasses.dataclass(frozen=True)
class AttemptRate:
    step: str
    writes: int
    span_s: float  # first to last write of the attempt
    per_s: float  # intervals between writes per second of the span
    per_1k_tokens: float
    min_gap_s: float  # between consecutive writes, the closing flush excepted
    streaming_per_s: float  # the same rate, over the writes that carry text or thinking only


def write_rates(chunks: Sequence[StreamChunk]) -> list[AttemptRate]:
    """The stream write rate of each step attempt, from the chunks' ``ts``.

    Tokens are counted as whitespace-separated words of the text and thinking parts: a lower
    bound of the pieces the server streamed, so writes per 1,000 tokens is an upper bound.
    """
    groups: dict[tuple[int, int], list[StreamChunk]] = defaultdict(list)
    for c in chunks:
        groups[(c.step_id, c.attempt)].append(c)
    out = []
    for group in groups.values():
        group.sort(key=lambda c: c.seq)
        span = group[-1].ts - group[0].ts
        words = sum(
            len(p.text.split())
            for c in group
            for p in c.parts
            if p.kind in (ChunkKind.TEXT, ChunkKind.THINKING)
        )
        gaps = [b.ts - a.ts for a, b in zip(group[:-2], group[1:-1], strict=True)]
        streaming = [
            c for c in group if any(p.kind in (ChunkKind.TEXT, ChunkKind.THINKING) for p in c.parts)
        ]
        stream_span = streaming[-1].ts - streaming[0].ts if streaming else 0.0
        out.append(
            AttemptRate(
                step=group[0].step_name,
                writes=len(group),
                span_s=span,
                per_s=(len(group) - 1) / span if span > 0 else float("inf"),
                per_1k_tokens=1000 * len(group) / words if words else float("inf"),
                min_gap_s=min(gaps, default=1.0),
                streaming_per_s=(len(streaming) - 1) / stream_span if stream_span > 0 else 0.0,
            )
        )
    return out


async def test_stream_write_rate_is_bounded_when_paced(
    paced_runtime: Runtime, paced_sup: Supervisor
) -> None:
    res = await paced_sup.launch("research", {"topic": TOPIC, "questions": 2})
    wid = res.workflow_id

    async def waiting() -> bool:
        return (await paced_sup.get_row(wid)).waiting_approval

    await wait_for(waiting, within=60)
    await paced_sup.answer(wid, ApprovalAnswer(decision=ApprovalDecision.APPROVE))

    async def finished() -> bool:
        return not (await paced_sup.get_row(wid)).active

    await wait_for(finished, within=60)
    detail = await paced_sup.detail(wid)
    assert detail.row.status == "SUCCESS", detail.error
    wids = [wid, *(c.workflow_id for c in detail.children)]
    batches = await paced_sup.read_streams(dict.fromkeys(wids, 0))
    rates = [r for b in batches for r in write_rates(b.chunks)]
    assert sorted(r.step for r in rates) == ["plan", "research", "research", "synthesize"]
    for r in rates:
        print(
            f"{r.step}: {r.writes} writes in {r.span_s:.2f} s = {r.per_s:.1f} writes/s "
            f"({r.streaming_per_s:.1f}/s while text streams), "
            f"{r.per_1k_tokens:.0f} writes per 1,000 tokens, closest writes {r.min_gap_s:.3f} s "
            f"apart (paced at {PACED_TPS:g} tokens/s)"
        )
        assert r.span_s > 0.3, f"{r.step} streamed too fast to measure ({r.span_s:.2f} s)"
        assert r.per_s <= 12, r
        assert r.per_1k_tokens <= 150, r
        # The coalescer flushes on a 100 ms timer; only the closing flush may come sooner.
        assert r.min_gap_s >= 0.09, r
    # The pacing is real: the server took the time it was told to.
    for record in requests(paced_runtime):
        assert record.ended is not None
        assert record.ended - record.started >= 0.8 * record.output_tokens / PACED_TPS
