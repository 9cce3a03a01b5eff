"""``agentdeck ls`` reads the system tables without DBOS (``tui.fastls``): the same rows as the
data layer, on real SQLite and PostgreSQL databases written by DBOS, and one line on errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import types
from pathlib import Path
from typing import Any

import pytest
from dbos import DBOS
from dbos._error import DBOSException
from dbos._serialization import WorkflowSerializationFormat

from tests.conftest import _settings, connected, launched, wait_for
from tests.support.runs import finish, wait_approval
from tui import fastls
from tui.supervisor import Supervisor
from workflows.models import APPROVAL_EVENT, PROGRESS_EVENT, ApprovalAnswer, ApprovalDecision
from workflows.research import ResearchFailed
from workflows.tools import ToolApprovalNeeded

ROOT = Path(__file__).resolve().parents[2]
PORTABLE = WorkflowSerializationFormat.PORTABLE
NATIVE = WorkflowSerializationFormat.DEFAULT
#: Never loaded by ``agentdeck ls`` (while the stored values are the ones agentdeck writes).
HEAVY = ("dbos", "sqlalchemy", "textual", "workflows", "pydantic")
#: The part of the workflows package ls may use: settings and secrets, the standard library only.
LIGHT = ("workflows", "workflows.settings")
GONE_MODULE = "agentdeck_test_gone_module"


def _gone_error() -> Exception:
    """An exception whose module exists only while the workflow runs (then undecodable)."""
    mod = types.ModuleType(GONE_MODULE)

    class GoneError(Exception):
        pass

    GoneError.__module__ = GONE_MODULE
    GoneError.__qualname__ = "GoneError"
    mod.GoneError = GoneError  # type: ignore[attr-defined]
    sys.modules[GONE_MODULE] = mod
    return GoneError("its module is gone")


def _error(kind: str) -> BaseException:
    if kind == "gone":
        return _gone_error()
    return {
        "value": ValueError("plain failure"),
        "empty": KeyError(),
        "research": ResearchFailed("synthesis failed: boom"),
        "tool": ToolApprovalNeeded("Bash", {"command": "ls"}, "0123456789abcdef"),
        "dbos": DBOSException("raised as DBOS's own"),
        "secret": ValueError("see postgresql://user:hunter2hunter2@db.example/x"),
    }[kind]


@DBOS.workflow(name="test.fast_ls.fail")
async def failing(kind: str) -> None:
    progress = {"phase": kind, "done": 1, "total": 2, "detail": "half", "cost_usd": 0.25}
    await DBOS.set_event_async(PROGRESS_EVENT, progress, serialization_type=PORTABLE)
    raise _error(kind)


@DBOS.workflow(name="test.fast_ls.portable", serialization_type=PORTABLE)
async def portable_failing() -> None:
    raise RuntimeError("stored as portable JSON")


#: Event values agentdeck never writes: the fast path hands them to the pydantic models.
ODD_EVENTS: dict[str, tuple[str, Any, WorkflowSerializationFormat]] = {
    "float-count": (PROGRESS_EVENT, {"phase": "odd", "done": 2.0, "total": 3}, PORTABLE),
    "extra-key": (PROGRESS_EVENT, {"phase": "odd", "surprise": 1}, PORTABLE),
    "not-a-dict": (PROGRESS_EVENT, ["phase", "odd"], PORTABLE),
    "pickled": (PROGRESS_EVENT, {"phase": "pickled", "done": 1, "cost_usd": 2}, NATIVE),
    "tuple-options": (
        APPROVAL_EVENT,
        {
            "request_id": "r1",
            "topic": "t",
            "prompt": "p",
            "options": ("approve",),
            "created_at": 1.0,
            "deadline": 2,
            "state": "answered",
            "answer": {"decision": "edit", "questions": [" q1 ", ""], "by": "me"},
        },
        NATIVE,
    ),
    "bad-answer": (
        APPROVAL_EVENT,
        {
            "request_id": "r1",
            "topic": "t",
            "prompt": "p",
            "created_at": 1.0,
            "deadline": 2,
            "answer": {"decision": "edit"},
        },
        PORTABLE,
    ),
}


@DBOS.workflow(name="test.fast_ls.odd")
async def odd_event(kind: str) -> str:
    key, value, ser = ODD_EVENTS[kind]
    await DBOS.set_event_async(key, value, serialization_type=ser)
    return kind


# --------------------------------------------------------------------------------------------
# helpers


def run_ls(
    db_url: str, *args: str, cwd: Path, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """``agentdeck --db URL ls ARGS`` in a fresh interpreter, and the heavy modules it loaded."""
    code = (
        "import sys\n"
        "from tui.cli import main\n"
        "rc = main(sys.argv[1:])\n"
        f"heavy = sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}\n"
        f"               and m not in {LIGHT!r})\n"
        "print('HEAVY=' + ','.join(heavy), file=sys.stderr)\n"
        "sys.exit(rc)\n"
    )
    full_env = dict(os.environ if env is None else env)
    full_env["PYTHONPATH"] = str(ROOT)
    full_env.setdefault("AGENTDECK_STATE_DIR", str(cwd / "state"))
    proc = subprocess.run(
        [sys.executable, "-c", code, "--db", db_url, "ls", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = proc.stderr.splitlines()
    heavy = [ln for ln in lines if ln.startswith("HEAVY=")]
    proc.stderr = "\n".join(ln for ln in lines if not ln.startswith("HEAVY="))
    loaded = heavy[-1].removeprefix("HEAVY=").split(",") if heavy else ["?"]
    return proc, [m for m in loaded if m]


def _in_order(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows newest first, ties by id: the databases may order equal creation times either way."""
    created = [r["created_at"] or 0.0 for r in rows]
    assert created == sorted(created, reverse=True)
    return sorted(rows, key=lambda r: (-(r["created_at"] or 0.0), r["workflow_id"]))


async def data_layer_rows(sup: Supervisor, limit: int) -> list[dict[str, Any]]:
    return [r.model_dump(mode="json") for r in await sup.list_workflows(limit=limit)]


def table(sup_rows: list[Any]) -> str:
    """The table ``agentdeck ls`` printed from the data layer's rows before the fast path."""
    lines = [f"{'STATUS':<10} {'NAME':<18} {'ID':<36} {'CREATED':<19} SUMMARY"]
    for r in sup_rows:
        badge = " [approval]" if r.waiting_approval else ""
        created = (
            time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.created_at))
            if r.created_at
            else "-"
        )
        lines.append(
            f"{r.status:<10} {r.name[:18]:<18} {r.workflow_id[:36]:<36} "
            f"{created:<19} {r.summary}{badge}"
        )
    return "\n".join(lines) + "\n"


async def fails(handle: Any) -> str:
    """Wait for a run that must fail; its id."""
    try:
        await handle.get_result()
    except Exception:
        return str(handle.workflow_id)
    raise AssertionError(f"{handle.workflow_id} did not fail")


async def seed(sup: Supervisor, *, full: bool) -> dict[str, str]:
    """Runs of every kind ``ls`` shows: waiting for approval (with a deadline), delayed,
    failed (agentdeck's errors, builtin ones, portable JSON). ``full`` adds what the fast path
    hands to DBOS's unpickler or the pydantic models: DBOS's errors, an undecodable one, odd
    events; and a finished run with its cost."""
    ids: dict[str, str] = {}
    waiting = await sup.launch("research", {"topic": "fast listing"}, timeout_s=3600)
    ids["waiting"] = waiting.workflow_id
    planless = await sup.launch("research", {"topic": "no plan", "fault": "plan.auth"})
    ids["planless"] = planless.workflow_id
    delayed = await sup.launch("research", {"topic": "later on"}, debounce_s=3600)
    ids["delayed"] = delayed.workflow_id
    kinds = ["value", "empty", "research", "secret"]  # read without importing anything
    for kind in kinds + (["tool", "dbos", "gone"] if full else []):
        ids[kind] = await fails(await DBOS.start_workflow_async(failing, kind))
    sys.modules.pop(GONE_MODULE, None)
    await fails(await DBOS.start_workflow_async(portable_failing))
    for kind in ODD_EVENTS if full else []:
        odd = await DBOS.start_workflow_async(odd_event, kind)
        assert await odd.get_result() == kind
    if full:
        done = await sup.launch("research", {"topic": "finished work", "questions": 1})
        ids["done"] = done.workflow_id
        await wait_approval(sup, done.workflow_id)
        answer = ApprovalAnswer(decision=ApprovalDecision.APPROVE, by="test")
        assert (await sup.answer(done.workflow_id, answer)).ok
        assert await finish(sup, done.workflow_id) == "SUCCESS"
    await wait_approval(sup, ids["waiting"])
    assert await finish(sup, ids["planless"]) == "ERROR"
    return ids


async def assert_same_listing(
    sup: Supervisor, db_url: str, cwd: Path, *, limit: int = 500, light: bool = True
) -> None:
    """In-process and CLI (JSON and table) listings equal the data layer's.

    The seeded runs are at rest (finished, waiting for approval, delayed), so the listings
    agree once read; a background write in between (a heartbeat) is waited out.
    """
    expected: list[dict[str, Any]] = []
    fast: list[dict[str, Any]] = []

    async def same() -> bool:
        nonlocal expected, fast
        expected = await data_layer_rows(sup, limit)
        fast = fastls.list_rows(db_url, limit=limit)
        return _in_order(fast) == _in_order(expected)

    try:
        await wait_for(same, within=10, interval=0.2)
    except AssertionError:
        assert _in_order(fast) == _in_order(expected)  # shows the difference
    for attempt in range(3):  # a background write between the two reads: read both again
        proc, heavy = run_ls(db_url, "--json", "--limit", str(limit), cwd=cwd)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.count("\n") == 1  # one line of JSON
        if _in_order(json.loads(proc.stdout)) == _in_order(expected) or attempt == 2:
            break
        await wait_for(same, within=10, interval=0.2)
    assert _in_order(json.loads(proc.stdout)) == _in_order(expected)
    if light:  # values as agentdeck writes them: nothing heavy is imported to read them
        assert heavy == [], heavy
    want = table(await sup.list_workflows(limit=limit)).splitlines()
    proc, _ = run_ls(db_url, "--limit", str(limit), cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    got = proc.stdout.splitlines()
    assert got[0] == want[0] and sorted(got[1:]) == sorted(want[1:])  # ties: either order


def by_id(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["workflow_id"]: r for r in rows}


# --------------------------------------------------------------------------------------------
# equality with the data layer


@pytest.mark.slow
async def test_sqlite_listing_equals_the_data_layer(
    sup: Supervisor, db_url: str, tmp_path: Path
) -> None:
    ids = await seed(sup, full=True)
    await assert_same_listing(sup, db_url, tmp_path, light=False)
    for limit in (1, 3, 0):  # 0 lists everything, as DBOS does
        assert _in_order(fastls.list_rows(db_url, limit=limit)) == _in_order(
            await data_layer_rows(sup, limit)
        )
    rows = by_id(fastls.list_rows(db_url, limit=0))
    # What the comparison covered, spelled out.
    waiting = rows[ids["waiting"]]
    assert waiting["approval"]["state"] == "pending" and waiting["waiting_recv"]
    assert waiting["progress"]["phase"] == "awaiting approval" and waiting["deadline"]
    assert rows[ids["done"]]["cost_usd"] and rows[ids["done"]]["progress"]["phase"] == "done"
    assert rows[ids["delayed"]]["status"] == "DELAYED" and rows[ids["delayed"]]["delay_until"]
    assert rows[ids["planless"]]["error"].startswith("ResearchFailed: planning failed")
    assert rows[ids["research"]]["error"] == "ResearchFailed: synthesis failed: boom"
    assert rows[ids["tool"]]["error"].startswith("ToolApprovalNeeded: the Bash call needs")
    assert rows[ids["dbos"]]["error"] == "DBOSException: DBOS Error: raised as DBOS's own"
    assert rows[ids["empty"]]["error"] == "KeyError: KeyError"
    assert rows[ids["gone"]]["error"] == f"<{GONE_MODULE}.*: pickled class not importable here>"
    assert "hunter2" not in rows[ids["secret"]]["error"] and ":***@" in rows[ids["secret"]]["error"]
    assert any(r["error"] == "RuntimeError: stored as portable JSON" for r in rows.values())
    # Research questions have no summary attribute: their input (topic, index, question, ...).
    questions = [r for r in rows.values() if r["parent_id"] == ids["done"]]
    assert questions and all(r["summary"].startswith("'finished work', ") for r in questions)


@pytest.mark.slow
@pytest.mark.postgres
async def test_postgres_listing_equals_the_data_layer(pg_database: str, tmp_path: Path) -> None:
    settings = _settings(tmp_path, pg_database, cli=False)
    async with launched(settings), connected(pg_database) as sup:
        await seed(sup, full=False)
        await assert_same_listing(sup, pg_database, tmp_path)
        assert _in_order(fastls.list_rows(pg_database, limit=2)) == _in_order(
            await data_layer_rows(sup, 2)
        )


@pytest.mark.slow
async def test_foreign_inputs_listing_equals_the_data_layer(queues_db: str, tmp_path: Path) -> None:
    """Another app's runs (tests/foreign_queues_app.py) have no summary: both listings summarise
    their inputs alike, a pickled class neither can import included, without importing DBOS."""
    async with connected(queues_db) as sup:
        await assert_same_listing(sup, queues_db, tmp_path)
    rows = by_id(fastls.list_rows(queues_db, limit=0))
    assert rows["debounced-bob"]["summary"] == "'bob', 'only bob'"
    assert rows["report-0"]["summary"] == "<__main__.Ticket: pickled class not importable here>"
    assert rows["bulk"]["summary"].startswith("<large input: ")


# --------------------------------------------------------------------------------------------
# the pieces copied from the workflows package stay what they are there


def test_copied_constants_match_the_workflows_package() -> None:
    from tui.data import filters, rows
    from workflows import presence

    assert (rows.PROGRESS_EVENT, rows.APPROVAL_EVENT) == (PROGRESS_EVENT, APPROVAL_EVENT)
    assert filters.APPROVAL_EVENT == APPROVAL_EVENT
    assert filters.PRESENCE_WORKFLOW == presence.PRESENCE_WORKFLOW


def test_message_only_errors_keep_only_their_message() -> None:
    """The errors decoded by name: nothing of their own that str() or unpickling would run."""
    import importlib

    for path in sorted(fastls.MESSAGE_ONLY_ERRORS):
        module, name = path.rsplit(".", 1)
        cls = getattr(importlib.import_module(module), name)
        assert issubclass(cls, Exception)
        for klass in cls.__mro__:
            if klass.__module__ == "builtins":
                break
            own = {"__init__", "__new__", "__str__", "__reduce__", "__reduce_ex__", "__setstate__"}
            assert not own & set(vars(klass)), (path, klass)
        assert str(cls("the message")) == "the message" and str(cls()) == ""


# --------------------------------------------------------------------------------------------
# errors: one line, exit 2, no traceback, no password


def _one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


@pytest.mark.slow
def test_sqlite_errors_are_one_line(tmp_path: Path) -> None:
    missing = _one_line_error(run_ls(str(tmp_path / "missing.sqlite"), cwd=tmp_path)[0])
    assert "no database at" in missing and not (tmp_path / "missing.sqlite").exists()
    foreign = tmp_path / "foreign.sqlite"
    import sqlite3

    with sqlite3.connect(foreign) as conn:
        conn.execute("create table t (x int)")
    line = _one_line_error(run_ls(f"sqlite:///{foreign}", "--json", cwd=tmp_path)[0])
    assert "not a DBOS system database" in line
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is no database at all" * 100)
    assert "file is not a database" in _one_line_error(run_ls(f"sqlite:///{junk}", cwd=tmp_path)[0])
    line = _one_line_error(run_ls("mysql://me:s3cretpw@db/x", cwd=tmp_path)[0])
    assert "unsupported database URL" in line and "s3cretpw" not in line


LOCKER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("create table if not exists workflow_status (x int)")
conn.execute("BEGIN EXCLUSIVE")
print("LOCKED", flush=True)
sys.stdin.readline()
conn.execute("ROLLBACK")
"""


@pytest.mark.slow
def test_a_locked_sqlite_database_says_so_within_the_read_timeout(tmp_path: Path) -> None:
    db = tmp_path / "locked.sqlite"
    locker = subprocess.Popen(
        [sys.executable, "-c", LOCKER, str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert locker.stdout is not None and locker.stdout.readline().strip() == "LOCKED"
        env = dict(os.environ, AGENTDECK_READ_TIMEOUT_S="0.5")
        line = _one_line_error(run_ls(f"sqlite:///{db}", env=env, cwd=tmp_path)[0])
        assert "did not answer within 0.5 s (locked by another process?)" in line
    finally:
        assert locker.stdin is not None
        locker.stdin.write("\n")
        locker.stdin.close()
        locker.wait(30)


@pytest.mark.postgres
def test_postgres_errors_are_one_line_without_the_password(
    pg_database: str, tmp_path: Path
) -> None:
    from urllib.parse import urlsplit

    password = urlsplit(pg_database).password
    assert password
    wrong = pg_database.replace(f":{password}@", ":not-the-password@")
    line = _one_line_error(run_ls(wrong, cwd=tmp_path)[0])
    assert line.startswith("agentdeck: error: cannot open postgresql://agentdeck:***@")
    assert "not-the-password" not in line
    empty = _one_line_error(run_ls(pg_database, "--json", cwd=tmp_path)[0])  # no DBOS tables
    assert "not a DBOS system database" in empty and password not in empty
    gone = pg_database.rsplit("/", 1)[0] + "/no_such_database"
    line = _one_line_error(run_ls(gone, cwd=tmp_path)[0])
    assert "cannot open" in line and password not in line


async def test_ls_imports_neither_dbos_nor_sqlalchemy_nor_textual(
    sup: Supervisor, db_url: str, tmp_path: Path
) -> None:
    """``agentdeck ls`` reads the tables itself (tui.fastls): a run waiting for approval, failed
    runs and the rest are listed, JSON and table, without DBOS, SQLAlchemy, Textual, the
    workflows package or pydantic in ``sys.modules`` at the end."""
    ids = await seed(sup, full=False)
    for args in (["--json"], []):
        proc, heavy = run_ls(db_url, *args, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert ids["waiting"] in proc.stdout
        assert "ResearchFailed" in proc.stdout or not args  # errors: in the JSON only
        assert heavy == [], heavy  # dbos, sqlalchemy, textual, workflows, pydantic
