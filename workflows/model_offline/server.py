"""A loopback HTTP server that speaks enough of the Anthropic Messages API for Claude Code.

The real bundled Claude Code CLI (driven by ``claude-agent-sdk``) talks to it when started with
:func:`offline_env`. Answers come from :mod:`.script`, faults from :mod:`.faults`.

What the CLI sends and expects, as measured against this server: docs/offline-model.md.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import select
import socket
import socketserver
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, cast
from urllib.parse import urlsplit

from . import script
from .faults import FaultBook, FaultItem, FaultKind, parse_fault_spec

__all__ = [
    "OFFLINE_API_KEY",
    "OFFLINE_MODEL_LABEL",
    "OfflineModelServer",
    "RequestRecord",
    "TokenLogLine",
    "offline_env",
    "read_token_log",
]

logger = logging.getLogger(__name__)

OFFLINE_MODEL_LABEL = "offline scripted model"
OFFLINE_API_KEY = "offline-not-a-secret"

ENV_TPS = "AGENTDECK_OFFLINE_TPS"
ENV_FAULTS = "AGENTDECK_OFFLINE_FAULTS"
#: Opt-in (benchmarks): a file to append one line per streamed delta to (see :class:`TokenLog`).
ENV_TOKEN_LOG = "AGENTDECK_OFFLINE_TOKEN_LOG"

_HTTP_FAULTS: dict[FaultKind, tuple[int, str, str]] = {
    FaultKind.OVERLOAD: (529, "overloaded_error", "Overloaded (offline fault injection)"),
    FaultKind.RATELIMIT: (
        429,
        "rate_limit_error",
        "This request would exceed your rate limit (offline fault injection)",
    ),
    FaultKind.AUTH: (401, "authentication_error", "invalid x-api-key"),
    FaultKind.INVALID_REQUEST: (
        400,
        "invalid_request_error",
        "Invalid request (offline fault injection)",
    ),
}
_MIDSTREAM_ERROR = {
    "type": "error",
    "error": {"type": "overloaded_error", "message": "Overloaded (offline fault injection)"},
}
_HANG_AFTER = 3  # pieces streamed before a ``hang`` fault stalls
_TICK = 0.05  # how often stalled or paced streams look at the stop flag
_ACCEPT_POLL = 5.0  # the accept loop's select timeout; stop() wakes it with a connection


def offline_env(base_url: str, home: str) -> dict[str, str]:
    """The environment that points the Claude Code CLI at the offline server.

    Pass it as ``ClaudeAgentOptions(env=...)``. ``home`` should be a throwaway directory: the CLI
    writes its session files and settings under ``$HOME/.claude``.
    """
    return {
        "ANTHROPIC_BASE_URL": base_url,
        "ANTHROPIC_API_KEY": OFFLINE_API_KEY,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "CLAUDE_CODE_MAX_RETRIES": "0",
        "HOME": home,
    }


@dataclass(frozen=True)
class RequestRecord:
    """One API request the server received (``/_agentdeck/*`` requests are not recorded)."""

    seq: int
    method: str
    path: str
    task: str | None  # None when the request was not a Messages call
    model: str | None
    fault: str | None  # the fault item that fired, e.g. "overload*1", or None
    status: int  # HTTP status sent (0 while the response has not started)
    output_tokens: int  # pieces streamed (thinking + text)
    prompt_hash: str | None
    started: float  # time.time()
    ended: float | None  # None while in progress
    outcome: str  # in_progress | completed | error | disconnected | stopped
    stream: bool = False
    think: bool = False
    session: str | None = None  # the CLI's X-Claude-Code-Session-Id header
    tool_use: str | None = None  # the tool this answer called (agentdeck-tools), if any
    tool_results: tuple[str, ...] = ()  # "<tool>: ok|error" for each tool result in the request

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RequestRecord:
        data = dict(data)
        data["tool_results"] = tuple(data.get("tool_results") or ())
        return cls(**data)


@dataclass
class _Entry:
    seq: int
    method: str
    path: str
    started: float
    task: str | None = None
    model: str | None = None
    fault: str | None = None
    status: int = 0
    output_tokens: int = 0
    prompt_hash: str | None = None
    ended: float | None = None
    outcome: str = "in_progress"
    stream: bool = False
    think: bool = False
    session: str | None = None
    tool_use: str | None = None
    tool_results: tuple[str, ...] = ()

    def freeze(self) -> RequestRecord:
        return RequestRecord(**asdict(self))


@dataclass(frozen=True)
class TokenLogLine:
    """One streamed delta as the token log recorded it."""

    #: ``time.monotonic_ns()`` just before the delta's SSE frame was written to the socket
    #: (CLOCK_MONOTONIC: comparable across the processes of one Linux machine).
    monotonic_ns: int
    #: ``<server port>.<request seq>``: unique among the servers running at once on a machine.
    request: str
    task: str
    #: ``text``, ``thinking`` or ``input_json``.
    kind: str
    text: str


class TokenLog:
    """``AGENTDECK_OFFLINE_TOKEN_LOG=path``: append one line per streamed delta to ``path``.

    A line is ``monotonic_ns<TAB>request<TAB>task<TAB>kind<TAB>text as a JSON string`` (see
    :class:`TokenLogLine`; :func:`read_token_log` reads them back). Each line is one ``write(2)``
    on an ``O_APPEND`` descriptor, so servers in several processes can share one file. Off (no
    file, one ``is None`` test per delta) unless the variable is set when the server is built.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._lock = threading.Lock()  # no write after close (the descriptor could be reused)

    def write(self, monotonic_ns: int, request: str, task: str, delta: dict[str, Any]) -> None:
        kind = str(delta.get("type", "")).removesuffix("_delta")
        text = delta.get("text", delta.get("thinking", delta.get("partial_json", "")))
        quoted = json.dumps(text, ensure_ascii=False)
        line = f"{monotonic_ns}\t{request}\t{task}\t{kind}\t{quoted}\n"
        with self._lock:
            if self._fd >= 0:
                os.write(self._fd, line.encode())

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1


def read_token_log(path: str | os.PathLike[str]) -> list[TokenLogLine]:
    """The lines of a token log, in file order (a torn last line is left out)."""
    out: list[TokenLogLine] = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 5 or not line.endswith("\n"):
                continue
            ns, request, task, kind, text = fields
            out.append(TokenLogLine(int(ns), request, task, kind, json.loads(text)))
    return out


class _Stopped(Exception):
    """The server is stopping; abandon the response."""


class _Disconnected(Exception):
    """The client went away."""


@dataclass
class _Plan:
    """What to stream for one Messages request."""

    model: str
    message_id: str
    input_tokens: int
    thinking: list[str] = field(default_factory=list)
    signature: str = ""
    text: list[str] = field(default_factory=list)
    tps: float = 0.0
    cut_after: int | None = None  # midstream: error after this many text pieces
    hang_after: int | None = None  # hang: stall after this many text pieces
    tool_use: script.ToolCall | None = None  # answer with this tool call instead of text


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], owner: OfflineModelServer) -> None:
        self.owner = owner
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host with socket.getfqdn(), a reverse DNS lookup
        # that can stall for seconds on a machine without network; the name is never used.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)


class OfflineModelServer:
    """The offline scripted model: a Messages API look-alike on a loopback port.

    ``tokens_per_second`` paces the stream (0 = as fast as possible). ``faults`` is a server-wide
    fault spec (see :mod:`workflows.model_offline.faults`); prompts may add their own with an
    ``agentdeck-fault:`` line.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tokens_per_second: float = 0.0,
        faults: str = "",
        token_log: str | os.PathLike[str] | None = None,
    ) -> None:
        """``token_log``: a file to log every streamed delta to (:class:`TokenLog`); by default
        ``$AGENTDECK_OFFLINE_TOKEN_LOG``, and no log when that is unset or empty."""
        if tokens_per_second < 0 or math.isnan(tokens_per_second):
            raise ValueError("tokens_per_second must be >= 0")
        self._host = host
        self._port = port
        self.tokens_per_second = tokens_per_second
        self._faults = FaultBook(parse_fault_spec(faults))
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._lock = threading.Condition()
        self._entries: list[_Entry] = []
        self._connections: set[socket.socket] = set()
        self._active = 0
        self._seq = 0
        log_path = os.environ.get(ENV_TOKEN_LOG, "") if token_log is None else token_log
        self._token_log_path = log_path or None
        self._token_log: TokenLog | None = None

    @classmethod
    def from_env(
        cls,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tokens_per_second: float | None = None,
        faults: str | None = None,
    ) -> OfflineModelServer:
        """Like the constructor, defaulting pacing and faults from ``AGENTDECK_OFFLINE_TPS`` and
        ``AGENTDECK_OFFLINE_FAULTS``."""
        if tokens_per_second is None:
            raw = os.environ.get(ENV_TPS, "").strip()
            tokens_per_second = float(raw) if raw else 0.0
        if faults is None:
            faults = os.environ.get(ENV_FAULTS, "")
        return cls(host=host, port=port, tokens_per_second=tokens_per_second, faults=faults)

    # ---------------------------------------------------------------------------------------
    # lifecycle

    def start(self) -> str:
        """Bind and serve in a background daemon thread; return the base URL."""
        if self._httpd is not None:
            return self.base_url
        self._httpd = _HTTPServer((self._host, self._port), self)
        if self._token_log_path is not None:
            self._token_log = TokenLog(self._token_log_path)
        self._port = int(self._httpd.server_address[1])
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": _ACCEPT_POLL},
            name=f"offline-model:{self._port}",
            daemon=True,
        )
        self._thread.start()
        logger.info("%s listening on %s", OFFLINE_MODEL_LABEL, self.base_url)
        return self.base_url

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving; abort streams in progress (hanging ones included) and close sockets."""
        if self._httpd is None or self._stopping.is_set():
            return
        self._stopping.set()
        # The accept loop notices shutdown() only when its select returns: poke it with a
        # connection until it has, rather than waking it every few milliseconds while idle.
        closer = threading.Thread(target=self._httpd.shutdown, name="offline-model-stop")
        closer.start()
        address = (str(self._httpd.server_address[0]), self._port)
        while closer.is_alive():
            with contextlib.suppress(OSError):
                socket.create_connection(address, timeout=0.2).close()
            closer.join(0.05)
        self._httpd.server_close()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._active > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    logger.warning("%d offline model handlers still running", self._active)
                    break
                self._lock.wait(remaining)
        if self._thread is not None:
            self._thread.join(max(0.0, deadline - time.monotonic()))
        if self._token_log is not None:
            self._token_log.close()

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("OfflineModelServer is not started")
        return f"http://{self._host}:{self._port}"

    @property
    def port(self) -> int:
        return self._port

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def __enter__(self) -> OfflineModelServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ---------------------------------------------------------------------------------------
    # request log

    def requests(self) -> list[RequestRecord]:
        """A snapshot of every API request so far (in arrival order, in-progress ones too)."""
        with self._lock:
            return [entry.freeze() for entry in self._entries]

    def _new_entry(self, method: str, path: str) -> _Entry:
        with self._lock:
            self._seq += 1
            entry = _Entry(seq=self._seq, method=method, path=path, started=time.time())
            self._entries.append(entry)
            return entry

    def _finish_entry(self, entry: _Entry, outcome: str, **changes: Any) -> None:
        """Record the outcome. Called *before* the last bytes go out, so that a client that has
        read a response always finds it finished in the log (a later call may still correct the
        outcome, e.g. to "disconnected", but keeps the first end time)."""
        with self._lock:
            for key, value in changes.items():
                setattr(entry, key, value)
            entry.outcome = outcome
            if entry.ended is None:
                entry.ended = time.time()
            self._lock.notify_all()

    def _update(self, entry: _Entry, **changes: Any) -> None:
        with self._lock:
            for key, value in changes.items():
                setattr(entry, key, value)

    def wait_for_requests(self, n: int, timeout: float = 10.0, *, finished: bool = False) -> bool:
        """Block until ``n`` API requests have arrived (and, if ``finished``, ended)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                entries = self._entries
                if finished:
                    entries = [e for e in entries if e.ended is not None]
                if len(entries) >= n:
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._lock.wait(min(remaining, _TICK))

    # ---------------------------------------------------------------------------------------
    # connection bookkeeping (so that stop() can cut hanging streams)

    def _register(self, conn: socket.socket) -> None:
        with self._lock:
            self._connections.add(conn)
            self._active += 1

    def _unregister(self, conn: socket.socket) -> None:
        with self._lock:
            self._connections.discard(conn)
            self._active -= 1
            self._lock.notify_all()

    def _wait(self, seconds: float) -> None:
        """Sleep, but raise ``_Stopped`` as soon as the server stops."""
        if seconds > 0 and self._stopping.wait(seconds):
            raise _Stopped
        if self._stopping.is_set():
            raise _Stopped

    # ---------------------------------------------------------------------------------------
    # the Messages endpoint

    def _effective_tps(self, fault: FaultItem | None) -> float:
        tps = self.tokens_per_second
        if fault is not None and fault.kind is FaultKind.SLOW:
            return 5.0 if tps <= 0 else min(tps, max(tps / 10.0, 5.0))
        return tps

    def _messages(self, handler: _Handler, entry: _Entry, body: dict[str, Any]) -> None:
        parsed = script.parse_request(body)
        directives = parsed.directives
        task = directives.task
        phash = script.prompt_hash(task, parsed.prompt)
        prompt_items: list[FaultItem] = []
        for spec in directives.faults:
            try:
                prompt_items.extend(parse_fault_spec(spec))
            except ValueError as exc:
                logger.warning("ignoring bad agentdeck-fault spec %r: %s", spec, exc)
        session = handler.headers.get("x-claude-code-session-id") or None
        fault = self._faults.pick(task, phash, tuple(prompt_items), session)
        stream = bool(body.get("stream"))
        self._update(
            entry,
            task=task,
            model=parsed.model,
            prompt_hash=phash,
            fault=str(fault) if fault else None,
            stream=stream,
            think=directives.think,
            session=session,
            tool_results=tuple(
                f"{o.name}: {'error' if o.is_error else 'ok'}" for o in parsed.tool_outcomes
            ),
        )
        logger.debug("messages: task=%s model=%s fault=%s", task, parsed.model, fault)

        if fault is not None and fault.kind in _HTTP_FAULTS:
            status, error_type, message = _HTTP_FAULTS[fault.kind]
            headers = {"retry-after": "1"} if fault.kind is FaultKind.RATELIMIT else {}
            handler.send_api_error(status, error_type, message, headers=headers, entry=entry)
            return

        kind = fault.kind if fault else None
        tool_call = script.next_tool_call(parsed)
        if tool_call is not None:
            self._update(entry, tool_use=tool_call.name)
            text = ""
        else:
            text = script.answer(
                task,
                parsed.prompt,
                invalid_plan=kind is FaultKind.INVALID_PLAN,
                tool_outcomes=parsed.tool_outcomes,
            )
        plan = _Plan(
            model=parsed.model,
            message_id=f"msg_offline_{entry.seq:06d}_{phash[:8]}",
            input_tokens=max(1, len(parsed.all_text) // 4),
            text=script.split_pieces(text),
            tps=self._effective_tps(fault),
            tool_use=tool_call,
        )
        if directives.think:
            thinking = script.thinking_for(task, parsed.prompt)
            plan.thinking = script.split_pieces(thinking)
            plan.signature = script.thinking_signature(thinking)
        if kind is FaultKind.MIDSTREAM:
            plan.cut_after = max(1, len(plan.text) // 2)
        elif kind is FaultKind.HANG:
            plan.hang_after = min(_HANG_AFTER, len(plan.text))

        if stream:
            outcome = self._stream(handler, entry, plan)
        else:
            outcome = self._respond_whole(handler, entry, plan)
        self._finish_entry(entry, outcome)

    def _respond_whole(self, handler: _Handler, entry: _Entry, plan: _Plan) -> str:
        """Non-streaming fallback: one JSON message (faults degrade to their closest cousin)."""
        if plan.cut_after is not None:
            status, error_type, message = _HTTP_FAULTS[FaultKind.OVERLOAD]
            handler.send_api_error(status, error_type, message, entry=entry)
            return "error"
        if plan.hang_after is not None:
            try:
                handler.stall()
            except _Stopped:
                return "stopped"
            except _Disconnected:
                return "disconnected"
        try:
            self._wait((len(plan.thinking) + len(plan.text)) / plan.tps if plan.tps > 0 else 0)
        except _Stopped:
            return "stopped"
        content: list[dict[str, Any]] = []
        if plan.thinking:
            content.append(
                {
                    "type": "thinking",
                    "thinking": "".join(plan.thinking),
                    "signature": plan.signature,
                }
            )
        if plan.tool_use is not None:
            call = plan.tool_use
            content.append(
                {"type": "tool_use", "id": call.id, "name": call.name, "input": call.input}
            )
        else:
            content.append({"type": "text", "text": "".join(plan.text)})
        output_tokens = len(plan.thinking) + len(plan.text)
        reply = {
            "id": plan.message_id,
            "type": "message",
            "role": "assistant",
            "model": plan.model,
            "content": content,
            "stop_reason": "end_turn" if plan.tool_use is None else "tool_use",
            "stop_sequence": None,
            "usage": {
                "input_tokens": plan.input_tokens,
                "output_tokens": output_tokens,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
            },
        }
        self._update(entry, output_tokens=output_tokens)
        handler.send_json(200, reply, entry=entry)
        return "completed"

    def _stream(self, handler: _Handler, entry: _Entry, plan: _Plan) -> str:
        sent = 0
        start = time.monotonic()
        token_log = self._token_log

        def paced_delta(index: int, delta: dict[str, Any]) -> None:
            nonlocal sent
            if plan.tps > 0:
                self._wait(start + sent / plan.tps - time.monotonic())
            elif self._stopping.is_set():
                raise _Stopped
            # Stamped before the write: a thread that wrote may wait for the GIL (up to its 5 ms
            # switch interval) while the reader already has the bytes.
            emitted = time.monotonic_ns() if token_log is not None else 0
            handler.sse(
                "content_block_delta",
                {"type": "content_block_delta", "index": index, "delta": delta},
            )
            if token_log is not None:
                token_log.write(emitted, f"{self._port}.{entry.seq}", entry.task or "", delta)
            sent += 1
            self._update(entry, output_tokens=sent)

        handler.start_sse()
        self._update(entry, status=200)
        try:
            handler.sse(
                "message_start",
                {
                    "type": "message_start",
                    "message": {
                        "id": plan.message_id,
                        "type": "message",
                        "role": "assistant",
                        "model": plan.model,
                        "content": [],
                        "stop_reason": None,
                        "stop_sequence": None,
                        "usage": {
                            "input_tokens": plan.input_tokens,
                            "output_tokens": 1,
                            "cache_creation_input_tokens": 0,
                            "cache_read_input_tokens": 0,
                        },
                    },
                },
            )
            handler.sse("ping", {"type": "ping"})
            index = 0
            if plan.thinking:
                handler.sse(
                    "content_block_start",
                    {
                        "type": "content_block_start",
                        "index": index,
                        "content_block": {"type": "thinking", "thinking": "", "signature": ""},
                    },
                )
                for piece in plan.thinking:
                    paced_delta(index, {"type": "thinking_delta", "thinking": piece})
                handler.sse(
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "signature_delta", "signature": plan.signature},
                    },
                )
                handler.sse("content_block_stop", {"type": "content_block_stop", "index": index})
                index += 1
            if plan.tool_use is not None:
                return self._stream_tool_use(handler, entry, plan, index, paced_delta)
            handler.sse(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {"type": "text", "text": ""},
                },
            )
            for n, piece in enumerate(plan.text):
                if plan.cut_after is not None and n >= plan.cut_after:
                    self._finish_entry(entry, "error")
                    handler.sse("error", _MIDSTREAM_ERROR)
                    return "error"
                if plan.hang_after is not None and n >= plan.hang_after:
                    handler.stall()
                paced_delta(index, {"type": "text_delta", "text": piece})
            if plan.hang_after is not None:
                handler.stall()
            handler.sse("content_block_stop", {"type": "content_block_stop", "index": index})
            handler.sse(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                    "usage": {"output_tokens": sent},
                },
            )
            self._finish_entry(entry, "completed")
            handler.sse("message_stop", {"type": "message_stop"})
            return "completed"
        except _Stopped:
            return "stopped"
        except _Disconnected:
            return "disconnected"

    def _stream_tool_use(
        self, handler: _Handler, entry: _Entry, plan: _Plan, index: int, delta: _DeltaSender
    ) -> str:
        """The rest of a streamed answer that calls a tool: one tool_use block, its input as
        ``input_json_delta`` pieces, ``stop_reason: "tool_use"``."""
        call = plan.tool_use
        assert call is not None
        handler.sse(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": index,
                "content_block": {
                    "type": "tool_use",
                    "id": call.id,
                    "name": call.name,
                    "input": {},
                },
            },
        )
        for piece in _json_pieces(json.dumps(call.input, ensure_ascii=False)):
            delta(index, {"type": "input_json_delta", "partial_json": piece})
        handler.sse("content_block_stop", {"type": "content_block_stop", "index": index})
        handler.sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                "usage": {"output_tokens": entry.output_tokens},
            },
        )
        self._finish_entry(entry, "completed")
        handler.sse("message_stop", {"type": "message_stop"})
        return "completed"


_DeltaSender = Callable[[int, dict[str, Any]], None]


def _json_pieces(raw: str, size: int = 24) -> list[str]:
    return [raw[i : i + size] for i in range(0, len(raw), size)] or [""]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "agentdeck-offline/1"
    disable_nagle_algorithm = True

    @property
    def owner(self) -> OfflineModelServer:
        return cast(_HTTPServer, self.server).owner

    def setup(self) -> None:
        super().setup()
        self.owner._register(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.owner._unregister(self.connection)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        logger.debug("%s - %s", self.address_string(), format % args)

    # ---------------------------------------------------------------------------------------
    # responses

    def send_json(
        self,
        status: int,
        payload: Any,
        *,
        headers: dict[str, str] | None = None,
        entry: _Entry | None = None,
    ) -> None:
        """Send a JSON response; finish ``entry`` in the request log first."""
        data = json.dumps(payload).encode()
        if entry is not None:
            self.owner._finish_entry(entry, "completed" if status < 400 else "error", status=status)
        try:
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.send_header("request-id", f"req_offline_{id(self):x}")
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
                self.wfile.flush()
        except OSError:
            self.close_connection = True

    def send_api_error(
        self,
        status: int,
        error_type: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        entry: _Entry | None = None,
    ) -> None:
        payload = {"type": "error", "error": {"type": error_type, "message": message}}
        self.send_json(status, payload, headers=headers, entry=entry)

    def start_sse(self) -> None:
        try:
            self.send_response(200)
            self.send_header("content-type", "text/event-stream; charset=utf-8")
            self.send_header("cache-control", "no-cache")
            self.send_header("connection", "close")
            self.send_header("request-id", f"req_offline_{id(self):x}")
            self.end_headers()
            self.wfile.flush()
        except OSError:
            raise _Disconnected from None
        finally:
            self.close_connection = True

    def sse(self, event: str, data: dict[str, Any]) -> None:
        frame = f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()
        try:
            self.wfile.write(frame)
            self.wfile.flush()
        except OSError:
            raise _Disconnected from None

    def client_gone(self) -> bool:
        """True once the client has closed its end (the socket reads EOF)."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            if not readable:
                return False
            peeked: bytes = self.connection.recv(1, socket.MSG_PEEK)
            return peeked == b""
        except (OSError, ValueError):
            return True

    def stall(self) -> None:
        """Send nothing more until the client disconnects (``_Disconnected``) or the server stops
        (``_Stopped``)."""
        while True:
            self.owner._wait(_TICK)
            if self.client_gone():
                raise _Disconnected

    # ---------------------------------------------------------------------------------------
    # routing

    def _read_body(self) -> bytes:
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def do_POST(self) -> None:
        path = urlsplit(self.path).path.rstrip("/")
        body_bytes = self._read_body()
        entry = self.owner._new_entry("POST", self.path)
        log = logger.debug if path == "/v1/messages" else logger.info
        log("POST %s (%d bytes)", self.path, len(body_bytes))
        try:
            body = json.loads(body_bytes or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            self.send_api_error(
                400, "invalid_request_error", "request body is not a JSON object", entry=entry
            )
            return
        if path == "/v1/messages":
            try:
                self.owner._messages(self, entry, body)
            except Exception:
                logger.exception("offline model failed on %s", self.path)
                self.close_connection = True
                if entry.ended is None:
                    self.owner._finish_entry(entry, "error")
        elif path == "/v1/messages/count_tokens":
            parsed = script.parse_request(body)
            self.owner._update(entry, model=parsed.model)
            self.send_json(200, {"input_tokens": max(1, len(parsed.all_text) // 4)}, entry=entry)
        else:
            self._not_found(entry)

    def do_GET(self) -> None:
        path = urlsplit(self.path).path.rstrip("/")
        if path == "/_agentdeck/health":
            self.send_json(
                200,
                {
                    "status": "stopping" if self.owner.stopping else "ok",
                    "label": OFFLINE_MODEL_LABEL,
                    "requests": len(self.owner.requests()),
                },
            )
            return
        if path == "/_agentdeck/requests":
            self.send_json(200, [r.to_json() for r in self.owner.requests()])
            return
        entry = self.owner._new_entry("GET", self.path)
        logger.info("GET %s", self.path)
        if path == "/v1/models":
            models = {"data": [], "has_more": False, "first_id": None, "last_id": None}
            self.send_json(200, models, entry=entry)
        else:
            self._not_found(entry)

    def do_HEAD(self) -> None:
        entry = self.owner._new_entry("HEAD", self.path)
        logger.info("HEAD %s", self.path)
        self.send_json(200, {}, entry=entry)

    def _other(self) -> None:
        entry = self.owner._new_entry(self.command, self.path)
        logger.info("%s %s", self.command, self.path)
        self._read_body()
        self._not_found(entry)

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _other

    def _not_found(self, entry: _Entry) -> None:
        message = f"{self.command} {self.path} is not served"
        self.send_api_error(404, "not_found_error", message, entry=entry)
