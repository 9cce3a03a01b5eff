"""Pieces shared by the crash benches (``crash_anywhere.py``, ``workers_killed.py``).

* :class:`ModelServer`: the offline model server as a subprocess that outlives every killed
  process and logs every request (``/_agentdeck/requests``: task, prompt hash, start, end,
  outcome);
* :func:`processes_using` / :func:`survivors`: processes left behind by a killed one, found by a
  directory named in their environment (the Claude Code CLI runs with ``HOME=<state>/...``);
* :func:`model_steps` / :func:`check_steps`: a research run's Claude steps, identified by the hash
  of the prompt each sends, and their requests checked against the step's checkpoint: no request
  may *start* after the step's output was recorded.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workflows.model_offline.script import prompt_hash
from workflows.models import Answer, ClaudeCall
from workflows.prompts import plan_call, research_call, synthesize_call

from . import REPO_ROOT

__all__ = [
    "CUT_OFF",
    "MODEL_STEPS",
    "ModelServer",
    "Step",
    "StepCheck",
    "check_steps",
    "describe",
    "free_port",
    "model_steps",
    "processes_using",
    "sqlite_checkpoints",
    "survivors",
]

ORPHAN_GRACE_S = 5.0
MODEL_STEPS = ("plan", "research", "synthesize")
#: Request outcomes of a request whose client went away (or had not finished when logged).
CUT_OFF = ("disconnected", "in_progress", "stopped")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ModelServer:
    """``python -m workflows.model_offline`` as a subprocess that outlives every run."""

    def __init__(self, tps: float, log_path: Path) -> None:
        self.port = free_port()
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "workflows.model_offline", "--port", str(self.port)]
            + ["--tps", f"{tps:g}"],
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._log,
            start_new_session=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode().strip()
        if not line.startswith("listening on "):
            self.stop()
            raise SystemExit(f"the offline model server did not start: {line!r}")
        self.url = line.removeprefix("listening on ")

    def requests(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(f"{self.url}/_agentdeck/requests", timeout=30) as resp:
            data = json.load(resp)
        assert isinstance(data, list)
        return [r for r in data if r.get("task")]

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._log.close()


def _proc_state(pid: str) -> str:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rfind(")") + 2 :].split()[0]


def processes_using(directory: Path) -> list[tuple[int, str]]:
    """Live processes (pid, command line) whose environment names ``directory`` or a path in it."""
    needle = str(directory).encode()
    found = []
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes()
            if needle not in environ:
                continue
            values = [kv.partition(b"=")[2] for kv in environ.split(b"\0")]
            if not any(v == needle or v.startswith(needle + b"/") for v in values):
                continue
            if _proc_state(entry) in ("Z", "X"):
                continue
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        found.append((int(entry), cmdline.decode(errors="replace").strip()))
    return found


def describe(cmdline: str) -> str:
    kind = "claude CLI" if "_bundled/claude" in cmdline else "process"
    return f"{kind}: {cmdline[:160]}"


async def survivors(directory: Path, grace: float = ORPHAN_GRACE_S) -> list[str]:
    """Processes of a killed run still alive after ``grace`` seconds (then killed by pid)."""
    deadline = time.monotonic() + grace
    while True:
        found = processes_using(directory)
        if not found or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    for pid, _ in found:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return [describe(cmd) for _, cmd in found]


@dataclass(frozen=True)
class Step:
    label: str  # plan, research 1, research 2, synthesize
    task: str
    prompt_hash: str
    workflow_id: str  # the workflow whose operation_outputs row checkpoints the step


def model_steps(topic: str, wid: str, result: dict[str, Any] | None, questions: int) -> list[Step]:
    """A research run's Claude steps and the prompt hash each sends (rebuilt from its result;
    a request's ``fault`` and ``tools`` go in the system prompt, not in the hashed prompt)."""
    model = "any"
    call = plan_call(topic, questions, model=model)
    steps = [Step("plan", "plan", _hash("plan", call), wid)]
    answers = [Answer.model_validate(a) for a in (result or {}).get("answers") or ()]
    for a in answers:
        call = research_call(topic, a.question, model=model)
        steps.append(
            Step(f"research {a.index + 1}", "research", _hash("research", call), a.workflow_id)
        )
    if answers:
        call = synthesize_call(topic, answers, model=model)
        steps.append(Step("synthesize", "synthesize", _hash("synthesize", call), wid))
    return steps


def _hash(task: str, call: ClaudeCall) -> str:
    return prompt_hash(task, call.prompt)


def sqlite_checkpoints(db_path: Path) -> dict[tuple[str, str], float]:
    """(workflow id, step name) -> when DBOS recorded the step's output (epoch seconds)."""
    qmarks = ",".join("?" * len(MODEL_STEPS))
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT workflow_uuid, function_name, completed_at_epoch_ms FROM operation_outputs "
            f"WHERE function_name IN ({qmarks}) AND error IS NULL",
            MODEL_STEPS,
        ).fetchall()
    marks: dict[tuple[str, str], float] = {}
    for w, f, ms in rows:  # a step run twice in one workflow (a tool approval): the newest
        if ms is not None:
            key = (str(w), str(f))
            marks[key] = max(marks.get(key, 0.0), int(ms) / 1000.0)
    return marks


def _completed(r: dict[str, Any]) -> bool:
    return r.get("outcome") == "completed" and r.get("status") == 200


@dataclass
class StepCheck:
    label: str
    requests: int = 0
    completed: int = 0
    cut_off: int = 0
    other_errors: int = 0
    after_checkpoint: int = 0
    completed_not_checkpointed: int = 0
    unexplained_repeats: int = 0
    checkpointed: bool = False


def check_steps(
    steps: list[Step],
    requests: list[dict[str, Any]],
    marks: dict[tuple[str, str], float],
    kills: list[float],
) -> list[StepCheck]:
    """Each step's requests against its checkpoint (``marks``: :func:`sqlite_checkpoints` or
    the like) and the kills (``time.time()`` of each)."""
    out = []
    for step in steps:
        mine = sorted(
            (r for r in requests if r.get("prompt_hash") == step.prompt_hash),
            key=lambda r: float(r["started"]),
        )
        c = StepCheck(step.label, requests=len(mine))
        done_at = marks.get((step.workflow_id, step.task))
        c.checkpointed = done_at is not None
        completed = [r for r in mine if _completed(r)]
        c.completed = len(completed)
        c.cut_off = sum(1 for r in mine if r.get("outcome") in CUT_OFF)
        c.other_errors = sum(1 for r in mine if r.get("outcome") == "error")
        if done_at is not None:
            c.after_checkpoint = sum(1 for r in mine if float(r["started"]) > done_at)
        # Every completed request but the last must have been lost to a kill: one landed after
        # it started and before the step's next request started. (A kill can land while the
        # server is still sending a response it then logs as completed: the response sat in
        # the socket's buffer of a process already gone.)
        for r in completed[:-1]:
            c.completed_not_checkpointed += 1
            later = [float(x["started"]) for x in mine if float(x["started"]) > float(r["started"])]
            nxt = min(later) if later else float("inf")
            if not any(float(r["started"]) <= k <= nxt for k in kills):
                c.unexplained_repeats += 1
        out.append(c)
    return out
