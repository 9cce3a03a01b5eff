"""Result rows → workflow rows: the one row builder, for the dashboard and ``agentdeck ls``.

A row is a plain dict with the fields of ``tui.supervisor.models.WorkflowRow`` (the dashboard
validates it into that snapshot; ``ls`` prints it as JSON). Events in the shape agentdeck writes
them are copied as the pydantic models would dump them; any other shape is handed to the models
themselves (``workflows.models``, imported then), so odd values come out as the models say.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

from .decode import error_text

__all__ = [
    "ACTIVE",
    "APPROVAL_EVENT",
    "LIST_COLUMNS",
    "PROGRESS_EVENT",
    "Presence",
    "build_row",
    "json_attrs",
    "stranded",
]

#: As in ``workflows.models`` / ``workflows.presence``
#: (tests/contract/test_fast_ls.py checks they match).
PROGRESS_EVENT = "agentdeck.progress"
APPROVAL_EVENT = "agentdeck.approval"
ACTIVE = frozenset({"PENDING", "ENQUEUED", "DELAYED"})

#: Executors that announced themselves: id → (last heartbeat, app version, alive).
Presence = dict[str, tuple[float, str, bool]]

#: The columns of a list row, in the order :func:`build_row` takes them.
LIST_COLUMNS = (
    "s.workflow_uuid, s.status, s.name, s.recovery_attempts, s.queue_name, s.executor_id, "
    "s.created_at, s.updated_at, s.application_version, s.forked_from, s.parent_workflow_id, "
    "s.completed_at, s.attributes, s.workflow_timeout_ms, s.workflow_deadline_epoch_ms, "
    "s.delay_until_epoch_ms, s.queue_partition_key"
)


def json_attrs(attrs: Any) -> dict[str, Any]:
    """``attributes`` as a dict (JSON text on SQLite; jsonb, as text or dict, on PG).

    Args:
        attrs: The column's value as the driver returns it.

    Returns:
        The attributes; ``{}`` for none, bad JSON or JSON that is not an object.
    """
    if isinstance(attrs, str):
        try:
            attrs = json.loads(attrs)
        except ValueError:
            attrs = None
    return attrs if isinstance(attrs, dict) else {}


def _summary(attrs: Any, redact: Callable[[str], str]) -> str:
    # Most runs have no summary: their JSON text is not parsed at all.
    if attrs is None or (isinstance(attrs, str) and '"summary"' not in attrs):
        return ""
    return redact(str(json_attrs(attrs).get("summary", "")))


def _sec(ms: int | None) -> float | None:
    return ms / 1000.0 if ms else None


# -- events as the pydantic models dump them (workflows.models.Progress / ApprovalRequest) ----


class _Odd(Exception):
    """Not the shape agentdeck writes: let the models decide."""


def _str(v: Any) -> str:
    if type(v) is not str:
        raise _Odd
    return v


def _int(v: Any) -> int:
    if type(v) is not int:
        raise _Odd
    return v


def _float(v: Any) -> float:
    if type(v) not in (int, float) or not math.isfinite(v):
        raise _Odd
    return float(v)


def _opt_float(v: Any) -> float | None:
    return None if v is None else _float(v)


def _plain_json(v: Any) -> Any:
    """A JSON value as pydantic dumps an ``Any`` field: as is (finite numbers only)."""
    if v is None or type(v) in (str, bool, int):
        return v
    if type(v) is float:
        return _float(v)
    if type(v) is list:
        return [_plain_json(x) for x in v]
    if type(v) is dict and all(type(k) is str for k in v):
        return {k: _plain_json(x) for k, x in v.items()}
    raise _Odd


_PROGRESS_KEYS = frozenset(
    {"phase", "done", "total", "detail", "cost_usd", "budget_usd", "budget_tokens", "tokens"}
)
_DECISIONS = ("approve", "reject", "edit", "raise", "continue", "switch", "stop")
_STATES = frozenset({"pending", "answered", "timed_out"})
_KINDS = frozenset({"plan", "tool", "budget", "loop"})
_APPROVAL_KEYS = frozenset(
    {
        "request_id",
        "topic",
        "prompt",
        "options",
        "proposal",
        "answer_schema",
        "created_at",
        "deadline",
        "state",
        "answer",
        "resolved_at",
        "kind",
    }
)
_ANSWER_KEYS = frozenset({"decision", "questions", "comment", "by"})
#: Budget answers' fields: an answer that sets one (raise, switch: rare) goes to the model.
_BUDGET_ANSWER_KEYS = ("budget_usd", "budget_tokens", "model")


def _progress(v: dict[str, Any]) -> dict[str, Any]:
    if not v.keys() <= _PROGRESS_KEYS or "phase" not in v:
        raise _Odd
    out = {
        "phase": _str(v["phase"]),
        "done": _int(v.get("done", 0)),
        "total": _int(v.get("total", 0)),
        "detail": _str(v.get("detail", "")),
        "cost_usd": _float(v.get("cost_usd", 0.0)),
    }
    budget_usd, budget_tokens = _float(v.get("budget_usd", 0.0)), _int(v.get("budget_tokens", 0))
    if budget_usd or budget_tokens:  # as workflows.models.Progress dumps itself
        out.update(
            budget_usd=budget_usd, budget_tokens=budget_tokens, tokens=_int(v.get("tokens", 0))
        )
    return out


def _answer(v: Any) -> dict[str, Any] | None:
    if v is None:
        return None
    if type(v) is not dict or v.get("decision") not in _DECISIONS:
        raise _Odd
    if any(v.get(k) is not None for k in _BUDGET_ANSWER_KEYS):
        raise _Odd
    if not v.keys() - set(_BUDGET_ANSWER_KEYS) <= _ANSWER_KEYS:
        raise _Odd
    questions = v.get("questions")
    if questions is not None:
        if type(questions) is not list or any(type(q) is not str for q in questions):
            raise _Odd
        questions = [q.strip() for q in questions if q.strip()]
        if not 1 <= len(questions) <= 10:
            raise _Odd
    if v["decision"] == "edit" and not questions:
        raise _Odd
    comment, by = _str(v.get("comment", "")), _str(v.get("by", ""))
    if len(comment) > 2000 or len(by) > 200:
        raise _Odd
    return {
        "decision": v["decision"],
        "questions": questions,
        "comment": comment,
        "by": by,
        **dict.fromkeys(_BUDGET_ANSWER_KEYS),
    }


def _approval(v: dict[str, Any]) -> dict[str, Any]:
    # created_at has a clock default: a value without it goes to the model too.
    required = ("request_id", "topic", "prompt", "deadline", "created_at")
    if not v.keys() <= _APPROVAL_KEYS or any(k not in v for k in required):
        raise _Odd
    options = v.get("options", ["approve", "reject", "edit"])
    if type(options) is not list or any(o not in _DECISIONS for o in options):
        raise _Odd
    proposal, schema = v.get("proposal", {}), v.get("answer_schema", {})
    if type(proposal) is not dict or type(schema) is not dict:
        raise _Odd
    state = v.get("state", "pending")
    if state not in _STATES or v.get("kind", "plan") not in _KINDS:
        raise _Odd
    return {
        "request_id": _str(v["request_id"]),
        "topic": _str(v["topic"]),
        "prompt": _str(v["prompt"]),
        "kind": v.get("kind", "plan"),
        "options": list(options),
        "proposal": _plain_json(proposal),
        "answer_schema": _plain_json(schema),
        "created_at": _float(v["created_at"]),
        "deadline": _float(v["deadline"]),
        "state": state,
        "answer": _answer(v.get("answer")),
        "resolved_at": _opt_float(v.get("resolved_at")),
    }


def _by_model(model: str, value: dict[str, Any]) -> dict[str, Any] | None:
    """An odd event value, validated and dumped by the pydantic model itself."""
    from pydantic import ValidationError

    from workflows import models

    try:
        dumped: dict[str, Any] = (
            getattr(models, model).model_validate(value).model_dump(mode="json")
        )
    except ValidationError:
        return None
    return dumped


def _event(value: Any, fast: Any, model: str) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    try:
        return fast(value)  # type: ignore[no-any-return]
    except _Odd:
        return _by_model(model, value)


# -- the row --------------------------------------------------------------------------------


def stranded(row: Mapping[str, Any], presence: Presence) -> str:
    """Why no executor will carry this run on by itself, judged from the presence rows.

    Without any presence rows (another app's database) nothing is flagged but DBOS's own
    MAX_RECOVERY_ATTEMPTS_EXCEEDED. ``filters.Presence`` compiles the same rules to SQL.

    Args:
        row: A built row (``status``, ``executor``, ``app_version``, ``recovery_attempts``).
        presence: The executors' heartbeats.

    Returns:
        The reason in a few words; ``""`` when the run is not stranded.
    """
    status = row["status"]
    if status == "MAX_RECOVERY_ATTEMPTS_EXCEEDED":
        return f"max recovery attempts exceeded ({row['recovery_attempts']})"
    if not presence or status not in ACTIVE:
        return ""
    alive = {e for e, (_, _, ok) in presence.items() if ok}
    versions = {v for _, v, ok in presence.values() if ok}
    if status == "PENDING" and row["executor"] and row["executor"] not in alive:
        return f"executor {row['executor']} is gone (no heartbeat)"
    if row["app_version"] and versions and row["app_version"] not in versions:
        return f"no live executor serves version {row['app_version']}"
    return "" if alive else "no live executor"


def presence_rows(found: list[tuple[Any, Any]], ttl: float) -> Presence:
    """The heartbeat rows as :data:`Presence`.

    Args:
        found: (executor id, attributes) of each presence row.
        ttl: Seconds after its last heartbeat that an executor counts as gone.

    Returns:
        Executor id → (last heartbeat, app version, alive now).
    """
    now = time.time()
    out: Presence = {}
    for executor_id, attrs in found:
        a = json_attrs(attrs)
        beat = float(a.get("heartbeat") or 0)
        executor = str(a.get("executor") or executor_id or "")
        out[executor] = (beat, str(a.get("app_version") or ""), now - beat <= ttl)
    return out


def build_row(
    status_row: tuple[Any, ...],
    events: Mapping[str, Any],
    error: Any,
    wait: tuple[bool, float | None],
    presence: Presence,
    redact: Callable[[str], str],
    input_summary: str = "",
) -> dict[str, Any]:
    """One list row from a :data:`LIST_COLUMNS` result row and what was read beside it.

    Args:
        status_row: The ``workflow_status`` columns, in :data:`LIST_COLUMNS` order.
        events: The run's decoded progress / approval events by key.
        error: The run's decoded error (``None`` unless it failed).
        wait: (blocked in ``recv``, the wait's deadline).
        presence: The executors' heartbeats (:func:`presence_rows`).
        redact: Removes secrets from text.
        input_summary: A summary of the decoded input, for runs with no ``summary`` attribute.

    Returns:
        The row: a dict with the fields of ``tui.supervisor.models.WorkflowRow``.
    """
    wid, status, name, attempts, queue, executor, created, updated, version = status_row[:9]
    forked, parent, completed, attrs, timeout_ms, deadline_ms, delay_ms = status_row[9:16]
    partition = status_row[16]
    progress = _event(events.get(PROGRESS_EVENT), _progress, "Progress")
    approval = _event(events.get(APPROVAL_EVENT), _approval, "ApprovalRequest")
    row: dict[str, Any] = {
        "workflow_id": wid,
        "name": name,
        "status": str(status),
        "created_at": _sec(created),
        "updated_at": _sec(updated),
        "completed_at": _sec(completed),
        "queue": queue or "",
        "partition": partition or "",
        "executor": executor or "",
        "app_version": version or "",
        "parent_id": parent or "",
        "forked_from": forked or "",
        "summary": _summary(attrs, redact) or input_summary,
        "error": error_text(error, redact),
        "recovery_attempts": int(attempts or 0),
        "progress": progress,
        "approval": approval,
        "cost_usd": progress["cost_usd"] if progress and progress["cost_usd"] else None,
        "waiting_recv": wait[0],
        "recv_deadline": wait[1],
        "stranded": "",
        "timeout_s": _sec(timeout_ms),
        "deadline": _sec(deadline_ms),
        "delay_until": _sec(delay_ms),
    }
    row["stranded"] = stranded(row, presence)
    return row
