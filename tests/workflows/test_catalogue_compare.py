"""Fork-compare, forks with changed settings, fork lineage and output diffs (real SQLite, DBOS)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, OptionList, Select, Static, TabbedContent, Tree

from tests.conftest import _settings, connected, launched
from tests.support.pilot import make_app, until
from tests.support.runs import approve_and_finish, finish, launch
from tui.modals.fork import ForkScreen
from tui.modals.launch import LaunchScreen
from tui.screens.detail import DetailScreen
from tui.screens.lineage import DiffScreen, LineageScreen
from tui.supervisor import Supervisor, SupervisorError
from tui.widgets.branches import BranchesPane
from workflows.model_offline.transport import reset_faults
from workflows.models import (
    CompareReport,
    CompareRequest,
    ResearchReport,
    StepSettings,
    parse_branches,
)
from workflows.runtime import Runtime

QUESTION = "Why do durable workflows checkpoint step outputs?"


def test_branch_specs_validate() -> None:
    req = CompareRequest(question=QUESTION, branches="m1:concise,m2 , m3:skeptical")
    assert [(b.label, b.model, b.style) for b in req.specs] == [
        ("A", "m1", "concise"),
        ("B", "m2", "balanced"),
        ("C", "m3", "skeptical"),
    ]
    for bad, why in [
        ("only-one", "2 to 4"),
        ("a,b,c,d,e", "2 to 4"),
        ("a:poetic, b", "unknown style"),
        ("a b, c", "not 'model'"),
    ]:
        with pytest.raises(ValueError, match=why):
            CompareRequest(question=QUESTION, branches=bad)
    assert len(parse_branches("x, y")) == 2


async def test_compare_branches_in_parallel_and_judged(sup: Supervisor) -> None:
    res = await sup.launch(
        "compare",
        {"question": QUESTION, "branches": "claude-a:concise, claude-b:detailed, claude-c"},
    )
    assert res.ok and res.workflow_id.startswith("compare-")
    assert await finish(sup, res.workflow_id) == "SUCCESS"
    detail = await sup.detail(res.workflow_id)
    report = detail.result
    assert isinstance(report, CompareReport)
    assert [(b.label, b.model, b.style, b.ok) for b in report.branches] == [
        ("A", "claude-a", "concise", True),
        ("B", "claude-b", "detailed", True),
        ("C", "claude-c", "balanced", True),
    ]
    # Different styles give different answers; the judge names one of the labels.
    assert len({b.text for b in report.branches}) == 3
    assert report.winner in {"A", "B", "C"}
    assert "## Verdict" in report.verdict and "| branch |" in detail.result_markdown
    assert len(detail.children) == 3 and all(c.name == "compare.branch" for c in detail.children)
    # Each branch streamed into its own child stream; the judge into the parent's.
    offsets = {res.workflow_id: 0, **{c.workflow_id: 0 for c in detail.children}}
    by_wid = {b.workflow_id: b for b in await sup.read_streams(offsets)}
    assert {c.step_name for c in by_wid[res.workflow_id].chunks} == {"judge"}
    for child in detail.children:
        assert any(c.text for c in by_wid[child.workflow_id].chunks)
    # The branches run at once: the parent starts all three before it waits for any.
    names = [st.name for st in detail.steps]
    starts = [i for i, n in enumerate(names) if n == "compare.branch"]
    waits = [i for i, n in enumerate(names) if n in ("DBOS.waitFirst", "DBOS.getResult")]
    assert len(starts) == 3 and waits and max(starts) < min(waits)


async def test_compare_keeps_a_failed_branch(sup: Supervisor) -> None:
    res = await sup.launch(
        "compare",
        {"question": QUESTION, "branches": "m1, m2:concise", "fault": "branch@2.auth*9"},
    )
    assert await finish(sup, res.workflow_id) == "SUCCESS"
    report = (await sup.detail(res.workflow_id)).result
    assert isinstance(report, CompareReport)
    a, b = report.branches
    assert a.ok and not b.ok and "authentication" in b.error
    assert report.note == "1 of 2 branches failed" and report.winner in ("A", "")
    assert "branch B failed" in report.markdown


async def test_compare_fails_when_every_branch_fails(sup: Supervisor) -> None:
    res = await sup.launch(
        "compare", {"question": QUESTION, "branches": "m1, m2", "fault": "auth*99"}
    )
    assert await finish(sup, res.workflow_id) == "ERROR"
    assert "every branch failed" in (await sup.get_row(res.workflow_id)).error


async def approved_research(sup: Supervisor) -> str:
    wid = await launch(sup, questions=2)
    assert await approve_and_finish(sup, wid) == "SUCCESS"
    return wid


async def test_fork_with_changed_settings_lineage_and_diff(sup: Supervisor) -> None:
    original = await approved_research(sup)
    steps = (await sup.detail(original)).steps
    synth = next(s.step_id for s in steps if s.name == "synthesize")
    issued = sup.sql.statements
    before = await sup.outputs(original)
    labels = [label for label, _, _ in before.items]
    assert labels[0] == "plan" and labels[-1] == "synthesize" and "research 2" in labels
    # The row's events, the run's steps, then all its children's steps (each research question
    # is a child workflow) in one statement: not one more per child.
    assert sup.sql.statements - issued == 3

    # Rerun the synthesis with another model and extra instructions.
    fork = await sup.fork(
        original, synth, {"model": "claude-other", "instructions": "Write for managers."}
    )
    assert fork.ok and "with model claude-other, new instructions" in fork.message
    assert await finish(sup, fork.workflow_id) == "SUCCESS"
    report = (await sup.detail(fork.workflow_id)).result
    assert isinstance(report, ResearchReport)
    assert report.model == "claude-other"
    after = await sup.outputs(fork.workflow_id)
    old = {label: (model, text) for label, model, text in before.items}
    new = {label: (model, text) for label, model, text in after.items}
    assert old["plan"] == new["plan"] and old["research"] == new["research"]  # replayed
    assert new["synthesize"][0] == "claude-other"  # run again with the new settings
    assert old["synthesize"][1] != new["synthesize"][1]

    # A plain fork of the fork, from the same step: lineage is a tree of three generations.
    plain = await sup.fork(fork.workflow_id, synth)
    assert plain.ok and "with" not in plain.message
    assert await finish(sup, plain.workflow_id) == "SUCCESS"
    tree = await sup.lineage(plain.workflow_id)
    assert [(d, n.row.workflow_id) for d, n in tree.walk()] == [
        (0, original),
        (1, fork.workflow_id),
        (2, plain.workflow_id),
    ]
    settings = {n.row.workflow_id: n.settings or StepSettings() for _, n in tree.walk()}
    assert settings[original].model == "claude-sonnet-4-5"
    assert settings[fork.workflow_id].instructions == "Write for managers."
    # The plain fork replays the synthesis settings of its origin.
    assert settings[plain.workflow_id].model == "claude-other"


async def test_fork_settings_refused_where_not_read(sup: Supervisor) -> None:
    res = await sup.launch("compare", {"question": QUESTION, "branches": "m1, m2"})
    assert await finish(sup, res.workflow_id) == "SUCCESS"
    with pytest.raises(SupervisorError, match="do not read step settings"):
        await sup.fork(res.workflow_id, 1, {"model": "x"})
    with pytest.raises(SupervisorError, match="invalid settings"):
        await sup.fork(res.workflow_id, 1, {"model": "has spaces"})


async def test_compare_launched_from_the_form_shows_branches_side_by_side(
    sup: Supervisor, runtime: Runtime
) -> None:
    app = make_app(sup, runtime)
    async with app.run_test(size=(160, 44)) as pilot:
        await until(pilot, lambda: app.connected)
        await pilot.press("n")
        form = app.screen
        assert isinstance(form, LaunchScreen)
        form.query_one("#kind", Select).value = "compare"
        await until(pilot, lambda: bool(form.query("#f-question")))
        assert not form.query("#f-topic")  # the research fields are gone
        await pilot.press(*"Why checkpoint?")
        branches = form.query_one("#f-branches", Input)
        branches.value = "m1:concise, m2:skeptical"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        screen = app.screen
        assert isinstance(screen, DetailScreen)
        tabs = screen.query_one(TabbedContent)
        await until(pilot, lambda: tabs.active == "branches")
        # The timeline steps aside (once the tab's activation message is handled).
        await until(pilot, lambda: screen.has_class("-branches"))
        pane = screen.query_one(BranchesPane)
        await until(pilot, lambda: len(pane.columns) == 2)
        cols = pane.columns
        # Each column follows its own branch's stream, live.
        await until(
            pilot,
            lambda: all(
                c.pane.views and any(v.line_count > 3 for v in c.pane.views.values())
                for c in cols.values()
            ),
        )
        texts = {
            label: "".join(v.plain for v in c.pane.views.values()) for label, c in cols.items()
        }
        assert texts["A"] != texts["B"]
        wid = screen.workflow_id
        assert await finish(sup, wid) == "SUCCESS"
        table = pane.query_one("#compare-table", DataTable)
        await until(pilot, lambda: table.row_count == 2 and "★" in _row_text(table))
        assert "m1" in _row_text(table) and "skeptical" in _row_text(table)
        await pilot.press("o")  # another tab: the timeline comes back
        assert not screen.has_class("-branches")


def _row_text(table: DataTable[object]) -> str:
    return " ".join(str(c) for r in range(table.row_count) for c in table.get_row_at(r))


async def test_fork_with_settings_from_the_dialog_then_lineage_and_diff(
    sup: Supervisor, runtime: Runtime
) -> None:
    original = await approved_research(sup)
    app = make_app(sup, runtime)
    async with app.run_test(size=(150, 44)) as pilot:
        await until(pilot, lambda: app.connected)
        app.open_run(original)
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        await pilot.press("f")
        dialog = app.screen
        assert isinstance(dialog, ForkScreen)
        options = dialog.query_one(OptionList)
        await until(pilot, lambda: options.option_count > 0)
        assert dialog.query_one("#fork-settings").display  # research reads settings
        prompts = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        # Its waits are named for what they wait for, as in the timeline.
        assert any("settings (recv)" in p for p in prompts)
        assert any("approval (recv)" in p for p in prompts)
        assert not any("DBOS.recv" in p for p in prompts)
        synth = next(
            i
            for i in range(options.option_count)
            if "synthesize" in str(options.get_option_at_index(i).prompt)
        )
        options.highlighted = synth
        dialog.query_one("#fork-model", Input).focus()
        await pilot.press(*"claude-dialog", "enter")
        await until(pilot, lambda: not isinstance(app.screen, ForkScreen))
        forks = [r for r in await sup.list_workflows() if r.forked_from == original]
        assert len(forks) == 1
        fork = forks[0].workflow_id
        assert await finish(sup, fork) == "SUCCESS"
        report = (await sup.detail(fork)).result
        assert isinstance(report, ResearchReport) and report.model == "claude-dialog"

        app.open_run(fork)
        await until(
            pilot, lambda: isinstance(app.screen, DetailScreen) and app.screen.workflow_id == fork
        )
        await pilot.press("L")
        lineage = app.screen
        assert isinstance(lineage, LineageScreen)
        tree = lineage.query_one(Tree)
        await until(pilot, lambda: lineage.root is not None and tree.cursor_node is not None)
        assert lineage.root is not None and lineage.root.row.workflow_id == original
        assert [n.row.workflow_id for _, n in lineage.root.walk()] == [original, fork]
        assert "model claude-dialog" in str(tree.cursor_node.label if tree.cursor_node else "")
        await pilot.press("d")
        diff = app.screen
        assert isinstance(diff, DiffScreen)
        summary = diff.query_one("#diff-summary", Static)
        await until(pilot, lambda: "differ" in str(summary.render()))
        assert "1 differ" in str(summary.render())  # only the synthesis ran again
        await until(pilot, lambda: len(diff.query(".diff-head")) == 1)  # changed ones first
        head = str(diff.query_one(".diff-head", Static).render())
        assert "synthesize" in head and "claude-dialog" in head
        await pilot.press("c")  # every step
        await until(pilot, lambda: len(diff.query(".diff-head")) >= 4)


@pytest.mark.postgres
async def test_compare_and_fork_settings_on_postgres(pg_database: str, tmp_path: Path) -> None:
    """The same flows against PostgreSQL (attach-mode data layer, embedded runtime)."""
    reset_faults()
    async with launched(_settings(tmp_path, pg_database, cli=False)), connected(pg_database) as s:
        await test_compare_branches_in_parallel_and_judged(s)
        await test_fork_with_changed_settings_lineage_and_diff(s)


@pytest.mark.slow
def test_cli_launches_compare_through_the_real_claude_cli(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "tui.cli",
            "--db",
            url,
            "--offline",
            "launch",
            "compare",
            "--question",
            "Why checkpoint steps?",
            "--branches",
            "m1:concise, m2:skeptical",
            "--wait",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=dict(os.environ, AGENTDECK_OFFLINE_TPS="0", AGENTDECK_STATE_DIR=str(tmp_path / "s")),
    )
    assert out.returncode == 0, out.stderr[-2000:]
    shown = json.loads(out.stdout)
    assert shown["status"] == "SUCCESS" and "| branch |" in shown["result"]["markdown"]
    assert [b["label"] for b in shown["result"]["branches"]] == ["A", "B"]
