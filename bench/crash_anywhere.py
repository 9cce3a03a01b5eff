"""Crash anywhere: SIGKILL ``agentdeck launch --wait`` at random points, restart it, check the run.

One offline model server (``python -m workflows.model_offline --tps 60``) runs as a subprocess for
the whole bench and logs every request it gets. Each crash run is the real CLI,
``agentdeck --db sqlite:///<fresh file> --offline launch research --topic "topic <i>"
--questions 2 --id crash-<i> --auto-approve --wait --json``, in its own session, pointed at that
server through ``AGENTDECK_OFFLINE_URL``. It is SIGKILLed (its whole process group: the CLI and
its Claude Code children) 1 to 3 times, each after a random delay between 0.3 s and the
calibrated run time (``random.Random(--seed)``: the schedule is reproducible), and restarted each
time with the same command; the restart recovers the run (same executor id ``local``, same
application version) and ``launch`` with the same ``--id`` is a no-op. A delay longer than what
is left of the run kills nothing: that attempt finishes and prints its JSON.

Each topic also runs once uninterrupted (the reference), the same command on its own database
but with the CLI's own in-process offline server (same code, same pacing), so a reference never
shows up in the shared server's log and may overlap the crash run of its topic. Topic 0's
reference runs first and alone: it is the calibration whose wall time bounds the kill delays.

Checked per crash run: (a) it finished ``SUCCESS``; (b) its report's Markdown is identical to the
reference run's (the offline model is deterministic); (c) no completed step ran again. For (c)
the server's requests are attributed to steps by ``(task, prompt_hash)`` (the hash of the prompt
each step sends, rebuilt with ``workflows.prompts`` from the run's result; topics differ, so runs
do not share hashes) within the run's time window, and compared with the step's checkpoint in the
run's database (``operation_outputs.completed_at_epoch_ms``):

* the hard invariant: no request for a step *starts* after the step's output was recorded;
* a request cut off by a kill (outcome not ``completed``) is legitimately sent again;
* a request that completed at the server but whose process was killed before DBOS recorded the
  step is legitimately sent again too: counted apart ("completed, not checkpointed"), and each
  one must be followed by a kill before the step's next request (else it is "unexplained").

After every kill, and at the end, ``/proc`` is searched for processes whose environment holds the
run's state directory (the Claude Code CLI runs with ``HOME=<state>/claude-home``): any still
alive 5 s after the kill is an orphan (reported, then killed by pid).

Full size: 20 crash runs, 4 processes at a time; ``--quick``: 3 runs, 3 at a time. Exits 1 when a
check fails (the figures and the JSON are printed anyway, the problems on stderr).

Usage: ``python bench/crash_anywhere.py [--quick] [--runs K] [--seed S] [--parallel P]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchkit import emit, parse_args, summary, temp_dir
from benchkit.crash import (
    ModelServer,
    Step,
    StepCheck,
    describe,
    processes_using,
    sqlite_checkpoints,
    survivors,
)
from benchkit.crash import check_steps as _check_steps
from benchkit.crash import model_steps as _model_steps

QUESTIONS = 2
TPS = 60
KILL_MIN_S = 0.3
KILLS_PER_RUN = (1, 3)
RUN_TIMEOUT_S = 240.0
BIN = Path(sys.executable).parent


def _agentdeck() -> str:
    path = BIN / "agentdeck"
    if not path.is_file():
        raise SystemExit(f"no agentdeck console script next to {sys.executable}")
    return str(path)


# --------------------------------------------------------------------------------------------
# The offline model server


# --------------------------------------------------------------------------------------------
# Processes left behind


# --------------------------------------------------------------------------------------------
# One run: start, kill, restart until it prints its JSON


@dataclass
class Run:
    index: int
    kind: str  # "reference" or "crash"
    topic: str
    root: Path
    #: Where each kill lands, as a fraction of the calibrated run time (crash runs only).
    fractions: list[float] = field(default_factory=list)
    delays: list[float] = field(default_factory=list)
    kills: list[float] = field(default_factory=list)  # time.time() of each kill performed
    starts: list[float] = field(default_factory=list)  # time.time() of each process start
    attempts: int = 0
    started: float = 0.0
    ended: float = 0.0
    status: str = "NOT RUN"
    result: dict[str, Any] | None = None
    error: str = ""
    orphans: list[str] = field(default_factory=list)

    @property
    def workflow_id(self) -> str:
        return f"crash-{self.index}"

    @property
    def dir(self) -> Path:
        return self.root / f"{self.kind}-{self.index}"

    @property
    def state_dir(self) -> Path:
        return self.dir / "state"

    @property
    def db_path(self) -> Path:
        return self.dir / "db.sqlite"

    @property
    def wall_s(self) -> float:
        return self.ended - self.started

    @property
    def markdown(self) -> str | None:
        md = (self.result or {}).get("markdown")
        return md if isinstance(md, str) else None


def _command(run: Run) -> list[str]:
    return [
        _agentdeck(),
        "--db",
        f"sqlite:///{run.db_path}",
        "--offline",
        "launch",
        "research",
        "--topic",
        run.topic,
        "--questions",
        str(QUESTIONS),
        "--id",
        run.workflow_id,
        "--auto-approve",
        "--wait",
        "--json",
    ]


def _env(run: Run, server_url: str | None) -> dict[str, str]:
    """The run's environment: the shared server at ``server_url``, or (None) the CLI's own."""
    env = dict(os.environ)
    for name in (
        "AGENTDECK_OFFLINE_URL",
        "AGENTDECK_OFFLINE_FAULTS",
        "DBOS_SYSTEM_DATABASE_URL",
        "AGENTDECK_APP_VERSION",
    ):
        env.pop(name, None)
    env.update(
        AGENTDECK_OFFLINE_TPS=f"{TPS:g}",
        AGENTDECK_STATE_DIR=str(run.state_dir),
        AGENTDECK_STEP_RETRY_INTERVAL="0.05",
    )
    if server_url is not None:
        env["AGENTDECK_OFFLINE_URL"] = server_url
    return env


def _tail(path: Path, n: int = 1500) -> str:
    try:
        return path.read_text(errors="replace")[-n:]
    except OSError:
        return ""


async def execute(run: Run, server_url: str | None) -> None:
    """Run ``run``'s command, SIGKILLing its process group after each of ``run.delays``."""
    run.dir.mkdir(parents=True)
    cmd, env = _command(run), _env(run, server_url)
    run.started = time.time()
    last_out = last_err = run.dir / "none"
    for attempt, delay in enumerate([*run.delays, None]):
        last_out, last_err = run.dir / f"attempt-{attempt}.out", run.dir / f"attempt-{attempt}.err"
        with last_out.open("wb") as out, last_err.open("wb") as err:
            proc = await asyncio.create_subprocess_exec(
                *cmd,
                cwd=run.dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
        run.attempts += 1
        run.starts.append(time.time())
        try:
            await asyncio.wait_for(proc.wait(), RUN_TIMEOUT_S if delay is None else delay)
            break  # it finished before the kill
        except TimeoutError:
            kill_at = time.time()
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            await proc.wait()
            if delay is None:
                run.error = f"still running after {RUN_TIMEOUT_S:g} s (killed)"
                break
            run.kills.append(kill_at)
            run.orphans += await survivors(run.state_dir)
    run.ended = time.time()
    if run.error:
        run.status = "TIMEOUT"
        return
    try:
        payload = json.loads(last_out.read_text())
        run.status = str(payload["status"])
        result = payload.get("result")
        run.result = result if isinstance(result, dict) else None
        if run.status != "SUCCESS":
            run.error = str(payload.get("error") or "")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        run.status = "NO OUTPUT"
        run.error = f"{type(exc).__name__}: {exc}; stderr: {_tail(last_err)}"


# --------------------------------------------------------------------------------------------
# Attribution of the server's requests to the steps, and the checks


def model_steps(run: Run) -> list[Step]:
    return _model_steps(run.topic, run.workflow_id, run.result, QUESTIONS)


def check_steps(run: Run, requests: list[dict[str, Any]]) -> list[StepCheck]:
    marks = sqlite_checkpoints(run.db_path) if run.db_path.exists() else {}
    return _check_steps(model_steps(run), requests, marks, run.kills)


def kill_phases(run: Run, requests: list[dict[str, Any]]) -> list[str]:
    """What each kill interrupted: the model calls in flight, else whether the killed process had
    sent any request yet (still starting or recovering) or was between two model calls."""
    phases = []
    for k in run.kills:
        began = max((t for t in run.starts if t <= k), default=run.started)
        tasks = sorted(
            {
                str(r["task"])
                for r in requests
                if float(r["started"]) <= k and (r.get("ended") is None or float(r["ended"]) >= k)
            }
        )
        if tasks:
            phases.append("+".join(tasks))
        elif any(began <= float(r["started"]) <= k for r in requests):
            phases.append("between model calls")
        else:
            phases.append("starting/recovering")
    return phases


def attribute(runs: list[Run], requests: list[dict[str, Any]]) -> tuple[dict[int, list[Any]], int]:
    """Each run's requests (by its steps' prompt hashes, within its time window); how many
    requests no run claims."""
    claimed: dict[int, list[Any]] = {}
    seen: set[int] = set()
    for n, run in enumerate(runs):
        hashes = {s.prompt_hash for s in model_steps(run)}
        mine = [
            r
            for r in requests
            if r.get("prompt_hash") in hashes and run.started <= float(r["started"]) <= run.ended
        ]
        claimed[n] = mine
        seen.update(int(r["seq"]) for r in mine)
    return claimed, sum(1 for r in requests if int(r["seq"]) not in seen)


# --------------------------------------------------------------------------------------------


def _extra(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runs", type=int, default=None, help="research runs (default 20, quick 3)")
    p.add_argument("--seed", type=int, default=1, help="seed of the kill schedule")
    p.add_argument("--parallel", type=int, default=None, help="runs at once (default 4, quick 3)")


async def bench(args: argparse.Namespace, root: Path) -> tuple[dict[str, Any], bool]:
    k = args.runs or (3 if args.quick else 20)
    parallel = max(1, args.parallel or (3 if args.quick else 4))
    rng = random.Random(args.seed)
    refs = [Run(i, "reference", f"topic {i}", root) for i in range(k)]
    crashes = [
        Run(
            i,
            "crash",
            f"topic {i}",
            root,
            [rng.random() for _ in range(rng.randint(*KILLS_PER_RUN))],
        )
        for i in range(k)
    ]
    t0 = time.monotonic()
    server = ModelServer(TPS, root / "server.err")
    print(
        f"crash_anywhere: {k} research runs x {QUESTIONS} questions, SIGKILLed at random points "
        f"and restarted; offline model at {TPS} tokens/s ({server.url}), {parallel} at a time, "
        f"seed {args.seed}"
    )
    slots = asyncio.Semaphore(parallel)

    async def reference(run: Run) -> None:
        async with slots:
            await execute(run, None)

    async def crash(run: Run) -> None:
        span = max(refs[0].wall_s, KILL_MIN_S + 0.1)
        run.delays = [KILL_MIN_S + f * (span - KILL_MIN_S) for f in run.fractions]
        async with slots:
            await execute(run, server.url)
        print(
            f"  {run.workflow_id:>9}: {run.status:<8} {len(run.kills)}/{len(run.delays)} kills "
            f"(delays {', '.join(f'{d:.1f}' for d in run.delays)} s), {run.attempts} starts, "
            f"{run.wall_s:5.1f} s"
        )

    try:
        # The calibration: topic 0's reference run, alone.
        await execute(refs[0], None)
        calibrated = refs[0].wall_s
        print(
            f"  calibration: uninterrupted {refs[0].topic!r}: {calibrated:.1f} s, {refs[0].status}"
        )
        # Then the rest, crash runs first (they are the longer ones).
        await asyncio.gather(*(crash(r) for r in crashes), *(reference(r) for r in refs[1:]))
        requests = server.requests()
        server_alive = server.alive()
    finally:
        server.stop()
    leftovers = [describe(cmd) for _, cmd in processes_using(root)]
    total_s = time.monotonic() - t0

    claimed, unattributed = attribute(crashes, requests)
    ref_md = {r.index: r.markdown for r in refs}
    finished = identical = steps_rerun = requests_rerun = 0
    cut_off = not_ckpt = unexplained = missing_ckpt = other_errors = 0
    phases: Counter[str] = Counter()
    problems: list[str] = []
    for run in refs:
        if run.status != "SUCCESS":
            problems.append(f"reference {run.workflow_id}: {run.status} {run.error[:300]}")
    for n, run in enumerate(crashes):
        if run.status != "SUCCESS":
            problems.append(f"{run.workflow_id}: {run.status} {run.error[:300]}")
        finished += run.status == "SUCCESS"
        same = run.markdown is not None and run.markdown == ref_md[run.index]
        identical += same
        if run.status == "SUCCESS" and not same:
            problems.append(f"{run.workflow_id}: report differs from the uninterrupted run's")
        phases.update(kill_phases(run, claimed[n]))
        for c in check_steps(run, claimed[n]) if run.result else []:
            steps_rerun += c.after_checkpoint > 0
            requests_rerun += c.after_checkpoint
            cut_off += c.cut_off
            other_errors += c.other_errors
            not_ckpt += c.completed_not_checkpointed
            unexplained += c.unexplained_repeats
            missing_ckpt += not c.checkpointed
            if c.after_checkpoint:
                problems.append(
                    f"{run.workflow_id} {c.label}: {c.after_checkpoint} request(s) started after "
                    f"the step's checkpoint"
                )
            if c.unexplained_repeats:
                problems.append(
                    f"{run.workflow_id} {c.label}: {c.unexplained_repeats} completed request(s) "
                    f"repeated without a kill in between"
                )
            if not c.checkpointed:
                problems.append(f"{run.workflow_id} {c.label}: no checkpoint in operation_outputs")
    orphans = [o for r in crashes for o in r.orphans] + leftovers
    kills = sum(len(r.kills) for r in crashes)
    planned = sum(len(r.delays) for r in crashes)
    if unattributed:
        problems.append(f"{unattributed} server request(s) matched no run")
    if not server_alive:
        problems.append("the offline model server died")
    if orphans:
        problems.append(f"{len(orphans)} orphan process(es)")

    print(f"\n{finished}/{k} runs finished")
    print(f"{identical}/{k} reports identical")
    print(f"{steps_rerun} steps re-run after their checkpoint ({requests_rerun} requests)")
    print(
        f"kills performed: {kills} of {planned} planned (the others came after the attempt had "
        f"finished); interrupted: "
        + ", ".join(f"{p} {n}" for p, n in sorted(phases.items(), key=lambda x: -x[1]))
    )
    print(f"cut-off requests repeated: {cut_off}")
    print(
        f"completed at the model but not checkpointed (killed before DBOS recorded the step), "
        f"sent again: {not_ckpt} ({unexplained} without a kill to explain it)"
    )
    print(f"orphan processes: {len(orphans)}")
    for o in orphans:
        print(f"  {o}")
    crash_walls = [r.wall_s for r in crashes if r.ended]
    print(
        f"server requests: {len(requests)} ({unattributed} unattributed); calibration "
        f"{calibrated:.1f} s; crash runs p50 "
        f"{summary(crash_walls)['p50']} s"
    )
    print(f"total time: {total_s:.1f} s")
    for p in problems:
        print(f"PROBLEM: {p}", file=sys.stderr)
    ok = not problems
    return (
        {
            "bench": "crash_anywhere",
            "quick": bool(args.quick),
            "seed": args.seed,
            "runs": k,
            "parallel": parallel,
            "runs_finished": finished,
            "reports_identical": identical,
            "steps_rerun_after_checkpoint": steps_rerun,
            "requests_after_checkpoint": requests_rerun,
            "kills": kills,
            "kills_planned": planned,
            "kills_by_phase": dict(phases),
            "starts": sum(r.attempts for r in crashes),
            "cut_off_requests_repeated": cut_off,
            "error_requests": other_errors,
            "completed_not_checkpointed": not_ckpt,
            "unexplained_repeats": unexplained,
            "missing_checkpoints": missing_ckpt,
            "orphans": orphans,
            "server_requests": len(requests),
            "unattributed_requests": unattributed,
            "calibration_s": round(calibrated, 2),
            "reference_wall_s": summary([r.wall_s for r in refs if r.ended]),
            "crash_wall_s": summary(crash_walls),
            "problems": problems,
            "ok": ok,
            "total_s": round(total_s, 1),
        },
        ok,
    )


async def main() -> int:
    args = parse_args(__doc__ or "", extra=_extra)
    with temp_dir("crash-anywhere") as root:
        result, ok = await bench(args, root)
    emit(result)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
