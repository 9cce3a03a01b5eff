"""The run detail's timeline and step box on real research runs (SQLite, the offline model).

What the rows and the box under them say about each step (issue #13: a finished step still said
running; the DETAIL column showed Python reprs; the approval row changed its number when it was
answered; DBOS bookkeeping hidden without a word).
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import connected, launched
from tests.support.detail import box, detail_screen, hint, named, put_cursor, shown_row, timeline
from tests.support.pilot import SIZE, make_app, open_detail, until
from tests.support.runs import approve_and_finish, finish, launch, wait_approval
from tui.supervisor import Supervisor
from workflows.models import ApprovalAnswer, ApprovalDecision, ResearchReport
from workflows.runtime import Runtime, RuntimeSettings

#: What a Python repr of our step outputs looks like: none of it may reach the screen.
REPRS = ("Plan(", "ClaudeResult", "Answer(", "{'", "('")


async def test_the_step_box_follows_the_step_it_shows(tmp_path: Path, db_url: str) -> None:
    """Opened while the plan streams (before DBOS records the step), the box says the plan is
    running; once it is done the box says so, as the row does, up to the end of the run."""
    # The real CLI against the loopback server, the plan paced (`slow`, a tenth of offline_tps):
    # it streams for about four seconds before its step is recorded, so the first row is the live
    # one. At 600 tokens/s (about a second) a loaded machine could open the detail after the plan
    # was done, and the box never said "running" (it failed in a loaded fresh-clone make test).
    settings = RuntimeSettings(
        db_url=db_url, offline=True, offline_tps=150, state_dir=tmp_path / "state"
    )
    async with launched(settings) as rt, connected(db_url) as sup:
        wid = await launch(sup, questions=1, fault="plan.slow")
        app = make_app(sup, rt)
        async with app.run_test(size=SIZE) as pilot:
            await open_detail(pilot, app, wid)
            await until(pilot, lambda: "plan · step" in box(app) and "running" in box(app))
            t = timeline(app)
            (live,) = named(t, "plan")
            assert t.cursor_key == live.key and live.status == "running"
            assert await approve_and_finish(sup, wid) == "SUCCESS"
            screen = detail_screen(app)
            await until(pilot, lambda: screen.detail is not None and not screen.detail.row.active)
            await until(pilot, lambda: t.items[live.key].status == "done")
            assert t.cursor_key == live.key  # the same row, now done
            await until(pilot, lambda: f"plan · step {live.step_id} · done" in box(app))
            assert "running" not in box(app) and "streaming" not in box(app)
            assert "1 question" in box(app)


async def test_the_approval_row_keeps_its_number_and_the_box_follows_it(
    sup: Supervisor, runtime: Runtime
) -> None:
    wid = await launch(sup, questions=1)
    await wait_approval(sup, wid)
    app = make_app(sup, runtime)
    async with app.run_test(size=SIZE) as pilot:
        await open_detail(pilot, app, wid)
        t = timeline(app)
        await until(pilot, lambda: any(i.status == "waiting" for i in t.items.values()))
        (waiting,) = [i for i in t.items.values() if i.status == "waiting"]
        assert waiting.name == "approval (recv)" and "press a" in waiting.note
        await put_cursor(pilot, t, waiting.key)
        assert f"approval (recv) · step {waiting.step_id} · waiting" in box(app)
        await sup.answer(wid, ApprovalAnswer(decision=ApprovalDecision.APPROVE, by="ana"))
        assert await finish(sup, wid) == "SUCCESS"
        await until(pilot, lambda: t.items.get(waiting.key, waiting).status == "done")
        answered = t.items[waiting.key]
        # The same row: same key, same step number, same name; only its state moved on.
        assert (answered.step_id, answered.name) == (waiting.step_id, waiting.name)
        assert [i.key for i in named(t, "approval (recv)")] == [waiting.key]
        assert shown_row(t, waiting.key).lstrip().startswith(f"{waiting.step_id} approval (recv)")
        assert t.cursor_key == waiting.key
        await until(pilot, lambda: f"step {waiting.step_id} · done" in box(app))
        assert re.search(r"approved \d\d:\d\d by ana", box(app)), box(app)


async def test_the_detail_column_says_what_each_step_did(sup: Supervisor, runtime: Runtime) -> None:
    approved = await launch(sup, questions=1)
    edited = await launch(sup, topic="vector clocks", questions=2)
    assert await approve_and_finish(sup, approved) == "SUCCESS"
    await wait_approval(sup, edited)
    mine = ("What is a durable step?", "Why does replay need determinism?", "Who pays for it?")
    edit = ApprovalAnswer(decision=ApprovalDecision.EDIT, questions=mine, by="bo")
    assert (await sup.answer(edited, edit)).ok
    assert await finish(sup, edited) == "SUCCESS"
    report = (await sup.detail(approved)).result
    assert isinstance(report, ResearchReport)
    asked = report.questions
    app = make_app(sup, runtime)
    async with app.run_test(size=SIZE) as pilot:
        await open_detail(pilot, app, approved)
        t = timeline(app)
        await until(pilot, lambda: bool(named(t, "synthesize")))
        notes = {i.name: i.note for i in t.items.values()}
        assert notes["plan"].startswith("1 question · ") and "$" in notes["plan"]
        assert re.fullmatch(r"approved \d\d:\d\d", notes["approval (recv)"])
        assert notes["↳ research.question"] == f"Q1: {asked[0]}"
        assert re.match(r"\d+ words · [\d.]+k? tokens · \$\d", notes["synthesize"])
        for item in t.items.values():
            assert not any(r in item.note for r in REPRS), item
        # The column is wide enough to read them (it showed 7 characters at 140 columns).
        assert "approved " in shown_row(t, named(t, "approval (recv)")[0].key)
        assert "1 question · " in shown_row(t, named(t, "plan")[0].key)
        # The box says the same, in full.
        await put_cursor(pilot, t, named(t, "plan")[0].key)
        assert "1 question · " in box(app) and " words · " in box(app) and "tokens" in box(app)
        assert not any(r in box(app) for r in REPRS)
        await put_cursor(pilot, t, named(t, "↳ research.question")[0].key)
        assert asked[0] in box(app)

        await pilot.press("escape")
        await open_detail(pilot, app, edited)
        t = timeline(app)
        await until(pilot, lambda: len(named(t, "↳ research.question")) == 3)
        notes_by_key = {i.key: i.note for i in t.items.values()}
        (answer,) = named(t, "approval (recv)")
        assert re.fullmatch(r"edited: 3 questions · \d\d:\d\d by bo", answer.note), answer.note
        children = [notes_by_key[i.key] for i in named(t, "↳ research.question")]
        assert children == [f"Q{n + 1}: {q}" for n, q in enumerate(mine)]
        assert named(t, "plan")[0].note.startswith("2 questions · ")


async def test_hidden_dbos_steps_are_counted_and_h_shows_them(
    sup: Supervisor, runtime: Runtime
) -> None:
    wid = await launch(sup, questions=1)
    assert await approve_and_finish(sup, wid) == "SUCCESS"
    app = make_app(sup, runtime)
    async with app.run_test(size=SIZE) as pilot:
        await open_detail(pilot, app, wid)
        t = timeline(app)
        await until(pilot, lambda: bool(named(t, "synthesize")))
        found = re.search(r"(\d+) DBOS steps hidden · h shows them", hint(app))
        assert found, hint(app)
        hidden, rows = int(found[1]), t.row_count
        await pilot.press("h")
        assert t.row_count == rows + hidden
        assert f"{hidden} DBOS steps shown · h hides them" in hint(app)
        assert named(t, "DBOS.setEvent") and named(t, "settings (recv)")
        await pilot.press("h")
        assert t.row_count == rows
