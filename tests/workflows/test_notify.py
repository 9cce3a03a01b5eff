"""Notifications out of the terminal (workflows/notify.py), sent durably.

A real HTTP server on 127.0.0.1 receives the webhook's POSTs; a real command reads the JSON on
stdin; research runs use a real SQLite file and DBOS through the in-process offline model. The
crash test SIGKILLs a process whose run waits for its plan approval after its notification went
out, restarts on the same database, and counts the POSTs per event: exactly one each.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import connected, launched, offline_deck, wait_for
from tests.support.procs import kill_group, live_group_members, running_in, spawn
from tui.supervisor import Supervisor, SupervisorError
from workflows.config import ConfigError, settings
from workflows.models import ApprovalAnswer, ApprovalDecision, ApprovalRequest
from workflows.notify import (
    EVENTS,
    NOTIFY_RETRY,
    NotifyConfig,
    NotifyEvent,
    NotifyEventKind,
    approve_command,
    load_notify,
    scan_events,
    watch_interval,
)
from workflows.runtime import LOG_BUFFER, RuntimeSettings

REPO = Path(__file__).resolve().parents[2]
TOKEN = "s3cr3t-hook-token"
APPROVE = ApprovalAnswer(decision=ApprovalDecision.APPROVE, by="test")


class Hook:
    """A webhook receiver on 127.0.0.1: records every POST; answers per ``mode``."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, Any]]] = []
        self.mode = "ok"  # ok | fail (HTTP 500) | slow (answers after 1.5 s)
        #: POSTs whose key starts with this are held (recorded, unanswered) until ``release``.
        self.hold_prefix = ""
        self.release = threading.Event()
        self.lock = threading.Lock()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with hook.lock:
                    key = self.headers.get("Idempotency-Key", "")
                    hook.posts.append((key, json.loads(body)))
                if hook.hold_prefix and key.startswith(hook.hold_prefix):
                    hook.release.wait(30)
                if hook.mode == "slow":
                    time.sleep(1.5)
                code = 500 if hook.mode == "fail" else 204
                try:
                    self.send_response(code)
                    self.end_headers()
                except OSError:  # the client gave up waiting
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook?token={TOKEN}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def keys(self) -> list[str]:
        with self.lock:
            return [k for k, _ in self.posts]

    def bodies(self, key: str) -> list[dict[str, Any]]:
        with self.lock:
            return [b for k, b in self.posts if k == key]

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Iterator[Hook]:
    h = Hook()
    yield h
    h.close()


def write_config(path: Path, **notify: Any) -> Path:
    path.write_text(json.dumps({"notify": notify}))  # JSON is YAML
    return path


@pytest.fixture(autouse=True)
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hook: Hook) -> Path:
    """Every test's own agentdeck.yaml, written before the runtime starts: the webhook."""
    path = tmp_path / "agentdeck.yaml"
    monkeypatch.setenv("AGENTDECK_CONFIG", str(path))
    return write_config(path, webhook=hook.url, timeout_s=0.5)


# --------------------------------------------------------------------------------------------
# The configuration and the payload


def test_config_from_yaml_and_environment(
    config: Path, hook: Hook, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = load_notify()
    assert cfg.webhook == hook.url and cfg.command is None and cfg.events == EVENTS
    assert TOKEN not in cfg.describe() and "127.0.0.1" in cfg.describe()
    write_config(config, command="notify-send -u critical", events=["run_failed"])
    cfg = load_notify()
    assert cfg.command == ("notify-send", "-u", "critical")
    assert cfg.wants(NotifyEventKind.RUN_FAILED)
    assert not cfg.wants(NotifyEventKind.APPROVAL_NEEDED)
    monkeypatch.setenv("AGENTDECK_NOTIFY_WEBHOOK", "https://example.org/x")
    monkeypatch.setenv("AGENTDECK_NOTIFY_COMMAND", "terminal-notifier -title agentdeck")
    cfg = load_notify()
    assert cfg.webhook == "https://example.org/x" and cfg.command == (
        "terminal-notifier",
        "-title",
        "agentdeck",
    )
    config.write_text("")
    monkeypatch.delenv("AGENTDECK_NOTIFY_WEBHOOK")
    monkeypatch.delenv("AGENTDECK_NOTIFY_COMMAND")
    assert not load_notify().enabled


def test_notification_settings_are_fields_of_the_settings_model(
    hook: Hook, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The retry policy, the watcher's interval and the targets' overrides are read from the
    one settings model (``agentdeck config`` shows them); a bad value is one line naming it."""
    s = settings()
    assert NOTIFY_RETRY == {
        "max_attempts": s.notify_max_attempts,
        "interval_seconds": s.notify_retry_interval,
        "backoff_rate": s.notify_backoff,
    }
    assert s.notify_max_attempts == int(os.environ["AGENTDECK_NOTIFY_MAX_ATTEMPTS"])
    monkeypatch.setenv("AGENTDECK_NOTIFY_WEBHOOK", "  ")  # blank: the section's webhook stays
    assert load_notify().webhook == hook.url
    monkeypatch.setenv("AGENTDECK_NOTIFY_WATCH_S", "0.7")
    assert watch_interval() == 0.7
    monkeypatch.setenv("AGENTDECK_NOTIFY_WATCH_S", "soon")
    assert watch_interval() == 5.0  # a watcher already running keeps watching
    with pytest.raises(ConfigError) as bad:
        load_notify()
    assert str(bad.value).startswith("setting notify_watch_s ($AGENTDECK_NOTIFY_WATCH_S): ")


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"webhook": "ftp://x/y"}, "notify.webhook: webhook must be an http:// or https:// URL"),
        ({"events": ["lunch"]}, "notify.events.0: Input should be"),
        ({"hook": "http://x"}, "notify.hook: Extra inputs are not permitted"),
        ({"timeout_s": 0}, "notify.timeout_s: Input should be greater than 0"),
    ],
)
def test_bad_section_is_one_line_naming_the_file(
    config: Path, section: dict[str, Any], message: str
) -> None:
    write_config(config, **section)
    with pytest.raises(ConfigError) as err:
        load_notify()
    assert str(err.value).startswith(f"{config}: {message}")
    assert "\n" not in str(err.value)


def test_a_bad_section_stops_the_runtime_before_it_starts(tmp_path: Path, config: Path) -> None:
    from workflows.runtime import Runtime

    write_config(config, webhook="not a url")
    rt = Runtime(
        RuntimeSettings(
            db_url=f"sqlite:///{tmp_path / 'x.sqlite'}", offline=True, state_dir=tmp_path / "state"
        )
    )
    with pytest.raises(ConfigError, match="notify.webhook"):
        rt.launch()
    assert not rt.launched and not (tmp_path / "x.sqlite").exists()


def test_approve_command() -> None:
    assert approve_command("run-1", ["approve", "reject"]) == "agentdeck approve run-1"
    assert (
        approve_command("a b", ["raise", "stop"])
        == """agentdeck approve 'a b' --answer '{"decision": "raise"}'"""
    )
    ev = NotifyEvent(key="k", event=NotifyEventKind.RUN_FAILED, run_id="r")
    assert json.loads(ev.body())["event"] == "run_failed"


# --------------------------------------------------------------------------------------------
# Research runs


async def launch(sup: Supervisor, **data: Any) -> str:
    res = await sup.launch("research", {"topic": "durable execution", "questions": 1, **data})
    assert res.ok
    return res.workflow_id


async def settled(sup: Supervisor, wid: str, within: float = 60) -> str:
    async def done() -> bool:
        try:
            return not (await sup.get_row(wid)).active
        except SupervisorError:  # not there yet
            return False

    await wait_for(done, within=within, interval=0.05)
    return (await sup.get_row(wid)).status


async def waiting(sup: Supervisor, wid: str) -> None:
    async def held() -> bool:
        return (await sup.get_row(wid)).waiting_approval

    await wait_for(held, within=60)


def plan_prefix(wid: str) -> str:
    return f"approval_needed:{wid}:approve-plan@"


async def plan_key(sup: Supervisor, wid: str) -> str:
    """The key of the run's pending plan approval's notification (its creation time, in ms,
    makes a re-asked approval a new event)."""
    req = (await sup.get_row(wid)).approval
    assert req is not None and req.topic == "approve-plan"
    return f"{plan_prefix(wid)}{int(req.created_at * 1000)}"


async def test_plan_approval_posts_once_with_the_payload(sup: Supervisor, hook: Hook) -> None:
    wid = await launch(sup)
    await waiting(sup, wid)
    key = await plan_key(sup, wid)
    assert await settled(sup, key) == "SUCCESS"
    [body] = hook.bodies(key)
    assert body["key"] == key and body["event"] == "approval_needed"
    assert body["run_id"] == wid and body["name"] == "research"
    assert body["approval_kind"] == "plan" and body["options"] == ["approve", "reject", "edit"]
    assert body["prompt"].startswith("Approve this research plan for “durable execution”?")
    assert body["approve_command"] == f"agentdeck approve {wid}"
    assert body["deadline"] > time.time() + 3600
    assert TOKEN not in json.dumps(body)
    assert (await sup.answer(wid, APPROVE)).ok
    assert await settled(sup, wid) == "SUCCESS"
    assert hook.keys() == [key]  # a successful run sends nothing else


async def test_a_failed_run_is_told_once(sup: Supervisor, hook: Hook) -> None:
    wid = await launch(sup, fault="plan.auth")
    assert await settled(sup, wid) == "ERROR"
    key = f"run_failed:{wid}"
    assert await settled(sup, key) == "SUCCESS"
    [body] = hook.bodies(key)
    assert body["event"] == "run_failed" and body["run_id"] == wid
    assert "planning failed" in body["detail"] and body["approve_command"] == ""
    assert hook.keys() == [key]


@pytest.mark.parametrize("mode", ["fail", "refused", "slow"])
async def test_a_failing_webhook_retries_then_gives_up_without_failing_the_run(
    sup: Supervisor, hook: Hook, config: Path, mode: str
) -> None:
    if mode == "refused":
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        write_config(config, webhook=f"http://127.0.0.1:{port}/hook?token={TOKEN}", timeout_s=0.5)
    hook.mode = mode
    seen = len(LOG_BUFFER.lines)
    wid = await launch(sup)
    await waiting(sup, wid)
    key = await plan_key(sup, wid)
    assert await settled(sup, key) == "SUCCESS"
    attempts = int(os.environ["AGENTDECK_NOTIFY_MAX_ATTEMPTS"])
    assert len(hook.bodies(key)) == (0 if mode == "refused" else attempts)
    lines = [ln.message for ln in list(LOG_BUFFER.lines)[seen:] if ln.level == "WARNING"]
    gave_up = [m for m in lines if f"notification {key} (webhook) not sent, gave up" in m]
    assert len(gave_up) == 1, lines
    assert TOKEN not in "\n".join(ln.message for ln in LOG_BUFFER.lines)
    assert (await sup.answer(wid, APPROVE)).ok
    assert await settled(sup, wid) == "SUCCESS"


@pytest.fixture
def command_out(tmp_path: Path, config: Path) -> Path:
    out = tmp_path / "notified.jsonl"
    script = f"import sys; open({str(out)!r}, 'ab').write(sys.stdin.buffer.read() + b'\\n')"
    write_config(config, command=[sys.executable, "-c", script])
    return out


async def test_the_command_gets_the_json_on_stdin(sup: Supervisor, command_out: Path) -> None:
    wid = await launch(sup)
    await waiting(sup, wid)
    assert await settled(sup, await plan_key(sup, wid)) == "SUCCESS"
    [line] = (await asyncio.to_thread(command_out.read_text)).splitlines()
    body = json.loads(line)
    assert body["key"] == await plan_key(sup, wid) and body["approval_kind"] == "plan"
    assert body["approve_command"] == f"agentdeck approve {wid}"
    assert (await sup.answer(wid, APPROVE)).ok
    assert await settled(sup, wid) == "SUCCESS"


async def test_nothing_configured_sends_nothing(sup: Supervisor, config: Path) -> None:
    await asyncio.to_thread(config.write_text, "")
    wid = await launch(sup)
    await waiting(sup, wid)
    assert (await sup.answer(wid, APPROVE)).ok
    assert await settled(sup, wid) == "SUCCESS"
    with pytest.raises(SupervisorError):
        await sup.get_row(await plan_key(sup, wid))


def test_config_model_is_frozen() -> None:
    with pytest.raises(ValueError):
        NotifyConfig(webhook="http://x", unknown=1)  # type: ignore[call-arg]


# --------------------------------------------------------------------------------------------
# Crash safety: one POST per event across a SIGKILL and a restart

CHILD = """
import asyncio, sys
from pathlib import Path
from tui.supervisor import Supervisor
from workflows.runtime import Runtime, RuntimeSettings

async def main(db_url: str, state_dir: str, run_id: str) -> None:
    rt = Runtime(RuntimeSettings(db_url=db_url, offline=True, offline_tps=0,
                                 state_dir=Path(state_dir)))
    await asyncio.to_thread(rt.launch)
    sup = Supervisor(db_url)
    await sup.connect()
    await sup.launch("research", {"topic": "a failing run", "questions": 1, "fault": "plan.auth"},
                     workflow_id=run_id + "-fails")
    while (await sup.get_row(run_id + "-fails")).active:
        await asyncio.sleep(0.05)
    await sup.launch("research", {"topic": "durable execution", "questions": 1},
                     workflow_id=run_id)
    print("launched", run_id, flush=True)
    await asyncio.Event().wait()

asyncio.run(main(*sys.argv[1:]))
"""


@pytest.mark.slow
@pytest.mark.timeout(180)
@pytest.mark.parametrize("when", ["after the send", "during a POST"])
async def test_one_post_per_event_across_sigkill_and_restart(
    tmp_path: Path, hook: Hook, config: Path, when: str
) -> None:
    """Killed once every notification is checkpointed: exactly one POST per event over both
    processes. Killed while a POST is in flight (the receiver has it, DBOS has not checkpointed
    it): the restarted runtime sends it again with the same key, which is what the receiver
    dedupes on; nothing is lost and no other event is repeated."""
    db_url = f"sqlite:///{tmp_path / 'crash.sqlite'}"
    state_dir = tmp_path / "state"
    out_path = tmp_path / "child.out"
    run_id = "notify-crash"
    env = {**os.environ, "PYTHONPATH": str(REPO), "AGENTDECK_STATE_DIR": str(state_dir)}
    proc = spawn(
        [sys.executable, "-c", CHILD, db_url, str(state_dir), run_id],
        cwd=tmp_path,
        env=env,
        out_path=out_path,
    )
    failed_key = f"run_failed:{run_id}-fails"
    if when == "during a POST":
        hook.hold_prefix = "approval_needed:"

    def posted() -> list[str]:
        """The plan approval's key and the failed run's, once both were POSTed."""
        plan = [k for k in hook.keys() if k.startswith(plan_prefix(run_id))]
        return [plan[0], failed_key] if plan and hook.bodies(failed_key) else []

    try:
        await wait_for(posted, within=90, interval=0.05)
        keys = posted()
        assert proc.poll() is None, out_path.read_text(errors="replace")
        async with connected(db_url) as probe:
            for key in keys if when == "after the send" else keys[1:]:
                await wait_for(functools.partial(_succeeded, probe, key), within=30)

        kill_group(proc)
        await wait_for(
            lambda: not live_group_members(proc.pid) and not running_in(state_dir),
            within=10,
            interval=0.05,
        )
    finally:
        if proc.poll() is None or live_group_members(proc.pid):
            kill_group(proc)
    hook.hold_prefix = ""
    hook.release.set()
    settings = RuntimeSettings(db_url=db_url, offline=True, offline_tps=0, state_dir=state_dir)
    async with launched(settings) as rt, connected(db_url) as sup:
        # The restarted runtime recovers the waiting run (its notification is checkpointed) and
        # its watcher finds the failed run again (DBOS already has that workflow id).
        for key in keys:
            assert await settled(sup, key) == "SUCCESS"
        assert rt.watcher is not None
        await asyncio.to_thread(rt.watcher.tick, time.time() - 600)
        await waiting(sup, run_id)
        assert (await sup.answer(run_id, APPROVE)).ok
        assert await settled(sup, run_id, within=90) == "SUCCESS"
        for key in keys:
            assert await settled(sup, key) == "SUCCESS"
    got = hook.keys()
    assert sorted(set(got)) == sorted(keys), got
    assert got.count(keys[1]) == 1  # the failed run's: sent and checkpointed before the kill
    assert got.count(keys[0]) == (1 if when == "after the send" else 2), got


async def _succeeded(sup: Supervisor, wid: str) -> bool:
    try:
        return (await sup.get_row(wid)).status == "SUCCESS"
    except SupervisorError:
        return False


def test_the_desktop_notifier_in_the_docs_works(tmp_path: Path) -> None:
    """The script docs/guards.md offers, run with a stand-in notify-send on PATH."""
    import re
    import subprocess

    page = (REPO / "docs" / "guards.md").read_text()
    script = re.search(r"```python\n(#!/usr/bin/env python3\n.*?)```", page, re.S)
    assert script is not None
    (tmp_path / "agentdeck-notify").write_text(script.group(1))
    seen = tmp_path / "seen.txt"
    fake = tmp_path / "bin" / "notify-send"
    fake.parent.mkdir()
    fake.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {seen}\n')
    fake.chmod(0o755)
    event = NotifyEvent(
        key="approval_needed:r1:approve-plan",
        event=NotifyEventKind.APPROVAL_NEEDED,
        run_id="r1",
        name="research",
        summary="durable execution · 3q",
        approve_command="agentdeck approve r1",
    )
    env = {**os.environ, "PATH": f"{fake.parent}:{os.environ['PATH']}"}
    subprocess.run(
        [sys.executable, str(tmp_path / "agentdeck-notify")],
        input=event.body(),
        env=env,
        check=True,
        timeout=30,
    )
    args = seen.read_text().splitlines()
    assert args[:3] == ["-u", "critical", "agentdeck: approval needed"]
    assert args[3:] == ["research r1", "durable execution · 3q", "agentdeck approve r1"]


async def budget_request(sup: Supervisor, wid: str) -> ApprovalRequest:
    found: list[ApprovalRequest] = []

    async def asked() -> bool:
        req = (await sup.get_row(wid)).approval
        found[:] = [req] if req is not None and req.kind == "budget" else []
        return bool(found)

    await wait_for(asked, within=60)
    return found[0]


async def test_a_budget_pause_posts_budget_reached(sup: Supervisor, hook: Hook) -> None:
    wid = await launch(sup, budget_usd=0.02)
    await waiting(sup, wid)
    assert (await sup.answer(wid, APPROVE)).ok
    req = await budget_request(sup, wid)
    key = f"budget_reached:{wid}:budget:research@{int(req.created_at * 1000)}"
    assert await settled(sup, key) == "SUCCESS"
    [body] = hook.bodies(key)
    assert body["event"] == "budget_reached" and body["approval_kind"] == "budget"
    assert body["options"] == ["raise", "continue", "switch", "stop"]
    assert body["approve_command"] == (
        f"""agentdeck approve {wid} --answer '{{"decision": "raise"}}'"""
    )
    assert body["prompt"].startswith("Budget reached before research")
    stop = ApprovalAnswer(decision=ApprovalDecision.STOP, by="test")
    assert (await sup.answer(wid, stop)).ok
    assert await settled(sup, wid) == "SUCCESS"


async def test_timed_out_runs_are_told(sup: Supervisor, hook: Hook) -> None:
    """DBOS cancels a run at its workflow deadline; a run nobody approved in time fails: the
    watcher tells both as run_timed_out (a person's cancel is not told)."""
    cancelled = await sup.launch(
        "research", {"topic": "a run out of time", "questions": 1}, timeout_s=1.0
    )
    unanswered = await launch(sup, approval_timeout_s=0.5)
    by_hand = await launch(sup, topic="a run cancelled by hand")
    await waiting(sup, by_hand)
    assert (await sup.cancel(by_hand)).ok
    for wid in (cancelled.workflow_id, unanswered):
        assert await settled(sup, wid) in ("CANCELLED", "ERROR")
        assert await settled(sup, f"run_timed_out:{wid}") == "SUCCESS"
        [body] = hook.bodies(f"run_timed_out:{wid}")
        assert body["event"] == "run_timed_out" and body["run_id"] == wid
    assert hook.bodies(f"run_timed_out:{unanswered}")[0]["detail"].startswith("approval ")
    assert not [k for k in hook.keys() if by_hand in k and not k.startswith("approval_needed")]


async def test_a_pending_run_on_a_dead_executor_is_stranded(sup: Supervisor) -> None:
    """As seen an hour from now, every heartbeat is stale: the waiting run is stranded."""
    wid = await launch(sup)
    await waiting(sup, wid)
    later = time.time() + 3600
    events = await asyncio.to_thread(scan_events, since_ms=0, now=later)
    stranded = [e for e in events if e.event is NotifyEventKind.STRANDED_RUN]
    assert [e.run_id for e in stranded] == [wid]
    assert stranded[0].key.startswith(f"stranded_run:{wid}:")
    assert "is gone (no heartbeat)" in stranded[0].detail
    now = await asyncio.to_thread(scan_events, since_ms=0)
    assert not [e for e in now if e.event is NotifyEventKind.STRANDED_RUN]


@pytest.mark.postgres
@pytest.mark.timeout(120)
async def test_notifications_on_postgres(pg_database: str, tmp_path: Path, hook: Hook) -> None:
    """The same sends and the watcher's queries on PostgreSQL."""
    async with offline_deck(pg_database, tmp_path / "state") as sup:
        failing = await launch(sup, topic="a failing run", fault="plan.auth")
        wid = await launch(sup)
        await waiting(sup, wid)
        keys = [await plan_key(sup, wid), f"run_failed:{failing}"]
        for key in keys:
            assert await settled(sup, key) == "SUCCESS"
            assert len(hook.bodies(key)) == 1
        assert (await sup.answer(wid, APPROVE)).ok
        assert await settled(sup, wid) == "SUCCESS"
    assert sorted(hook.keys()) == sorted(keys)


async def test_an_approval_asked_again_after_a_rewind_is_a_new_event(
    sup: Supervisor, hook: Hook
) -> None:
    """`r` on a run whose approval timed out asks again with a fresh deadline: told again."""
    wid = await launch(sup, approval_timeout_s=1.0)
    await waiting(sup, wid)
    first = await plan_key(sup, wid)
    assert await settled(sup, wid) == "ERROR"  # nobody answered in time
    assert await settled(sup, f"run_timed_out:{wid}") == "SUCCESS"
    assert (await sup.resume(wid)).ok

    async def asked_again() -> bool:
        row = await sup.get_row(wid)
        return row.waiting_approval and await plan_key(sup, wid) != first

    await wait_for(asked_again, within=60)
    second = await plan_key(sup, wid)
    assert await settled(sup, second) == "SUCCESS"
    assert (await sup.answer(wid, APPROVE)).ok
    assert await settled(sup, wid) == "SUCCESS"
    assert [k for k in hook.keys() if k.startswith("approval_needed:")] == [first, second]


async def test_no_secret_in_a_payload(
    sup: Supervisor, hook: Hook, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An API key pasted into a topic reaches neither the webhook nor the log."""
    key = "sk-ant-api03-PLANTEDsecretKEY0123456789"
    monkeypatch.setenv("ANTHROPIC_API_KEY", key)
    wid = await launch(sup, topic=f"why does {key} leak")
    await waiting(sup, wid)
    plan = await plan_key(sup, wid)
    assert await settled(sup, plan) == "SUCCESS"
    [body] = hook.bodies(plan)
    assert "PLANTED" not in json.dumps(body) and "sk-ant-***" in body["prompt"]
    assert "PLANTED" not in "\n".join(ln.message for ln in LOG_BUFFER.lines)
    assert (await sup.answer(wid, APPROVE)).ok
    assert await settled(sup, wid) == "SUCCESS"
