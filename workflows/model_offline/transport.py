"""An in-process SDK ``Transport`` that answers like the offline model, in milliseconds.

For fast unit tests only: ``claude_agent_sdk.query(transport=ScriptedTransport(call))`` runs the
SDK's real control protocol and message parsing, but instead of spawning the Claude Code CLI it
answers the initialize request and streams the offline script (same text, same fault kinds as the
loopback server) as the CLI's stream-json frames. Contract tests use the real CLI + server.

Tools (``ClaudeCall.tools``) follow the CLI's permission protocol: for each scripted tool call the
transport sends the SDK a ``can_use_tool`` control request and waits for its answer. Allowed calls
are not executed: their result is simulated (a Bash ``echo … | wc -w`` is counted, a Bash
``printf '%s' '…'`` prints, anything else says it was simulated), then handed to the SDK's
``PostToolUse`` hooks, as the CLI does, whose ``updatedToolOutput`` (its ``stdout``) replaces it.
A deny with ``interrupt`` ends the turn like the CLI does (an
``error_during_execution`` result).
"""

from __future__ import annotations

import asyncio
import json
import shlex
import threading
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from claude_agent_sdk import Transport

from .faults import LOOP_REPEATS, FaultKind, loops, parse_fault_spec
from .script import (
    ToolOutcome,
    answer,
    prompt_hash,
    split_pieces,
    thinking_for,
    thinking_signature,
    tool_input,
)

if TYPE_CHECKING:
    from workflows.models import ClaudeCall

__all__ = ["ScriptedTransport", "transport_factory"]

#: Counts per (fault spec item, task, prompt): shared by all transports of the process, so a
#: retried step sees a ``*1`` fault go away (as with the loopback server).
_fired: dict[tuple[str, str, str], int] = {}
_lock = threading.Lock()


def reset_faults() -> None:
    with _lock:
        _fired.clear()


def _status_for(kind: FaultKind) -> tuple[int, str] | None:
    return {
        FaultKind.OVERLOAD: (529, "Overloaded"),
        FaultKind.RATELIMIT: (429, "Rate limited"),
        FaultKind.AUTH: (401, "invalid x-api-key"),
        FaultKind.INVALID_REQUEST: (400, "invalid request"),
    }.get(kind)


class ScriptedTransport(Transport):
    def __init__(self, call: ClaudeCall) -> None:
        self.call = call
        self._out: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._ready = False
        self._session = str(uuid.uuid4())
        self._permissions: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._post_hooks: list[str] = []  # the SDK's PostToolUse callback ids (initialize)
        self._task: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        self._ready = True

    def is_ready(self) -> bool:
        return self._ready

    async def close(self) -> None:
        self._ready = False
        if self._task is not None:
            self._task.cancel()
        self._out.put_nowait(None)

    async def end_input(self) -> None:
        return None

    async def write(self, data: str) -> None:
        for line in data.splitlines():
            if not line.strip():
                continue
            msg = json.loads(line)
            if msg.get("type") == "control_response":
                response = msg.get("response") or {}
                waiter = self._permissions.pop(str(response.get("request_id")), None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(response)
            elif msg.get("type") == "control_request":
                request = msg.get("request") or {}
                if request.get("subtype") == "initialize":
                    matchers = (request.get("hooks") or {}).get("PostToolUse") or []
                    self._post_hooks = [i for m in matchers for i in m.get("hookCallbackIds", [])]
                self._out.put_nowait(
                    {
                        "type": "control_response",
                        "response": {
                            "subtype": "success",
                            "request_id": msg["request_id"],
                            "response": {},
                        },
                    }
                )
            elif msg.get("type") == "user":
                if self.call.tools:
                    self._task = asyncio.create_task(self._answer_with_tools())
                else:
                    self._answer()

    def _fault(self) -> FaultKind | None:
        call = self.call
        for item in parse_fault_spec(call.fault):
            if not item.matches(call.task):
                continue
            key = (str(item), call.task, call.prompt)
            with _lock:
                n = _fired.get(key, 0)
                if n >= item.count:
                    continue
                _fired[key] = n + 1
            return item.kind
        return None

    def _emit(self, msg: dict[str, Any]) -> None:
        self._out.put_nowait(msg)

    def _event(self, event: dict[str, Any]) -> None:
        self._emit(
            {
                "type": "stream_event",
                "uuid": str(uuid.uuid4()),
                "session_id": self._session,
                "event": event,
            }
        )

    def _result(self, text: str, *, error_status: int | None = None, out_tokens: int = 0) -> None:
        cost = 0.0 if error_status else out_tokens * 15e-6
        # As the CLI does with --max-budget-usd: a call that cost more ends with this subtype.
        capped = self.call.max_budget_usd is not None and cost > self.call.max_budget_usd
        self._emit(
            {
                "type": "result",
                "subtype": "error_max_budget_usd" if capped else "success",
                "duration_ms": 1,
                "duration_api_ms": 1,
                "is_error": error_status is not None or capped,
                "num_turns": 1,
                "session_id": self._session,
                "total_cost_usd": cost,
                "usage": {"input_tokens": len(self.call.prompt) // 4, "output_tokens": out_tokens},
                "result": text,
                "api_error_status": error_status,
            }
        )
        self._out.put_nowait(None)

    def _answer(self) -> None:
        call = self.call
        fault = self._fault()
        status = _status_for(fault) if fault is not None else None
        if status is not None:
            code, what = status
            self._result(f"API Error: {code} {what} (offline fault injection)", error_status=code)
            return
        text = answer(call.task, call.prompt, invalid_plan=fault is FaultKind.INVALID_PLAN)
        pieces = split_pieces(text)
        if fault is FaultKind.MIDSTREAM:
            pieces = pieces[: max(1, len(pieces) // 2)]
        blocks: list[dict[str, Any]] = []
        index = 0
        if call.think:
            thinking = thinking_for(call.task, call.prompt)
            self._event(
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {"type": "thinking", "thinking": ""},
                }
            )
            for piece in split_pieces(thinking):
                self._event(
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "thinking_delta", "thinking": piece},
                    }
                )
            self._event({"type": "content_block_stop", "index": index})
            blocks.append(
                {
                    "type": "thinking",
                    "thinking": thinking,
                    "signature": thinking_signature(thinking),
                }
            )
            index += 1
        self._event(
            {
                "type": "content_block_start",
                "index": index,
                "content_block": {"type": "text", "text": ""},
            }
        )
        for piece in pieces:
            self._event(
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "text_delta", "text": piece},
                }
            )
        if fault is FaultKind.MIDSTREAM:
            self._result("API Error: 529 Overloaded (offline fault, mid-stream)", error_status=529)
            return
        self._event({"type": "content_block_stop", "index": index})
        blocks.append({"type": "text", "text": text})
        self._emit(
            {
                "type": "assistant",
                "message": {"model": call.model, "content": blocks, "role": "assistant"},
                "parent_tool_use_id": None,
                "session_id": self._session,
            }
        )
        self._result(text, out_tokens=len(pieces))

    async def _control(self, request: dict[str, Any]) -> dict[str, Any]:
        """Send the SDK a control request, as the CLI does; return its response."""
        request_id = f"req_{uuid.uuid4().hex[:12]}"
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._permissions[request_id] = waiter
        self._emit({"type": "control_request", "request_id": request_id, "request": request})
        return await waiter

    async def _post_tool_use(
        self, tool: str, tool_in: dict[str, Any], use_id: str, text: str
    ) -> str:
        """Run the SDK's PostToolUse hooks on a simulated result; what the model gets."""
        for callback_id in self._post_hooks:
            response = await self._control(
                {
                    "subtype": "hook_callback",
                    "callback_id": callback_id,
                    "tool_use_id": use_id,
                    "input": {
                        "hook_event_name": "PostToolUse",
                        "session_id": self._session,
                        "tool_name": tool,
                        "tool_input": tool_in,
                        "tool_response": {"stdout": text, "stderr": "", "interrupted": False},
                        "tool_use_id": use_id,
                    },
                }
            )
            body = response.get("response") if response.get("subtype") == "success" else None
            specific = (body or {}).get("hookSpecificOutput") or {}
            updated = specific.get("updatedToolOutput")
            if isinstance(updated, dict) and isinstance(updated.get("stdout"), str):
                text = updated["stdout"]
        return text

    async def _permission(self, tool: str, tool_in: dict[str, Any], use_id: str) -> dict[str, Any]:
        """Ask the SDK's ``can_use_tool`` callback, as the CLI does; return its decision."""
        response = await self._control(
            {
                "subtype": "can_use_tool",
                "tool_name": tool,
                "input": tool_in,
                "tool_use_id": use_id,
                "permission_suggestions": [],
            }
        )
        if response.get("subtype") != "success":
            return {"behavior": "deny", "message": str(response.get("error", "error"))}
        body = response.get("response")
        return body if isinstance(body, dict) else {"behavior": "deny", "message": "no answer"}

    async def _answer_with_tools(self) -> None:
        call = self.call
        phash = prompt_hash(call.task, call.prompt)
        outcomes: list[ToolOutcome] = []
        turns = 0
        scripted = [t for t in call.tools if tool_input(t, call.prompt) is not None]
        if scripted and loops(call.fault, call.task):
            scripted = scripted[:1] * LOOP_REPEATS  # a model stuck in a tool loop
        for n, tool in enumerate(scripted):
            tool_in = tool_input(tool, call.prompt) or {}
            use_id = f"toolu_offline_{phash[:10]}_{n}"
            self._event(
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "tool_use", "id": use_id, "name": tool, "input": {}},
                }
            )
            self._event(
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "input_json_delta", "partial_json": json.dumps(tool_in)},
                }
            )
            self._event({"type": "content_block_stop", "index": 0})
            self._emit(
                {
                    "type": "assistant",
                    "parent_tool_use_id": None,
                    "session_id": self._session,
                    "message": {
                        "model": call.model,
                        "role": "assistant",
                        "content": [
                            {"type": "tool_use", "id": use_id, "name": tool, "input": tool_in}
                        ],
                    },
                }
            )
            turns += 1
            decision = await self._permission(tool, tool_in, use_id)
            allowed = decision.get("behavior") == "allow"
            text = str(decision.get("message", ""))
            if allowed:
                ran = decision.get("updatedInput")
                ran = ran if isinstance(ran, dict) else tool_in
                text = await self._post_tool_use(tool, ran, use_id, _simulated(tool, ran))
            outcomes.append(ToolOutcome(name=tool, text=text, is_error=not allowed))
            self._emit(
                {
                    "type": "user",
                    "parent_tool_use_id": None,
                    "session_id": self._session,
                    "message": {
                        "role": "user",
                        "content": [
                            {
                                "type": "tool_result",
                                "tool_use_id": use_id,
                                "content": text,
                                "is_error": not allowed,
                            }
                        ],
                    },
                }
            )
            if not allowed and decision.get("interrupt"):
                self._emit(
                    {
                        "type": "result",
                        "subtype": "error_during_execution",
                        "duration_ms": 1,
                        "duration_api_ms": 1,
                        "is_error": True,
                        "num_turns": turns,
                        "session_id": self._session,
                        "total_cost_usd": 0.0,
                        "usage": {},
                        "result": "[Request interrupted by user for tool use]",
                    }
                )
                self._out.put_nowait(None)
                return
        text = answer(call.task, call.prompt, tool_outcomes=outcomes)
        pieces = split_pieces(text)
        self._event(
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            }
        )
        for piece in pieces:
            self._event(
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": piece},
                }
            )
        self._event({"type": "content_block_stop", "index": 0})
        self._emit(
            {
                "type": "assistant",
                "parent_tool_use_id": None,
                "session_id": self._session,
                "message": {
                    "model": call.model,
                    "role": "assistant",
                    "content": [{"type": "text", "text": text}],
                },
            }
        )
        self._result(text, out_tokens=len(pieces))

    async def read_messages(self) -> AsyncIterator[dict[str, Any]]:
        while True:
            msg = await self._out.get()
            if msg is None:
                return
            yield msg
            await asyncio.sleep(0)


def _simulated(tool: str, tool_in: dict[str, Any]) -> str:
    """The result of an allowed call, without running it (this transport executes nothing)."""
    command = str(tool_in.get("command", ""))
    if tool == "Bash" and command.startswith("echo '") and command.endswith("' | wc -w"):
        return str(len(command[len("echo '") : -len("' | wc -w")].split()))
    if tool == "Bash" and command.startswith("printf '%s' "):  # a replayed run (ToolRuns)
        lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        said = list(lexer)
        return said[2] if len(said) > 2 else ""
    return f"(simulated {tool} result: the in-process transport runs no tools)"


def transport_factory(call: ClaudeCall) -> Transport:
    return ScriptedTransport(call)
