"""Running a bench script's quick mode as the smoke tests do: it exits 0 and ends with one
JSON line holding its figures."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["BENCH", "ROOT", "kill_tmux_servers", "run_quick"]

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"


def run_quick(script: str, *args: str, timeout: float = 100) -> dict[str, Any]:
    proc = subprocess.Popen(
        [sys.executable, str(BENCH / script), "--quick", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    finally:
        # A script cut short (this timeout, or the test's) leaves its tmux servers behind, each
        # with a dashboard in it: they are named after the script's pid (bench/benchkit/tmux.py).
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        kill_tmux_servers(proc.pid)
    assert proc.returncode == 0, f"{script} exited {proc.returncode}:\n{stderr[-3000:]}"
    lines = stdout.strip().splitlines()
    assert len(lines) >= 2, f"{script} printed no figures before its JSON:\n{stdout}"
    result = json.loads(lines[-1])
    assert isinstance(result, dict)
    assert result["bench"] == script.removesuffix(".py") and result["quick"] is True
    return result


def kill_tmux_servers(pid: int) -> list[str]:
    """Kill the private tmux servers a bench process started (and the dashboards in them).

    Args:
        pid: The bench script's process id.

    Returns:
        The names of the servers that were still running.
    """
    tmux = shutil.which("tmux")
    folder = Path(os.environ.get("TMUX_TMPDIR", "/tmp")) / f"tmux-{os.getuid()}"
    if tmux is None or not folder.is_dir():
        return []
    killed = []
    for sock in folder.glob(f"agentdeck-bench-{pid}-*"):
        done = subprocess.run(
            [tmux, "-L", sock.name, "kill-server"], capture_output=True, timeout=30
        )
        if done.returncode == 0:
            killed.append(sock.name)
        sock.unlink(missing_ok=True)
    return killed
