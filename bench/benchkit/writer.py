"""A bench script's workflow run in a process of its own (attach modes): the "writer".

The bench starts the script itself again (``script --writer``) with its settings in the
environment (a database URL holds a password: never on a command line). The writer prints lines
on stdout (``started <id>``, ``gated``, ``done <result>``...) and waits for ``go`` on stdin where
the bench wants to open its screen before the workflow proceeds.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

__all__ = ["Gate", "Writer"]


class Writer:
    """The writer process, seen from the bench."""

    def __init__(self, script: Path, env: dict[str, str], root: Path) -> None:
        full = dict(os.environ)
        full.update(env)
        root.mkdir(parents=True, exist_ok=True)
        self.stderr_path = root / "writer.stderr"
        self.stderr = self.stderr_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, str(script), "--writer"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            env=full,
            text=True,
        )

    async def expect(self, word: str, within: float = 60.0) -> str:
        """The rest of the next stdout line starting with ``word``."""
        assert self.proc.stdout is not None
        stdout = self.proc.stdout
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            line = await asyncio.wait_for(asyncio.to_thread(stdout.readline), within)
            if not line:
                break
            if line.startswith(word):
                return line[len(word) :].strip()
        tail = self.stderr_path.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"writer: no {word!r} (exit {self.proc.poll()}):\n{tail}")

    def go(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)
        self.stderr.close()


class Gate:
    """Where a bench's workflow waits (``await GATE.passed()`` in a step) while the bench opens
    its screen. Closed by default (nothing waits). In a writer process, ``in_writer()``: the
    workflow prints ``gated`` and waits for ``go`` on stdin (``Writer.go``). In the bench's own
    process, ``in_process()``: the workflow sets ``reached`` and waits for ``open()``."""

    def __init__(self) -> None:
        self._wait: Callable[[], Awaitable[object]] | None = None
        self.reached = asyncio.Event()
        self._go = asyncio.Event()

    async def passed(self) -> None:
        if self._wait is not None:
            await self._wait()

    def in_writer(self) -> None:
        async def wait() -> None:
            print("gated", flush=True)
            await asyncio.to_thread(sys.stdin.readline)

        self._wait = wait

    def in_process(self) -> None:
        self.reached, self._go = asyncio.Event(), asyncio.Event()

        async def wait() -> None:
            self.reached.set()
            await self._go.wait()

        self._wait = wait

    def open(self) -> None:
        self._go.set()

    def close(self) -> None:
        self._wait = None
