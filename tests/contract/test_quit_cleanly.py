"""`q` in a real terminal with runs and Claude CLI processes in flight: nothing is left behind,
and the runs finish after the next start (DBOS recovery)."""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.conftest import wait_for
from tui.supervisor import Supervisor
from workflows.models import ApprovalAnswer, ApprovalDecision
from workflows.runtime import Runtime, RuntimeSettings

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux"),
]

BIN = Path(sys.executable).parent / "agentdeck"


def claude_processes(home: Path) -> list[int]:
    """PIDs of Claude Code CLI processes started for this state dir (read from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes()
            env = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().split()[2]
        except OSError:
            continue
        if b"_bundled/claude" in cmd and str(home).encode() in env and state != "Z":
            found.append(int(entry.name))
    return found


def tmux(args: list[str], *, check: bool = True) -> str:
    out = subprocess.run(["tmux", *args], capture_output=True, text=True, check=check)
    return out.stdout


async def test_quit_leaves_no_orphans_and_runs_resume(tmp_path: Path) -> None:
    session = f"agentdeck-test-{uuid.uuid4().hex[:8]}"
    state = tmp_path / ".agentdeck"
    home = state / "claude-home"
    done = tmp_path / "exited"
    command = (
        f"cd {shlex.quote(str(tmp_path))} && AGENTDECK_OFFLINE_TPS=3 "
        f"{shlex.quote(str(BIN))} --offline; touch {shlex.quote(str(done))}"
    )
    tmux(["new-session", "-d", "-s", session, "-x", "140", "-y", "40", command])
    db_url = f"sqlite:///{tmp_path / 'agentdeck.sqlite'}"
    try:
        await wait_for(lambda: (tmp_path / "agentdeck.sqlite").exists(), within=30)
        await asyncio.to_thread(
            subprocess.run,
            [
                str(BIN),
                "launch",
                "research",
                "--topic",
                "quitting cleanly",
                "--questions",
                "1",
                "--id",
                "qrun",
            ],
            cwd=tmp_path,
            check=True,
            capture_output=True,
            env=dict(os.environ),
        )
        # The dashboard's embedded runtime picks it up; the plan streams slowly (3 tokens/s).
        await wait_for(lambda: bool(claude_processes(home)), within=60)

        tmux(["send-keys", "-t", session, "q"])
        await wait_for(lambda: "Quit?" in tmux(["capture-pane", "-pt", session]), within=10)
        tmux(["send-keys", "-t", session, "y"])
        await wait_for(done.exists, within=30)
        await wait_for(lambda: not claude_processes(home), within=15)
    finally:
        tmux(["kill-session", "-t", session], check=False)

    # The next start recovers the run and it finishes.
    rt = Runtime(RuntimeSettings(db_url=db_url, offline=True, offline_tps=0, state_dir=state))
    await asyncio.to_thread(rt.launch)
    sup = Supervisor(db_url)
    await sup.connect()
    try:

        async def waiting() -> bool:
            return (await sup.get_row("qrun")).waiting_approval

        await wait_for(waiting, within=60)
        await sup.answer("qrun", ApprovalAnswer(decision=ApprovalDecision.APPROVE))

        async def finished() -> bool:
            return (await sup.get_row("qrun")).status == "SUCCESS"

        await wait_for(finished, within=60)
    finally:
        await sup.close()
        await asyncio.to_thread(rt.shutdown)
