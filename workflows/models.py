"""Pydantic models at every boundary of the durable side.

Everything that crosses a process or storage boundary (workflow inputs and outputs, step results,
stream chunks, events, approval messages) is one of these models. Stream chunks, events and
approval messages are stored as plain JSON dicts (DBOS portable serialization), so any reader,
including one that cannot import this package, can decode them.
"""

from __future__ import annotations

import enum
import re
import time
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    StringConstraints,
    field_validator,
    model_serializer,
    model_validator,
)

from .names import (
    APPROVAL_EVENT,
    APPROVAL_STEP,
    PROGRESS_EVENT,
    SETTINGS_EVENT,
    SETTINGS_STEP,
    SETTINGS_TOPIC,
    STREAM_KEY,
)
from .tools import parse_tool_list

__all__ = [
    "DEFAULT_MODEL",
    "APPROVAL_EVENT",
    "APPROVAL_STEP",
    "PROGRESS_EVENT",
    "STREAM_KEY",
    "Answer",
    "ApprovalAnswer",
    "BranchResult",
    "BranchSpec",
    "CompareReport",
    "CompareRequest",
    "SETTINGS_EVENT",
    "SETTINGS_STEP",
    "SETTINGS_TOPIC",
    "STYLES",
    "StepSettings",
    "parse_branches",
    "ApprovalDecision",
    "ApprovalKind",
    "ApprovalRequest",
    "ApprovalState",
    "ChunkKind",
    "ChunkPart",
    "ClaudeCall",
    "ClaudeResult",
    "Plan",
    "Progress",
    "ResearchReport",
    "ResearchRequest",
    "StepUsage",
    "StreamChunk",
    "Usage",
    "TOOL_TOPIC_PREFIX",
    "ToolRequest",
    "LoopRequest",
    "tool_call_of",
]

DEFAULT_MODEL = "claude-sonnet-4-5"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


Topic = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=500)]
ModelName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=r"^\S+$")
]


class ResearchRequest(_Frozen):
    """Input of the research workflow."""

    topic: Topic = Field(description="What to research (3-500 characters).")
    questions: int = Field(default=3, ge=1, le=10, description="Number of research questions.")
    model: ModelName = Field(default=DEFAULT_MODEL, description="Claude model to use.")
    approval_timeout_s: float = Field(
        default=24 * 3600, gt=0, le=30 * 24 * 3600, description="How long to wait for approval."
    )
    fault: str = Field(
        default="",
        max_length=200,
        description="Offline-model fault injection, e.g. 'synthesize.invalid_request*1'.",
    )
    tools: tuple[str, ...] = Field(
        default=(),
        description="Claude tools for the research steps, comma-separated (Read, Grep: run; "
        "Bash, Write, WebFetch…: ask you first); empty = none.",
    )

    budget_usd: float | None = Field(
        default=None,
        gt=0,
        le=10_000,
        description="Budget in USD: pauses and asks before a step would pass it (empty: the "
        "agentdeck.yaml default, else none).",
    )
    budget_tokens: int | None = Field(
        default=None,
        gt=0,
        le=1_000_000_000,
        description="Budget in tokens (in + out), like budget_usd (empty: default or none).",
    )

    @field_validator("tools", mode="before")
    @classmethod
    def _tools(cls, v: Any) -> tuple[str, ...]:
        return parse_tool_list(() if v is None else v)


class Usage(_Frozen):
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cache_read_input_tokens=self.cache_read_input_tokens + other.cache_read_input_tokens,
            cache_creation_input_tokens=self.cache_creation_input_tokens
            + other.cache_creation_input_tokens,
        )

    @classmethod
    def from_api(cls, raw: dict[str, Any] | None) -> Usage:
        raw = raw or {}
        return cls(
            **{k: int(raw.get(k) or 0) for k in cls.model_fields if isinstance(raw.get(k), int)}
        )


class ClaudeCall(_Frozen):
    """One call to Claude, as a step input."""

    task: Literal["plan", "research", "synthesize", "judge", "chat"]
    prompt: str = Field(min_length=1)
    system: str = ""
    model: ModelName = DEFAULT_MODEL
    #: Built-in tools Claude may use; empty = no tools at all.
    tools: tuple[str, ...] = ()
    fault: str = ""
    think: bool = False
    max_turns: int = Field(default=1, ge=1, le=50)
    #: The SDK's own cap on this one call (``ClaudeAgentOptions.max_budget_usd``); None: none.
    max_budget_usd: float | None = Field(default=None, gt=0)


class ClaudeResult(_Frozen):
    """What a Claude step returns, and DBOS checkpoints: the complete output."""

    text: str
    usage: Usage = Usage()
    cost_usd: float = 0.0
    model: str
    backend: str = Field(description="Which endpoint produced this: real Claude or offline.")
    session_id: str = ""
    step_id: int = 0
    attempt: int = 1
    duration_s: float = 0.0


class ChunkKind(enum.StrEnum):
    TEXT = "text"
    THINKING = "thinking"
    TOOL_USE = "tool_use"
    TOOL_RESULT = "tool_result"
    USAGE = "usage"
    STATUS = "status"
    ERROR = "error"


class ChunkPart(_Frozen):
    kind: ChunkKind
    text: str


class StreamChunk(_Frozen):
    """One entry of a workflow's output stream: what was produced during one flush interval.

    A flush writes one entry whatever the token rate; ``parts`` keeps kinds apart (thinking,
    text, tool use...) within the interval.
    """

    step_id: int
    step_name: str
    attempt: int = Field(ge=1)
    seq: int = Field(ge=0, description="Sequence number within (step_id, attempt).")
    parts: tuple[ChunkPart, ...]
    ts: float = Field(default_factory=time.time)

    @property
    def text(self) -> str:
        return "".join(p.text for p in self.parts if p.kind is ChunkKind.TEXT)


class Plan(_Frozen):
    questions: tuple[Annotated[str, StringConstraints(min_length=3, max_length=1000)], ...] = Field(
        min_length=1, max_length=10
    )

    @field_validator("questions")
    @classmethod
    def _distinct(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if len({q.strip().lower() for q in v}) != len(v):
            raise ValueError("questions must be distinct")
        return tuple(q.strip() for q in v)


class Answer(_Frozen):
    index: int
    question: str
    text: str = ""
    ok: bool = True
    error: str = ""
    workflow_id: str = ""
    result: ClaudeResult | None = None


class StepUsage(_Frozen):
    step: str
    model: str
    usage: Usage
    cost_usd: float


class ResearchReport(_Frozen):
    topic: str
    outcome: Literal["completed", "rejected", "stopped at budget"]
    markdown: str
    questions: tuple[str, ...] = ()
    answers: tuple[Answer, ...] = ()
    steps: tuple[StepUsage, ...] = ()
    usage: Usage = Usage()
    cost_usd: float = 0.0
    model: str = ""
    backend: str = ""
    note: str = ""


class Progress(_Frozen):
    phase: str
    done: int = 0
    total: int = 0
    detail: str = ""
    #: Claude cost so far (USD), so a list can show it without loading outputs.
    cost_usd: float = 0.0
    #: The run's budget (0: none) and the tokens spent so far (in + out).
    budget_usd: float = 0.0
    budget_tokens: int = 0
    tokens: int = 0

    @model_serializer(mode="wrap")
    def _without_unset_budget(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """A run without a budget publishes the event it always did (no zero budget fields)."""
        out: dict[str, Any] = handler(self)
        if not self.budget_usd and not self.budget_tokens:
            for key in ("budget_usd", "budget_tokens", "tokens"):
                out.pop(key, None)
        return out


class ApprovalDecision(enum.StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    EDIT = "edit"
    #: Budget approvals: a new budget, this step once, the rest on another model, or stop.
    RAISE = "raise"
    CONTINUE = "continue"
    SWITCH = "switch"
    STOP = "stop"


class ApprovalState(enum.StrEnum):
    PENDING = "pending"
    ANSWERED = "answered"
    TIMED_OUT = "timed_out"


#: What an approval is about: a research plan, a tool call, a budget or a tool loop.
ApprovalKind = Literal["plan", "tool", "budget", "loop"]


class ApprovalRequest(_Frozen):
    """Published as the ``agentdeck.approval`` event before the workflow blocks in ``recv``."""

    request_id: str
    topic: str
    prompt: str
    kind: ApprovalKind = "plan"
    options: tuple[ApprovalDecision, ...] = (
        ApprovalDecision.APPROVE,
        ApprovalDecision.REJECT,
        ApprovalDecision.EDIT,
    )
    #: What an ``edit`` may change (e.g. the question list), shown pre-filled in the form.
    proposal: dict[str, Any] = Field(default_factory=dict)
    answer_schema: dict[str, Any] = Field(default_factory=dict)
    created_at: float = Field(default_factory=time.time)
    deadline: float
    state: ApprovalState = ApprovalState.PENDING
    answer: ApprovalAnswer | None = None
    resolved_at: float | None = None

    @property
    def idempotency_key(self) -> str:
        return f"approval:{self.request_id}"


class ApprovalAnswer(_Frozen):
    decision: ApprovalDecision
    questions: tuple[str, ...] | None = Field(
        default=None, description="With 'edit': the replacement question list."
    )
    comment: str = Field(default="", max_length=2000)
    by: str = Field(default="", max_length=200)
    budget_usd: float | None = Field(
        default=None, gt=0, le=10_000, description="With 'raise': the new budget in USD."
    )
    budget_tokens: int | None = Field(
        default=None, gt=0, le=1_000_000_000, description="With 'raise': the new token budget."
    )
    model: ModelName | None = Field(default=None, description="With 'switch': the model.")

    @field_validator("questions")
    @classmethod
    def _questions(cls, v: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if v is None:
            return v
        qs = tuple(q.strip() for q in v if q.strip())
        if not 1 <= len(qs) <= 10:
            raise ValueError("an edited plan needs 1 to 10 non-empty questions")
        return qs

    @model_validator(mode="after")
    def _edit_needs_questions(self) -> ApprovalAnswer:
        if self.decision is ApprovalDecision.EDIT and not self.questions:
            raise ValueError("decision 'edit' needs the edited question list")
        if self.decision is ApprovalDecision.RAISE and not (self.budget_usd or self.budget_tokens):
            raise ValueError("decision 'raise' needs a new budget_usd or budget_tokens")
        if self.decision is ApprovalDecision.SWITCH and not self.model:
            raise ValueError("decision 'switch' needs the model to switch to")
        return self


ApprovalRequest.model_rebuild()


# --------------------------------------------------------------------------------------------
# Fork-compare and step settings


STYLES: dict[str, str] = {
    "balanced": "Answer in two to four paragraphs of Markdown prose, concretely, for an engineer.",
    "concise": "Answer in at most five short bullet points. No preamble.",
    "detailed": "Answer thoroughly: mechanism, trade-offs, failure modes and a worked example.",
    "skeptical": "Answer critically: state the claim, then the evidence against it and the "
    "conditions under which it fails.",
}

_BRANCH_RE = r"^\s*(?P<model>[^:,\s]+)\s*(?::\s*(?P<style>[a-z]+))?\s*$"


class BranchSpec(_Frozen):
    """One branch of a fork-compare run: a model and a prompt style."""

    label: str
    model: ModelName
    style: str = "balanced"

    @field_validator("style")
    @classmethod
    def _known_style(cls, v: str) -> str:
        if v not in STYLES:
            raise ValueError(f"unknown style {v!r}; one of {', '.join(STYLES)}")
        return v


def parse_branches(spec: str) -> tuple[BranchSpec, ...]:
    """``"model:style, model:style"`` → branch specs labelled A, B, C, D."""
    items = [s for s in spec.split(",") if s.strip()]
    out = []
    for i, item in enumerate(items):
        m = re.match(_BRANCH_RE, item)
        if m is None:
            raise ValueError(f"branch {i + 1} ({item.strip()!r}) is not 'model' or 'model:style'")
        out.append(
            BranchSpec(label=chr(ord("A") + i), model=m["model"], style=m["style"] or "balanced")
        )
    return tuple(out)


class CompareRequest(_Frozen):
    """Input of the fork-compare workflow: one question, 2-4 branches, one judge."""

    question: Topic = Field(description="The research question every branch answers.")
    branches: str = Field(
        default=f"{DEFAULT_MODEL}:concise, {DEFAULT_MODEL}:detailed",
        max_length=400,
        description="2-4 branches, model:style (" + "/".join(STYLES) + ")",
    )
    judge_model: ModelName = Field(default=DEFAULT_MODEL, description="Model of the judge.")
    fault: str = Field(
        default="",
        max_length=200,
        description="Offline-model fault injection; 'branch@N.kind' targets branch N.",
    )
    budget_usd: float | None = Field(
        default=None,
        gt=0,
        le=10_000,
        description="Budget in USD: pauses and asks before a step would pass it (empty: the "
        "agentdeck.yaml default, else none).",
    )
    budget_tokens: int | None = Field(
        default=None,
        gt=0,
        le=1_000_000_000,
        description="Budget in tokens (in + out), like budget_usd (empty: default or none).",
    )

    @field_validator("branches")
    @classmethod
    def _branches(cls, v: str) -> str:
        specs = parse_branches(v)
        if not 2 <= len(specs) <= 4:
            raise ValueError(f"give 2 to 4 branches, not {len(specs)}")
        return ", ".join(f"{b.model}:{b.style}" for b in specs)

    @property
    def specs(self) -> tuple[BranchSpec, ...]:
        return parse_branches(self.branches)


class BranchResult(_Frozen):
    label: str
    model: str
    style: str
    ok: bool = True
    error: str = ""
    text: str = ""
    workflow_id: str = ""
    result: ClaudeResult | None = None

    @property
    def words(self) -> int:
        return len(self.text.split())


class CompareReport(_Frozen):
    question: str
    branches: tuple[BranchResult, ...]
    verdict: str = ""
    winner: str = ""
    markdown: str = ""
    cost_usd: float = 0.0
    backend: str = ""
    note: str = ""
    outcome: Literal["completed", "stopped at budget"] = "completed"


class StepSettings(_Frozen):
    """Settings a fork may change for the steps it runs again (unset = keep the run's own)."""

    model: ModelName | None = None
    instructions: str = Field(
        default="", max_length=2000, description="Extra instructions added to the prompts."
    )

    def merged(self, other: StepSettings) -> StepSettings:
        return StepSettings(
            model=other.model or self.model,
            instructions=other.instructions or self.instructions,
        )

    @property
    def empty(self) -> bool:
        return self.model is None and not self.instructions


# --------------------------------------------------------------------------------------------
# Tool-permission approvals

#: Approval topics of tool calls start with this (``tool:<first 12 hex digits of the call key>``).
TOOL_TOPIC_PREFIX = "tool:"


class ToolRequest(_Frozen):
    """A tool call that waits for a human decision (what a research step returns instead of a
    result when its Claude call stopped at such a call; the call did not run)."""

    tool: str
    input: dict[str, Any] = Field(default_factory=dict)
    key: str = Field(description="workflows.tools.call_key(tool, input)")

    @property
    def topic(self) -> str:
        return f"{TOOL_TOPIC_PREFIX}{self.key[:12]}"


class LoopRequest(_Frozen):
    """A research step stopped by the loop guard (the call did not run): what to ask about."""

    tool: str
    input: dict[str, Any] = Field(default_factory=dict)
    key: str = Field(description="workflows.tools.LoopDetected.key: repeat:<call> or streak:<n>")
    reason: str


def tool_call_of(request: ApprovalRequest) -> tuple[str, dict[str, Any]] | None:
    """(tool name, input) when ``request`` asks to allow a tool call, else None."""
    tool = request.proposal.get("tool")
    if not request.topic.startswith(TOOL_TOPIC_PREFIX) or not isinstance(tool, str):
        return None
    raw = request.proposal.get("input")
    return tool, raw if isinstance(raw, dict) else {}
