"""Bad input gets a clear message and loses nothing (properties with hypothesis, CLI cases)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import wait_for
from tests.support.runs import launch, wait_approval
from tui.data.decode import Undecodable, decode
from tui.data.filters import Filter
from tui.modals.send import parse_message
from tui.supervisor import Supervisor, SupervisorError
from workflows.approvals import parse_answer
from workflows.models import ApprovalAnswer
from workflows.runtime import redact

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(), kids, max_size=4),
    max_leaves=12,
)


@given(json_values)
def test_any_message_is_an_answer_or_a_reason(value: Any) -> None:
    parsed = parse_answer(value)
    assert isinstance(parsed, ApprovalAnswer) or (isinstance(parsed, str) and parsed)


@given(st.text())
def test_any_filter_text_is_checked_not_crashed(text: str) -> None:
    problems = Filter(text).problems()  # compiled and run: tests/workflows/test_every_run.py
    assert isinstance(problems, list) and all(isinstance(p, str) and p for p in problems)


#: Text that Textual's markup parser reads as tags: brackets, quotes, backslashes, = and $.
markup_like = st.text(alphabet=st.sampled_from(list("[]\\/=$@\"' ab:#{}\n")), max_size=30)


@settings(max_examples=500)
@given(
    st.one_of(
        st.text(st.characters(exclude_categories=["Cc", "Cs"])),
        markup_like,
        st.sampled_from(['["x=\\"y\\""]', "a\\[b]", "[b]x[/b]"]),
    )
)
def test_escaped_text_shows_as_itself(text: str) -> None:
    from textual.markup import to_content

    from tui.widgets.text import escape

    shown = to_content(f"[b]{escape(text)}[/b]").plain
    assert shown == (f"{text} " if text.endswith("\\") else text)  # (see escape's docstring)


async def test_a_notification_is_shown_as_written(tmp_path: Path) -> None:
    from textual.widgets._toast import Toast

    from tui.app import AgentDeckApp

    app = AgentDeckApp(Supervisor(f"sqlite:///{tmp_path / 'none.sqlite'}"), runtime=None)
    async with app.run_test() as pilot:
        message = 'step output ["x=\\"y\\""] and [b]not bold[/b]'
        app.notify(message)
        await pilot.pause()
        shown = [n for n in app._notifications if n.message == message]
        assert shown and str(Toast(shown[0]).render()) == message  # as written, no MarkupError


async def test_table_cells_are_shown_as_they_are() -> None:
    """An event's value or a topic with ``[/x]`` in it: DataTable reads str cells as markup."""
    from textual.app import App, ComposeResult

    from tui.widgets.tables import PlainTable

    class TableApp(App[None]):
        def compose(self) -> ComposeResult:
            yield PlainTable()

    async with TableApp().run_test() as pilot:
        table = pilot.app.query_one(PlainTable)
        table.add_column("KEY", key="key")
        table.add_column("VALUE", key="value")
        table.add_row("topic", "close [/x] and [b]", key="k")
        table.update_cell("k", "key", '["a=\\"b\\""]')
        await pilot.pause()
        assert [str(c) for c in table.get_row("k")] == ['["a=\\"b\\""]', "close [/x] and [b]"]


@given(st.text(), st.sampled_from(["py_pickle", "portable_json", None, "bogus"]))
def test_any_stored_value_decodes_or_becomes_a_placeholder(raw: str, ser: str | None) -> None:
    value = decode(raw, ser)
    if isinstance(value, Undecodable):
        assert str(value).startswith("<")


@given(
    st.one_of(
        st.text(min_size=1), st.sampled_from(["NaN", "[1, Infinity]", "-Infinity", '{"a": NaN}'])
    ).filter(lambda s: s.strip() != "")
)
def test_a_typed_message_is_json_or_text(text: str) -> None:
    value = parse_message(text)
    if isinstance(value, str) and value == text.strip():
        return  # kept as text: fine whether or not it parses
    assert value == json.loads(text.strip())
    json.dumps(value, allow_nan=False)  # never NaN or Infinity, which JSON does not have


URL_SAFE = st.characters(min_codepoint=33, max_codepoint=126, blacklist_characters="@/:")


@given(st.text(alphabet=URL_SAFE, min_size=1, max_size=30))
def test_redact_hides_any_password(password: str) -> None:
    url = f"postgresql://agentdeck:{password}@db.example:5432/app"
    assert redact(f"cannot open {url}") == (
        "cannot open postgresql://agentdeck:***@db.example:5432/app"
    )


@settings(max_examples=40, deadline=None)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "topic": st.text(max_size=600) | st.integers(),
            "questions": st.integers(-5, 20) | st.text(max_size=5),
            "model": st.text(max_size=120),
            "approval_timeout_s": st.floats(allow_nan=True) | st.integers(-10, 10),
        },
    )
)
def test_launch_input_is_validated_before_anything_is_written(data: dict[str, Any]) -> None:
    from workflows.models import ResearchRequest

    sup = Supervisor("sqlite:///unused.sqlite")  # never connected: invalid input fails first
    try:
        ResearchRequest.model_validate(data)
    except ValueError:
        import asyncio

        with pytest.raises(SupervisorError, match="invalid research input"):
            asyncio.run(sup.launch("research", data))


async def test_invalid_messages_to_a_waiting_run_are_ignored(sup: Supervisor) -> None:
    wid = await launch(sup, questions=1)
    await wait_approval(sup, wid)
    row = await sup.get_row(wid)
    assert row.approval is not None
    for junk in ("yes", {"decision": "maybe"}, {"decision": "edit"}, [1, 2], None, 42):
        await sup.send(wid, junk, row.approval.topic, idempotency_key=None)
    # Nothing lost: the run still waits for a real answer, then completes with it.
    assert (await sup.get_row(wid)).waiting_approval
    await sup.answer(wid, ApprovalAnswer(decision="approve"))

    async def done() -> bool:
        return (await sup.get_row(wid)).status == "SUCCESS"

    await wait_for(done, within=30)


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, AGENTDECK_STATE_DIR=str(tmp_path / "state"))
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )


@pytest.fixture(scope="module")
def cli_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A DBOS database with one finished run, made by the CLI itself."""
    d = tmp_path_factory.mktemp("cli")
    url = f"sqlite:///{d / 'a.sqlite'}"
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "tui.cli",
            "--db",
            url,
            "--offline",
            "launch",
            "research",
            "--topic",
            "bad input",
            "--questions",
            "1",
            "--id",
            "known-run",
            "--auto-approve",
            "--wait",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=d,
        env=dict(os.environ, AGENTDECK_OFFLINE_TPS="0", AGENTDECK_STATE_DIR=str(d / "state")),
    )
    assert out.returncode == 0, out.stderr
    return url


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["show", "nope"], "unknown workflow id: nope"),
        (["show", ""], "no workflow id given"),
        (["approve", "known-run", "--answer", "{not json"], "--answer is not valid JSON"),
        (["approve", "known-run", "--answer", '{"decision": "edit"}'], "invalid answer"),
        (["launch", "research", "--topic", "ab"], "at least 3 characters"),
        (
            ["launch", "research", "--topic", "fine topic", "--questions", "99"],
            "less than or equal",
        ),
        (["stream", "zzz"], "unknown workflow id"),
        (["launch", "compare"], "launch compare needs --question"),
        (["launch", "research"], "launch research needs --topic"),
        (["launch", "compare", "--question", "why now?", "--branches", "one"], "2 to 4"),
        (
            ["launch", "compare", "--question", "why now?", "--branches", "a:poem,b"],
            "unknown style",
        ),
        (
            ["launch", "research", "--topic", "fine topic", "--workflow-timeout", "0"],
            "timeout must be more than 0 s",
        ),
        (["launch", "research", "--topic", "fine topic", "--tools", "Bash,ls"], "unknown tool"),
    ],
)
def test_cli_bad_input_is_one_line(
    tmp_path: Path, cli_db: str, args: list[str], needle: str
) -> None:
    out = _cli(tmp_path, "--db", cli_db, *args)
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert needle in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr


@pytest.mark.slow
def test_cli_prefix_and_not_a_dbos_database(tmp_path: Path, cli_db: str) -> None:
    shown = _cli(tmp_path, "--db", cli_db, "show", "known-r", "--json")
    assert shown.returncode == 0 and json.loads(shown.stdout)["workflow_id"] == "known-run"
    again = _cli(tmp_path, "--db", cli_db, "approve", "known-run")
    assert again.returncode == 1 and "already approve" in again.stdout
    missing = _cli(tmp_path, "--db", str(tmp_path / "missing.sqlite"), "ls")
    assert missing.returncode == 2 and "no database at" in missing.stderr
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("create table t (x int)")
    foreign = _cli(tmp_path, "--db", f"sqlite:///{other}", "ls")
    assert foreign.returncode == 2
    assert len(foreign.stderr.strip().splitlines()) == 1 and "Traceback" not in foreign.stderr
    # The shared options also come after the command's name, as in `dbos workflow list`.
    after = _cli(tmp_path, "show", "known-r", "--json", "--db", cli_db)
    assert after.returncode == 0 and json.loads(after.stdout)["workflow_id"] == "known-run"
    # Commands that go through the data layer (not ls's own reader) say the same.
    shown = _cli(tmp_path, "show", "x", "--db", f"sqlite:///{other}")
    assert shown.returncode == 2 and "not a DBOS system database yet" in shown.stderr
    assert "[SQL:" not in shown.stderr and len(shown.stderr.strip().splitlines()) == 1
    gone = tmp_path / "typo.sqlite"
    assert "no database at" in _cli(tmp_path, "show", "x", "--db", str(gone)).stderr
    assert not gone.exists()  # looking did not leave an empty file behind


def test_shared_options_before_or_after_the_command() -> None:
    from tui.cli import _parser

    both = _parser().parse_args(["--db", "a.sqlite", "ls", "--offline"])
    assert (both.db, both.offline, both.cmd) == ("a.sqlite", True, "ls")
    after = _parser().parse_args(["worker", "--db", "b.sqlite", "--concurrency", "2"])
    assert (after.db, after.offline, after.concurrency) == ("b.sqlite", False, 2)
    none = _parser().parse_args(["ls"])
    assert (none.db, none.attach, none.embedded, none.read_only) == (None, False, False, False)
