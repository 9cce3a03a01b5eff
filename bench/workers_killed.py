"""Workers killed under load: 3 ``agentdeck worker`` processes on PostgreSQL, SIGKILLed at random.

A throwaway PostgreSQL server (``benchkit.pg``), one offline model server for the whole bench
(``benchkit.crash.ModelServer``: it logs every request), and three real workers,
``agentdeck --db URL --offline worker --executor-id w1|w2|w3 --concurrency 2`` (at most 10 runs
each: ``AGENTDECK_LAUNCH_CONCURRENCY``), each with its own state directory, each calling Claude
through the real Claude Code CLI against the shared server. This process attaches the data layer
(``Supervisor``), launches R research runs (30; 6 with ``--quick``) of 2 questions (1), and
answers every approval as it appears (``benchkit.load.approve_all``: plans, and tool calls):

* every third run may use ``Bash`` (``tools="Bash"``): its research step asks a human to allow
  ``echo '<topic>' | wc -w``, the answer is durable, and the allowed call must run once
  (``workflows.tools.ToolRuns``: a re-run of the step after a kill replays the recorded output);
* every third run (another third) has a fault that retries (``research.overload*1``: each
  research step's first call gets HTTP 529, the step retries);
* the rest are plain.

Meanwhile workers are SIGKILLed (``kill -9`` of the worker process only, as the OOM killer does:
its Claude Code CLIs must die with it, ``workflows.tether``; ``--kill group`` kills its process
group, CLIs included) at random points: every 2-6 s (1-3 s with ``--quick``, 3 kills instead of 10)
(``random.Random(--seed)``) a random live worker is killed and restarted at once with the same
executor id (DBOS recovers its runs); halfway through the kills, w3 is killed for good and, once
the data layer flags its runs stranded (``AGENTDECK_PRESENCE_TTL_S=3``), each is handed over with
the data layer's ``take_over`` (DBOS resume onto the launch queue).

Reported:

* runs finished (``SUCCESS``);
* reports identical to an uninterrupted run of the same request: every request also runs once,
  during the load, in this process on SQLite through the offline model's in-process SDK
  transport (same scripts, no CLI, no kills) and its Markdown is compared;
* steps re-run after their checkpoint: the server's requests attributed to each Claude step by
  prompt hash (``benchkit.crash``), against the step's newest checkpoint in ``operation_outputs``
  (a tool run's research step has two: the call that stopped at the approval, the call that
  ran after it); must be 0;
* each allowed Bash call executed exactly once, counted by its side effect: the workers' ``PATH``
  starts with a directory holding a ``wc`` that logs each run (when, in which worker's process
  tree, or "orphan" when its CLI's worker is dead) and runs the real ``wc``; and, as the tests
  count it, requests that carry a successful Bash result (a replayed run's re-run step sends one
  more). The tool runs the workers recorded (``agentdeck.toolrun:*`` events: done, or started
  and cut off) and the re-runs that replayed or refused one (their notes in the output streams)
  are counted too. Any execution beyond one per call fails the run (so does a missing one);
* duplicate notifications: the workers' ``AGENTDECK_NOTIFY_COMMAND`` is a script that logs each
  event it receives (plans and tool calls waiting for an approval, w3's stranded runs); an event
  key received twice is a duplicate;
* orphan CLI processes: processes whose environment names a killed worker's state directory
  still alive 5 s after the kill (then killed by pid), and any left at the end.

Exits 1 when a check fails (the figures and JSON are printed anyway, the problems on stderr).

Usage: ``python bench/workers_killed.py [--quick] [--runs R] [--kills K] [--seed S]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchkit import emit, parse_args, quiet_logging, temp_dir
from benchkit.crash import (
    ModelServer,
    Step,
    check_steps,
    describe,
    model_steps,
    processes_using,
    survivors,
)
from benchkit.load import approve_all
from benchkit.pg import pg_database

from tui.supervisor import Supervisor

WORKERS = ("w1", "w2", "w3")
DOOMED = "w3"  # killed for good halfway through the kills
TPS = 60
CONCURRENCY = 2  # research steps at once per worker
RUNS_PER_WORKER = 10
KILL_EVERY_S = (2.0, 6.0)
KILL_EVERY_QUICK_S = (1.0, 3.0)
RUN_TIMEOUT_S = 600.0
PRESENCE_TTL_S = 3.0
RETRY_FAULT = "research.overload*1"
BIN = Path(sys.executable).parent
_NOTIFY = """#!/bin/sh
# bench/workers_killed.py: log each notification (its JSON on one line).
event=$(cat)
printf '%s\\n' "$event" >> {log}
"""
_WC = """#!/bin/sh
# bench/workers_killed.py: log every run of `wc` (the allowed Bash call's side effect): when,
# which worker's process tree it ran in (its ancestors' command lines; "orphan" when the walk
# reaches init without meeting a worker: a CLI whose worker was killed), and what it counted.
input=$(cat)
owner=orphan
p=$PPID
while [ "$p" -gt 1 ] 2>/dev/null; do
  cmd=$(tr '\\0' ' ' < /proc/$p/cmdline 2>/dev/null)
  case "$cmd" in
    *"--executor-id "*)
      owner=$(printf '%s' "$cmd" | sed 's/.*--executor-id \\([^ ]*\\).*/\\1/'); break;;
  esac
  p=$(cut -d' ' -f4 /proc/$p/stat 2>/dev/null || echo 1)
done
printf '%s\\t%s\\t%s\\n' "$(date +%s.%N)" "$owner" "$input" >> {log}
printf '%s\\n' "$input" | {wc} "$@"
"""


@dataclass
class RunSpec:
    index: int
    questions: int

    @property
    def workflow_id(self) -> str:
        return f"wk-{self.index}"

    @property
    def topic(self) -> str:
        return f"worker kill topic {self.index}"

    @property
    def kind(self) -> str:
        return ("tools", "fault", "plain")[self.index % 3]

    def data(self) -> dict[str, Any]:
        d: dict[str, Any] = {"topic": self.topic, "questions": self.questions}
        if self.kind == "tools":
            d["tools"] = "Bash"
        elif self.kind == "fault":
            d["fault"] = RETRY_FAULT
        return d

    def steps(self, result: dict[str, Any] | None) -> list[Step]:
        return model_steps(self.topic, self.workflow_id, result, self.questions)


# -- workers ------------------------------------------------------------------------------------


@dataclass
class Worker:
    name: str
    root: Path
    db_url: str
    server_url: str
    shim: Path
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    log: Any = None

    @property
    def state_dir(self) -> Path:
        return self.root / f"state-{self.name}"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        for name in ("AGENTDECK_OFFLINE_FAULTS", "DBOS_SYSTEM_DATABASE_URL"):
            env.pop(name, None)
        env.update(
            AGENTDECK_OFFLINE_URL=self.server_url,
            AGENTDECK_OFFLINE_TPS=f"{TPS:g}",
            AGENTDECK_STATE_DIR=str(self.state_dir),
            AGENTDECK_LAUNCH_CONCURRENCY=str(RUNS_PER_WORKER),
            AGENTDECK_HEARTBEAT_S="0.5",
            AGENTDECK_PRESENCE_TTL_S=f"{PRESENCE_TTL_S:g}",
            AGENTDECK_STEP_RETRY_INTERVAL="0.05",
            AGENTDECK_NOTIFY_COMMAND=str(self.shim / "notify"),
            AGENTDECK_NOTIFY_RETRY_INTERVAL="0.1",
            PATH=f"{self.shim}:{env.get('PATH', '')}",
        )
        return env

    async def start(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.starts += 1
        if self.log is not None:
            self.log.close()
        self.log = (self.root / f"{self.name}-{self.starts}.err").open("wb")
        cmd = [
            str(BIN / "agentdeck"),
            "--db",
            self.db_url,
            "--offline",
            "worker",
            "--executor-id",
            self.name,
            "--concurrency",
            str(CONCURRENCY),
        ]
        self.proc = subprocess.Popen(  # noqa: ASYNC220 (returns at once; its line is awaited)
            cmd,
            cwd=self.root,
            env=self.env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self.log,
            start_new_session=True,
        )
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(self.proc.stdout.readline), 90)
        if f"worker {self.name} serving".encode() not in line:
            raise RuntimeError(f"worker {self.name} did not start: {line!r} ({self.proc.poll()})")

    def kill(self, group: bool) -> float:
        """SIGKILL the worker process (``group``: and its Claude Code CLIs with it)."""
        assert self.proc is not None
        at = time.time()
        try:
            if group:
                os.killpg(self.proc.pid, signal.SIGKILL)
            else:
                os.kill(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)
        return at

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=30)
        if self.log is not None:
            self.log.close()
            self.log = None


def make_shim(root: Path) -> tuple[Path, Path, Path]:
    """A directory with a counting ``wc`` and a logging notify command, and their logs."""
    shim, log, notified = root / "shim", root / "wc.log", root / "notify.log"
    shim.mkdir()
    log.touch()
    notified.touch()
    real = shutil.which("wc") or "/usr/bin/wc"
    (shim / "wc").write_text(_WC.format(log=log, wc=real))
    (shim / "notify").write_text(_NOTIFY.format(log=notified))
    for name in ("wc", "notify"):
        (shim / name).chmod(0o755)
    return shim, log, notified


def notifications(log: Path) -> Counter[str]:
    """Each event key the notify command received, with how many times."""
    import json

    keys: Counter[str] = Counter()
    for line in log.read_text().splitlines():
        try:
            keys[str(json.loads(line)["key"])] += 1
        except (ValueError, KeyError, TypeError):
            keys[f"unreadable: {line[:60]}"] += 1
    return keys


def pg_tool_runs(db_url: str) -> Counter[str]:
    """The tool runs the workers recorded (``workflows.tools.ToolRuns``), by state."""
    import json

    import psycopg

    with psycopg.connect(db_url, connect_timeout=10) as conn:
        rows = conn.execute(
            "SELECT value FROM dbos.workflow_events WHERE key LIKE 'agentdeck.toolrun:%'"
        ).fetchall()
    states: Counter[str] = Counter()
    for (value,) in rows:
        try:
            states[str(json.loads(value).get("state"))] += 1
        except (ValueError, AttributeError, TypeError):
            states["?"] += 1
    return states


async def tool_notes(sup: Supervisor, results: dict[str, Any]) -> Counter[str]:
    """What the tool runs' re-runs said in the research children's output streams."""
    children = [
        a.get("workflow_id")
        for r, _ in results.values()
        if r
        for a in r.get("answers", [])
        if a.get("workflow_id")
    ]
    notes: Counter[str] = Counter()
    for b in await sup.read_streams(dict.fromkeys(children, 0)):
        text = "".join(p.text for c in b.chunks for p in c.parts)
        notes["replayed"] += text.count("its recorded output is used")
        notes["refused"] += text.count("not run again")
    return notes


# -- the reference: every request once, uninterrupted --------------------------------------------


async def references(specs: list[RunSpec], root: Path) -> dict[str, str | None]:
    """Each run's report Markdown from an uninterrupted run (in process, SQLite, SDK transport)."""
    from workflows.model_offline.transport import transport_factory
    from workflows.runtime import Runtime, RuntimeSettings

    db_url = f"sqlite:///{root / 'reference.sqlite'}"
    state = root / "reference-state"
    rt = Runtime(
        RuntimeSettings(
            db_url=db_url,
            offline=True,
            offline_tps=0,
            state_dir=state,
            transport_factory=transport_factory,
        )
    )
    await asyncio.to_thread(rt.launch)
    quiet_logging(state)
    sup = Supervisor(db_url)
    await sup.connect()
    stop = asyncio.Event()
    approver = asyncio.create_task(approve_all(sup, stop, every=0.05))
    try:
        for s in specs:
            await sup.launch("research", s.data(), workflow_id=s.workflow_id)
        await wait_done(sup, [s.workflow_id for s in specs], RUN_TIMEOUT_S)
        return {s.workflow_id: (await result_of(sup, s.workflow_id))[1] for s in specs}
    finally:
        stop.set()
        await approver
        await sup.close()
        await asyncio.to_thread(rt.shutdown)


async def statuses(sup: Supervisor, ids: list[str]) -> dict[str, str]:
    rows = await sup.client.list_workflows_async(
        workflow_ids=ids, load_input=False, load_output=False
    )
    return {r.workflow_id: str(r.status) for r in rows}


async def wait_done(sup: Supervisor, ids: list[str], within: float) -> bool:
    deadline = time.monotonic() + within
    while any(s in ("PENDING", "ENQUEUED") for s in (await statuses(sup, ids)).values()):
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.5)
    return True


async def result_of(sup: Supervisor, wid: str) -> tuple[dict[str, Any] | None, str | None]:
    """The run's report as JSON-friendly data, and its Markdown."""
    from workflows.models import ResearchReport

    result = (await sup.detail(wid)).result
    if not isinstance(result, ResearchReport):
        return None, None
    return result.model_dump(mode="json"), result.markdown


# -- the PostgreSQL side ------------------------------------------------------------------------


def pg_checkpoints(db_url: str) -> dict[tuple[str, str], float]:
    """(workflow id, step name) -> when DBOS recorded the step's newest output (epoch s)."""
    import psycopg

    with psycopg.connect(db_url, connect_timeout=10) as conn:
        rows = conn.execute(
            "SELECT workflow_uuid, function_name, MAX(completed_at_epoch_ms) "
            "FROM dbos.operation_outputs WHERE function_name = ANY(%s) AND error IS NULL "
            "GROUP BY workflow_uuid, function_name",
            (["plan", "research", "synthesize"],),
        ).fetchall()
    return {(str(w), str(f)): int(ms) / 1000.0 for w, f, ms in rows if ms is not None}


@dataclass
class Chaos:
    """The kill schedule and what it did."""

    kills_planned: int
    rng: random.Random
    group: bool
    every: tuple[float, float]
    kills: list[tuple[str, float]] = field(default_factory=list)  # (worker, time.time())
    orphans: list[str] = field(default_factory=list)
    doomed_at: float | None = None
    taken_over: list[str] = field(default_factory=list)
    take_over_s: float | None = None


async def chaos(workers: dict[str, Worker], c: Chaos, done: asyncio.Event) -> None:
    for n in range(c.kills_planned):
        try:
            await asyncio.wait_for(done.wait(), c.rng.uniform(*c.every))
            return  # every run finished before this kill
        except TimeoutError:
            pass
        doomed = n == c.kills_planned // 2
        live = [w for w in WORKERS if w != DOOMED or c.doomed_at is None]
        name = DOOMED if doomed else c.rng.choice(live)
        w = workers[name]
        at = w.kill(c.group)
        c.kills.append((name, at))
        c.orphans += await survivors(w.state_dir)
        if doomed:
            c.doomed_at = at
        else:
            await w.start()  # same executor id: DBOS recovers its runs


async def take_over(sup: Supervisor, c: Chaos, done: asyncio.Event) -> None:
    """Once w3 is dead: hand each of its runs the data layer flags stranded to the live workers."""
    while c.doomed_at is None:
        if done.is_set():
            return
        await asyncio.sleep(0.1)
    while not done.is_set():
        rows = await sup.client.list_workflows_async(
            status="PENDING", executor_id=DOOMED, load_input=False, load_output=False
        )
        for r in rows:
            if r.workflow_id in c.taken_over:
                continue
            row = await sup.get_row(r.workflow_id)
            if row.stranded and (await sup.take_over(r.workflow_id)).ok:
                c.taken_over.append(r.workflow_id)
                c.take_over_s = time.time() - c.doomed_at
        await asyncio.sleep(0.5)


def bash_requests(records: list[dict[str, Any]], hashes: set[str]) -> int:
    """Requests of a run that carry a successful Bash result as their newest tool result."""
    return sum(
        1
        for r in records
        if r.get("prompt_hash") in hashes and list(r.get("tool_results") or [])[-1:] == ["Bash: ok"]
    )


async def bench(args: argparse.Namespace, root: Path) -> tuple[dict[str, Any], bool]:
    n = args.runs or (3 if args.quick else 30)
    questions = 1 if args.quick else 2
    kills_planned = args.kills or (3 if args.quick else 10)
    specs = [RunSpec(i, questions) for i in range(n)]
    ids = [s.workflow_id for s in specs]
    what = "process group" if args.kill == "group" else "process only"
    every = KILL_EVERY_QUICK_S if args.quick else KILL_EVERY_S
    print(
        f"workers_killed: {n} research runs x {questions} questions on 3 workers (PostgreSQL), "
        f"{kills_planned} SIGKILLs every {every[0]:g}-{every[1]:g} s (seed "
        f"{args.seed}) of the worker's {what}, {DOOMED} for good at kill "
        f"{kills_planned // 2 + 1}; offline model at {TPS} tokens/s through the Claude Code CLI",
        flush=True,
    )
    t0 = time.monotonic()
    # The references run in this process meanwhile (no CLI, no server, no kills).
    ref_done: list[float] = []
    ref_task = asyncio.create_task(references(specs, root / "reference"))
    ref_task.add_done_callback(lambda _: ref_done.append(time.monotonic() - t0))

    os.environ["AGENTDECK_PRESENCE_TTL_S"] = f"{PRESENCE_TTL_S:g}"  # the data layer's verdict
    shim, wc_log, notify_log = make_shim(root)
    server = ModelServer(TPS, root / "server.err")
    c = Chaos(kills_planned, random.Random(args.seed), args.kill == "group", every)
    workers: dict[str, Worker] = {}
    results: dict[str, tuple[dict[str, Any] | None, str | None]] = {}
    final: dict[str, str] = {}
    finished_in_time = False
    leftovers: list[str] = []
    try:
        with pg_database("agentdeck_workers_killed") as db:
            for name in WORKERS:
                workers[name] = Worker(name, root, db.url, server.url, shim)
            await asyncio.gather(*(w.start() for w in workers.values()))
            sup = Supervisor(db.url)
            await sup.connect()
            done, stop = asyncio.Event(), asyncio.Event()
            approver = asyncio.create_task(approve_all(sup, stop, every=0.1))
            t_load = time.monotonic()
            try:
                for s in specs:
                    await sup.launch("research", s.data(), workflow_id=s.workflow_id)
                tasks = [
                    asyncio.create_task(chaos(workers, c, done)),
                    asyncio.create_task(take_over(sup, c, done)),
                ]
                finished_in_time = await wait_done(sup, ids, RUN_TIMEOUT_S)
                done.set()
                await asyncio.gather(*tasks)
                load_s = time.monotonic() - t_load
                final = await statuses(sup, ids)
                for s in specs:
                    results[s.workflow_id] = await result_of(sup, s.workflow_id)
                approved = await _stop(approver, stop)
                marks = await asyncio.to_thread(pg_checkpoints, db.url)
                recorded = await asyncio.to_thread(pg_tool_runs, db.url)
                notes = await tool_notes(sup, results)
            finally:
                stop.set()
                if not approver.done():
                    approver.cancel()
                await sup.close()
                for w in workers.values():
                    w.stop()
            leftovers = [describe(cmd) for _, cmd in processes_using(root)]
            for pid, _ in processes_using(root):
                os.kill(pid, signal.SIGKILL)
        requests = server.requests()
        refs = await ref_task
    finally:
        if not ref_task.done():
            ref_task.cancel()
        for w in workers.values():
            w.stop()
        server.stop()
    total_s = time.monotonic() - t0

    kill_times = [t for _, t in c.kills]
    answer_turns = [r for r in requests if not r.get("tool_use")]
    executions: dict[str, list[tuple[float, str]]] = {}  # topic words -> (time, worker)
    for line in wc_log.read_text().splitlines():
        at, owner, words = line.split("\t", 2)
        executions.setdefault(words, []).append((float(at), owner))
    problems: list[str] = []
    finished = identical = steps_rerun = requests_rerun = 0
    cut_off = not_ckpt = unexplained = 0
    repeats: list[str] = []
    bash: dict[str, dict[str, int]] = {}
    for s in specs:
        wid = s.workflow_id
        result, markdown = results.get(wid, (None, None))
        status = final.get(wid, "?")
        finished += status == "SUCCESS"
        if status != "SUCCESS":
            problems.append(f"{wid}: {status}")
        same = markdown is not None and markdown == refs.get(wid)
        identical += same
        if status == "SUCCESS" and not same:
            problems.append(f"{wid}: report differs from the uninterrupted run's")
        steps = s.steps(result)
        checked = check_steps(steps, requests, marks, kill_times) if result else []
        # Repeats are judged on the calls' answers only: a tool run's research step legitimately
        # completes several requests that end in a tool call (the turn stopped at the approval,
        # the same turn once allowed), then one with the answer.
        answers = check_steps(steps, answer_turns, marks, kill_times) if result else []
        for chk, ans in zip(checked, answers, strict=True):
            steps_rerun += chk.after_checkpoint > 0
            requests_rerun += chk.after_checkpoint
            cut_off += chk.cut_off
            not_ckpt += ans.completed_not_checkpointed
            unexplained += ans.unexplained_repeats
            if ans.unexplained_repeats:
                repeats.append(f"{wid} {chk.label} ({s.kind}) x{ans.unexplained_repeats}")
                problems.append(f"{wid} {chk.label}: an answer repeated without a kill between")
            if chk.after_checkpoint:
                problems.append(
                    f"{wid} {chk.label}: {chk.after_checkpoint} request(s) after its checkpoint"
                )
            if not chk.checkpointed:
                problems.append(f"{wid} {chk.label}: no checkpoint in operation_outputs")
        if s.kind == "tools":
            words = " ".join(s.topic.split())
            research = {st.prompt_hash for st in steps if st.task == "research"}
            runs_of = sorted(executions.get(words, []))
            extra = max(0, len(runs_of) - questions)
            by_orphans = sum(1 for _, owner in runs_of if owner == "orphan")
            # A kill of the worker that ran it, after an execution and before the step's next
            # one: the step was re-run from its last checkpoint (DBOS steps are at least once).
            kills_within = (
                sum(
                    1
                    for name, k in c.kills
                    if runs_of[0][0] < k < runs_of[-1][0]
                    and any(owner == name for _, owner in runs_of)
                )
                if runs_of
                else 0
            )
            bash[wid] = {
                "side_effects": len(runs_of),
                "bash_result_requests": bash_requests(requests, research),
                "by_orphaned_cli": by_orphans,
                "kills_between": kills_within,
                "unexplained_extra": max(0, extra - by_orphans - kills_within),
            }
            if len(runs_of) != questions:
                problems.append(f"{wid}: {len(runs_of)} Bash runs for {questions} allowed calls")
            if bash[wid]["unexplained_extra"]:
                problems.append(f"{wid}: Bash ran again with no kill or orphan to explain it")
    # Each research question of a tool run calls Bash once (the same command: counted per run).
    bash_execs = sum(v["side_effects"] for v in bash.values())
    bash_calls = len(bash) * questions
    bash_once = bash_execs == bash_calls
    orphan_execs = sum(v["by_orphaned_cli"] for v in bash.values())
    orphans = c.orphans + leftovers
    if orphans:
        problems.append(f"{len(orphans)} orphan process(es)")
    notified = notifications(notify_log)
    duplicates = sum(n - 1 for n in notified.values())
    if duplicates:
        problems.append(f"{duplicates} duplicate notification(s)")
    if not finished_in_time:
        problems.append(f"runs still in flight after {RUN_TIMEOUT_S:g} s")
    if c.doomed_at is not None and not c.taken_over:
        problems.append(f"{DOOMED} was killed for good but none of its runs was taken over")

    kills_by = Counter(name for name, _ in c.kills)
    print(f"\n{finished}/{n} runs finished ({load_s:.1f} s under load)")
    print(f"{identical}/{n} reports identical to an uninterrupted run")
    print(f"{steps_rerun} steps re-run after their checkpoint ({requests_rerun} requests)")
    print(
        f"Bash: {bash_calls} allowed calls ({len(bash)} tool runs x {questions}), "
        f"{bash_execs} executions counted by their side effect (requests carrying a Bash result: "
        f"{sum(v['bash_result_requests'] for v in bash.values())}); exactly once: {bash_once}; "
        f"extra: {bash_execs - bash_calls}, of which {orphan_execs} by a CLI whose worker was "
        f"already dead, the others after a kill between the call and its step's checkpoint "
        f"(unexplained: {sum(v['unexplained_extra'] for v in bash.values())})"
    )
    print(
        f"tool runs recorded: {dict(recorded)}; re-run steps that replayed a recorded run: "
        f"{notes['replayed']}, that refused one cut off mid-run: {notes['refused']}"
    )
    print(
        f"notifications: {notified.total()} received, {len(notified)} events, "
        f"{duplicates} duplicates ({dict(Counter(k.split(':')[0] for k in notified))})"
    )
    print(f"orphan CLI processes: {len(orphans)}")
    for o in orphans:
        print(f"  {o}")
    print(
        f"kills: {len(c.kills)} of {kills_planned} ({dict(kills_by)}); {DOOMED} killed for good, "
        f"{len(c.taken_over)} of its workflows (runs, research children) taken over "
        f"({c.take_over_s and round(c.take_over_s, 1)} s after its death)"
    )
    print(
        f"cut-off requests repeated: {cut_off}; completed at the model but not checkpointed, "
        f"sent again: {not_ckpt} ({unexplained} without a kill to explain it)"
    )
    print(f"plans and tool calls approved: {approved}; server requests: {len(requests)}")
    print(f"total time: {total_s:.1f} s")
    for p in problems:
        print(f"PROBLEM: {p}", file=sys.stderr)
    ok = not problems
    return (
        {
            "bench": "workers_killed",
            "quick": bool(args.quick),
            "seed": args.seed,
            "kill": args.kill,
            "runs": n,
            "questions": questions,
            "workers": len(WORKERS),
            "runs_finished": finished,
            "reports_identical": identical,
            "steps_rerun_after_checkpoint": steps_rerun,
            "requests_after_checkpoint": requests_rerun,
            "bash_calls": bash_calls,
            "bash_executions": bash_execs,
            "bash_by_orphaned_cli": orphan_execs,
            "bash_exactly_once": bash_once,
            "bash": bash,
            "tool_runs_recorded": dict(recorded),
            "tool_runs_replayed": notes["replayed"],
            "tool_runs_refused": notes["refused"],
            "notifications": notified.total(),
            "notified_events": len(notified),
            "duplicate_notifications": duplicates,
            "orphans": orphans,
            "kills": len(c.kills),
            "kills_planned": kills_planned,
            "kills_by_worker": dict(kills_by),
            "doomed": DOOMED,
            "taken_over": len(c.taken_over),
            "take_over_s": c.take_over_s and round(c.take_over_s, 1),
            "cut_off_requests_repeated": cut_off,
            "completed_not_checkpointed": not_ckpt,
            "unexplained_repeats": unexplained,
            "unexplained_repeat_steps": repeats,
            "approved": approved,
            "server_requests": len(requests),
            "reference_s": round(ref_done[0], 1) if ref_done else None,
            "load_s": round(load_s, 1),
            "total_s": round(total_s, 1),
            "problems": problems,
            "ok": ok,
        },
        ok,
    )


async def _stop(approver: asyncio.Task[int], stop: asyncio.Event) -> int:
    stop.set()
    return await approver


def _extra(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runs", type=int, default=None, help="research runs (default 30, quick 3)")
    p.add_argument("--kills", type=int, default=None, help="SIGKILLs (default 10, quick 3)")
    p.add_argument("--seed", type=int, default=1, help="seed of the kill schedule")
    p.add_argument(
        "--kill",
        choices=["process", "group"],
        default="process",
        help="SIGKILL the worker process only (default, as the OOM killer does) or its process "
        "group (the worker and its CLIs, as systemd's KillMode=control-group does)",
    )


async def main() -> int:
    args = parse_args(__doc__ or "", extra=_extra)
    with temp_dir("workers-killed") as root:
        result, ok = await bench(args, root)
    emit(result)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
