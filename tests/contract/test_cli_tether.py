"""A worker killed with SIGKILL (its process only, as the OOM killer does) leaves no Claude Code
CLI behind: the CLI is started through workflows.tether, which arms PR_SET_PDEATHSIG."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import wait_for
from tests.support.procs import agentdeck_bin
from tui.supervisor import Supervisor
from workflows.model_offline import OfflineModelServer
from workflows.tether import tether

pytestmark = [pytest.mark.contract, pytest.mark.slow, pytest.mark.timeout(120)]

#: Slow enough that the plan's answer streams for far longer (~45 s) than the test waits.
TPS = 1
CLI_MARK = b"_bundled/claude"


def clis(state_dir: Path) -> dict[int, int]:
    """Live Claude Code CLIs started for ``state_dir`` (read from /proc): pid -> parent pid."""
    found = {}
    needle = str(state_dir).encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes()
            env = Path(f"/proc/{entry}/environ").read_bytes()
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if CLI_MARK in cmd and needle in env and fields[0] not in ("Z", "X"):
            found[int(entry)] = int(fields[1])
    return found


@pytest.fixture
def worker(
    tmp_path: Path,
) -> Iterator[tuple[subprocess.Popen[str], str, Path, OfflineModelServer]]:
    """A worker on SQLite whose model server outlives it (here, in the test's process), as in
    the bench: an orphaned CLI keeps its connection and streams on (one whose server died with
    its worker fails at once, and hides the problem)."""
    db_url = f"sqlite:///{tmp_path / 'agentdeck.sqlite'}"
    state = tmp_path / "state"
    server = OfflineModelServer(tokens_per_second=TPS)
    env = dict(os.environ, AGENTDECK_OFFLINE_URL=server.start(), AGENTDECK_STATE_DIR=str(state))
    proc = subprocess.Popen(
        [agentdeck_bin(), "--db", db_url, "--offline", "worker", "--executor-id", "tethered"],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "worker tethered serving" in line, (line, proc.poll())
        yield proc, db_url, state, server
    finally:
        for pid in clis(state):  # whatever a failed run left: never leak it past the test
            os.kill(pid, signal.SIGKILL)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        server.stop()


async def test_sigkilled_worker_leaves_no_cli(
    worker: tuple[subprocess.Popen[str], str, Path, OfflineModelServer],
) -> None:
    proc, db_url, state, server = worker
    sup = Supervisor(db_url)
    await sup.connect()
    try:
        await sup.launch("research", {"topic": "orphaned processes", "questions": 1})
        # The plan step's CLI is streaming its answer (slowly), a child of the worker. (Killed
        # before its request is under way, an untethered CLI gives up within seconds anyway.)
        await wait_for(lambda: proc.pid in clis(state).values(), within=60)
        await wait_for(lambda: any(r.output_tokens for r in server.requests()), within=60)
        started = [pid for pid, parent in clis(state).items() if parent == proc.pid]
        assert started
    finally:
        await sup.close()
    os.kill(proc.pid, signal.SIGKILL)  # the worker only, not its process group
    proc.wait(timeout=10)
    # Without the tether the CLI streams on, re-parented to init, until its turn ends (~45 s).
    await wait_for(lambda: not set(started) & set(clis(state)), within=10)
    assert clis(state) == {}


def test_tether_wraps_an_existing_cli_only(tmp_path: Path) -> None:
    real = tmp_path / "claude"
    real.write_text('#!/bin/sh\necho "tethered: $PPID $*${AGENTDECK_CLI:-}"\n')
    real.chmod(0o755)
    wrapper, env = tether(str(real))
    assert wrapper is not None and wrapper != str(real)
    assert env == {"AGENTDECK_CLI": str(real), "AGENTDECK_CLI_PARENT": str(os.getpid())}
    # The wrapper ends as the real CLI, with the SDK's arguments, and hides its own variables.
    out = subprocess.run(
        [wrapper, "--print", "x"], env={**os.environ, **env}, capture_output=True, text=True
    )
    assert out.returncode == 0 and out.stdout == f"tethered: {os.getpid()} --print x\n"
    # Started by another process than the one named (its parent died before the signal was
    # armed): the CLI does not start.
    late = {**os.environ, **env, "AGENTDECK_CLI_PARENT": "1"}
    out = subprocess.run([wrapper], env=late, capture_output=True, text=True)
    assert out.returncode == 129 and out.stdout == ""
    # A CLI that is not there is passed through: the SDK says "not found" in its own words.
    missing = str(tmp_path / "nowhere" / "claude")
    assert tether(missing) == (missing, {})
    assert sys.platform.startswith("linux")
