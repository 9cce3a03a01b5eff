"""The offline scripted model: HTTP-level tests, and contract tests through the real CLI + SDK."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workflows.model_offline import (
    OFFLINE_API_KEY,
    OFFLINE_MODEL_LABEL,
    FaultKind,
    OfflineModelServer,
    RequestRecord,
    offline_env,
    parse_fault_spec,
)
from workflows.model_offline.faults import FaultBook
from workflows.model_offline.script import (
    answer,
    parse_request,
    plan_questions,
    prompt_hash,
    split_pieces,
)
from workflows.model_offline.server import read_token_log

PLAN_PROMPT = "Topic: durable execution\nQuestions: 3"
REPO = Path(__file__).resolve().parents[2]

SSEEvent = tuple[str, dict[str, Any]]


# --------------------------------------------------------------------------------------------
# helpers


def _system(task: str, *, fault: str = "", think: bool = False) -> str:
    lines = ["You are a test.", "", f"agentdeck-task: {task}"]
    if fault:
        lines.append(f"agentdeck-fault: {fault}")
    if think:
        lines.append("agentdeck-think: on")
    return "\n".join(lines)


def _body(
    task: str,
    prompt: str,
    *,
    fault: str = "",
    think: bool = False,
    stream: bool = True,
    model: str = "claude-offline-test",
) -> dict[str, Any]:
    return {
        "model": model,
        "max_tokens": 1024,
        "stream": stream,
        "system": _system(task, fault=fault, think=think),
        "messages": [{"role": "user", "content": prompt}],
    }


class Response:
    def __init__(self, status: int, headers: dict[str, str], raw: bytes) -> None:
        self.status = status
        self.headers = headers
        self.raw = raw

    def json(self) -> Any:
        return json.loads(self.raw)


def _post(
    server: OfflineModelServer,
    body: dict[str, Any],
    *,
    path: str = "/v1/messages?beta=true",
    headers: dict[str, str] | None = None,
) -> Response:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request(
            "POST",
            path,
            body=json.dumps(body),
            headers={"content-type": "application/json", **(headers or {})},
        )
        resp = conn.getresponse()
        raw = resp.read()
        return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, raw)
    finally:
        conn.close()


def _get(server: OfflineModelServer, path: str) -> Response:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


def _parse_sse(raw: bytes) -> list[SSEEvent]:
    """Parse an SSE body strictly: every frame is exactly ``event: X`` + ``data: {json}``."""
    text = raw.decode()
    assert text.endswith("\n\n"), "the stream must end on a frame boundary"
    events: list[SSEEvent] = []
    for frame in text[:-2].split("\n\n"):
        lines = frame.split("\n")
        assert len(lines) == 2, frame
        assert lines[0].startswith("event: "), frame
        assert lines[1].startswith("data: "), frame
        name = lines[0][len("event: ") :]
        data = json.loads(lines[1][len("data: ") :])
        assert data["type"] == name, frame
        events.append((name, data))
    return events


def _deltas(events: list[SSEEvent], kind: str = "text_delta") -> list[str]:
    field = {"text_delta": "text", "thinking_delta": "thinking"}[kind]
    return [
        data["delta"][field]
        for name, data in events
        if name == "content_block_delta" and data["delta"]["type"] == kind
    ]


def _text(events: list[SSEEvent]) -> str:
    return "".join(_deltas(events))


def _wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.01)


def _last(server: OfflineModelServer) -> RequestRecord:
    records = server.requests()
    assert records, "no request recorded"
    return records[-1]


@pytest.fixture
def server() -> Iterator[OfflineModelServer]:
    with OfflineModelServer() as srv:
        yield srv


# --------------------------------------------------------------------------------------------
# the SSE stream


def test_sse_frames_are_well_formed(server: OfflineModelServer) -> None:
    resp = _post(server, _body("plan", PLAN_PROMPT))
    assert resp.status == 200
    assert resp.headers["content-type"].startswith("text/event-stream")
    events = _parse_sse(resp.raw)
    names = [name for name, _ in events]
    assert names[:3] == ["message_start", "ping", "content_block_start"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert set(names[3:-3]) == {"content_block_delta"}

    start = events[0][1]["message"]
    assert start["model"] == "claude-offline-test"
    assert start["role"] == "assistant" and start["content"] == []
    assert start["usage"]["output_tokens"] == 1
    assert start["usage"]["input_tokens"] > 0
    assert events[2][1]["content_block"] == {"type": "text", "text": ""}

    pieces = _deltas(events)
    assert len(pieces) > 10  # token-ish pieces, not one blob
    assert "".join(pieces) == answer("plan", PLAN_PROMPT)
    message_delta = events[-2][1]
    assert message_delta["delta"]["stop_reason"] == "end_turn"
    assert message_delta["usage"]["output_tokens"] == len(pieces)

    record = _last(server)
    assert (record.task, record.model, record.status, record.fault) == (
        "plan",
        "claude-offline-test",
        200,
        None,
    )
    assert record.outcome == "completed" and record.output_tokens == len(pieces)
    assert record.prompt_hash == prompt_hash("plan", PLAN_PROMPT)
    assert record.ended is not None and record.ended >= record.started


def test_answers_are_deterministic(server: OfflineModelServer) -> None:
    for task, prompt in [
        ("plan", PLAN_PROMPT),
        ("research", "Topic: durable execution\nQuestion: Why does it exist?"),
        ("chat", "hello"),
    ]:
        first = _parse_sse(_post(server, _body(task, prompt)).raw)
        second = _parse_sse(_post(server, _body(task, prompt)).raw)
        assert _deltas(first) == _deltas(second)
    a = _text(_parse_sse(_post(server, _body("research", "Topic: a\nQuestion: Why?")).raw))
    b = _text(_parse_sse(_post(server, _body("research", "Topic: a\nQuestion: How?")).raw))
    assert a != b


def test_non_streaming_request_gets_a_whole_message(server: OfflineModelServer) -> None:
    resp = _post(server, _body("plan", PLAN_PROMPT, stream=False, think=True))
    assert resp.status == 200
    message = resp.json()
    assert message["type"] == "message" and message["stop_reason"] == "end_turn"
    assert [block["type"] for block in message["content"]] == ["thinking", "text"]
    assert message["content"][1]["text"] == answer("plan", PLAN_PROMPT)
    assert message["usage"]["output_tokens"] > 0


def test_thinking_block_comes_first(server: OfflineModelServer) -> None:
    events = _parse_sse(_post(server, _body("plan", PLAN_PROMPT, think=True)).raw)
    starts = [data for name, data in events if name == "content_block_start"]
    assert [(s["index"], s["content_block"]["type"]) for s in starts] == [
        (0, "thinking"),
        (1, "text"),
    ]
    thinking = _deltas(events, "thinking_delta")
    assert thinking and "durable execution" in "".join(thinking)
    signatures = [
        data
        for name, data in events
        if name == "content_block_delta" and data["delta"]["type"] == "signature_delta"
    ]
    assert len(signatures) == 1 and signatures[0]["index"] == 0
    assert signatures[0]["delta"]["signature"]
    assert _text(events) == answer("plan", PLAN_PROMPT)
    usage = events[-2][1]["usage"]
    assert usage["output_tokens"] == len(thinking) + len(_deltas(events))


# --------------------------------------------------------------------------------------------
# the scripts


@pytest.mark.parametrize("n", [1, 3, 7, 18, 25])
def test_plan_is_json_with_n_distinct_questions(server: OfflineModelServer, n: int) -> None:
    prompt = f"Topic: vector clocks\nQuestions: {n}"
    text = _text(_parse_sse(_post(server, _body("plan", prompt)).raw))
    questions = json.loads(text)["questions"]
    assert len(questions) == n
    assert len(set(questions)) == n
    assert all(q.endswith("?") and "vector clocks" in q for q in questions)


def test_plan_questions_depend_on_the_prompt() -> None:
    a = plan_questions("x", 4, prompt="Topic: x\nQuestions: 4")
    b = plan_questions("x", 4, prompt="Topic: x\nQuestions: 4")
    assert a == b
    assert a[0] == "What problem does x solve, and for whom?"


@pytest.mark.parametrize(
    "question",
    [
        "What problem does CRDTs solve, and for whom?",
        "How does CRDTs work under the hood?",
        "What are the open research problems in CRDTs?",
        "Is it tasty?",
    ],
)
def test_research_is_two_to_four_paragraphs_about_the_topic(question: str) -> None:
    text = answer("research", f"Topic: CRDTs\nQuestion: {question}")
    blocks = text.split("\n\n")
    paragraphs = [b for b in blocks if not b.startswith("- ")]
    assert 2 <= len(paragraphs) <= 4
    assert "CRDTs" in text
    assert question in text


def test_synthesize_report_has_a_section_per_question() -> None:
    prompt = (
        "Topic: durable execution\n\n"
        "Q1: What problem does it solve?\nA1: It keeps work going. After crashes too.\n\n"
        "More detail on a second line.\n\n"
        "Q2: How does it work?\nA2: (failed: overloaded after 3 attempts)\n\n"
        "Q3: What next?\nA3: Better tooling is coming."
    )
    report = answer("synthesize", prompt)
    assert report.startswith("# Durable execution: research report\n")
    assert "\n## Summary\n" in report and "\n## Conclusion\n" in report
    sections = re.findall(r"^## (Q\d+): (.*)$", report, re.M)
    assert sections == [
        ("Q1", "What problem does it solve?"),
        ("Q2", "How does it work?"),
        ("Q3", "What next?"),
    ]
    assert "It keeps work going." in report
    assert "Q2 failed (overloaded after 3 attempts)" in report


def test_judge_and_chat() -> None:
    verdict = answer("judge", "Compare these.\nAnswer A: short\nAnswer B: longer")
    assert verdict.startswith("## Verdict") and "Answer A" in verdict and "Answer B" in verdict
    assert answer("judge", "x") == answer("judge", "x")
    assert "hello there" in answer("chat", "hello there\nsecond line")
    assert "nonsense" in answer("no-such-task", "nonsense")


@given(st.text())
def test_pieces_join_back(text: str) -> None:
    assert "".join(split_pieces(text)) == text


def test_pieces_are_token_sized() -> None:
    assert split_pieces('{"a": [1, 2]}\nHello, world!  Bye') == [
        '{"',
        'a": ',
        "[",
        "1, ",
        "2]}\n",
        "Hello, ",
        "world!  ",
        "Bye",
    ]


def test_directives_are_found_anywhere_and_stripped_from_the_prompt() -> None:
    body = {
        "model": "m",
        "system": [
            {"type": "text", "text": "x-anthropic-billing-header: cc_version=1;"},
            {"type": "text", "text": "Preamble.\nagentdeck-task: research\nagentdeck-think: on"},
        ],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "<system-reminder>\nignore me\n</system-reminder>\n"},
                    {"type": "text", "text": "Topic: t\nagentdeck-fault: overload*2\nQuestion: q"},
                ],
            },
            {"role": "system", "content": [{"type": "text", "text": "# Environment"}]},
        ],
    }
    parsed = parse_request(body)
    assert parsed.directives.task == "research"
    assert parsed.directives.think is True
    assert parsed.directives.faults == ("overload*2",)
    assert parsed.prompt == "Topic: t\n\nQuestion: q"
    assert "# Environment" in parsed.all_text

    plain = parse_request({"system": "agentdeck-task: plan", "messages": []})
    assert plain.directives.task == "plan" and plain.prompt == "" and plain.model


# --------------------------------------------------------------------------------------------
# faults


def test_fault_spec_parsing() -> None:
    items = parse_fault_spec("overload*1, synthesize.invalid_request*2 ,auth, hang*inf,slow")
    assert [str(i) for i in items] == [
        "overload*1",
        "synthesize.invalid_request*2",
        "auth*inf",
        "hang*inf",
        "slow*1",
    ]
    assert items[1].task == "synthesize" and items[1].kind is FaultKind.INVALID_REQUEST
    assert parse_fault_spec("") == ()
    for bad in ("explode", "overload*x", "overload*-1"):
        with pytest.raises(ValueError):
            parse_fault_spec(bad)
    with pytest.raises(ValueError):
        OfflineModelServer(faults="nope")


def test_fault_book_counts_per_prompt_and_sticks_per_session() -> None:
    book = FaultBook(parse_fault_spec("overload*1,ratelimit*1"))
    kinds = [getattr(book.pick("plan", "h1"), "kind", None) for _ in range(3)]
    assert kinds == [FaultKind.OVERLOAD, FaultKind.RATELIMIT, None]
    assert getattr(book.pick("plan", "h2"), "kind", None) is FaultKind.OVERLOAD
    # within one CLI session a re-send of the same request gets the same fault, uncounted
    item = book.pick("plan", "h3", session="s1")
    assert item is not None and item.kind is FaultKind.OVERLOAD
    assert book.pick("plan", "h3", session="s1") is item
    again = book.pick("plan", "h3", session="s2")
    assert again is not None and again.kind is FaultKind.RATELIMIT
    assert book.pick("plan", "h3", session="s3") is None
    # invalid_plan only ever applies to the plan task
    plans = FaultBook(parse_fault_spec("invalid_plan*inf"))
    assert plans.pick("research", "h") is None
    assert plans.pick("plan", "h") is not None


@pytest.mark.parametrize(
    ("kind", "status", "error_type"),
    [
        ("overload", 529, "overloaded_error"),
        ("ratelimit", 429, "rate_limit_error"),
        ("auth", 401, "authentication_error"),
        ("invalid_request", 400, "invalid_request_error"),
    ],
)
def test_http_error_faults(
    server: OfflineModelServer, kind: str, status: int, error_type: str
) -> None:
    body = _body("plan", PLAN_PROMPT, fault=f"{kind}")
    resp = _post(server, body)
    assert resp.status == status
    payload = resp.json()
    assert payload["type"] == "error" and payload["error"]["type"] == error_type
    if kind == "overload":
        assert payload["error"]["message"] == "Overloaded (offline fault injection)"
    if kind == "ratelimit":
        assert resp.headers["retry-after"] == "1"
    if kind == "auth":
        assert payload["error"]["message"] == "invalid x-api-key"
    record = _last(server)
    assert (record.fault, record.status, record.outcome) == (
        str(parse_fault_spec(kind)[0]),
        status,
        "error",
    )
    retry = _post(server, body)  # the same request again
    if kind == "auth":  # auth fires forever by default
        assert retry.status == 401
    else:
        assert retry.status == 200 and _text(_parse_sse(retry.raw))


def test_fault_counts_are_per_request_identity(server: OfflineModelServer) -> None:
    first = _body("research", "Topic: t\nQuestion: one", fault="overload*2")
    other = _body("research", "Topic: t\nQuestion: two", fault="overload*2")
    assert [_post(server, first).status for _ in range(3)] == [529, 529, 200]
    assert _post(server, other).status == 529
    faults = [r.fault for r in server.requests()]
    assert faults == ["overload*2", "overload*2", None, "overload*2"]


def test_server_wide_faults_respect_the_task() -> None:
    with OfflineModelServer(faults="synthesize.invalid_request*1") as srv:
        assert _post(srv, _body("plan", PLAN_PROMPT)).status == 200
        synth = _body("synthesize", "Topic: t\n\nQ1: a?\nA1: b.")
        assert _post(srv, synth).status == 400
        assert _post(srv, synth).status == 200


def test_from_env_reads_pacing_and_faults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTDECK_OFFLINE_TPS", "123")
    monkeypatch.setenv("AGENTDECK_OFFLINE_FAULTS", "overload*1")
    with OfflineModelServer.from_env() as srv:
        assert srv.tokens_per_second == 123
        assert _post(srv, _body("chat", "hi")).status == 529
    assert OfflineModelServer.from_env(tokens_per_second=0, faults="").tokens_per_second == 0


def test_token_log_is_off_unless_asked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("AGENTDECK_OFFLINE_TOKEN_LOG", raising=False)
    with OfflineModelServer() as srv:
        assert _post(srv, _body("chat", "hi")).status == 200
        assert srv._token_log is None
    monkeypatch.setenv("AGENTDECK_OFFLINE_TOKEN_LOG", "")
    with OfflineModelServer() as srv:
        assert srv._token_log is None
    assert list(tmp_path.iterdir()) == []


def test_token_log_records_every_delta_when_asked(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    log = tmp_path / "tokens.log"
    monkeypatch.setenv("AGENTDECK_OFFLINE_TOKEN_LOG", str(log))
    research = "Topic: durable execution\nQuestion: Why does it exist?"
    before = time.monotonic_ns()
    # Two servers (as two processes would) append to the same file.
    with OfflineModelServer() as one, OfflineModelServer(token_log=log) as two:
        events = _parse_sse(_post(one, _body("plan", PLAN_PROMPT, think=True)).raw)
        requests = [f"{one.port}.{_last(one).seq}"]
        _post(two, _body("research", research))
        requests.append(f"{two.port}.{_last(two).seq}")
        _post(one, _body("chat", "hi", stream=False))  # not streamed: nothing to log
    after = time.monotonic_ns()
    lines = read_token_log(log)
    plan = [ln for ln in lines if ln.request == requests[0]]
    assert {ln.task for ln in plan} == {"plan"}
    thinking = [ln.text for ln in plan if ln.kind == "thinking"]
    assert thinking == _deltas(events, "thinking_delta") and thinking
    assert [ln.kind for ln in plan] == ["thinking"] * len(thinking) + ["text"] * (
        len(plan) - len(thinking)
    )
    assert "".join(ln.text for ln in plan if ln.kind == "text") == answer("plan", PLAN_PROMPT)
    other = [ln for ln in lines if ln.request == requests[1]]
    assert "".join(ln.text for ln in other) == answer("research", research)
    assert lines == plan + other
    stamps = [ln.monotonic_ns for ln in lines]
    assert before <= stamps[0] and stamps == sorted(stamps) and stamps[-1] <= after
    # A torn last line (a writer killed mid-line) is left out.
    with log.open("a") as f:
        f.write("123\tx.1\tplan\ttext")
    assert read_token_log(log) == lines


def test_bad_prompt_fault_spec_is_ignored(server: OfflineModelServer) -> None:
    resp = _post(server, _body("chat", "hi", fault="explode*3"))
    assert resp.status == 200 and _last(server).fault is None


def test_midstream_sends_half_then_an_error_event(server: OfflineModelServer) -> None:
    resp = _post(server, _body("plan", PLAN_PROMPT, fault="midstream"))
    assert resp.status == 200
    events = _parse_sse(resp.raw)
    full = split_pieces(answer("plan", PLAN_PROMPT))
    assert _deltas(events) == full[: len(full) // 2]
    name, data = events[-1]
    assert name == "error" and data["error"]["type"] == "overloaded_error"
    assert "message_stop" not in [n for n, _ in events]
    record = _last(server)
    assert record.outcome == "error" and record.output_tokens == len(full) // 2
    # the same request again: the fault is used up
    assert _text(_parse_sse(_post(server, _body("plan", PLAN_PROMPT, fault="midstream")).raw))


def test_invalid_plan_is_prose(server: OfflineModelServer) -> None:
    text = _text(_parse_sse(_post(server, _body("plan", PLAN_PROMPT, fault="invalid_plan")).raw))
    assert "durable execution" in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    # research requests are not affected by an invalid_plan fault
    research = _body("research", "Topic: t\nQuestion: q", fault="invalid_plan*inf")
    assert _post(server, research).status == 200 and _last(server).fault is None


def test_pacing_and_the_slow_fault() -> None:
    prompt = "Topic: pacing\nQuestions: 2"
    pieces = len(split_pieces(answer("plan", prompt)))
    with OfflineModelServer(tokens_per_second=400) as srv:
        started = time.monotonic()
        _post(srv, _body("plan", prompt))
        paced = time.monotonic() - started
        started = time.monotonic()
        _post(srv, _body("plan", prompt, fault="slow"))
        slow = time.monotonic() - started
    assert paced >= (pieces - 1) / 400
    assert slow >= (pieces - 1) / 40  # 10x slower
    assert slow > paced


def _open_hanging_stream(server: OfflineModelServer) -> tuple[socket.socket, bytes]:
    """Start a ``hang`` request on a raw socket and read until the stream stalls."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    payload = json.dumps(_body("research", "Topic: t\nQuestion: q", fault="hang")).encode()
    sock.sendall(
        b"POST /v1/messages HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n"
        + f"content-length: {len(payload)}\r\n\r\n".encode()
        + payload
    )
    received = b""
    while received.count(b'"text_delta"') < 3:
        chunk = sock.recv(65536)
        assert chunk, "stream closed before it stalled"
        received += chunk
    return sock, received


def test_hang_stalls_until_the_client_disconnects(server: OfflineModelServer) -> None:
    sock, received = _open_hanging_stream(server)
    assert b"message_stop" not in received
    _wait_until(lambda: _last(server).output_tokens == 3)
    assert _last(server).outcome == "in_progress"
    sock.close()
    _wait_until(lambda: _last(server).outcome == "disconnected", timeout=5)
    assert _last(server).fault == "hang*1"


def test_stop_is_prompt_with_a_hanging_stream() -> None:
    srv = OfflineModelServer()
    srv.start()
    sock, _ = _open_hanging_stream(srv)
    try:
        _wait_until(lambda: _last(srv).output_tokens == 3)
        started = time.monotonic()
        srv.stop()
        assert time.monotonic() - started < 2.0
        sock.settimeout(5)
        assert sock.recv(65536) == b""  # the server closed the stream
        assert _last(srv).outcome == "stopped"
    finally:
        sock.close()
        srv.stop()


def test_concurrent_requests(server: OfflineModelServer) -> None:
    results: dict[int, str] = {}

    def worker(i: int) -> None:
        body = _body("research", f"Topic: t\nQuestion: question {i}?")
        results[i] = _text(_parse_sse(_post(server, body).raw))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results) == list(range(8))
    assert all(f"question {i}?" in results[i] for i in range(8))
    assert len(server.requests()) == 8


# --------------------------------------------------------------------------------------------
# the request log, other endpoints, the entry point


def test_request_log_and_health_over_http(server: OfflineModelServer) -> None:
    _post(server, _body("plan", PLAN_PROMPT))
    _post(server, _body("chat", "hi", fault="overload"))
    assert server.wait_for_requests(2, timeout=5, finished=True)
    assert not server.wait_for_requests(3, timeout=0.01)
    health = _get(server, "/_agentdeck/health")
    assert health.status == 200
    assert health.json() == {"status": "ok", "label": OFFLINE_MODEL_LABEL, "requests": 2}
    log = _get(server, "/_agentdeck/requests").json()
    assert [RequestRecord.from_json(r) for r in log] == server.requests()
    assert [(r["task"], r["status"], r["fault"]) for r in log] == [
        ("plan", 200, None),
        ("chat", 529, "overload*1"),
    ]


def test_other_endpoints(server: OfflineModelServer) -> None:
    count = _post(server, _body("plan", PLAN_PROMPT), path="/v1/messages/count_tokens?beta=true")
    assert count.status == 200 and count.json()["input_tokens"] > 0
    missing = _get(server, "/v1/nothing")
    assert missing.status == 404 and missing.json()["error"]["type"] == "not_found_error"
    assert _get(server, "/v1/models").json()["data"] == []
    bad = _post(server, {"x": 1}, path="/v1/messages")  # no messages: still answered (chat)
    assert bad.status == 200
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("POST", "/v1/messages", body=b"not json")
    resp = conn.getresponse()
    assert resp.status == 400 and json.loads(resp.read())["error"]["type"] == (
        "invalid_request_error"
    )
    conn.close()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("HEAD", "/")
    assert conn.getresponse().status == 200
    conn.close()
    assert [r.path for r in server.requests()] == [
        "/v1/messages/count_tokens?beta=true",
        "/v1/nothing",
        "/v1/models",
        "/v1/messages",
        "/v1/messages",
        "/",
    ]


def test_offline_env(server: OfflineModelServer) -> None:
    env = offline_env(server.base_url, "/tmp/home")
    assert env == {
        "ANTHROPIC_BASE_URL": server.base_url,
        "ANTHROPIC_API_KEY": OFFLINE_API_KEY,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "CLAUDE_CODE_MAX_RETRIES": "0",
        "HOME": "/tmp/home",
    }
    assert OFFLINE_API_KEY == "offline-not-a-secret"
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", server.base_url)


def test_entry_point_runs_in_the_foreground(tmp_path: Path) -> None:
    env = {**os.environ, "AGENTDECK_OFFLINE_TPS": "0"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "workflows.model_offline", "--port", "0", "--faults", "overload"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.fullmatch(r"listening on (http://127\.0\.0\.1:(\d+))\n", line)
        assert match, line
        base_url = match.group(1)
        with urllib.request.urlopen(f"{base_url}/_agentdeck/health", timeout=10) as resp:
            assert json.load(resp)["status"] == "ok"
        request = urllib.request.Request(
            f"{base_url}/v1/messages",
            data=json.dumps(_body("chat", "hi")).encode(),
            method="POST",
        )
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(request, timeout=10)
        assert info.value.code == 529
        with urllib.request.urlopen(f"{base_url}/_agentdeck/requests", timeout=10) as resp:
            assert [r["fault"] for r in json.load(resp)] == ["overload*1"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# --------------------------------------------------------------------------------------------
# contract: the real bundled Claude Code CLI through claude_agent_sdk


def _options(
    server: OfflineModelServer,
    tmp_path: Path,
    task: str,
    *,
    fault: str = "",
    think: bool = False,
    partial: bool = False,
) -> Any:
    from claude_agent_sdk import ClaudeAgentOptions

    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return ClaudeAgentOptions(
        system_prompt=_system(task, fault=fault, think=think),
        include_partial_messages=partial,
        env=offline_env(server.base_url, str(home)),
        cwd=str(tmp_path),
        max_turns=1,
    )


async def _run(prompt: str, options: Any) -> tuple[list[Any], BaseException | None]:
    from claude_agent_sdk import query

    messages: list[Any] = []
    try:
        async for message in query(prompt=prompt, options=options):
            messages.append(message)
    except Exception as exc:
        return messages, exc
    return messages, None


@pytest.mark.contract
@pytest.mark.timeout(60)
async def test_cli_plan_returns_json(server: OfflineModelServer, tmp_path: Path) -> None:
    from claude_agent_sdk import AssistantMessage, ResultMessage, TextBlock

    messages, error = await _run(PLAN_PROMPT, _options(server, tmp_path, "plan"))
    assert error is None
    result = messages[-1]
    assert isinstance(result, ResultMessage) and not result.is_error
    assert json.loads(result.result or "")["questions"] == plan_questions(
        "durable execution", 3, prompt=PLAN_PROMPT
    )
    assert result.usage is not None and result.usage["output_tokens"] > 0
    assert result.total_cost_usd is not None and result.total_cost_usd > 0
    assistant = [m for m in messages if isinstance(m, AssistantMessage)]
    assert len(assistant) == 1 and isinstance(assistant[0].content[0], TextBlock)
    records = server.requests()
    assert len(records) == 1
    record = records[0]
    assert (record.task, record.status, record.stream, record.outcome) == (
        "plan",
        200,
        True,
        "completed",
    )
    assert record.model == assistant[0].model  # the CLI's default model, echoed back
    assert record.prompt_hash == prompt_hash("plan", PLAN_PROMPT)  # the CLI's framing is ignored
    assert record.session  # the CLI sends X-Claude-Code-Session-Id


@pytest.mark.contract
@pytest.mark.timeout(60)
async def test_cli_partial_messages_stream_text_deltas(
    server: OfflineModelServer, tmp_path: Path
) -> None:
    from claude_agent_sdk import ResultMessage, StreamEvent

    prompt = "Topic: durable execution\nQuestion: How does durable execution work under the hood?"
    options = _options(server, tmp_path, "research", partial=True)
    messages, error = await _run(prompt, options)
    assert error is None
    events = [m.event for m in messages if isinstance(m, StreamEvent)]
    deltas = [e["delta"]["text"] for e in events if e["type"] == "content_block_delta"]
    assert len(deltas) == len(split_pieces(answer("research", prompt)))
    result = messages[-1]
    assert isinstance(result, ResultMessage)
    assert "".join(deltas) == result.result == answer("research", prompt)
    assert [e["type"] for e in events][-2:] == ["message_delta", "message_stop"]


@pytest.mark.contract
@pytest.mark.timeout(60)
async def test_cli_thinking_surfaces(server: OfflineModelServer, tmp_path: Path) -> None:
    from claude_agent_sdk import AssistantMessage, StreamEvent, TextBlock, ThinkingBlock

    options = _options(server, tmp_path, "plan", think=True, partial=True)
    messages, error = await _run(PLAN_PROMPT, options)
    assert error is None
    kinds = [
        m.event["delta"]["type"]
        for m in messages
        if isinstance(m, StreamEvent) and m.event["type"] == "content_block_delta"
    ]
    assert "thinking_delta" in kinds and "signature_delta" in kinds and "text_delta" in kinds
    blocks = [b for m in messages if isinstance(m, AssistantMessage) for b in m.content]
    assert [type(b) for b in blocks] == [ThinkingBlock, TextBlock]
    assert isinstance(blocks[0], ThinkingBlock) and "durable execution" in blocks[0].thinking


@pytest.mark.contract
@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("kind", "status", "assistant_error", "text"),
    [
        ("overload", 529, "server_error", "API Error: 529 Overloaded (offline fault injection)"),
        ("ratelimit", 429, "rate_limit", "API Error: Request rejected (429)"),
        ("auth", 401, "authentication_failed", "Invalid API key"),
        ("invalid_request", 400, "unknown", "API Error: 400 Invalid request"),
    ],
)
async def test_cli_http_faults_raise_result_error(
    server: OfflineModelServer,
    tmp_path: Path,
    kind: str,
    status: int,
    assistant_error: str,
    text: str,
) -> None:
    from claude_agent_sdk import AssistantMessage, ProcessError, ResultError, ResultMessage

    options = _options(server, tmp_path, "plan", fault=f"{kind}*1")
    messages, error = await _run(PLAN_PROMPT, options)
    assert isinstance(error, ResultError) and isinstance(error, ProcessError)
    assert error.api_error_status == status
    assert error.terminal_reason == "api_error"
    assert error.exit_code == 1
    assert error.result is not None and error.result.startswith(text)
    assert str(error).startswith(f"Claude Code returned an error result: {text}")
    synthetic = [m for m in messages if isinstance(m, AssistantMessage)]
    assert [(m.model, m.error) for m in synthetic] == [("<synthetic>", assistant_error)]
    result = messages[-1]
    assert isinstance(result, ResultMessage)
    assert result.is_error and result.api_error_status == status

    records = server.requests()
    assert {r.fault for r in records} == {f"{kind}*1"}
    assert len({r.session for r in records}) == 1
    if kind == "invalid_request":  # the CLI re-sends a 400 with features stripped
        assert len(records) > 1
    else:
        assert len(records) == 1
    # a new call (a new CLI session) with the same prompt: the *1 fault is used up
    messages, error = await _run(PLAN_PROMPT, options)
    assert error is None


@pytest.mark.contract
@pytest.mark.timeout(60)
async def test_cli_midstream_fault(server: OfflineModelServer, tmp_path: Path) -> None:
    from claude_agent_sdk import ResultError, StreamEvent

    options = _options(server, tmp_path, "plan", fault="midstream", partial=True)
    messages, error = await _run(PLAN_PROMPT, options)
    deltas = [
        m.event["delta"]["text"]
        for m in messages
        if isinstance(m, StreamEvent)
        and m.event["type"] == "content_block_delta"
        and m.event["delta"]["type"] == "text_delta"
    ]
    full = split_pieces(answer("plan", PLAN_PROMPT))
    assert deltas == full[: len(full) // 2]
    assert isinstance(error, ResultError) and error.api_error_status == 529
    # the streamed attempt, then the CLI's non-streaming re-send (same session, same fault)
    records = server.requests()
    assert [(r.stream, r.status, r.fault) for r in records] == [
        (True, 200, "midstream*1"),
        (False, 529, "midstream*1"),
    ]


@pytest.mark.contract
@pytest.mark.timeout(60)
async def test_cli_interrupt_ends_a_hanging_stream(
    server: OfflineModelServer, tmp_path: Path
) -> None:
    from claude_agent_sdk import ClaudeSDKClient, ResultMessage, StreamEvent

    options = _options(server, tmp_path, "research", fault="hang", partial=True)
    seen = 0
    result: ResultMessage | None = None
    async with ClaudeSDKClient(options) as client:
        await client.query("Topic: t\nQuestion: q")
        async for message in client.receive_response():
            if isinstance(message, StreamEvent) and message.event["type"] == "content_block_delta":
                seen += 1
                if seen == 3:
                    await client.interrupt()
            elif isinstance(message, ResultMessage):
                result = message
    assert result is not None and result.is_error
    assert result.subtype == "error_during_execution"
    _wait_until(lambda: _last(server).outcome == "disconnected", timeout=10)
