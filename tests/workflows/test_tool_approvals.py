"""Tool-permission approvals: the policy, the gate in the Claude step, durable decisions.

Policy tests are plain unit tests. The research runs use a real SQLite file and the real DBOS:
the fast ones through the in-process SDK transport (which speaks the CLI's ``can_use_tool``
control protocol but executes nothing), the ``contract`` ones through the real bundled Claude
Code CLI, which really runs the allowed tools in its private working directory. The crash test
SIGKILLs a process whose run waits for a tool approval, answers while it is down, and restarts.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Static

from tests.conftest import connected, launched, wait_for
from tests.support.pilot import SIZE, make_app, until
from tests.support.procs import kill_group, live_group_members, running_in, spawn
from tui.modals.approve import ApproveScreen, tool_input_text
from tui.modals.launch import form_fields
from tui.screens.inbox import InboxScreen
from tui.supervisor import ApprovalItem, ReadOnlyError, Supervisor, SupervisorError
from tui.widgets.workflow_table import WorkflowTable
from workflows.claude import _options, current_endpoint
from workflows.config import ConfigError
from workflows.model_offline import RequestRecord
from workflows.models import (
    ApprovalAnswer,
    ApprovalDecision,
    ApprovalState,
    ChunkKind,
    ClaudeCall,
    ResearchReport,
    ResearchRequest,
    tool_call_of,
)
from workflows.prompts import research_call
from workflows.research import MAX_TOOL_APPROVALS
from workflows.runtime import Runtime, RuntimeSettings
from workflows.tools import (
    DEFAULT_POLICY,
    KNOWN_TOOLS,
    ToolApprovalNeeded,
    ToolGate,
    ToolPolicy,
    call_key,
    describe_call,
    load_policy,
)

REPO = Path(__file__).resolve().parents[2]
TOPIC = "durable execution"
#: What the offline model runs with Bash for TOPIC (harmless: counts two words).
BASH_INPUT = {
    "command": "echo 'durable execution' | wc -w",
    "description": "Count the words of the topic",
}
APPROVE = ApprovalAnswer(decision=ApprovalDecision.APPROVE, by="test")


@pytest.fixture(autouse=True)
def policy_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test reads its own agentdeck.yaml (none: the built-in defaults)."""
    path = tmp_path / "agentdeck.yaml"
    monkeypatch.setenv("AGENTDECK_CONFIG", str(path))
    return path


# --------------------------------------------------------------------------------------------
# The policy


def test_default_policy_allows_read_only_and_asks_for_the_rest() -> None:
    policy = load_policy()
    assert policy == DEFAULT_POLICY
    for tool in ("Read", "Glob", "Grep"):
        assert policy.verdict(tool) == "allow"
    for tool in ("Bash", "Write", "Edit", "NotebookEdit", "WebFetch", "WebSearch"):
        assert policy.verdict(tool) == "ask"
    assert policy.verdict("mcp__fs__delete_everything") == "ask"  # unknown tools ask
    assert policy.verdict("bash") == "ask"  # names are matched like the CLI spells them


def test_policy_from_agentdeck_yaml(policy_file: Path) -> None:
    policy_file.write_text(
        "schedules: []\n"
        "tool_policy:\n"
        "  default: deny\n"
        "  tools:\n"
        "    bash: deny\n"
        "    WebFetch: allow\n"
        "    Read: ask\n"
    )
    policy = load_policy()
    assert policy.verdict("Bash") == "deny"
    assert policy.verdict("WebFetch") == "allow"
    assert policy.verdict("Read") == "ask"
    assert policy.verdict("Grep") == "allow"  # not named: the built-in default stays
    assert policy.verdict("Write") == "ask"
    assert policy.verdict("SomethingNew") == "deny"  # the section's default for unknown tools


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("tool_policy:\n  tools:\n    Bash: maybe\n", "tool_policy.tools.Bash"),
        ("tool_policy:\n  default: allow\n", "tool_policy.default"),
        ("tool_policy:\n  tools: [Bash]\n", "tool_policy.tools"),
        ("tool_policy:\n  allow: [Bash]\n", "tool_policy.allow"),
        ("tool_policy: 3\n", "tool_policy"),
        ("tool_policy: {tools: {Bash: ask}\n", "cannot read it"),
    ],
)
def test_bad_policy_is_one_line_naming_the_file(
    policy_file: Path, body: str, expected: str
) -> None:
    policy_file.write_text(body)
    with pytest.raises(ConfigError) as info:
        load_policy()
    message = str(info.value)
    assert message.startswith(f"{policy_file}: ")
    assert expected in message
    assert "\n" not in message


def test_call_key_and_description() -> None:
    a = call_key("Bash", {"command": "ls", "description": "x"})
    assert a == call_key("Bash", {"description": "x", "command": "ls"})  # canonical JSON
    assert a != call_key("Bash", {"command": "ls -la", "description": "x"})
    assert a != call_key("Write", {"command": "ls", "description": "x"})
    assert describe_call("Bash", BASH_INPUT) == "Bash: echo 'durable execution' | wc -w"
    assert describe_call("Write", {"file_path": "/x/n.md", "content": "…"}) == "Write: /x/n.md"
    assert describe_call("Odd", {}) == "Odd"


def test_gate_applies_policy_then_decisions_then_stops() -> None:
    notes: list[str] = []
    key = call_key("Bash", BASH_INPUT)
    gate = ToolGate(ToolPolicy.from_section({"tools": {"WebFetch": "deny"}}), note=notes.append)
    assert gate.decide("Read", {"file_path": "/etc/os-release"}) == ("allow", "", False)
    verdict, message, interrupt = gate.decide("WebFetch", {"url": "https://example.com/"})
    assert (verdict, interrupt) == ("deny", False) and "policy denies WebFetch" in message
    # No decision for this Bash call: denied with an interrupt, and remembered as needed.
    assert gate.decide("Bash", BASH_INPUT)[::2] == ("deny", True)
    assert isinstance(gate.needed, ToolApprovalNeeded) and gate.needed.key == key
    assert gate.needed.tool_input == BASH_INPUT
    # Decisions given: applied, nothing needed.
    allowed = ToolGate(DEFAULT_POLICY, {key: (True, "")})
    assert allowed.decide("Bash", BASH_INPUT) == ("allow", "", False)
    denied = ToolGate(DEFAULT_POLICY, {key: (False, "no shell")})
    verdict, message, interrupt = denied.decide("Bash", BASH_INPUT)
    assert (verdict, interrupt) == ("deny", False) and "no shell" in message
    assert allowed.needed is None and denied.needed is None
    assert any("needs a human decision" in n for n in notes)


def test_exception_pickles_with_simple_args() -> None:
    import pickle

    exc = ToolApprovalNeeded("Bash", dict(BASH_INPUT), "k" * 64)
    back = pickle.loads(pickle.dumps(exc))
    assert (back.tool, back.tool_input, back.key) == ("Bash", BASH_INPUT, "k" * 64)
    assert back.retryable is False


def test_tools_default_to_none() -> None:
    assert ClaudeCall(task="chat", prompt="hi").tools == ()
    call = research_call(TOPIC, "Why?", model="m")
    assert call.tools == () and "agentdeck-tools" not in call.system
    options = _options(call, current_endpoint())
    assert options.tools == [] and options.can_use_tool is None and not options.hooks
    with_tools = research_call(TOPIC, "Why?", model="m", tools=("Bash", "Read"))
    assert "agentdeck-tools: Bash,Read" in with_tools.system
    gate = ToolGate(DEFAULT_POLICY)
    options = _options(with_tools, current_endpoint(), gate)
    # Nothing pre-allowed (that would bypass can_use_tool); every call meets the gate.
    assert options.tools == ["Bash", "Read"] and options.allowed_tools == []
    assert options.can_use_tool is not None and options.hooks


def test_research_request_tools_field() -> None:
    assert ResearchRequest(topic=TOPIC).tools == ()
    assert ResearchRequest(topic=TOPIC, tools="bash, Read,,Bash").tools == ("Bash", "Read")
    assert ResearchRequest.model_validate({"topic": TOPIC, "tools": ["Grep"]}).tools == ("Grep",)
    with pytest.raises(ValueError, match="unknown tool ls; known: Read"):
        ResearchRequest(topic=TOPIC, tools="Read, ls")
    fields = {name: (kind, default) for name, _label, kind, default in form_fields(ResearchRequest)}
    assert fields["tools"] == ("text", "")
    assert set(KNOWN_TOOLS) >= {"Read", "Bash", "Write", "WebFetch"}


def test_tool_input_text_is_cut() -> None:
    short = tool_input_text(BASH_INPUT)
    assert '"command": "echo' in short
    many = tool_input_text({"lines": list(range(100))})
    assert many.endswith("… (64 more lines)") and many.count("\n") == 40
    wide = tool_input_text({"content": "x\n" * 5000})
    assert wide.endswith("more characters)") and len(wide) < 4100


# --------------------------------------------------------------------------------------------
# Research runs (real SQLite file, real DBOS)


async def launch(sup: Supervisor, **data: Any) -> str:
    res = await sup.launch("research", {"topic": TOPIC, "questions": 1, **data})
    assert res.ok
    return res.workflow_id


async def approve_plan(sup: Supervisor, wid: str) -> None:
    async def waiting() -> bool:
        return (await sup.get_row(wid)).waiting_approval

    await wait_for(waiting, within=60)
    assert (await sup.answer(wid, APPROVE)).ok


async def tool_approval(sup: Supervisor, within: float = 60) -> ApprovalItem:
    """The first pending tool approval (as the inbox lists it)."""
    found: list[ApprovalItem] = []

    async def pending() -> bool:
        found[:] = [i for i in await sup.approvals() if tool_call_of(i.request) is not None]
        return bool(found)

    await wait_for(pending, within=within, interval=0.05)
    return found[0]


async def finish(sup: Supervisor, wid: str, within: float = 60) -> str:
    async def done() -> bool:
        return not (await sup.get_row(wid)).active

    await wait_for(done, within=within, interval=0.05)
    return (await sup.get_row(wid)).status


async def report(sup: Supervisor, wid: str) -> ResearchReport:
    result = (await sup.detail(wid)).result
    assert isinstance(result, ResearchReport)
    return result


async def stream_of(sup: Supervisor, wid: str) -> list[tuple[ChunkKind, str]]:
    batches = await sup.read_streams({wid: 0})
    return [(p.kind, p.text) for b in batches for c in b.chunks for p in c.parts]


async def test_read_only_tools_need_no_approval(sup: Supervisor) -> None:
    wid = await launch(sup, tools="Read,Grep")
    await approve_plan(sup, wid)
    assert await finish(sup, wid) == "SUCCESS"
    answer = (await report(sup, wid)).answers[0]
    assert "`Read` returned" in answer.text and "`Grep` returned" in answer.text
    child = await sup.get_row(answer.workflow_id)
    assert child.approval is None  # never asked anyone
    parts = await stream_of(sup, answer.workflow_id)
    status = "".join(t for k, t in parts if k is ChunkKind.STATUS)
    assert "Read: allowed by the tool policy" in status
    assert "Grep: allowed by the tool policy" in status
    assert any(k is ChunkKind.TOOL_USE and "/etc/os-release" in t for k, t in parts)


async def test_tool_call_waits_for_allow_then_runs(sup: Supervisor, db_url: str) -> None:
    wid = await launch(sup, tools="Read,Bash")
    await approve_plan(sup, wid)
    item = await tool_approval(sup)
    child = item.row.workflow_id
    assert item.row.parent_id == wid and item.row.name == "research.question"
    assert tool_call_of(item.request) == ("Bash", BASH_INPUT)
    assert item.request.options == (ApprovalDecision.APPROVE, ApprovalDecision.REJECT)
    assert item.request.topic == f"tool:{call_key('Bash', BASH_INPUT)[:12]}"
    assert item.request.prompt.startswith("Allow Claude to use Bash: echo 'durable execution'")
    # Read ran under the policy; Bash is held: its step stopped before running it.
    parts = await stream_of(sup, child)
    assert "Bash: needs a human decision" in "".join(t for _, t in parts)
    assert not any(k is ChunkKind.TOOL_RESULT and t.startswith("\n[result] 2") for k, t in parts)
    # Only allow or deny: an edit is refused by the data layer; a watch-only one cannot answer.
    with pytest.raises(SupervisorError, match="edit is not an option here"):
        await sup.answer(child, {"decision": "edit", "questions": ["x?"]})
    watcher = Supervisor(db_url, read_only=True)
    await watcher.connect()
    try:
        with pytest.raises(ReadOnlyError):
            await watcher.answer(child, APPROVE)
    finally:
        await watcher.close()
    assert (await sup.answer(child, APPROVE)).ok
    assert await finish(sup, wid) == "SUCCESS"
    answer = (await report(sup, wid)).answers[0]
    assert "`Bash` returned: `2`" in answer.text  # the in-process transport counts the words
    parts = await stream_of(sup, child)
    assert "Bash: allowed by a human" in "".join(t for k, t in parts if k is ChunkKind.STATUS)
    assert tool_results(parts).count("\n[result] 2\n") == 1
    # The child's timeline: the first research step, the approval's recv, the second step.
    names = [s.name for s in (await sup.detail(child)).steps]
    assert names.count("research") == 2 and "DBOS.recv" in names
    resolved = (await sup.get_row(child)).approval
    assert resolved is not None and resolved.state is ApprovalState.ANSWERED


async def test_deny_is_told_to_claude_and_the_run_completes(sup: Supervisor) -> None:
    wid = await launch(sup, tools="Bash")
    await approve_plan(sup, wid)
    item = await tool_approval(sup)
    no = ApprovalAnswer(decision=ApprovalDecision.REJECT, comment="no shell today")
    assert (await sup.answer(item.row.workflow_id, no)).ok
    assert await finish(sup, wid) == "SUCCESS"
    rep = await report(sup, wid)
    text = rep.answers[0].text
    assert "`Bash` was not used: A human denied this Bash call: no shell today." in text
    assert rep.outcome == "completed" and rep.answers[0].ok


@pytest.fixture
def bash_denied(policy_file: Path) -> Path:
    policy_file.write_text("tool_policy:\n  tools:\n    Bash: deny\n")
    return policy_file


@pytest.fixture
def bad_policy(policy_file: Path) -> Path:
    policy_file.write_text("tool_policy:\n  tools:\n    Bash: sometimes\n")
    return policy_file


async def test_policy_deny_needs_no_approval(sup: Supervisor, bash_denied: Path) -> None:
    wid = await launch(sup, tools="Bash")
    await approve_plan(sup, wid)
    assert await finish(sup, wid) == "SUCCESS"
    answer = (await report(sup, wid)).answers[0]
    assert "`Bash` was not used: The tool policy denies Bash" in answer.text
    assert (await sup.get_row(answer.workflow_id)).approval is None


async def test_bad_policy_fails_the_question_with_one_line(
    sup: Supervisor, bad_policy: Path
) -> None:
    wid = await launch(sup, tools="Bash")
    await approve_plan(sup, wid)
    assert await finish(sup, wid) == "ERROR"
    error = (await sup.detail(wid)).error
    assert f"{bad_policy}: tool_policy.tools.Bash" in error and "not retried" in error
    assert "\n" not in error


async def test_no_answer_in_time_means_deny(sup: Supervisor) -> None:
    wid = await launch(sup, tools="Bash", approval_timeout_s=2)
    await approve_plan(sup, wid)
    item = await tool_approval(sup)
    assert await finish(sup, wid) == "SUCCESS"
    answer = (await report(sup, wid)).answers[0]
    assert "nobody answered within 2 s" in answer.text
    timed_out = (await sup.get_row(item.row.workflow_id)).approval
    assert timed_out is not None and timed_out.state is ApprovalState.TIMED_OUT


async def test_approvals_are_bounded_per_question(sup: Supervisor) -> None:
    # Six tools that each need an approval: five are answered (denied), the sixth gives up.
    wid = await launch(sup, tools="Bash,Write,Edit,NotebookEdit,WebFetch,WebSearch")
    await approve_plan(sup, wid)
    seen: list[str] = []
    for _ in range(MAX_TOOL_APPROVALS):
        item = await tool_approval(sup)
        call = tool_call_of(item.request)
        assert call is not None and call[0] not in seen
        seen.append(call[0])
        deny = ApprovalAnswer(decision=ApprovalDecision.REJECT)
        assert (await sup.answer(item.row.workflow_id, deny)).ok

        async def answered(request_id: str = item.request.request_id) -> bool:
            items = await sup.approvals()
            return all(i.request.request_id != request_id for i in items)

        await wait_for(answered)
    assert seen == ["Bash", "Write", "Edit", "NotebookEdit", "WebFetch"]
    assert await finish(sup, wid) == "ERROR"
    assert (
        f"more than {MAX_TOOL_APPROVALS} tool calls needed an approval"
        in (await sup.detail(wid)).error
    )


async def test_inbox_shows_the_tool_call_and_ctrl_a_allows_it(
    sup: Supervisor, runtime: Runtime
) -> None:
    wid = await launch(sup, tools="Bash")
    await approve_plan(sup, wid)
    child = (await tool_approval(sup)).row.workflow_id
    app = make_app(sup, runtime)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.connected and bool(app.snapshot.rows))
        # The parent run is blocked on you too: its list row says so, not "researching".
        runs = app.screen.query_one(WorkflowTable)
        await until(
            pilot,
            lambda: (
                wid in runs.rows_by_id and "a child asks you" in str(runs.get_cell(wid, "progress"))
            ),
        )
        assert "approval" in str(runs.get_cell(wid, "status"))
        await pilot.press("i")
        assert isinstance(app.screen, InboxScreen)
        inbox = app.screen
        grid = inbox.query_one(DataTable)
        await until(pilot, lambda: grid.row_count == 1)
        assert "Allow Claude to use Bash: echo 'durable execution' | wc -w" in str(
            grid.get_cell(child, "asks")
        )
        assert str(grid.get_cell(child, "options")) == "allow / deny"
        assert '"command"' in str(inbox.query_one("#inbox-prompt", Static).render())
        await pilot.press("enter")
        modal = app.screen
        assert isinstance(modal, ApproveScreen)
        assert "wc -w" in str(modal.query_one("#tool-input", Static).render())
        assert not modal.query("#edit") and not modal.query("#questions")  # allow/deny only
        await pilot.press("ctrl+a")
        await until(pilot, lambda: isinstance(app.screen, InboxScreen))
        await until(pilot, lambda: grid.row_count == 0)
        assert any("approve sent" in t for _, t in app.audit)
        assert await finish(sup, wid) == "SUCCESS"  # (the app closes the data layer on exit)
        assert "`Bash` returned: `2`" in (await report(sup, wid)).answers[0].text


# --------------------------------------------------------------------------------------------
# Through the real Claude Code CLI (it runs the allowed tools)


def tool_results(parts: list[tuple[ChunkKind, str]]) -> str:
    """The stream's tool results as one text: results that arrive within one coalescing window
    share a part (``[result] A`` and ``[result] B`` in one chunk), so count in the whole."""
    return "".join(t for k, t in parts if k is ChunkKind.TOOL_RESULT)


def bash_runs(records: list[RequestRecord]) -> int:
    """How often Bash really ran: requests whose newest tool result is a successful Bash one."""
    return sum(1 for r in records if r.tool_results[-1:] == ("Bash: ok",))


@pytest.mark.contract
@pytest.mark.timeout(120)
@pytest.mark.parametrize("decision", [ApprovalDecision.APPROVE, ApprovalDecision.REJECT])
async def test_cli_runs_an_allowed_call_once_and_never_a_denied_one(
    cli_sup: Supervisor, cli_runtime: Runtime, decision: ApprovalDecision
) -> None:
    wid = await launch(cli_sup, tools="Read,Bash")
    await approve_plan(cli_sup, wid)
    item = await tool_approval(cli_sup)
    # The CLI would auto-allow this "read-only" Bash command; the PreToolUse hook made it ask.
    assert tool_call_of(item.request) == ("Bash", BASH_INPUT)
    server = cli_runtime.offline_server
    assert bash_runs(server.requests()) == 0
    assert (await cli_sup.answer(item.row.workflow_id, ApprovalAnswer(decision=decision))).ok
    assert await finish(cli_sup, wid) == "SUCCESS"
    text = (await report(cli_sup, wid)).answers[0].text
    assert "`Read` returned" in text  # allowed by the policy, no approval
    parts = await stream_of(cli_sup, item.row.workflow_id)
    results = tool_results(parts)
    if decision is ApprovalDecision.APPROVE:
        assert "`Bash` returned: `2`" in text  # wc -w really counted the two words
        assert bash_runs(server.requests()) == 1
        assert results.count("\n[result] 2\n") == 1
    else:
        assert "`Bash` was not used: A human denied this Bash call" in text
        assert bash_runs(server.requests()) == 0
        assert "\n[result] 2\n" not in results


# --------------------------------------------------------------------------------------------
# Crash safety

CHILD = """
import asyncio, sys
from pathlib import Path
from tui.supervisor import Supervisor
from workflows.models import ApprovalAnswer, ApprovalDecision
from workflows.runtime import Runtime, RuntimeSettings

async def main(db_url: str, state_dir: str, run_id: str) -> None:
    rt = Runtime(RuntimeSettings(db_url=db_url, offline=True, offline_tps=0,
                                 state_dir=Path(state_dir)))
    await asyncio.to_thread(rt.launch)
    sup = Supervisor(db_url)
    await sup.connect()
    data = {"topic": "durable execution", "questions": 1, "tools": "Bash"}
    await sup.launch("research", data, workflow_id=run_id)
    print("launched", run_id, flush=True)
    while not (await sup.get_row(run_id)).waiting_approval:
        await asyncio.sleep(0.05)
    await sup.answer(run_id, ApprovalAnswer(decision=ApprovalDecision.APPROVE, by="child"))
    print("plan approved", flush=True)
    await asyncio.Event().wait()

asyncio.run(main(*sys.argv[1:]))
"""


@pytest.mark.slow
@pytest.mark.timeout(180)
@pytest.mark.parametrize("decision", [ApprovalDecision.APPROVE, ApprovalDecision.REJECT])
async def test_sigkill_while_tool_approval_pending(
    tmp_path: Path, decision: ApprovalDecision
) -> None:
    db_url = f"sqlite:///{tmp_path / 'crash.sqlite'}"
    state_dir = tmp_path / "state"
    out_path = tmp_path / "child.out"
    run_id = f"tool-crash-{decision.value}"
    env = {**os.environ, "PYTHONPATH": str(REPO), "AGENTDECK_STATE_DIR": str(state_dir)}
    env.pop("AGENTDECK_OFFLINE_FAULTS", None)
    cmd = [sys.executable, "-c", CHILD, db_url, str(state_dir), run_id]
    proc = spawn(cmd, cwd=tmp_path, env=env, out_path=out_path)
    try:
        # The child's DBOS creates the database (the data layer never creates a SQLite file).
        await wait_for(lambda: (tmp_path / "crash.sqlite").exists(), within=60, interval=0.05)
        async with connected(db_url) as sup:

            async def held() -> bool:
                assert proc.poll() is None, out_path.read_text(errors="replace")
                try:
                    items = await sup.approvals()
                except SupervisorError:  # the other process holds the SQLite write lock
                    return False
                return any(tool_call_of(i.request) is not None for i in items)

            await wait_for(held, within=90, interval=0.05)
            kill_group(proc)
            await wait_for(
                lambda: not live_group_members(proc.pid) and not running_in(state_dir),
                within=10,
                interval=0.05,
            )
            item = await tool_approval(sup, within=5)
            child = item.row.workflow_id
            assert (await sup.get_row(run_id)).status == "PENDING"
            # Answered while nothing runs the workflow: the message waits in the database.
            answered = await sup.answer(child, ApprovalAnswer(decision=decision, by="test"))
            assert answered.ok, answered.message

            async with launched(
                RuntimeSettings(db_url=db_url, offline=True, offline_tps=0, state_dir=state_dir)
            ) as rt:
                assert await finish(sup, run_id, within=90) == "SUCCESS"
                records: list[RequestRecord] = rt.offline_server.requests()
            text = (await report(sup, run_id)).answers[0].text
            results = tool_results(await stream_of(sup, child))
    finally:
        if proc.poll() is None or live_group_members(proc.pid):
            kill_group(proc)
    tasks = [r.task for r in records]
    assert "plan" not in tasks  # nothing finished before the crash ran again
    assert tasks.count("synthesize") == 1
    if decision is ApprovalDecision.APPROVE:
        assert "`Bash` returned: `2`" in text
        assert bash_runs(records) == 1  # the tool ran exactly once, after the restart
        assert results.count("\n[result] 2\n") == 1  # and once over both processes
    else:
        assert "`Bash` was not used: A human denied this Bash call" in text
        assert bash_runs(records) == 0 and "\n[result] 2\n" not in results
