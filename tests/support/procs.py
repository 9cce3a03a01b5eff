"""Processes the tests start and kill as an operator would: ``agentdeck`` commands in their own
process group (with their Claude Code children), workers on PostgreSQL, and what is left of them
in /proc."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

__all__ = [
    "agentdeck_bin",
    "kill",
    "kill_group",
    "live_group_members",
    "running_in",
    "spawn",
    "start_worker",
]

REPO = Path(__file__).resolve().parents[2]

Popen = subprocess.Popen[bytes]


def agentdeck_bin() -> str:
    for candidate in (
        REPO / ".venv" / "bin" / "agentdeck",
        Path(sys.executable).parent / "agentdeck",
    ):
        if candidate.is_file():
            return str(candidate)
    found = shutil.which("agentdeck")
    assert found, "the agentdeck console script is not installed"
    return found


def live_group_members(pgid: int) -> list[int]:
    """Processes of process group ``pgid`` that are still alive (zombies excluded), via /proc."""
    alive = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        state, pgrp = fields[0], int(fields[2])
        if pgrp == pgid and state not in ("Z", "X"):
            alive.append(int(entry))
    return alive


def running_in(directory: Path) -> list[int]:
    """Live processes whose working directory is under ``directory`` (the CLI runs in the
    runtime's ``claude-home``), wherever they were reparented to."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cwd = os.readlink(f"/proc/{entry}/cwd")
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if Path(cwd).is_relative_to(directory.resolve()) and state not in ("Z", "X"):
            found.append(int(entry))
    return found


def spawn(cmd: list[str], *, cwd: Path, env: dict[str, str], out_path: Path) -> Popen:
    """Start ``cmd`` as the leader of a new process group (its CLI children join the group)."""
    with out_path.open("wb") as out:
        return subprocess.Popen(
            cmd,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def kill_group(proc: Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)


def start_worker(db_url: str, name: str, cwd: Path) -> subprocess.Popen[str]:
    env = dict(
        os.environ,
        AGENTDECK_OFFLINE_TPS="0",
        AGENTDECK_LAUNCH_CONCURRENCY="1",  # one run per worker: both must take part
        AGENTDECK_STATE_DIR=str(cwd / f"state-{name}"),
        AGENTDECK_HEARTBEAT_S="0.3",
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tui.cli",
            "--db",
            db_url,
            "--offline",
            "worker",
            "--executor-id",
            name,
        ],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()  # the worker announces itself once DBOS is up
    assert f"worker {name} serving" in line, (line, proc.poll())
    password = urlsplit(db_url).password
    assert password and password not in line and ":***@" in line
    return proc


def kill(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
