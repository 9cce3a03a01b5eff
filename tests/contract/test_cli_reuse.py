"""A Claude Code CLI kept between steps (``claude_cli_reuse``, workflows/cli_pool.py): the real
bundled CLI and the loopback server, in an embedded DBOS on a real SQLite file."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from dbos import DBOS

from tests.conftest import wait_for
from workflows import cli_pool
from workflows.claude import claude_step
from workflows.model_offline.script import answer
from workflows.models import DEFAULT_MODEL, ClaudeCall, ClaudeResult
from workflows.prompts import research_call
from workflows.runtime import Runtime

pytestmark = [pytest.mark.contract, pytest.mark.timeout(120)]

TOPIC = "durable execution"
ROOT = Path(__file__).resolve().parents[1]


@DBOS.workflow(name="reuse.call")
async def reuse_call(call: ClaudeCall) -> ClaudeResult:
    return await claude_step(call)


@pytest.fixture
def reuse(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTDECK_CLAUDE_CLI_REUSE", "1")


def research(question: str, fault: str = "") -> ClaudeCall:
    return research_call(TOPIC, question, model=DEFAULT_MODEL, fault=fault)


async def run(call: ClaudeCall) -> ClaudeResult:
    handle = await DBOS.start_workflow_async(reuse_call, call)
    result = await asyncio.wait_for(handle.get_result(), 60)
    assert isinstance(result, ClaudeResult)
    return result


def spy_bodies(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The Messages request bodies the loopback server receives, in order."""
    server = rt.offline_server
    assert server is not None
    bodies: list[dict[str, Any]] = []
    original = server._messages

    def record(handler: Any, entry: Any, body: dict[str, Any]) -> None:
        bodies.append(body)
        original(handler, entry, body)

    monkeypatch.setattr(server, "_messages", record)
    return bodies


async def test_the_next_step_reuses_the_cli_and_is_sent_no_earlier_conversation(
    reuse: None, cli_runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    bodies = spy_bodies(cli_runtime, monkeypatch)
    before = cli_pool.all_stats()
    first, second = research("Which marker word is SECRET-ALPHA?"), research("What is durable?")
    r1 = await run(first)
    r2 = await run(second)
    stats = cli_pool.all_stats()
    assert (stats.started - before.started, stats.reused - before.reused) == (1, 1)
    records = cli_runtime.offline_server.requests()
    # One CLI (the pool started one), a new CLI session after /clear.
    assert len(records) == 2 and records[0].session != records[1].session
    # The offline model's answers are what a CLI of its own gets.
    assert r1.text == answer("research", first.prompt)
    assert r2.text == answer("research", second.prompt)
    # The second request holds one user turn: its prompt, and nothing of the first step's.
    sent = json.dumps(bodies[1]["messages"])
    assert len(bodies[1]["messages"]) == 1
    assert "SECRET-ALPHA" not in sent and r1.text[:60] not in sent
    assert "What is durable?" in sent
    assert "SECRET-ALPHA" in json.dumps(bodies[0]["messages"])


async def test_a_failed_attempt_ends_its_cli_and_the_retry_starts_another(
    reuse: None, cli_runtime: Runtime
) -> None:
    before = cli_pool.all_stats()
    result = await run(research("How do retries work?", fault="overload*1"))
    assert result.attempt == 2
    records = cli_runtime.offline_server.requests()
    assert [r.status for r in records] == [529, 200]
    assert records[0].session != records[1].session  # the failed attempt's CLI was not reused
    stats = cli_pool.all_stats()
    assert stats.started - before.started == 2 and stats.discarded - before.discarded >= 1


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2 :].split()[0] != "Z"


async def test_a_kept_cli_ends_with_its_process(tmp_path: Path, reuse: None) -> None:
    """SIGKILL of the process that kept a CLI (a crashed worker): the CLI goes too, so nothing
    of its conversation outlives the crash."""
    script = textwrap.dedent(
        f"""
        import asyncio, sys
        sys.path.insert(0, {str(ROOT)!r})
        from workflows import cli_pool
        from workflows.runtime import Runtime, RuntimeSettings
        from workflows.claude import run_claude
        from workflows.models import DEFAULT_MODEL
        from workflows.prompts import research_call

        async def main():
            rt = Runtime(RuntimeSettings(db_url="sqlite:///{tmp_path}/crash.sqlite",
                                         offline=True, state_dir=__import__("pathlib").Path(
                                         {str(tmp_path / "state")!r})))
            rt.start_model()
            call = research_call("t", "What is kept?", model=DEFAULT_MODEL)
            await run_claude(call, step_name="research")
            pool = cli_pool.pool_for_loop(4)
            print(" ".join(map(str, pool.pids())), flush=True)
            await asyncio.Event().wait()

        asyncio.run(main())
        """
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        script,
        stdout=asyncio.subprocess.PIPE,
        env=dict(os.environ, AGENTDECK_CLAUDE_CLI_REUSE="1"),
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
        pids = [int(p) for p in line.split()]
        assert len(pids) == 1 and _alive(pids[0]), line
        proc.send_signal(signal.SIGKILL)  # the process only, not its group
        await asyncio.wait_for(proc.wait(), 10)
        await wait_for(lambda: not _alive(pids[0]), within=30, interval=0.1)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_an_idle_cli_ends_after_claude_cli_idle_s(
    reuse: None, cli_runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTDECK_CLAUDE_CLI_IDLE_S", "1")
    await run(research("What is kept, and for how long?"))
    pools = [p for p in list(cli_pool._pools.values()) if p.idle]
    assert len(pools) == 1 and len(pids := pools[0].pids()) == 1
    await wait_for(lambda: not _alive(pids[0]) and not pools[0].idle, within=15, interval=0.1)
