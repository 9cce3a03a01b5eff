"""Which Claude tools may run: the tool policy, and the gate a Claude step puts in front of them.

A research step may offer Claude some built-in tools (``ResearchRequest.tools``; none by
default). Every tool call then meets the :class:`ToolPolicy`, one verdict per tool name:

* ``allow``: runs at once (default: the read-only tools ``Read``, ``Glob``, ``Grep``);
* ``ask``: runs only once a human allowed this exact call (default: ``Bash``, ``Write``,
  ``Edit``, ``NotebookEdit``, ``WebFetch``, ``WebSearch`` and any tool not named);
* ``deny``: never runs; Claude is told it was denied.

The policy is the ``tool_policy:`` section of ``agentdeck.yaml``::

    tool_policy:
      default: ask          # tools not named below: ask or deny
      tools:
        Bash: deny
        WebFetch: allow

A :class:`ToolGate` applies it inside the Claude step (the CLI asks it about every call through a
``PreToolUse`` hook and the SDK's ``can_use_tool`` callback). An ``ask`` call with no decision yet
is denied with an interrupt and the step raises :class:`ToolApprovalNeeded`; the workflow turns
that into a durable approval and runs the step again with the decision (see
``workflows.research.research_question``). The decision for a call is keyed by
:func:`call_key`: the tool name and the canonical JSON of its input, hashed.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .config import ConfigError, config_path, section

__all__ = [
    "ASK",
    "DEFAULT_POLICY",
    "KNOWN_TOOLS",
    "READ_ONLY_TOOLS",
    "LoopDetected",
    "ToolApprovalNeeded",
    "ToolGate",
    "TOOL_RUN_EVENT",
    "ToolPolicy",
    "ToolRuns",
    "Verdict",
    "approval_prompt",
    "call_key",
    "canonical_tool",
    "describe_call",
    "load_policy",
    "parse_tool_list",
    "records",
]

Verdict = Literal["allow", "ask", "deny"]
ASK: Verdict = "ask"

#: Tools that only read (allowed by default).
READ_ONLY_TOOLS: tuple[str, ...] = ("Read", "Glob", "Grep")
#: Tools that write, run commands or reach the network (need an approval by default).
ASK_TOOLS: tuple[str, ...] = ("Bash", "Write", "Edit", "NotebookEdit", "WebFetch", "WebSearch")
#: The built-in Claude Code tools a research step may be given (the bundled CLI 2.1.332 has all of
#: them; it no longer has ``LS``, ``MultiEdit``, ``NotebookRead`` or ``TodoWrite``).
KNOWN_TOOLS: tuple[str, ...] = READ_ONLY_TOOLS + ASK_TOOLS

_CANONICAL = {t.lower(): t for t in KNOWN_TOOLS}
_TOOL_NAME = r"^[A-Za-z][A-Za-z0-9_-]{0,99}$"

SECTION = "tool_policy"


def canonical_tool(name: str) -> str:
    """``bash`` → ``Bash``; names of unknown tools are returned stripped, as given."""
    name = name.strip()
    return _CANONICAL.get(name.lower(), name)


def parse_tool_list(value: str | Iterable[str]) -> tuple[str, ...]:
    """A comma-separated string or a list of tool names → known names, canonical, deduplicated.

    Raises ``ValueError`` (one line) naming the unknown tools and the known ones.
    """
    items = value.split(",") if isinstance(value, str) else list(value)
    out: list[str] = []
    unknown: list[str] = []
    for raw in items:
        if not isinstance(raw, str):
            raise ValueError("tool names must be strings")
        if not raw.strip():
            continue
        name = canonical_tool(raw)
        if name not in KNOWN_TOOLS:
            unknown.append(name)
        elif name not in out:
            out.append(name)
    if unknown:
        raise ValueError(
            f"unknown tool{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
            f"known: {', '.join(KNOWN_TOOLS)}"
        )
    return tuple(out)


class ToolPolicy(BaseModel):
    """A verdict per tool name; tools not named get ``default``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    default: Literal["ask", "deny"] = Field(
        default="ask", description="Verdict for tools not named in `tools` (ask or deny)."
    )
    tools: dict[str, Verdict] = Field(default_factory=dict, description="Tool name → verdict.")

    @field_validator("tools", mode="before")
    @classmethod
    def _names(cls, v: Any) -> Any:
        if v is None:
            return {}
        if not isinstance(v, Mapping):
            return v  # pydantic reports the type error
        out: dict[str, Any] = {}
        for name, verdict in v.items():
            if not isinstance(name, str) or not re.match(_TOOL_NAME, name.strip()):
                raise ValueError(f"{name!r} is not a tool name")
            out[canonical_tool(name)] = verdict
        return out

    def verdict(self, tool: str) -> Verdict:
        return self.tools.get(canonical_tool(tool), self.default)

    @classmethod
    def from_section(cls, raw: Any) -> ToolPolicy:
        """The built-in defaults overridden by a ``tool_policy:`` section (``None`` = defaults)."""
        if raw is None:
            return DEFAULT_POLICY
        user = cls.model_validate(raw)
        return cls(default=user.default, tools={**DEFAULT_POLICY.tools, **user.tools})


DEFAULT_POLICY = ToolPolicy(
    default="ask",
    tools={**{t: "allow" for t in READ_ONLY_TOOLS}, **{t: "ask" for t in ASK_TOOLS}},
)


def load_policy(path: Path | None = None) -> ToolPolicy:
    """The policy from ``agentdeck.yaml`` (or ``path``); raise a one-line :class:`ConfigError`."""
    where = path or config_path()
    raw = section(SECTION, where)
    try:
        return ToolPolicy.from_section(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        what = f"{SECTION}.{loc}" if loc else SECTION
        raise ConfigError(f"{where}: {what}: {first['msg']}") from None


#: The input field that says best what a call does, per tool.
_HEADLINE = ("command", "file_path", "notebook_path", "url", "pattern", "query", "path")


def describe_call(tool: str, tool_input: Mapping[str, Any], limit: int = 100) -> str:
    """One line for a tool call: ``Bash: echo hi | wc -w``, ``Write: /x/notes.txt``."""
    for field in _HEADLINE:
        value = tool_input.get(field)
        if isinstance(value, str) and value.strip():
            text = " ".join(value.split())
            break
    else:
        text = json.dumps(tool_input, ensure_ascii=False, sort_keys=True) if tool_input else ""
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return f"{tool}: {text}" if text else tool


def approval_prompt(tool: str, tool_input: Mapping[str, Any], limit: int = 2000) -> str:
    """What a tool approval asks: a one-line question, then the input as indented JSON."""
    shown = json.dumps(tool_input, indent=2, ensure_ascii=False, default=str)
    if len(shown) > limit:
        shown = shown[:limit] + "\n…"
    return f"Allow Claude to use {describe_call(tool, tool_input)}?\n\n{tool} input:\n{shown}"


def call_key(tool: str, tool_input: Mapping[str, Any]) -> str:
    """The identity of one tool call: sha256 of the tool name and its input as canonical JSON."""
    body = json.dumps(tool_input, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{tool}\x00{body}".encode()).hexdigest()


class ToolApprovalNeeded(Exception):
    """A tool call needs a human decision that the step was not given; the call did not run.

    Simple arguments only, so DBOS can pickle it; never retried by the step.
    """

    retryable = False

    def __init__(self, tool: str, tool_input: dict[str, Any], key: str) -> None:
        super().__init__(tool, tool_input, key)
        self.tool = tool
        self.tool_input = tool_input
        self.key = key

    def __str__(self) -> str:
        return f"the {self.tool} call needs an approval ({self.key[:12]})"


class LoopDetected(ToolApprovalNeeded):
    """The loop guard stopped a tool call before it ran: the same call again after it ran, or
    too many tool calls with no new text in between. ``key`` names the loop (``repeat:<call
    key>`` or ``streak:<n>``): a human's "continue" for it is passed back in ``loop_ok``."""

    def __init__(self, tool: str, tool_input: dict[str, Any], key: str, reason: str) -> None:
        Exception.__init__(self, tool, tool_input, key, reason)
        self.tool = tool
        self.tool_input = tool_input
        self.key = key
        self.reason = reason

    def __str__(self) -> str:
        return f"tool loop: {self.reason}"


#: Decision for one call: (allowed, what to tell Claude / show when denied).
Decision = tuple[bool, str]


class ToolGate:
    """The policy applied to every tool call of one Claude call.

    ``decisions`` maps :func:`call_key` to a human decision already made. ``note`` receives one
    line per verdict (for the output stream). The first ``ask`` call with no decision is recorded
    in :attr:`needed` and denied with an interrupt, so it never runs.
    """

    def __init__(
        self,
        policy: ToolPolicy,
        decisions: Mapping[str, Decision] | None = None,
        *,
        note: Callable[[str], None] | None = None,
        loop_n: int | None = None,
        loop_ok: Iterable[str] = (),
    ) -> None:
        self.policy = policy
        self.decisions = dict(decisions or {})
        self.note = note or (lambda _line: None)
        self.needed: ToolApprovalNeeded | None = None
        self.asked: list[str] = []  # keys of the calls decided (or held) here, in order
        #: The loop guard: N tool calls with no text in between pause (None: no guard), and the
        #: loops a human let continue (LoopDetected keys).
        self.loop_n = loop_n
        self.loop_ok = frozenset(loop_ok)
        self.ran: set[str] = set()  # call keys allowed (so run) in this Claude call
        self.streak = 0  # tool calls since the last text

    def saw_text(self) -> None:
        """Claude wrote text: a streak of tool calls without any ends."""
        self.streak = 0

    def _loop(self, tool: str, tool_input: dict[str, Any], key: str) -> LoopDetected | None:
        if not self.loop_n:
            return None
        self.streak += 1
        if key in self.ran and f"repeat:{key}" not in self.loop_ok:
            what = describe_call(tool, tool_input)
            return LoopDetected(
                tool, tool_input, f"repeat:{key}", f"the same call again after it ran ({what})"
            )
        limit = self.loop_n
        while f"streak:{limit}" in self.loop_ok:
            limit += self.loop_n
        if self.streak >= limit:
            return LoopDetected(
                tool,
                tool_input,
                f"streak:{limit}",
                f"{self.streak} tool calls with no text in between",
            )
        return None

    def decide(self, tool: str, tool_input: dict[str, Any]) -> tuple[Verdict, str, bool]:
        """(verdict for this call: allow or deny, message for Claude, interrupt the turn?)."""
        verdict, message, interrupt = self._decide(tool, tool_input)
        if verdict == "allow":
            self.ran.add(call_key(tool, tool_input))
        return verdict, message, interrupt

    def _decide(self, tool: str, tool_input: dict[str, Any]) -> tuple[Verdict, str, bool]:
        if isinstance(self.needed, LoopDetected):  # stopped: nothing more runs in this call
            return "deny", "stopping.", True
        loop = self._loop(tool, tool_input, call_key(tool, tool_input))
        if loop is not None:
            self.needed = loop
            self.note(f"loop guard: {loop.reason}; the question stops here and asks")
            return "deny", "A loop guard stopped this call; stopping.", True
        verdict = self.policy.verdict(tool)
        if verdict == "allow":
            self.note(f"{tool}: allowed by the tool policy")
            return "allow", "", False
        if verdict == "deny":
            self.note(f"{tool}: denied by the tool policy")
            return "deny", f"The tool policy denies {tool}; do without it.", False
        key = call_key(tool, tool_input)
        self.asked.append(key)
        decision = self.decisions.get(key)
        if decision is not None:
            allowed, comment = decision
            if allowed:
                self.note(f"{tool}: allowed by a human")
                return "allow", "", False
            why = f": {comment}" if comment else ""
            self.note(f"{tool}: denied by a human{why}")
            return "deny", f"A human denied this {tool} call{why}. Do without it.", False
        if self.needed is None:
            self.needed = ToolApprovalNeeded(tool, dict(tool_input), key)
            self.note(f"{tool}: needs a human decision; the step stops here and asks")
        return "deny", f"{tool} needs a human approval first; stopping.", True


# --------------------------------------------------------------------------------------------
# Tool runs: each allowed call with a side effect runs at most once per workflow


#: The event key prefix of a workflow's tool-run records (``<prefix>:<scope>:<call key>:<n>``).
TOOL_RUN_EVENT = "agentdeck.toolrun"
#: Recorded output kept per call (characters of its JSON); the CLI gives the model less anyway.
MAX_RECORDED = 100_000

Read = Callable[[str], Awaitable[Any]]
Write = Callable[[str, dict[str, Any]], Awaitable[None]]


def records(tool: str) -> bool:
    """Whether calls of ``tool`` are recorded before they run (all but the read-only tools)."""
    return canonical_tool(tool) not in READ_ONLY_TOOLS


def _replay_command(output: Mapping[str, Any]) -> str:
    """A Bash command with no side effect that prints what a recorded run printed."""
    parts = [f"printf '%s' {shlex.quote(str(output.get('stdout') or ''))}"]
    if output.get("stderr"):
        parts.append(f"printf '%s' {shlex.quote(str(output['stderr']))} >&2")
    return "; ".join(parts)


class ToolRuns:
    """The durable record of a workflow's tool runs, kept so that a step re-run after a crash
    does not run an allowed call again.

    Right before an allowed call of a tool with side effects (:func:`records`) runs, ``before``
    reads its record, keyed by the step's ``scope`` (its name: the research step's re-runs after
    each approval share it), the call's :func:`call_key` and ``n``, how many times this Claude
    call allowed the same call before; then:

    * no record: it writes ``started`` (durably: the write returns after the commit) and lets
      the call run; ``after`` (the CLI's ``PostToolUse``) records ``done`` with the tool's
      output, ``failed`` (``PostToolUseFailure``) the error;
    * ``done``: the call does not run again. A Bash call is replaced by a command with no side
      effect that prints the recorded output, and the tool's output is replaced by the recorded
      one (``updatedToolOutput``): Claude sees what the first run gave. Other tools are denied,
      the recorded result in the message;
    * ``failed``: denied, with the recorded error;
    * ``started`` and nothing after: the run was cut off between its start and its record (a
      kill in that window). Whether it finished is not known; it is not run again and Claude is
      told so: at most once.

    A write that fails (the database is gone, or DBOS refuses it because another executor took
    the workflow over) denies the call: it never runs unrecorded.
    """

    def __init__(
        self,
        scope: str,
        read: Read,
        write: Write,
        *,
        note: Callable[[str], None] | None = None,
    ) -> None:
        self.scope = scope
        self._read = read
        self._write = write
        self.note = note or (lambda _line: None)
        self._seen: dict[str, int] = {}
        self._pending: dict[str, str] = {}  # tool use id -> event key of a call let run
        self._replays: dict[str, Any] = {}  # tool use id -> the recorded output to hand back
        self.replayed = 0
        self.refused = 0

    def event_key(self, tool: str, tool_input: Mapping[str, Any], n: int = 0) -> str:
        return f"{TOOL_RUN_EVENT}:{self.scope}:{call_key(tool, tool_input)}:{n}"

    async def before(
        self, tool: str, tool_input: dict[str, Any], tool_use_id: str
    ) -> tuple[Verdict, str, dict[str, Any] | None]:
        """For a call the gate allowed, right before it runs: (allow or deny, message for
        Claude, the input to run instead)."""
        if not records(tool):
            return "allow", "", None
        ck = call_key(tool, tool_input)
        n = self._seen.get(ck, 0)
        self._seen[ck] = n + 1
        key = self.event_key(tool, tool_input, n)
        what = describe_call(tool, tool_input)
        try:
            record = await self._read(key)
            if record is None:
                await self._write(key, {"state": "started", "tool": tool, "call": what})
                self._pending[tool_use_id] = key
                return "allow", "", None
        except Exception as exc:
            self.refused += 1
            self.note(f"{tool}: not run: its run could not be recorded first ({exc})")
            return "deny", f"This {tool} call could not be recorded before running; not run.", None
        state = record.get("state") if isinstance(record, Mapping) else None
        output = record.get("output") if isinstance(record, Mapping) else None
        if state == "done" and canonical_tool(tool) == "Bash" and isinstance(output, Mapping):
            self.replayed += 1
            self._replays[tool_use_id] = output
            self.note(f"{tool}: ran before this step was interrupted; its recorded output is used")
            return "allow", "", {"command": _replay_command(output), "description": "replay"}
        self.refused += 1
        if state == "done":
            self.note(f"{tool}: ran before this step was interrupted; not run again")
            shown = json.dumps(output, ensure_ascii=False, default=str)[:2000]
            return (
                "deny",
                f"This {tool} call already ran, before this step was interrupted and re-run; it "
                f"is not run twice. What it returned then: {shown}",
                None,
            )
        if state == "failed":
            self.note(f"{tool}: failed before this step was interrupted; not run again")
            error = str(record.get("error", ""))[:2000]
            return "deny", f"This {tool} call already ran and failed: {error}", None
        self.note(f"{tool}: started before this step was interrupted; not run again")
        return (
            "deny",
            f"This {tool} call was started before this step was interrupted, and whether it "
            "finished is not known; it is not run again. Do without its result.",
            None,
        )

    async def after(self, tool_use_id: str, output: Any) -> Any:
        """The tool ran (``PostToolUse``): record its output. Returns the output to give Claude
        instead (a replayed call's recorded one), or None."""
        if tool_use_id in self._replays:
            return self._replays.pop(tool_use_id)
        key = self._pending.pop(tool_use_id, None)
        if key is not None:
            if len(json.dumps(output, ensure_ascii=False, default=str)) > MAX_RECORDED:
                output = None  # too long to keep: a re-run is told it ran, not what it gave
            await self._record(key, {"state": "done", "output": output})
        return None

    async def _record(self, key: str, value: dict[str, Any]) -> None:
        """Record how a call ended. If that fails the record stays ``started``: a re-run then
        refuses the call rather than running it again."""
        try:
            await self._write(key, value)
        except Exception as exc:
            self.note(f"the end of a tool run could not be recorded ({exc})")

    async def failed(self, tool_use_id: str, error: str) -> None:
        """The tool ran and failed (``PostToolUseFailure``): record the error."""
        self._replays.pop(tool_use_id, None)
        key = self._pending.pop(tool_use_id, None)
        if key is not None:
            await self._record(key, {"state": "failed", "error": error[:MAX_RECORDED]})
