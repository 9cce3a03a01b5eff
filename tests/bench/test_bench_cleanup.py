"""A bench script cut short leaves nothing running: its private tmux servers, each with a
dashboard in it, are killed by the smoke tests' runner (tests/support/bench.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

from tests.support.bench import kill_tmux_servers

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


def test_a_cut_short_bench_leaves_no_tmux_server() -> None:
    fake_pid = 4_000_000 + os.getpid()  # above pid_max: only a name, as benchkit's Tmux makes
    name = f"agentdeck-bench-{fake_pid}-1"
    other = f"agentdeck-bench-{fake_pid + 1}-1"  # another script's: left alone
    for server in (name, other):
        subprocess.run(
            ["tmux", "-L", server, "-f", "/dev/null", "new-session", "-d", "sleep 600"],
            check=True,
            timeout=30,
        )
    try:
        pane = subprocess.run(
            ["tmux", "-L", name, "display-message", "-p", "#{pane_pid}"],
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.strip()
        assert kill_tmux_servers(fake_pid) == [name]
        alive = subprocess.run(["tmux", "-L", name, "has-session"], capture_output=True)
        assert alive.returncode != 0
        deadline = time.monotonic() + 10
        while os.path.exists(f"/proc/{pane}"):  # the command in it dies with the server
            assert time.monotonic() < deadline, "the pane's command outlived its server"
            time.sleep(0.05)
        assert subprocess.run(["tmux", "-L", other, "has-session"]).returncode == 0
    finally:
        for server in (name, other):
            subprocess.run(["tmux", "-L", server, "kill-server"], capture_output=True)
