"""An allowed Bash call runs at most once, even when its worker is SIGKILLed between the call and
its step's checkpoint and DBOS runs the step again (workflows.tools.ToolRuns).

A real ``agentdeck worker`` on SQLite calls the real Claude Code CLI against an offline model
server that lives in the test's process (it outlives the worker, and the test reads its
requests). The worker's ``PATH`` starts with a ``wc`` that logs each run: the allowed call is
``echo '<topic>' | wc -w``, so the log counts its executions.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import wait_for
from tests.support.procs import agentdeck_bin
from tui.supervisor import Supervisor
from workflows.model_offline import OfflineModelServer
from workflows.models import ApprovalAnswer, ApprovalDecision, ChunkKind, ResearchReport
from workflows.tools import ToolRuns

TOPIC = "exactly once side effects"
APPROVE = ApprovalAnswer(decision=ApprovalDecision.APPROVE, by="test")
#: Logs a run of `wc` (its input), waits for `hold` to disappear when it exists (the test holds
#: the tool mid-run that way), then counts as wc does.
WC = """#!/bin/sh
input=$(cat)
printf '%s\\n' "$input" >> {log}
n=0
while [ -e {hold} ] && [ $n -lt 300 ]; do sleep 0.1; n=$((n+1)); done
printf '%s\\n' "$input" | /usr/bin/wc "$@"
"""


@dataclass
class Deck:
    root: Path
    server: OfflineModelServer
    sup: Supervisor
    db_url: str
    wc_log: Path
    hold: Path
    procs: list[subprocess.Popen[str]] = field(default_factory=list)

    def start_worker(self) -> subprocess.Popen[str]:
        env = dict(
            os.environ,
            AGENTDECK_OFFLINE_URL=self.server.base_url,
            AGENTDECK_STATE_DIR=str(self.root / "state"),
            PATH=f"{self.root / 'shim'}:{os.environ.get('PATH', '')}",
        )
        proc = subprocess.Popen(
            [agentdeck_bin(), "--db", self.db_url, "--offline", "worker", "--executor-id", "w1"],
            cwd=self.root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        self.procs.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "worker w1 serving" in line, (line, proc.poll())
        return proc

    def runs_of_wc(self) -> list[str]:
        return self.wc_log.read_text().splitlines()


@pytest.fixture
async def deck(tmp_path: Path) -> AsyncIterator[Deck]:
    shim, log, hold = tmp_path / "shim", tmp_path / "wc.log", tmp_path / "hold"
    shim.mkdir()
    log.touch()
    (shim / "wc").write_text(WC.format(log=log, hold=hold))
    (shim / "wc").chmod(0o755)
    server = OfflineModelServer()
    server.start()
    db_url = f"sqlite:///{tmp_path / 'agentdeck.sqlite'}"
    d = Deck(tmp_path, server, Supervisor(db_url), db_url, log, hold)
    try:
        d.start_worker()
        await d.sup.connect()
        yield d
    finally:
        hold.unlink(missing_ok=True)
        await d.sup.close()
        for p in d.procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=30)
        server.stop()


async def approve_until(deck: Deck, done: Callable[[], bool], within: float = 90) -> None:
    """Approve every approval (the plan, the Bash call) until ``done()``."""

    async def step() -> bool:
        for item in await deck.sup.approvals():
            await deck.sup.answer(item.row.workflow_id, APPROVE)
        return done()

    await wait_for(step, within=within, interval=0.1)


def kill(proc: subprocess.Popen[str]) -> None:
    os.kill(proc.pid, signal.SIGKILL)  # the worker only: its CLI dies with it (tether)
    proc.wait(timeout=10)


async def finished(deck: Deck, wid: str) -> tuple[ResearchReport, str]:
    await wait_for(lambda: _status(deck, wid), within=120, interval=0.2)
    report = (await deck.sup.detail(wid)).result
    assert isinstance(report, ResearchReport)
    child = report.answers[0].workflow_id
    batches = await deck.sup.read_streams({child: 0})
    status = "".join(
        p.text for b in batches for c in b.chunks for p in c.parts if p.kind is ChunkKind.STATUS
    )
    return report, status


async def _status(deck: Deck, wid: str) -> bool:
    row = await deck.sup.get_row(wid)
    assert row.status in ("PENDING", "ENQUEUED", "SUCCESS"), row.status
    return row.status == "SUCCESS"


@pytest.mark.contract
@pytest.mark.slow
@pytest.mark.timeout(180)
@pytest.mark.parametrize("policy", ["ask", "allow"])
async def test_a_kill_after_the_call_ran_replays_its_recorded_output(
    deck: Deck, policy: str
) -> None:
    if policy == "allow":  # allowed by the policy: the PreToolUse hook lets it run, or replays it
        (deck.root / "agentdeck.yaml").write_text("tool_policy:\n  tools:\n    Bash: allow\n")
    # research.slow*2: the research step's model turns stream at 5 tokens/s, so its answer (sent
    # after the Bash result) takes long enough to kill the worker in the middle of it.
    wid = (
        await deck.sup.launch(
            "research",
            {"topic": TOPIC, "questions": 1, "tools": "Bash", "fault": "research.slow*2"},
        )
    ).workflow_id

    def answering_with_the_result() -> bool:
        return any(
            r.task == "research" and "Bash: ok" in r.tool_results and r.output_tokens
            for r in deck.server.requests()
        )

    await approve_until(deck, answering_with_the_result)
    assert len(deck.runs_of_wc()) == 1
    kill(deck.procs[-1])  # after the call and its record, before the step's checkpoint
    deck.start_worker()  # same executor id: DBOS runs the research step again
    report, status = await finished(deck, wid)
    assert deck.runs_of_wc() == [TOPIC]  # once, not twice
    answer = report.answers[0].text
    assert f"`Bash` returned: `{len(TOPIC.split())}`" in answer  # the recorded output, replayed
    assert "Bash: ran before this step was interrupted; its recorded output is used" in status
    # The re-run's model was sent the Bash result as a success again.
    bash_ok = [r for r in deck.server.requests() if "Bash: ok" in r.tool_results]
    assert len(bash_ok) == 2


@pytest.mark.contract
@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_a_kill_while_the_call_runs_does_not_run_it_again(deck: Deck) -> None:
    deck.hold.touch()  # the wc will wait, mid-run, until the test lets it go
    wid = (
        await deck.sup.launch("research", {"topic": TOPIC, "questions": 1, "tools": "Bash"})
    ).workflow_id
    await approve_until(deck, lambda: len(deck.runs_of_wc()) == 1)
    kill(deck.procs[-1])  # the tool started, and its result was never recorded
    deck.hold.unlink()
    deck.start_worker()
    report, status = await finished(deck, wid)
    assert deck.runs_of_wc() == [TOPIC]  # at most once: not run again
    answer = report.answers[0].text
    assert "`Bash` was not used: This Bash call was started before this step was interrupted" in (
        answer
    )
    assert "Bash: started before this step was interrupted; not run again" in status


async def test_tool_runs_record_each_call_before_it_runs() -> None:
    """The record's rules, on a dict: what runs, what is replayed, what is refused and said."""
    store: dict[str, dict[str, Any]] = {}
    broken = False

    async def read(key: str) -> Any:
        return store.get(key)

    async def write(key: str, value: dict[str, Any]) -> None:
        if broken:
            raise OSError("database gone")
        store[key] = value

    bash = {"command": "echo 'a b' | wc -w"}
    first = ToolRuns("research", read, write)
    assert await first.before("Read", {"file_path": "/x"}, "r") == ("allow", "", None)
    assert store == {}  # read-only tools are not recorded
    assert await first.before("Bash", bash, "t1") == ("allow", "", None)
    key = first.event_key("Bash", bash)
    assert store[key]["state"] == "started"  # written before the call runs
    assert await first.after("t1", {"stdout": "2", "stderr": ""}) is None
    assert store[key] == {"state": "done", "output": {"stdout": "2", "stderr": ""}}
    # The same call again in the same Claude call is another run (n = 1), not a replay.
    assert await first.before("Bash", bash, "t2") == ("allow", "", None)
    assert first.event_key("Bash", bash, 1) in store
    # A re-run of the step: the finished call is replayed, with no side effect.
    again = ToolRuns("research", read, write)
    verdict, _, updated = await again.before("Bash", bash, "t3")
    assert verdict == "allow" and updated == {"command": "printf '%s' 2", "description": "replay"}
    assert await again.after("t3", {"stdout": "", "stderr": ""}) == {"stdout": "2", "stderr": ""}
    # The second one never recorded an end: at most once, and Claude is told.
    verdict, message, _ = await again.before("Bash", bash, "t4")
    assert verdict == "deny" and "whether it finished is not known" in message
    assert (again.replayed, again.refused) == (1, 1)
    # Other tools are not replayed: denied, the recorded result said.
    write_call = {"file_path": "notes.md", "content": "x"}
    await first.before("Write", write_call, "w1")
    await first.after("w1", {"type": "create"})
    verdict, message, _ = await again.before("Write", write_call, "w2")
    assert verdict == "deny" and "already ran" in message and '"create"' in message
    await first.before("Edit", {"file_path": "n"}, "e1")
    await first.failed("e1", "old_string not found")
    verdict, message, _ = await again.before("Edit", {"file_path": "n"}, "e2")
    assert verdict == "deny" and message.endswith("failed: old_string not found")
    # A run that cannot be recorded first does not run; one whose end cannot be recorded stays
    # "started" (a re-run refuses it), and the step goes on.
    other = ToolRuns("other", read, write)
    assert (await other.before("Bash", bash, "t5"))[0] == "allow"
    broken = True
    assert await other.after("t5", {"stdout": "2"}) is None
    assert store[other.event_key("Bash", bash)]["state"] == "started"
    verdict, message, _ = await other.before("Bash", {"command": "date"}, "t6")
    assert verdict == "deny" and "could not be recorded" in message
