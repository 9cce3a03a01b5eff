"""Export a run (``x`` in the run detail, ``agentdeck export``): Markdown and JSON of real runs
made with the offline model (research, failed research, compare) and of a foreign app's runs,
on SQLite and PostgreSQL; the dialog driven by Pilot; secrets redacted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from textual.command import CommandList
from textual.widgets import Input, RadioButton

from tests.conftest import _settings, connected, launched
from tests.support.pilot import make_app, notices, open_detail, until
from tests.support.runs import approve_and_finish, finish, launch, wait_approval
from tui.export_doc import claude_of, export_filename, redact_tree, to_json, to_markdown
from tui.modals.confirm import ConfirmScreen
from tui.modals.export import ExportScreen
from tui.screens.detail import DetailScreen
from tui.supervisor import Supervisor, SupervisorError
from tui.supervisor import export as export_module
from tui.supervisor.export import RunExport, RunValues, gather
from tui.supervisor.models import EventItem, RunDetail, StepRow, WorkflowRow
from workflows.model_offline.transport import reset_faults
from workflows.models import (
    ApprovalAnswer,
    ApprovalDecision,
    ClaudeResult,
    CompareReport,
    ResearchReport,
    Usage,
)
from workflows.runtime import Runtime

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def deck(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Supervisor]:
    """An embedded runtime with the offline model and a data layer, on SQLite or PostgreSQL."""
    reset_faults()
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'agentdeck.sqlite'}"
    else:
        url = str(request.getfixturevalue("pg_database"))
    async with launched(_settings(tmp_path, url, cli=False)), connected(url) as sup:
        yield sup


def _usage_cell(r: ClaudeResult) -> str:
    u = r.usage
    return f"{u.input_tokens:,} in / {u.output_tokens:,} out"


def _cost_cell(usd: float) -> str:
    return f"${usd:.2f}" if usd >= 1 else f"${usd:.4f}"


def _section(md: str, title: str) -> str:
    """The text of one ``## title`` section of a Markdown export."""
    head = f"\n## {title}\n"
    assert head in md, f"no {title!r} section"
    return md.split(head, 1)[1].split("\n## ", 1)[0]


def _when(ts: float | None) -> str:
    import time

    assert ts is not None
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))


# --------------------------------------------------------------------------------------------
# Real runs, SQLite and PostgreSQL


async def test_research_run_exports(deck: Supervisor) -> None:
    wid = await launch(deck, questions=2)
    await wait_approval(deck, wid)
    await deck.answer(wid, ApprovalAnswer(decision=ApprovalDecision.APPROVE, by="ana"))
    assert await finish(deck, wid) == "SUCCESS"
    export = await gather(deck, wid)
    report = export.detail.result
    assert isinstance(report, ResearchReport)
    md = to_markdown(export)

    assert md.startswith(f"# research run `{wid}`")
    shown = _section(md, "Report")  # the report's headings go two levels down, under it
    for line in report.markdown.splitlines():
        assert (f"##{line}" if line.startswith("#") else line) in shown
    plan = _section(md, "Plan")
    assert [line for line in plan.splitlines() if line] == [
        f"{i}. {q}" for i, q in enumerate(report.questions, 1)
    ]
    # The approval: who answered and when (the recv step's completion).
    (recv,) = [
        s
        for s in export.detail.steps
        if s.name == "DBOS.recv" and s.output_summary.startswith("approved")
    ]
    approval_rows = [r for r in _section(md, "Approvals").splitlines() if r.startswith("| 20")]
    assert len(approval_rows) == 1
    assert "| approve |" in approval_rows[0] and "| ana |" in approval_rows[0]
    assert _when(recv.completed_at) in approval_rows[0]
    # Each Claude step of the run shows its tokens and cost on its row.
    steps = _section(md, "Steps")
    claude = {
        s.step_id: r
        for s in export.detail.steps
        if (r := claude_of(export.values.step_outputs.get(s.step_id))) is not None
    }
    assert {s.name for s in export.detail.steps if s.step_id in claude} == {"plan", "synthesize"}
    for sid, r in claude.items():
        (row,) = [line for line in steps.splitlines() if line.startswith(f"| {sid} |")]
        assert _usage_cell(r) in row and _cost_cell(r.cost_usd) in row and r.model in row
    # The children's Claude usage, summed per child.
    kids = _section(md, "Child workflows")
    for child in export.detail.children:
        (row,) = [line for line in kids.splitlines() if child.workflow_id in line]
        (r,) = [
            r
            for out in export.children_values[child.workflow_id].step_outputs.values()
            if (r := claude_of(out))
        ]
        assert _usage_cell(r) in row and _cost_cell(r.cost_usd) in row
    assert f"| Claude cost | {_cost_cell(report.cost_usd)} |" in md
    assert "## Error" not in md and "## Step errors" not in md

    doc = json.loads(to_json(export))
    assert doc["format"] == "agentdeck.run-export/1"
    assert doc["workflow_id"] == wid and doc["status"] == "SUCCESS"
    (request,) = doc["input"]["args"]
    assert request["__class__"] == "ResearchRequest" and request["topic"] == "durable execution"
    assert doc["output"]["__class__"] == "ResearchReport"
    assert doc["output"]["markdown"] == report.markdown
    assert doc["plan"] == list(report.questions)
    (approval,) = doc["approvals"]
    assert approval["answer"]["by"] == "ana" and approval["state"] == "answered"
    assert approval["topic"] == "approve-plan"
    names = [s["name"] for s in doc["steps"]]
    assert names == [s.name for s in export.detail.steps]
    plan_step = doc["steps"][names.index("plan")]
    assert plan_step["claude"]["tokens"]["output"] > 0 and plan_step["attempts"] >= 1
    assert plan_step["duration_s"] is not None and plan_step["started_at"].endswith("+00:00")
    recv_step = next(s for s in doc["steps"] if s["step_id"] == recv.step_id)
    assert recv_step["output"]["decision"] == "approve"
    assert doc["events"]["agentdeck.progress"]["phase"] == "done"
    stream = doc["streams"]["agentdeck.output"]
    assert {e["step_name"] for e in stream["entries"]} == {"plan", "synthesize"}
    text = "".join(
        p["text"]
        for e in stream["entries"]
        if e["step_name"] == "synthesize"
        for p in e["parts"]
        if p["kind"] == "text"
    )
    assert text == report.markdown
    assert len(doc["children"]) == 2
    for child in doc["children"]:
        assert child["status"] == "SUCCESS" and child["works_on"].startswith("Q")
        assert child["parent_id"] == wid and child["claude"][0]["cost_usd"] > 0
    assert doc["cost_usd"] == pytest.approx(report.cost_usd)


async def test_failed_run_exports_its_error(deck: Supervisor) -> None:
    wid = await launch(deck, questions=1, fault="synthesize.invalid_request*1")
    assert await approve_and_finish(deck, wid) == "ERROR"
    export = await gather(deck, wid)
    md = to_markdown(export)
    error = export.detail.error
    assert error
    first = error.splitlines()[0]
    assert first in _section(md, "Error")
    assert "| Status | ERROR |" in md
    # The failed step: its row says error with the error's first line, and its whole text.
    failed = [s for s in export.detail.steps if s.status == "error"]
    assert [s.name for s in failed] == ["synthesize"]
    (row,) = [
        line
        for line in _section(md, "Steps").splitlines()
        if line.startswith(f"| {failed[0].step_id} |")
    ]
    assert "| error |" in row and "invalid request" in row
    assert failed[0].error.splitlines()[0] in _section(md, "Step errors")
    doc = json.loads(to_json(export))
    assert doc["status"] == "ERROR" and doc["output"] is None
    assert doc["error"] == error
    (step,) = [s for s in doc["steps"] if s["status"] == "error"]
    assert step["name"] == "synthesize" and "invalid request" in step["error"]


async def test_compare_run_exports(deck: Supervisor) -> None:
    res = await deck.launch(
        "compare",
        {"question": "Why do durable workflows checkpoint?", "branches": "m-a:concise, m-b"},
    )
    assert res.ok
    wid = res.workflow_id
    assert await finish(deck, wid) == "SUCCESS"
    export = await gather(deck, wid)
    report = export.detail.result
    assert isinstance(report, CompareReport)
    md = to_markdown(export)
    assert md.startswith(f"# compare run `{wid}`")
    branches = _section(md, "Branches")
    assert f"Winner: **{report.winner}**" in branches
    for b in report.branches:
        assert b.result is not None
        (row,) = [line for line in branches.splitlines() if line.startswith(f"| {b.label} |")]
        assert f"| {b.model} |" in row and f"| {b.style} |" in row
        assert _usage_cell(b.result) in row and _cost_cell(b.result.cost_usd) in row
        assert f"`{b.workflow_id}`" in row
    judge = next(s for s in export.detail.steps if s.name == "judge")
    r = claude_of(export.values.step_outputs[judge.step_id])
    assert r is not None
    (row,) = [
        line
        for line in _section(md, "Steps").splitlines()
        if line.startswith(f"| {judge.step_id} |")
    ]
    assert _usage_cell(r) in row

    doc = json.loads(to_json(export))
    assert doc["status"] == "SUCCESS" and doc["name"] == "compare"
    assert doc["input"]["args"][0]["__class__"] == "CompareRequest"
    assert doc["output"]["__class__"] == "CompareReport"
    assert doc["output"]["winner"] == report.winner
    assert [c["name"] for c in doc["children"]] == ["compare.branch"] * 2
    assert {c["workflow_id"] for c in doc["children"]} == {b.workflow_id for b in report.branches}
    assert all(c["claude"] and c["claude"][0]["tokens"]["output"] > 0 for c in doc["children"])
    assert {e["step_name"] for e in doc["streams"]["agentdeck.output"]["entries"]} == {"judge"}
    assert "judge" in [s["name"] for s in doc["steps"]]


async def test_foreign_app_runs_export(
    foreign_db: str,  # noqa: F811
    foreign_app: object,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with connected(foreign_db) as sup:
        export = await gather(sup, "foreign-streamer")
        doc = json.loads(to_json(export))
        assert doc["status"] == "SUCCESS" and doc["name"] == "foreign.streamer"
        # A class only the app can import: a placeholder that names it, no crash.
        assert "__main__.Order" in doc["input"] and "__main__.Order" in doc["output"]
        tokens = doc["streams"]["tokens"]
        assert tokens["closed"] and [e["value"] for e in tokens["entries"]] == [
            "from-body-0",
            "from-step-1",
            "from-body-2",
        ]
        assert [e["offset"] for e in tokens["entries"]] == [0, 1, 2]
        assert "agentdeck.output" not in doc["streams"]
        emit = next(s for s in doc["steps"] if s["name"] == "emit")
        assert emit["output"] == 1 and emit["status"] == "done" and emit["claude"] is None
        assert sorted(c["input"]["args"][0] for c in doc["children"]) == [0, 1]
        assert {c["status"] for c in doc["children"]} == {"SUCCESS"}
        md = to_markdown(export)
        assert md.startswith("# foreign.streamer run `foreign-streamer`")
        assert "| Status | SUCCESS |" in md and "`tokens`: 3 entries (closed)" in md
        assert "| emit | done |" in md
        assert "## Plan" not in md and "## Approvals" not in md

        # A stream longer than the export takes is cut, and says so; one as long is not.
        monkeypatch.setattr(export_module, "MAX_STREAM_ENTRIES", 2)
        (cut,) = (await gather(sup, "foreign-streamer")).streams
        assert cut.cut and [e["value"] for e in cut.entries] == ["from-body-0", "from-step-1"]
        monkeypatch.setattr(export_module, "MAX_STREAM_ENTRIES", 3)
        (whole,) = (await gather(sup, "foreign-streamer")).streams
        assert not whole.cut and len(whole.entries) == 3
        monkeypatch.undo()

        waiter = json.loads(to_json(await gather(sup, "foreign-waiter")))
        assert waiter["status"] == "PENDING"
        stock = next(s for s in waiter["steps"] if s["name"] == "stock")
        assert stock["output"] == {
            "sku": "gizmo",
            "stock": {"warehouse": "A", "qty": 7},
            "tags": ["fragile", "blue"],
        }

    # With the app's code (--app-path), its classes export as objects with their fields.
    out = _cli(
        "export",
        "foreign-streamer",
        "--db",
        foreign_db,
        "--format",
        "json",
        "--app-path",
        str(ROOT / "tests" / "foreign_app.py"),
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["input"]["args"] == [{"__class__": "__main__.Order", "sku": "widget", "qty": 1}]
    assert doc["output"] == {"__class__": "__main__.Order", "sku": "widget", "qty": 11}


async def test_foreign_queued_runs_export(queues_db: str) -> None:
    """Another app's queued run on a partition, and a finished one with plain arguments."""
    async with connected(queues_db) as sup:
        # Alice runs one at a time: two of her three runs wait on her partition.
        rows = [await sup.get_row(f"fair-alice-{n}") for n in range(3)]
        waiting = [r.workflow_id for r in rows if r.status == "ENQUEUED"]
        assert len(waiting) == 2
        queued = await gather(sup, waiting[-1])
        doc = json.loads(to_json(queued))
        assert doc["status"] == "ENQUEUED" and doc["steps"] == []
        assert doc["row"]["queue"] == "partitioned_queue" and doc["row"]["partition"] == "alice"
        assert doc["input"]["args"] == ["alice", int(waiting[-1][-1])]
        md = to_markdown(queued)
        assert "| Status | ENQUEUED |" in md and "| Queue | partitioned_queue[alice] |" in md
        assert "_No steps recorded._" in md

        done = json.loads(to_json(await gather(sup, "webhook")))
        assert done["status"] == "SUCCESS"
        assert done["input"]["args"] == [
            "https://hooks.example.com/services/T0000/B0000/0123456789abcdef0123456789",
            3,
        ]


# --------------------------------------------------------------------------------------------
# The CLI


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env=dict(os.environ, PYTHONPATH=str(ROOT), AGENTDECK_STATE_DIR=str(cwd / "s")),
    )


async def test_cli_export(sup: Supervisor, db_url: str, tmp_path: Path) -> None:
    wid = await launch(sup, questions=1)
    assert await approve_and_finish(sup, wid) == "SUCCESS"
    prefix = wid[:14]  # a unique prefix names the run, as elsewhere

    out = _cli("export", prefix, "--db", db_url, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"# research run `{wid}`") and "## Plan" in out.stdout

    out = _cli("export", prefix, "--db", db_url, "-o", "run.json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert f"exported {wid} to {tmp_path / 'run.json'}" in out.stderr
    doc = json.loads((tmp_path / "run.json").read_text())
    assert doc["workflow_id"] == wid and doc["status"] == "SUCCESS"

    out = _cli("export", wid, "--db", db_url, "--format", "json", "-o", "-", cwd=tmp_path)
    assert out.returncode == 0 and json.loads(out.stdout)["workflow_id"] == wid

    out = _cli("export", "no-such-run", "--db", db_url, cwd=tmp_path)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.strip() == "agentdeck: error: unknown workflow id: no-such-run"

    out = _cli("export", wid, "--db", db_url, "-o", "missing/dir/x.md", cwd=tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip().startswith("agentdeck: error: no such directory:")


# --------------------------------------------------------------------------------------------
# The dialog (x in the run detail)


async def test_x_exports_from_the_run_detail(
    sup: Supervisor, runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    wid = await launch(sup, questions=1, fault="synthesize.invalid_request*1")
    assert await approve_and_finish(sup, wid) == "ERROR"
    app = make_app(sup, runtime)
    async with app.run_test(size=(140, 40)) as pilot:
        await open_detail(pilot, app, wid)
        detail = app.screen
        assert isinstance(detail, DetailScreen)
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, ExportScreen))
        dialog = app.screen
        path = dialog.query_one("#path", Input)
        assert path.value == f"./{export_filename(wid, 'md')}"
        # JSON: the radio switches the file's extension.
        dialog.query_one("#fmt-json", RadioButton).value = True
        await until(pilot, lambda: path.value == f"./{export_filename(wid, 'json')}")
        await pilot.press("enter")
        await until(pilot, lambda: app.screen is detail)
        written = tmp_path / export_filename(wid, "json")
        assert json.loads(written.read_text())["status"] == "ERROR"
        await until(pilot, lambda: f"exported {wid} to {written}" in notices(app))

        # Again, as Markdown: the file is there, so it asks first; "n" keeps it.
        (tmp_path / "run.md").write_text("keep me")
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, ExportScreen))
        app.screen.query_one("#path", Input).value = "run.md"
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, ExportScreen))
        assert (tmp_path / "run.md").read_text() == "keep me"
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: app.screen is detail)
        assert (tmp_path / "run.md").read_text().startswith(f"# research run `{wid}`")

        # A directory that is not there: one line in the dialog, no traceback, no file. (The
        # dialog from the command palette this time.)
        await pilot.press("ctrl+p")
        await pilot.press(*"export the run")

        def offered() -> bool:
            found = app.screen.query(CommandList)
            hits = found.first() if found else None
            return bool(
                hits
                and hits.option_count
                and "Export the run" in str(hits.get_option_at_index(0).prompt)
            )

        await until(pilot, offered)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ExportScreen))
        dialog = app.screen
        dialog.query_one("#path", Input).value = "nowhere/run.md"
        await pilot.press("enter")
        error = dialog.query_one("#export-error")
        await until(pilot, lambda: "no such directory" in str(error.render()))
        assert isinstance(app.screen, ExportScreen)
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is detail)


async def test_read_only_dashboard_exports(
    sup: Supervisor,
    runtime: Runtime,
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    wid = await launch(sup, questions=1)
    assert await approve_and_finish(sup, wid) == "SUCCESS"
    viewer = Supervisor(db_url, read_only=True)
    await viewer.connect()
    try:
        app = make_app(viewer, runtime)
        assert app.read_only
        async with app.run_test(size=(140, 40)) as pilot:
            await open_detail(pilot, app, wid)
            await pilot.press("x")
            await until(pilot, lambda: isinstance(app.screen, ExportScreen))
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        assert (tmp_path / export_filename(wid, "md")).read_text().startswith("# research run")
    finally:
        await viewer.close()


# --------------------------------------------------------------------------------------------
# Secrets


def _export_with(inputs: Any, *, error: str = "", events: tuple[EventItem, ...] = ()) -> RunExport:
    row = WorkflowRow(
        workflow_id="app-1", name="app.job", status="ERROR", created_at=1.0, error=error
    )
    result = ClaudeResult(text="hi", model="m", backend="offline", usage=Usage(output_tokens=3))
    login = {"user": "ana", "token": "tok-step-77"}
    detail = RunDetail(
        row=row,
        error=error,
        events=events,
        result=login,
        steps=(
            StepRow(step_id=1, name="call", status="done", started_at=1.0, completed_at=2.0),
            # describe_output's summary, as the data layer makes it: it shows the token
            StepRow(
                step_id=2, name="login", status="done", output_summary="user=ana, token=tok-step-77"
            ),
        ),
    )
    values = RunValues(workflow_id="app-1", inputs=inputs, step_outputs={1: result, 2: login})
    return RunExport(detail=detail, values=values, exported_at=3.0)


def test_secrets_are_redacted_in_both_formats(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test-not-a-real-key-123456")
    inputs = {
        "args": ["postgresql://app:hunter2@db.internal/prod"],
        "kwargs": {
            "api_key": "plain-key-value",
            "password": "pw-value-1",
            "note": "fine",
            "prompt": "use sk-test-not-a-real-key-123456 please",
            "max_tokens": 7,
            "input_tokens": 5,
        },
    }
    export = _export_with(
        inputs,
        error="ConnectionError: postgresql://app:hunter2@db.internal/prod refused",
        events=(EventItem(key="config", value={"token": "tok-value-99", "db": "x"}),),
    )
    doc = json.loads(to_json(export))
    md = to_markdown(export)
    for text in (json.dumps(doc), md):
        for secret in (
            "hunter2",
            "plain-key-value",
            "pw-value-1",
            "sk-test-not-a-real-key",
            "tok-value-99",
            "tok-step-77",
        ):
            assert secret not in text
    kwargs = doc["input"]["kwargs"]
    assert kwargs["api_key"] == "***" and kwargs["password"] == "***"
    assert kwargs["note"] == "fine" and kwargs["max_tokens"] == 7 and kwargs["input_tokens"] == 5
    assert kwargs["prompt"] == "use *** please"
    assert doc["input"]["args"] == ["postgresql://app:***@db.internal/prod"]
    assert doc["events"]["config"] == {"token": "***", "db": "x"}
    assert "postgresql://app:***@db.internal/prod refused" in md
    assert "| login | done |" in md and "user=ana, token=***" in md
    assert doc["output"] == {"user": "ana", "token": "***"}
    assert doc["steps"][1]["output"] == {"user": "ana", "token": "***"}
    assert redact_tree({"nested": {"client_secret": {"a": 1}}}) == {
        "nested": {"client_secret": {"a": 1}}
    }  # a container under a secret's name is walked, its own keys decide


def test_export_filename_is_short_and_safe() -> None:
    assert export_filename("research-7b7a2c92e567", "md") == "research-7b7a2c92e567.md"
    assert (
        export_filename("research-c3d2a1b0f9e8~fork", "json") == "research-c3d2a1b0f9e8_fork.json"
    )
    assert export_filename("../../etc/passwd", "md") == "etc_passwd.md"
    assert export_filename("///", "json") == "run.json"


async def test_unknown_run_is_a_supervisor_error(sup: Supervisor) -> None:
    with pytest.raises(SupervisorError, match="unknown workflow id"):
        await gather(sup, "no-such-run")


async def test_export_of_a_run_waiting_for_approval(sup: Supervisor) -> None:
    wid = await launch(sup, questions=2)
    await wait_approval(sup, wid)
    export = await gather(sup, wid)
    md = to_markdown(export)
    approvals = _section(md, "Approvals")
    assert "| pending |" in approvals and "| approve-plan |" in approvals
    # The plan proposed for approval is the plan shown.
    row = await sup.get_row(wid)
    assert row.approval is not None
    for q in row.approval.proposal["questions"]:
        assert q in _section(md, "Plan")
    doc = json.loads(to_json(export))
    assert doc["approvals"][0]["state"] == "pending" and doc["approvals"][0]["answer"] is None
    await sup.cancel(wid)
