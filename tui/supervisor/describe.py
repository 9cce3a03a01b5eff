"""What a step did, in a few words: the timeline's DETAIL column and the step box under it.

Pure functions of decoded values (no DBOS, no I/O). Our own outputs say what a person wants to
know about the step: a plan's number of questions, who answered an approval and how, the
question a research child works on, the words / tokens / cost of a Claude step. Anything else
(a foreign app's values) gets a short summary of the decoded value: the scalar itself, or the
type and its first fields one level deep, never a truncated repr of a nested object. The most
telling part comes first, so a narrow column still shows it; the box shows the whole text.
Secrets are redacted.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from workflows.models import (
    Answer,
    ApprovalAnswer,
    ApprovalDecision,
    BranchResult,
    ClaudeResult,
    CompareReport,
    Plan,
    ResearchReport,
    ToolRequest,
)
from workflows.settings import redact

from ..data.decode import Undecodable

__all__ = ["describe_child", "describe_error", "describe_output", "describe_value"]

#: The longest description (the box wraps it; the column shows its start).
LIMIT = 160
#: Fields or items of a value shown before "…".
FIELDS = 3
#: A raw serialized value DBOS handed back undecoded (base64 of a pickle).
_RAW = re.compile(r"^[A-Za-z0-9+/=]{40,}$")


def describe_output(name: str, value: Any, *, at: float | None = None) -> str:
    """A finished step's output as a few words; ``at`` is when it completed (approvals say it)."""
    if value is None:
        return {"DBOS.recv": "no message", "DBOS.getEvent": "no value"}.get(name, "")
    if name == "DBOS.recv":
        answer = _approval_answer(value)
        if answer is not None:
            return _cut(describe_answer(answer, at))
    if name in ("DBOS.sleep", "clock", "DBOS.now") and isinstance(value, (int, float)):
        clock = _clock(float(value), seconds=True)
        return f"until {clock}" if name == "DBOS.sleep" else clock
    return describe_value(value)


def describe_error(error: str) -> str:
    """An error's first line (the rest is in the step box and the Result tab)."""
    for line in error.splitlines():
        if line.strip():
            return _cut(redact(line.strip()))
    return ""


def describe_child(name: str, inputs: Any) -> str:
    """What a child workflow works on, from its decoded inputs (``{"args": …, "kwargs": …}``)."""
    args, kwargs = _args(inputs)
    if name == "research.question" and len(args) >= 3 and isinstance(args[1], int):
        return _cut(redact(f"Q{args[1] + 1}: {args[2]}"))
    if name == "compare.branch" and len(args) >= 4:
        return _cut(redact(f"{args[1]} · {args[2]}:{args[3]}"))
    if inputs is None or (not args and not kwargs and isinstance(inputs, Mapping)):
        return ""
    if not args and not kwargs:
        return describe_value(inputs)
    parts = [_short(a) for a in args] + [f"{k}={_short(v)}" for k, v in kwargs.items()]
    return _cut(redact("(" + ", ".join(parts) + ")"))


_VERBS = {
    ApprovalDecision.APPROVE: "approved",
    ApprovalDecision.REJECT: "rejected",
    ApprovalDecision.CONTINUE: "continued",
    ApprovalDecision.STOP: "stopped",
}


def describe_answer(answer: ApprovalAnswer, at: float | None = None) -> str:
    """``approved 15:42 by ana``, ``edited: 4 questions · 15:42``, ``rejected 15:42: too broad``."""
    when = _clock(at) if at is not None else ""
    if answer.decision is ApprovalDecision.EDIT:
        n = len(answer.questions or ())
        text = f"edited: {_count(n, 'question')}" + (f" · {when}" if when else "")
    else:
        verb = _VERBS.get(answer.decision, answer.decision.value)
        if answer.decision is ApprovalDecision.RAISE:  # a budget approval's new budget
            budgets = ([f"${answer.budget_usd:g}"] if answer.budget_usd else []) + (
                [f"{answer.budget_tokens:,} tokens"] if answer.budget_tokens else []
            )
            verb = f"raised to {' and '.join(budgets)}"
        elif answer.decision is ApprovalDecision.SWITCH:
            verb = f"switched to {answer.model}"
        text = f"{verb} {when}".rstrip()
    if answer.by:
        text += f" by {answer.by}"
    if answer.comment:
        text += f": {answer.comment.splitlines()[0]}"
    return redact(text)


def describe_value(value: Any) -> str:
    """Any decoded value, ours or not, as a short line."""
    return _cut(redact(_describe(value)))


def _describe(value: Any) -> str:
    if isinstance(value, ClaudeResult):
        return _claude(value)
    if isinstance(value, tuple) and any(isinstance(v, ClaudeResult) for v in value):
        # A step that returns what it made of Claude's answer and the answer (the plan step).
        made = [_describe(v) for v in value if not isinstance(v, ClaudeResult)]
        claude = [_claude(v) for v in value if isinstance(v, ClaudeResult)]
        return " · ".join(p for p in (*made, *claude) if p)
    if isinstance(value, Plan):
        return _count(len(value.questions), "question")
    if isinstance(value, Answer):
        head = f"Q{value.index + 1}: {value.question}"
        return f"{head} · failed: {value.error}" if not value.ok else head
    if isinstance(value, ToolRequest):
        return f"asks to use {value.tool}: {_fields(value.input)}"
    if isinstance(value, ResearchReport):
        bits = [value.outcome, _count(len(value.answers), "answer"), _cost(value.cost_usd)]
        return " · ".join([*bits, value.note] if value.note else bits)
    if isinstance(value, CompareReport):
        bits = [_count(len(value.branches), "branch", "branches")]
        bits += [f"winner {value.winner}"] if value.winner else []
        return " · ".join([*bits, _cost(value.cost_usd)])
    if isinstance(value, BranchResult):
        what = f"{value.label} · {value.model}:{value.style}"
        return f"{what} · failed: {value.error}" if not value.ok else what
    return _short(value, depth=0)


def _short(value: Any, depth: int = 1) -> str:
    """A value in a few words: scalars as they are; containers as their first fields at
    ``depth`` 0, and as their shape below that (``{a, b}``, ``[3 items]``, ``Order(…)``)."""
    if value is None or isinstance(value, (bool, int, Undecodable)):
        return str(value)  # a placeholder names the type it could not decode
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str):
        if _RAW.match(value):
            return f"<undecodable value ({len(value)} bytes)>"
        first = value.strip().splitlines()[0] if value.strip() else ""
        return first if depth == 0 or len(first) <= 40 else first[:39] + "…"
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    fields = _as_fields(value)
    if fields is not None:
        kind, items = fields
        if depth > 0:
            if kind == "dict":
                keys = ", ".join(str(k) for k in list(items)[:FIELDS])
                return "{" + keys + (", …" if len(items) > FIELDS else "") + "}"
            return f"{kind}(…)"
        body = _fields(items)
        return body if kind == "dict" else f"{kind}({body})"
    if isinstance(value, Sequence) or isinstance(value, (set, frozenset)):
        items_list = list(value)
        if depth > 0 or not items_list:
            return f"[{_count(len(items_list), 'item')}]"
        shown = ", ".join(_short(v) for v in items_list[:FIELDS])
        more = f", … ({len(items_list)} items)" if len(items_list) > FIELDS else ""
        return shown + more
    return str(value) if depth == 0 else type(value).__name__


def _as_fields(value: Any) -> tuple[str, Mapping[Any, Any]] | None:
    """(kind, fields) of a mapping, a pydantic model or a dataclass; None for anything else."""
    if isinstance(value, Mapping):
        return "dict", value
    if isinstance(value, BaseModel):
        return type(value).__name__, {k: getattr(value, k) for k in type(value).model_fields}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return type(value).__name__, {
            f.name: getattr(value, f.name) for f in dataclasses.fields(value)
        }
    return None


def _fields(items: Mapping[Any, Any]) -> str:
    shown = [f"{k}={_short(v)}" for k, v in list(items.items())[:FIELDS]]
    return ", ".join(shown) + (", …" if len(items) > FIELDS else "")


def _claude(r: ClaudeResult) -> str:
    u = r.usage
    tokens = u.input_tokens + u.output_tokens + u.cache_read_input_tokens
    tokens += u.cache_creation_input_tokens
    words = len(r.text.split())
    return " · ".join(
        (_count(words, "word"), f"{_tokens(tokens)} tokens", _cost(r.cost_usd), r.model)
    )


def _approval_answer(value: Any) -> ApprovalAnswer | None:
    if isinstance(value, ApprovalAnswer):
        return value
    if not isinstance(value, Mapping) or "decision" not in value:
        return None
    try:
        return ApprovalAnswer.model_validate(value)
    except ValidationError:
        return None


def _args(inputs: Any) -> tuple[list[Any], dict[str, Any]]:
    """Positional and keyword arguments of decoded workflow inputs (pickled or portable)."""
    if not isinstance(inputs, Mapping):
        return [], {}
    args = inputs.get("args", inputs.get("positionalArgs")) or ()
    kwargs = inputs.get("kwargs", inputs.get("namedArgs")) or {}
    if not isinstance(args, (list, tuple)) or not isinstance(kwargs, Mapping):
        return [], {}
    return list(args), dict(kwargs)


def _count(n: int, one: str, many: str = "") -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def _tokens(n: int) -> str:
    return f"{n / 1000:.1f}k" if n >= 1000 else str(n)


def _cost(usd: float) -> str:
    return f"${usd:.2f}" if usd >= 1 else f"${usd:.4f}"


def _clock(ts: float, *, seconds: bool = False) -> str:
    return time.strftime("%H:%M:%S" if seconds else "%H:%M", time.localtime(ts))


def _cut(text: str, limit: int = LIMIT) -> str:
    text = " ".join(text.split())  # one line: the column is one line, the box wraps
    return text if len(text) <= limit else text[: limit - 1] + "…"
