"""A command in a real terminal: a detached tmux session on a private tmux server.

Each :class:`Tmux` has its own server (``tmux -L <unique name> -f /dev/null``), so runs never
meet each other's server or the user's; :meth:`Tmux.close` kills the server (and with it the
command) and waits until both are gone.
"""

from __future__ import annotations

import itertools
import os
import shlex
import shutil
import subprocess
import time
from pathlib import Path

__all__ = ["Tmux", "have_tmux"]

SESSION = "bench"
_RUNS = itertools.count(1)


def have_tmux() -> bool:
    return shutil.which("tmux") is not None


class Tmux:
    def __init__(self, command: list[str], *, cwd: Path, size: tuple[int, int] = (120, 40)) -> None:
        tmux = shutil.which("tmux")
        if tmux is None:
            raise RuntimeError("tmux is not installed")
        self.base = [tmux, "-L", f"agentdeck-bench-{os.getpid()}-{next(_RUNS)}", "-f", "/dev/null"]
        self.command = command
        self.cwd = cwd
        self.size = size
        self.server = self.pid = 0
        self.socket = ""
        #: ``time.perf_counter()`` just before the session (and the command) was started.
        self.started = 0.0

    def start(self) -> None:
        w, h = self.size
        self.started = time.perf_counter()
        subprocess.run(
            [
                *self.base,
                "new-session",
                "-d",
                "-s",
                SESSION,
                "-x",
                str(w),
                "-y",
                str(h),
                "exec " + shlex.join(self.command),
            ],
            cwd=self.cwd,
            check=True,
            timeout=30,
        )
        self.socket = self.out("display-message", "-p", "#{socket_path}").strip()
        self.pid = int(self.out("display-message", "-p", "-t", SESSION, "#{pane_pid}").strip())
        self.server = int(self.out("display-message", "-p", "#{pid}").strip())

    def out(self, *args: str) -> str:
        proc = subprocess.run([*self.base, *args], capture_output=True, text=True, timeout=30)
        return proc.stdout

    def capture(self) -> str:
        return self.out("capture-pane", "-p", "-t", SESSION)

    def wait_for(self, text: str, within: float, poll: float = 0.01) -> float:
        """Seconds from :meth:`start` until ``text`` is on screen (polled every ``poll`` s)."""
        deadline = time.perf_counter() + within
        while text not in self.capture():
            if time.perf_counter() > deadline:
                raise RuntimeError(f"{text!r} not on screen within {within:g} s:\n{self.capture()}")
            time.sleep(poll)
        return time.perf_counter() - self.started

    def close(self) -> None:
        subprocess.run([*self.base, "kill-server"], capture_output=True, timeout=30)
        deadline = time.monotonic() + 10
        while any(p and Path(f"/proc/{p}").exists() for p in (self.server, self.pid)):
            if time.monotonic() > deadline:
                break
            time.sleep(0.02)
        if self.socket:
            Path(self.socket).unlink(missing_ok=True)  # kill-server leaves it behind

    def __enter__(self) -> Tmux:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
