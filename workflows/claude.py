"""The Claude step: the real claude-agent-sdk inside a DBOS step, streamed through a DBOS stream.

Pattern (seed 000): the step accumulates the whole answer and returns it; that return value is
the one thing DBOS checkpoints. Meanwhile a :class:`Coalescer` writes what arrives to the
workflow's ``agentdeck.output`` stream, one write per flush interval (100 ms, sooner when the
buffer passes 4 KB): at most ~10 writes per second per stream whatever the token rate.

Errors are classified: overload, rate limit, server and connection errors are
:class:`ClaudeTransientError` and DBOS retries them with exponential backoff; authentication and
invalid-request errors are :class:`ClaudeFatalError` and fail at once, saying so.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from claude_agent_sdk import (
    AssistantMessage,
    CanUseTool,
    ClaudeAgentOptions,
    ClaudeSDKError,
    CLIConnectionError,
    CLINotFoundError,
    HookCallback,
    HookContext,
    HookInput,
    HookMatcher,
    PermissionResultAllow,
    PermissionResultDeny,
    ProcessError,
    ResultError,
    ResultMessage,
    StreamEvent,
    TextBlock,
    ThinkingBlock,
    ToolPermissionContext,
    ToolResultBlock,
    UserMessage,
    query,
)
from claude_agent_sdk import Transport as SDKTransport
from dbos import DBOS, WorkflowSerializationFormat
from dbos import error as dbos_error

from .cli_pool import Lease, pool_for_loop
from .config import settings
from .models import (
    STREAM_KEY,
    ChunkKind,
    ChunkPart,
    ClaudeCall,
    ClaudeResult,
    StreamChunk,
    Usage,
)
from .tether import tether
from .tools import (
    LoopDetected,
    ToolApprovalNeeded,
    ToolGate,
    ToolPolicy,
    ToolRuns,
    load_policy,
)

__all__ = [
    "ClaudeBudgetStop",
    "ClaudeError",
    "ClaudeFatalError",
    "ClaudeTransientError",
    "Coalescer",
    "ToolApprovalNeeded",
    "Endpoint",
    "RETRY_POLICY",
    "claude_step",
    "configure_endpoint",
    "current_endpoint",
    "failure_text",
    "is_retryable",
    "run_claude",
]

log = logging.getLogger("agentdeck.claude")

FLUSH_INTERVAL_S = 0.1
FLUSH_BYTES = 4096


def _retry_policy() -> dict[str, Any]:
    s = settings()
    return {
        "max_attempts": s.step_max_attempts,
        "interval_seconds": s.step_retry_interval,
        "backoff_rate": s.step_backoff,
    }


#: Step retry policy (DBOS retries), read when the workflows are imported; the ``step_*``
#: settings shrink it for fast tests.
RETRY_POLICY: dict[str, Any] = _retry_policy()


# --------------------------------------------------------------------------------------------
# Errors


class ClaudeError(Exception):
    """Base of the classified Claude errors (single string argument: picklable by DBOS)."""


class ClaudeTransientError(ClaudeError):
    """Overload, rate limit, server or connection trouble: worth retrying."""


class ClaudeFatalError(ClaudeError):
    """Authentication, invalid request, missing CLI: retrying cannot help."""


class ClaudeBudgetStop(ClaudeFatalError):
    """The SDK stopped the call at its per-call budget (``max_budget_usd``): a runaway call,
    reported as such and not retried (the same call would be stopped again)."""


_TRANSIENT_STATUS = {408, 409, 429, 500, 502, 503, 504, 529}
_TRANSIENT_WORDS = ("overloaded", "rate limit", "rate_limit", "timeout", "timed out", "connection")
_FATAL_WORDS = {
    "authentication": "authentication failed",
    "invalid x-api-key": "authentication failed",
    "api key": "authentication failed",
    "401": "authentication failed",
    "403": "permission denied",
    "invalid_request": "invalid request",
    "400": "invalid request",
}


def classify(exc: BaseException) -> ClaudeError:
    """Map an SDK/CLI exception to a transient or fatal :class:`ClaudeError`."""
    if isinstance(exc, ClaudeError):
        return exc
    if isinstance(exc, CLINotFoundError):
        return ClaudeFatalError(f"Claude Code CLI not found ({exc}); not retried")
    text = str(exc)
    low = text.lower()
    status: int | None = None
    if isinstance(exc, ResultError) and exc.subtype == "error_max_budget_usd":
        said = (exc.result or "; ".join(exc.errors) or text).strip().splitlines()
        return ClaudeBudgetStop(
            f"stopped by the SDK at its per-call budget: {said[0] if said else 'over budget'}"
            "; not retried"
        )
    if isinstance(exc, ResultError):
        status = exc.api_error_status
        detail = exc.result or "; ".join(exc.errors) or text
        text = detail
        low = detail.lower()
    first = text.strip().splitlines()[0][:300] if text.strip() else type(exc).__name__
    if status is not None:
        if status in _TRANSIENT_STATUS or status >= 500:
            return ClaudeTransientError(f"API error {status}: {first}")
        what = {401: "authentication failed", 403: "permission denied"}.get(
            status, "invalid request"
        )
        return ClaudeFatalError(f"{what} (API error {status}): {first}; not retried")
    for word, what in _FATAL_WORDS.items():
        if word in low and not any(t in low for t in _TRANSIENT_WORDS):
            return ClaudeFatalError(f"{what}: {first}; not retried")
    if isinstance(exc, (CLIConnectionError, ProcessError, ClaudeSDKError, OSError)):
        return ClaudeTransientError(f"{type(exc).__name__}: {first}")
    return ClaudeTransientError(f"{type(exc).__name__}: {first}")


def failure_text(exc: BaseException) -> str:
    """A failed step in one line; after DBOS's retries, the last attempt's error and the count."""
    if isinstance(exc, dbos_error.DBOSMaxStepRetriesExceeded):
        last = exc.errors[-1] if exc.errors else exc
        return f"{last} (after {exc.max_retries} attempts)"
    return str(exc) or type(exc).__name__


def is_retryable(exc: BaseException) -> bool:
    """DBOS ``should_retry`` predicate: only transient errors are retried."""
    return isinstance(exc, ClaudeTransientError) or getattr(exc, "retryable", False) is True


# --------------------------------------------------------------------------------------------
# Endpoint: real Claude or the offline scripted model


@dataclass(frozen=True)
class Endpoint:
    """Where Claude calls go. Set once per process by the runtime."""

    label: str = "Claude API"
    offline: bool = False
    env: dict[str, str] = field(default_factory=dict)
    cli_path: str | None = None
    cwd: str | None = None
    #: Tests only: build an SDK Transport instead of spawning the CLI.
    transport_factory: Callable[[ClaudeCall], SDKTransport] | None = None


_endpoint = Endpoint()


def configure_endpoint(endpoint: Endpoint) -> None:
    global _endpoint
    _endpoint = endpoint


def current_endpoint() -> Endpoint:
    return _endpoint


# --------------------------------------------------------------------------------------------
# Coalescing writer


Writer = Callable[[StreamChunk], Awaitable[None]]


class Coalescer:
    """Buffers output parts and writes them as one :class:`StreamChunk` per flush interval.

    The first part into an empty buffer starts the interval; a buffer past ``max_bytes`` is
    flushed at once. Writes are sequential, so at most one is in flight; parts that arrive
    meanwhile go into the next chunk.
    """

    def __init__(
        self,
        write: Writer,
        *,
        step_id: int,
        step_name: str,
        attempt: int,
        interval: float = FLUSH_INTERVAL_S,
        max_bytes: int = FLUSH_BYTES,
    ) -> None:
        self._write = write
        self._step_id = step_id
        self._step_name = step_name
        self._attempt = attempt
        self._interval = interval
        self._max_bytes = max_bytes
        self._parts: list[ChunkPart] = []
        self._size = 0
        self._seq = 0
        self._first_at: float | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.writes = 0

    async def __aenter__(self) -> Coalescer:
        self._task = asyncio.create_task(self._run(), name=f"coalescer-{self._step_id}")
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        # A cancelled execution no longer owns its workflow: DBOS refuses its last write.
        cancelled = exc_type is not None and issubclass(exc_type, asyncio.CancelledError)
        await self.close(best_effort=cancelled)

    def add(self, kind: ChunkKind, text: str) -> None:
        if not text or self._closed:
            return
        if self._parts and self._parts[-1].kind is kind:
            self._parts[-1] = ChunkPart(kind=kind, text=self._parts[-1].text + text)
        else:
            self._parts.append(ChunkPart(kind=kind, text=text))
        self._size += len(text)
        if self._first_at is None:
            self._first_at = time.monotonic()
            self._wake.set()
        elif self._size >= self._max_bytes:
            self._wake.set()

    async def _run(self) -> None:
        while not self._closed:
            await self._wake.wait()
            self._wake.clear()
            if self._first_at is None:
                continue
            delay = self._first_at + self._interval - time.monotonic()
            if delay > 0 and self._size < self._max_bytes:
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=delay)
                except TimeoutError:
                    pass
                self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        if not self._parts:
            return
        parts, self._parts, self._size, self._first_at = tuple(self._parts), [], 0, None
        chunk = StreamChunk(
            step_id=self._step_id,
            step_name=self._step_name,
            attempt=self._attempt,
            seq=self._seq,
            parts=parts,
        )
        self._seq += 1
        self.writes += 1
        await self._write(chunk)

    async def close(self, *, best_effort: bool = False) -> None:
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        if self._task is not None:
            # A write in flight holds parts already taken from the buffer: cancelling it would
            # lose them (seen under load: a step's last chunk missing from its stream). Let it
            # finish; only a cancelled execution, whose writes DBOS refuses anyway, cuts it.
            if best_effort:
                self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            except Exception as exc:
                if not best_effort:
                    raise
                log.debug("stream write dropped after cancellation: %s", exc)
        try:
            await self.flush()
        except Exception as exc:
            if not best_effort:
                raise
            log.debug("final stream write dropped after cancellation: %s", exc)


async def _stream_writer(chunk: StreamChunk) -> None:
    await DBOS.write_stream_async(
        STREAM_KEY,
        chunk.model_dump(mode="json"),
        serialization_type=WorkflowSerializationFormat.PORTABLE,
    )


async def _discard(chunk: StreamChunk) -> None:
    return None


# --------------------------------------------------------------------------------------------
# The call itself


def _options(
    call: ClaudeCall, ep: Endpoint, gate: ToolGate | None = None, runs: ToolRuns | None = None
) -> ClaudeAgentOptions:
    # The CLI dies with this process, however it dies (see workflows.tether).
    cli_path, tether_env = tether(ep.cli_path) if ep.transport_factory is None else (None, {})
    env = {**ep.env, **tether_env}
    permissions: dict[str, Any] = {"allowed_tools": list(call.tools)}
    if gate is not None:
        # Every call of every offered tool goes through the gate: nothing is pre-allowed (an
        # allowed_tools entry would skip can_use_tool), and the PreToolUse hook answers "ask" for
        # the tools that need a human, which also stops the CLI from auto-allowing "read-only"
        # Bash commands without asking can_use_tool. With ``runs``, an allowed call is recorded
        # before it runs and its output after (PostToolUse), so a re-run does not run it again.
        hooks: dict[Any, list[HookMatcher]] = {
            "PreToolUse": [HookMatcher(matcher=None, hooks=[_pre_tool_use(gate, runs)])]
        }
        if runs is not None:
            hooks["PostToolUse"] = [HookMatcher(matcher=None, hooks=[_post_tool_use(runs)])]
            hooks["PostToolUseFailure"] = [
                HookMatcher(matcher=None, hooks=[_post_tool_use_failure(runs)])
            ]
        permissions = {
            "allowed_tools": [],
            "permission_mode": "default",
            "can_use_tool": _can_use_tool(gate, runs),
            "hooks": hooks,
        }
    return ClaudeAgentOptions(
        model=call.model,
        system_prompt=call.system or None,
        tools=list(call.tools),
        include_partial_messages=True,
        max_turns=call.max_turns,
        max_budget_usd=call.max_budget_usd,
        env=env,
        cli_path=cli_path,
        cwd=ep.cwd,
        setting_sources=[],
        stderr=lambda line: log.debug("claude cli: %s", line.rstrip()),
        **permissions,
    )


def _pre_tool_use(gate: ToolGate, runs: ToolRuns | None) -> HookCallback:
    async def hook(data: HookInput, tool_use_id: str | None, context: HookContext) -> Any:
        raw = data.get("tool_input")
        tool, tool_input = str(data.get("tool_name", "")), raw if isinstance(raw, dict) else {}
        updated: dict[str, Any] | None = None
        if gate.policy.verdict(tool) == "ask":
            decision, reason = "ask", "the agentdeck tool policy asks a human"
        else:
            decision, message, _ = gate.decide(tool, tool_input)
            if decision == "allow" and runs is not None:
                use_id = str(data.get("tool_use_id") or tool_use_id or "")
                decision, message, updated = await runs.before(tool, tool_input, use_id)
            reason = message or "allowed by the agentdeck tool policy"
        out: dict[str, Any] = {
            "hookEventName": "PreToolUse",
            "permissionDecision": decision,
            "permissionDecisionReason": reason,
        }
        if updated is not None:
            out["updatedInput"] = updated
        return {"hookSpecificOutput": out}

    return hook


def _post_tool_use(runs: ToolRuns) -> HookCallback:
    async def hook(data: HookInput, tool_use_id: str | None, context: HookContext) -> Any:
        use_id = str(data.get("tool_use_id") or tool_use_id or "")
        replayed = await runs.after(use_id, data.get("tool_response"))
        if replayed is None:
            return {}
        return {
            "hookSpecificOutput": {"hookEventName": "PostToolUse", "updatedToolOutput": replayed}
        }

    return hook


def _post_tool_use_failure(runs: ToolRuns) -> HookCallback:
    async def hook(data: HookInput, tool_use_id: str | None, context: HookContext) -> Any:
        use_id = str(data.get("tool_use_id") or tool_use_id or "")
        await runs.failed(use_id, str(data.get("error", "")))
        return {}

    return hook


def _can_use_tool(gate: ToolGate, runs: ToolRuns | None) -> CanUseTool:
    async def can_use_tool(
        tool: str, tool_input: dict[str, Any], context: ToolPermissionContext
    ) -> PermissionResultAllow | PermissionResultDeny:
        verdict, message, interrupt = gate.decide(tool, tool_input)
        updated: dict[str, Any] | None = None
        if verdict == "allow" and runs is not None:
            use_id = context.tool_use_id or ""
            verdict, message, updated = await runs.before(tool, tool_input, use_id)
        if verdict == "allow":
            return PermissionResultAllow(updated_input=updated)
        return PermissionResultDeny(message=message, interrupt=interrupt)

    return can_use_tool


async def _read_run(key: str) -> Any:
    wid = DBOS.workflow_id
    assert wid is not None
    return await DBOS.get_event_async(wid, key, timeout_seconds=0)


async def _write_run(key: str, value: dict[str, Any]) -> None:
    await DBOS.set_event_async(key, value, serialization_type=WorkflowSerializationFormat.PORTABLE)


def _tool_result_text(block: ToolResultBlock) -> str:
    content = block.content
    if isinstance(content, list):
        texts = [c.get("text") for c in content if isinstance(c, dict)]
        content = "".join(t for t in texts if isinstance(t, str))
    body = content if isinstance(content, str) else ""
    return f"\n[result{' (error)' if block.is_error else ''}] {body[:2000]}\n"


def _event_parts(event: dict[str, Any]) -> list[tuple[ChunkKind, str]]:
    etype = event.get("type")
    if etype == "content_block_delta":
        delta = event.get("delta") or {}
        dtype = delta.get("type")
        if dtype == "text_delta":
            return [(ChunkKind.TEXT, str(delta.get("text", "")))]
        if dtype == "thinking_delta":
            return [(ChunkKind.THINKING, str(delta.get("thinking", "")))]
        if dtype == "input_json_delta":
            return [(ChunkKind.TOOL_USE, str(delta.get("partial_json", "")))]
    elif etype == "content_block_start":
        block = event.get("content_block") or {}
        if block.get("type") in ("tool_use", "server_tool_use"):
            return [(ChunkKind.TOOL_USE, f"\n[tool {block.get('name', '?')}] ")]
    return []


def _unstreamed(
    msg: AssistantMessage, streamed: dict[ChunkKind, str]
) -> list[tuple[ChunkKind, str]]:
    """What of a complete message's text and thinking its stream events did not show.

    Normally nothing. After a broken stream the CLI asks again without streaming, so a whole
    answer can arrive with no events (or after a partial one): it goes to the stream here, or
    the output pane would lack text that the step's result has. ``streamed`` holds, per kind,
    what the events showed and no message has accounted for yet; when the two disagree (a real
    retry answers differently) the stream shown stays as it is.
    """
    missing: list[tuple[ChunkKind, str]] = []
    for block in msg.content:
        if isinstance(block, TextBlock):
            kind, text = ChunkKind.TEXT, block.text
        elif isinstance(block, ThinkingBlock):
            kind, text = ChunkKind.THINKING, block.thinking
        else:
            continue
        seen = streamed.get(kind, "")
        if seen.startswith(text):  # streamed (the CLI sends a message per block)
            streamed[kind] = seen[len(text) :]
        else:
            if text.startswith(seen):
                missing.append((kind, text[len(seen) :]))
            streamed[kind] = ""
    return missing


def _reuse_key(call: ClaudeCall, ep: Endpoint) -> tuple[object, ...]:
    """What a kept CLI must have been started with to serve ``call`` (see cli_pool)."""
    return (
        call.model,
        call.system,
        tuple(call.tools),
        call.max_turns,
        call.max_budget_usd,
        ep.label,
        tuple(sorted(ep.env.items())),
        ep.cwd,
        ep.cli_path,
    )


def _lease(call: ClaudeCall, ep: Endpoint, gate: ToolGate | None) -> Lease | None:
    """A kept CLI for the call (``claude_cli_reuse``, calls without tools only: see
    :mod:`workflows.cli_pool`), or None: the call starts a CLI of its own with ``query()``."""
    s = settings()
    if not s.claude_cli_reuse or ep.transport_factory is not None or gate is not None or call.tools:
        return None
    pool = pool_for_loop(s.claude_cli_idle, s.claude_cli_idle_s)
    return Lease(pool, _reuse_key(call, ep), _options(call, ep, gate), call.prompt)


async def run_claude(
    call: ClaudeCall,
    *,
    step_name: str,
    write: Writer | None = None,
    check: Callable[[str], object] | None = None,
    decisions: Mapping[str, tuple[bool, str]] | None = None,
    policy: ToolPolicy | None = None,
    loop_n: int | None = None,
    loop_ok: Sequence[str] = (),
) -> ClaudeResult:
    """Run one Claude call through the SDK, streaming coalesced chunks; return the whole answer.

    Inside a DBOS step the chunks go to the workflow's stream, tagged with the step id and the
    attempt number; outside one they are discarded unless ``write`` is given. ``check`` validates
    the complete text before the step returns; what it raises is marked in the stream (with its
    own ``retryable`` verdict) like any other failed attempt.

    With ``call.tools``, every tool call meets the tool policy (``policy``, else the
    ``tool_policy:`` section of agentdeck.yaml) and ``decisions`` (human decisions by call key,
    see :mod:`workflows.tools`). A call that needs a decision not given here does not run: the
    Claude call is interrupted and :class:`~workflows.tools.ToolApprovalNeeded` is raised. With
    ``loop_n``, the loop guard (:class:`~workflows.tools.LoopDetected`, a ToolApprovalNeeded)
    stops the call at a tool loop that ``loop_ok`` does not let go on.
    """
    ep = current_endpoint()
    status = DBOS.step_status if DBOS.workflow_id is not None else None
    step_id = status.step_id if status is not None else 0
    attempt = (status.current_attempt or 0) + 1 if status is not None else 1
    max_attempts = status.max_attempts if status is not None else 1
    if write is None:
        write = _stream_writer if status is not None else _discard
    started = time.monotonic()
    texts: list[str] = []
    result_msg: ResultMessage | None = None
    streamed: dict[ChunkKind, str] = {}  # see _unstreamed
    model = call.model
    gate: ToolGate | None = None
    runs: ToolRuns | None = None
    if call.tools:
        try:
            policy = policy or load_policy()
        except ValueError as exc:  # workflows.config.ConfigError: one line naming the file
            raise ClaudeFatalError(f"{exc}; not retried") from None
    async with Coalescer(write, step_id=step_id, step_name=step_name, attempt=attempt) as out:
        out.add(ChunkKind.STATUS, f"attempt {attempt} · {model} · {ep.label}")
        if call.tools and policy is not None:
            out.add(ChunkKind.STATUS, f"\ntools: {', '.join(call.tools)}")

            def note(line: str) -> None:
                out.add(ChunkKind.STATUS, f"\n· {line}\n")

            gate = ToolGate(policy, decisions, note=note, loop_n=loop_n, loop_ok=loop_ok)
            if status is not None:  # in a workflow's step: its tool runs are recorded durably
                runs = ToolRuns(step_name, _read_run, _write_run, note=note)
        lease = _lease(call, ep, gate)
        messages: AsyncIterator[Any]
        if lease is not None:
            messages = lease.messages()
        else:
            transport = ep.transport_factory(call) if ep.transport_factory is not None else None
            messages = query(
                prompt=call.prompt, options=_options(call, ep, gate, runs), transport=transport
            )
        succeeded = False
        try:
            async for msg in messages:
                if isinstance(msg, StreamEvent):
                    if msg.event.get("type") == "message_start":
                        streamed.clear()
                    for kind, text in _event_parts(msg.event):
                        out.add(kind, text)
                        if kind in (ChunkKind.TEXT, ChunkKind.THINKING):
                            streamed[kind] = streamed.get(kind, "") + text
                        if kind is ChunkKind.TEXT and gate is not None and text.strip():
                            gate.saw_text()
                elif isinstance(msg, AssistantMessage):
                    for kind, text in _unstreamed(msg, streamed):
                        out.add(kind, text)
                        if kind is ChunkKind.TEXT and gate is not None and text.strip():
                            gate.saw_text()
                    model = msg.model or model
                    turn = "".join(b.text for b in msg.content if isinstance(b, TextBlock))
                    if turn:
                        texts.append(turn)
                elif isinstance(msg, UserMessage) and isinstance(msg.content, list):
                    for block in msg.content:
                        if isinstance(block, ToolResultBlock):
                            out.add(ChunkKind.TOOL_RESULT, _tool_result_text(block))
                elif isinstance(msg, ResultMessage):
                    result_msg = msg
            if gate is not None and gate.needed is not None:
                raise gate.needed
            if result_msg is None:
                raise ClaudeTransientError("the Claude CLI ended without a result")
            if result_msg.subtype == "error_max_budget_usd":
                raise ClaudeBudgetStop(
                    f"stopped by the SDK at its per-call budget of ${call.max_budget_usd or 0:.4f}"
                    f" (spent ${result_msg.total_cost_usd or 0:.4f}); not retried"
                )
            if result_msg.is_error:
                raise ResultError(
                    result_msg.result or "Claude reported an error",
                    data={
                        "result": result_msg.result,
                        "api_error_status": result_msg.api_error_status,
                        "errors": result_msg.errors,
                        "subtype": result_msg.subtype,
                    },
                )
            if check is not None:
                check("\n\n".join(texts) if texts else (result_msg.result or ""))
            succeeded = True
        except asyncio.CancelledError:
            out.add(ChunkKind.STATUS, f"\nattempt {attempt} cancelled\n")
            raise
        except Exception as exc:
            if gate is not None and gate.needed is not None:
                # The interrupt ends the CLI's turn with an error result: that is this stop.
                needed = gate.needed
                ask = "continue or stop" if isinstance(needed, LoopDetected) else "allow or deny"
                out.add(ChunkKind.STATUS, f"\nwaiting for a human to {ask} {needed.tool}\n")
                raise needed from None
            err = exc if hasattr(exc, "retryable") else classify(exc)
            last = attempt >= (max_attempts or 1)
            verdict = "will retry" if is_retryable(err) and not last else "not retried"
            out.add(ChunkKind.ERROR, f"\nattempt {attempt} failed: {err} ({verdict})\n")
            if err is exc:
                raise
            raise err from None
        finally:
            aclose = getattr(messages, "aclose", None)
            if aclose is not None:
                await aclose()
            if lease is not None:
                await lease.finish(succeeded)
        usage = Usage.from_api(result_msg.usage)
        out.add(
            ChunkKind.USAGE,
            f"{usage.input_tokens} in / {usage.output_tokens} out · "
            f"${result_msg.total_cost_usd or 0:.4f}",
        )
    text = "\n\n".join(texts) if texts else (result_msg.result or "")
    return ClaudeResult(
        text=text,
        usage=usage,
        cost_usd=float(result_msg.total_cost_usd or 0.0),
        model=model,
        backend=ep.label,
        session_id=result_msg.session_id,
        step_id=step_id,
        attempt=attempt,
        duration_s=round(time.monotonic() - started, 3),
    )


@DBOS.step(
    name="claude",
    retries_allowed=True,
    should_retry=is_retryable,
    preemptible=True,
    **RETRY_POLICY,
)
async def claude_step(call: ClaudeCall) -> ClaudeResult:
    """A generic durable Claude call (used by research and synthesis)."""
    return await run_claude(call, step_name=call.task)


def offline_home(root: Path) -> Path:
    home = root / "claude-home"
    home.mkdir(parents=True, exist_ok=True)
    return home
