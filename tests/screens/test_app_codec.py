"""Someone else's app's classes (``--app-path``): decoded and built by its own code, in a helper.

The app (tests/foreign_typed_app.py, run as a script) pickles ``__main__.Order`` / ``Status`` /
``Rejected`` and waits in a ``recv`` that expects its ``Reply``. Without its code they stay
placeholders; with it they show as fields, and the send dialog builds a ``Reply`` the app
receives as one. A module that fails to import, a helper that hangs or dies: a clear line, and
the placeholders of today.
"""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Static, TextArea

from tests.conftest import ready_app, wait_for
from tests.support.pilot import SIZE, notices, open_detail, select, table, until
from tui.app import AgentDeckApp
from tui.data.decode import Undecodable
from tui.modals.send import SendScreen
from tui.screens.base import StatusLine
from tui.screens.detail import DetailScreen
from tui.supervisor import Supervisor
from tui.supervisor.codec import AppCodec, AppSpec, AppValue, CodecError

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "tests" / "foreign_typed_app.py"
PLACEHOLDER = "<__main__.Order: pickled class not importable here>"
CLASSES = "Order, Rejected, Reply, Status"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def typed_db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'typed.sqlite'}"
    return str(request.getfixturevalue("pg_database"))


@pytest.fixture
def typed_app(typed_db: str, tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    with ready_app(APP, typed_db, tmp_path) as proc:
        yield proc


@pytest.fixture
async def codec_sup(typed_db: str, typed_app: object) -> AsyncIterator[Supervisor]:
    sup = Supervisor(typed_db, codec=AppCodec(AppSpec(str(APP))))
    await sup.connect()
    try:
        yield sup
    finally:
        await sup.close()


def status_line(app: AgentDeckApp) -> str:
    return str(app.screen.query_one(StatusLine).render())


# --------------------------------------------------------------------------------------------
# the data layer


async def test_without_app_code_values_stay_placeholders(typed_db: str, typed_app: object) -> None:
    sup = Supervisor(typed_db)
    await sup.connect()
    try:
        d = await sup.detail("typed-waiter")
        assert d.input_summary == PLACEHOLDER
        (event,) = d.events
        assert event.key == "agent_status" and isinstance(event.value, Undecodable)
        assert "Rejected" in (await sup.detail("typed-refuse")).error
    finally:
        await sup.close()


async def test_app_code_decodes_input_event_result_and_error(codec_sup: Supervisor) -> None:
    d = await codec_sup.detail("typed-waiter")
    assert d.input_summary == "Order(sku='gizmo', qty=2)"
    (event,) = d.events
    assert isinstance(event.value, AppValue) and event.value.type_name == "__main__.Status"
    assert event.value.fields == {"phase": "waiting for a reply", "done": 1, "note": "[b]bold?[/b]"}
    done = await codec_sup.detail("typed-double")
    assert isinstance(done.result, AppValue) and done.result.fields == {"sku": "widget", "qty": 6}
    assert (await codec_sup.detail("typed-refuse")).error == "Rejected: no stock for nothing"
    # Decoded in the helper process: nothing of the app is imported or registered here.
    codec = codec_sup.codec
    assert codec is not None and codec.pid not in (None, os.getpid())
    assert codec.classes == tuple(CLASSES.split(", ")) and codec.as_main
    assert "foreign_typed_app" not in sys.modules
    assert "typed.waiter" not in _registered_workflows()


def _registered_workflows() -> set[str]:
    from dbos._dbos import _get_or_create_dbos_registry

    return set(_get_or_create_dbos_registry().workflow_info_map)


# --------------------------------------------------------------------------------------------
# the dashboard


async def test_dashboard_without_app_path_is_unchanged(typed_db: str, typed_app: object) -> None:
    app = AgentDeckApp(Supervisor(typed_db), mode="attach", poll_interval=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await open_detail(pilot, app, "typed-waiter")
        header = app.screen.query_one("#run-header", Static)
        await until(pilot, lambda: PLACEHOLDER in str(header.render()))
        assert "app code" not in status_line(app)
        await pilot.press("escape")
        await select(pilot, app, "typed-waiter")
        await until(pilot, lambda: table(app).rows_by_id["typed-waiter"].waiting_message)
        await pilot.press("a")
        assert isinstance(app.screen, SendScreen)
        assert not app.screen.query("#as-class")


async def test_dashboard_decodes_and_sends_the_apps_class(
    typed_db: str, typed_app: subprocess.Popen[str]
) -> None:
    sup = Supervisor(typed_db, codec=AppCodec(AppSpec(str(APP))))
    app = AgentDeckApp(sup, mode="attach", poll_interval=0.05)
    async with app.run_test(size=SIZE) as pilot:
        # Asked for, and said so: a warning, in the status line and the log.
        await until(pilot, lambda: "imports app code foreign_typed_app" in status_line(app))
        assert "its module-level code runs" in notices(app)
        await open_detail(pilot, app, "typed-waiter")
        header = app.screen.query_one("#run-header", Static)
        await until(pilot, lambda: "input: Order(sku='gizmo', qty=2)" in str(header.render()))
        events = app.screen.query_one("#events-table", DataTable)
        await until(pilot, lambda: events.row_count == 1)
        status = str(events.get_cell("agent_status", "value"))
        assert "Status(phase='waiting for a reply', done=1, note='[b]bold?[/b]')" in status
        await pilot.press("escape")

        await select(pilot, app, "typed-waiter")
        await until(pilot, lambda: table(app).rows_by_id["typed-waiter"].waiting_message)
        await pilot.press("a")
        send = app.screen
        assert isinstance(send, SendScreen)
        assert CLASSES in (send.query_one("#as-class", Input).placeholder or "")
        send.query_one("#topic", Input).value = "reply"
        error = send.query_one("#send-error", Static)
        tries = [
            ("Reply", '{"approved": true', "to build Reply the message must be JSON: Expecting"),
            (
                "Nope",
                '{"approved": true}',
                f"cannot build Nope: no class Nope in foreign_typed_app (its classes: {CLASSES})",
            ),
            ("Reply", '{"colour": "red"}', "unexpected keyword argument 'colour'"),
        ]
        for cls, text, why in tries:  # each: one line, the dialog and what was typed kept
            send.query_one("#as-class", Input).value = cls
            send.query_one("#message", TextArea).text = text
            await pilot.press("ctrl+s")

            def shown(why: str = why) -> bool:
                return why in str(error.render())

            await until(pilot, shown)
            assert "\n" not in str(error.render()).strip()
            assert app.screen is send and send.query_one("#message", TextArea).text == text
            assert send.query_one("#topic", Input).value == "reply"
        assert (await sup.detail("typed-waiter")).pending_topics == ()  # nothing was sent

        send.query_one("#as-class", Input).value = "Reply"
        send.query_one("#message", TextArea).text = '{"approved": true, "note": "ship it"}'
        await pilot.press("ctrl+s")
        await until(pilot, lambda: table(app).rows_by_id["typed-waiter"].status == "SUCCESS")
        assert "sent Reply(approved=True, note='ship it') to typed-waiter" in notices(app)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        result = app.screen.query_one("#result-text", Static)
        expected = "Reply approved=True note='ship it' for gizmo"
        await until(pilot, lambda: expected in str(result.render()))
        assert not [n for n in app._notifications if n.severity == "error"]
    assert sup.codec is not None and not sup.codec.running  # stopped with the dashboard
    assert typed_app.stdout is not None
    assert typed_app.stdout.readline().strip() == expected  # the app's recv got a Reply


async def test_a_module_that_fails_to_import(
    typed_db: str, typed_app: object, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("print('hello from broken')\nVALUE = 1 / 0\n")
    sup = Supervisor(typed_db, codec=AppCodec(AppSpec(str(broken))))
    app = AgentDeckApp(sup, mode="attach", poll_interval=0.05)
    why = "app code broken could not be imported: ZeroDivisionError: division by zero"
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: why in notices(app))
        await until(pilot, lambda: "app code broken: not decoding" in status_line(app))
        await open_detail(pilot, app, "typed-waiter")  # the rest works: placeholders
        header = app.screen.query_one("#run-header", Static)
        await until(pilot, lambda: PLACEHOLDER in str(header.render()))
        await pilot.press("escape")
        await select(pilot, app, "typed-waiter")
        await until(pilot, lambda: table(app).rows_by_id["typed-waiter"].waiting_message)
        await pilot.press("a")
        send = app.screen
        assert isinstance(send, SendScreen)
        send.query_one("#as-class", Input).value = "Reply"
        send.query_one("#message", TextArea).text = '{"approved": true}'
        await pilot.press("ctrl+s")
        error = send.query_one("#send-error", Static)
        await until(pilot, lambda: why in str(error.render()))
        assert app.screen is send and send.query_one("#message", TextArea).text
    assert sup.codec is not None and not sup.codec.running


# --------------------------------------------------------------------------------------------
# the helper process, bounded


HELPERS = """
import os, time

class Fine:
    def __init__(self, x=1):
        self.x = x

class Hang(Fine):
    def __setstate__(self, state):
        time.sleep(60)

class Die(Fine):
    def __setstate__(self, state):
        os._exit(3)
"""


async def test_a_hanging_or_dying_helper_falls_back_to_placeholders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTDECK_CODEC_TIMEOUT_S", "1")
    script = tmp_path / "helpers.py"
    script.write_text(HELPERS)
    problems: list[str] = []
    codec = AppCodec(AppSpec(str(script)), on_problem=problems.append)
    try:
        pickles = {c: (await codec.build(c, {"x": 2})).data for c in ("Fine", "Hang", "Die")}
        assert b"__main__" in pickles["Fine"]  # a script's classes, named as the app names them

        def stored(cls: str) -> Undecodable:
            raw = base64.b64encode(pickles[cls]).decode()
            return Undecodable("py_pickle", "Can't get attribute", raw=raw)

        (fine,) = await codec.resolve([stored("Fine")])
        assert isinstance(fine, AppValue) and repr(fine) == "Fine(x=2)"
        first = codec.pid
        hung = stored("Hang")
        assert await codec.resolve({"v": hung}) == {"v": hung}  # the placeholder, in 1 s
        assert problems[-1] == (
            "app codec (helpers) did not answer within 1 s (stopped it); values stay "
            "placeholders, it restarts on the next read"
        )
        assert not codec.running and first is not None
        await wait_for(lambda: not _alive(first), within=10)
        dead = stored("Die")
        assert await codec.resolve(dead) is dead
        assert problems[-1].startswith("app codec (helpers) died (exit code 3)")
        # Started again: a good value decodes, and the problem is gone.
        fine5 = (await codec.build("Fine", {"x": 5})).data
        assert codec.problem == "" and codec.pid not in (None, first)
        (again,) = await codec.decode([base64.b64encode(fine5).decode()])
        assert repr(again) == "Fine(x=5)"
        assert await codec.resolve(hung) is hung  # the third failure: not started again
        assert "3 failures, not started again" in problems[-1]
        with pytest.raises(CodecError, match="3 failures"):
            await codec.build("Fine", {})
    finally:
        await codec.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is gone for our purposes
        return "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()
    except OSError:
        return False


async def test_a_module_in_a_directory_and_an_app_that_launches_dbos(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "mod.py").write_text(HELPERS)
    (tmp_path / "launches.py").write_text("from dbos import DBOS\nDBOS.launch()\n")
    script = tmp_path / "helpers.py"
    script.write_text(HELPERS)
    as_script = AppCodec(AppSpec(str(script)))
    as_module = AppCodec(AppSpec(str(tmp_path), "pkg.mod"))
    launches = AppCodec(AppSpec(str(tmp_path / "launches.py")))
    try:
        built = await as_module.build("pkg.mod.Fine", {"x": 3})
        assert b"pkg.mod" in built.data and b"__main__" not in built.data
        # A value the app pickled as a script (`__main__.Fine`) decodes with the module too.
        main_pickle = base64.b64encode((await as_script.build("Fine", {"x": 4})).data).decode()
        (value,) = await as_module.decode([main_pickle])
        assert repr(value) == "Fine(x=4)"
        assert not await launches.start()
        assert "agentdeck only imports app code without launching DBOS" in launches.problem
        assert "\n" not in launches.problem
    finally:
        await asyncio.gather(as_script.close(), as_module.close(), launches.close())


# --------------------------------------------------------------------------------------------
# the CLI


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, AGENTDECK_STATE_DIR=str(tmp_path / "state"))
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=90,
    )


@pytest.mark.slow
def test_cli_show_with_app_path(typed_db: str, typed_app: object, tmp_path: Path) -> None:
    plain = _cli(tmp_path, "show", "typed-waiter", "--db", typed_db)
    assert plain.returncode == 0, plain.stderr
    # (Run as `python -m tui.cli`, DBOS's error names `__main__` by the CLI's module name.)
    assert "Order: pickled class not importable here>" in plain.stdout
    out = _cli(tmp_path, "show", "typed-waiter", "--db", typed_db, "--app-path", str(APP))
    assert out.returncode == 0, out.stderr
    assert "input:    Order(sku='gizmo', qty=2)" in out.stdout
    assert "agent_status: \"Status(phase='waiting for a reply', done=1" in out.stdout
    assert "its module-level code runs" in out.stderr  # said, every time
    refused = _cli(tmp_path, "show", "typed-refuse", "--db", typed_db, "--app-path", str(APP))
    assert "error: Rejected: no stock for nothing" in refused.stdout
    for args, why in [
        (["ls", "--app-path", str(APP)], "unrecognized arguments"),
        (["--app-path", str(APP), "ls"], "--app-path is for the dashboard, serve, show and export"),
        (["show", "x", "--app-module", "m"], "--app-module needs --app-path DIR"),
        (["show", "x", "--app-path", str(tmp_path)], "is a directory: add --app-module NAME"),
        (["show", "x", "--app-path", str(tmp_path / "nope.py")], "no such file or directory"),
    ]:
        bad = _cli(tmp_path, "--db", typed_db, *args)
        assert bad.returncode == 2 and why in bad.stderr, (args, bad.stderr)
