"""What the screens under the current one cost: nothing, unless they show through it."""

from __future__ import annotations

from typing import Any

from tests.support.pilot import SIZE, make_app, select, until
from tests.support.runs import finish, launch, wait_approval
from tui.modals.help import HelpScreen
from tui.screens.detail import DetailScreen
from tui.screens.workflows import WorkflowsScreen
from tui.supervisor import Supervisor
from tui.widgets.workflow_table import WorkflowTable
from workflows.models import ApprovalAnswer, ApprovalDecision
from workflows.runtime import Runtime


async def test_the_list_under_a_run_never_repaints_it(sup: Supervisor, runtime: Runtime) -> None:
    wid = await launch(sup, questions=1)
    await wait_approval(sup, wid)
    await sup.answer(wid, ApprovalAnswer(decision=ApprovalDecision.APPROVE, by="test"))
    assert await finish(sup, wid) == "SUCCESS"  # a finished run: nothing moves on its screen
    app = make_app(sup, runtime)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, app, wid)
        listing = app.screen
        assert isinstance(listing, WorkflowsScreen)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        detail = app.screen
        await until(pilot, lambda: getattr(detail, "detail", None) is not None)
        await pilot.pause()
        assert app._background_screens == [] and not listing.is_current

        renders: list[bool] = []
        compositor: Any = detail._compositor
        update = compositor.render_update

        def counted(*args: Any, **kwargs: Any) -> Any:
            result = update(*args, **kwargs)
            renders.append(result is not None)
            return result

        compositor.render_update = counted
        # The list below repaints all it has (as it did each refresh while runs moved).
        listing.refresh()
        listing.query_one(WorkflowTable).refresh()
        await pilot.pause(0.1)
        assert not any(renders)

        # A modal is translucent: the screen under it shows through and stays live.
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        assert app._background_screens == [detail] and detail.is_current
        await pilot.press("escape")
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is listing)
        assert listing.is_current
