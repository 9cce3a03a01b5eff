"""Export a run, the document: the gathered :class:`~tui.supervisor.export.RunExport` as
Markdown (:func:`to_markdown`) or JSON (:func:`to_json`), pure functions that redact secrets
(database passwords, API keys, the environment's secret values through
``workflows.settings.redact``, and any value stored under a key that names a secret:
``password``, ``api_key``, ``token``…), and the file it is written to (:func:`write_file`).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from workflows.models import (
    APPROVAL_EVENT,
    APPROVAL_STEP,
    ApprovalAnswer,
    ApprovalRequest,
    ApprovalState,
    ClaudeResult,
    CompareReport,
    Plan,
    ResearchReport,
    Usage,
)
from workflows.settings import env_secrets, redact_with

from .supervisor.describe import describe_error, describe_value
from .supervisor.export import JSON_FORMAT, ExportFormat, RunExport, _Snap, jsonable
from .supervisor.models import StepRow, WorkflowRow

__all__ = [
    "ExportFileError",
    "claude_of",
    "document",
    "export_filename",
    "format_of",
    "jsonable",
    "redact_tree",
    "render",
    "to_json",
    "to_markdown",
    "write_file",
]

#: Keys whose values are secrets wherever they appear (inputs, outputs, events, streams).
_SECRET_KEY = re.compile(
    r"^(?:.*[_\-.])?(?:password|passwd|pwd|secret|client[_\-]?secret|api[_\-]?key|apikey|"
    r"token|access[_\-]?token|refresh[_\-]?token|auth[_\-]?token|authorization|credentials?|"
    r"private[_\-]?key)$",
    re.IGNORECASE,
)


# --------------------------------------------------------------------------------------------
# Values as JSON, secrets hidden


def redact_tree(value: Any, secrets: tuple[str, ...] | None = None) -> Any:
    """JSON data with every string redacted and every value under a secret's key hidden."""
    found = env_secrets() if secrets is None else secrets
    return _redact(value, found)


def _redact(value: Any, secrets: tuple[str, ...]) -> Any:
    if isinstance(value, str):
        return redact_with(value, secrets)
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            key = redact_with(str(k), secrets)
            hide = _SECRET_KEY.match(key) and v is not None and not isinstance(v, (dict, list))
            out[key] = "***" if hide else _redact(v, secrets)
        return out
    if isinstance(value, list):
        return [_redact(v, secrets) for v in value]
    return value


# --------------------------------------------------------------------------------------------
# What the values say (Claude usage, approvals, the plan)


def claude_of(output: Any) -> ClaudeResult | None:
    """The Claude answer in a step's output (a ClaudeResult, or a tuple holding one)."""
    if isinstance(output, ClaudeResult):
        return output
    if isinstance(output, (tuple, list)):
        for item in output:
            if isinstance(item, ClaudeResult):
                return item
    return None


def _tokens(u: Usage) -> dict[str, int]:
    return {
        "input": u.input_tokens,
        "output": u.output_tokens,
        "cache_read": u.cache_read_input_tokens,
        "cache_creation": u.cache_creation_input_tokens,
    }


def _claude_json(r: ClaudeResult) -> dict[str, Any]:
    return {
        "model": r.model,
        "backend": r.backend,
        "tokens": _tokens(r.usage),
        "cost_usd": r.cost_usd,
        "attempt": r.attempt,
        "duration_s": r.duration_s,
    }


class Approval(_Snap):
    """One approval the run asked for: when, and how it was answered (or not)."""

    asked_at: float | None = None
    answered_at: float | None = None
    answer: ApprovalAnswer | None = None
    topic: str = ""
    state: str = "answered"
    deadline: float | None = None


def approvals(export: RunExport) -> list[Approval]:
    """The approvals of the run, in order: each ``approval`` marker step and the answer its
    ``DBOS.recv`` got; the approval event adds the topic and a pending or timed-out state."""
    out: list[Approval] = []
    asked: float | None = None
    for step in export.detail.steps:
        if step.name == APPROVAL_STEP:
            asked = step.completed_at or step.started_at
            out.append(Approval(asked_at=asked, state="pending"))
        elif step.name == "DBOS.recv" and out and out[-1].answer is None:
            answer = _answer(export.values.step_outputs.get(step.step_id))
            if answer is not None:
                out[-1] = out[-1].model_copy(
                    update={"answer": answer, "answered_at": step.completed_at, "state": "answered"}
                )
    event = next((e.value for e in export.detail.events if e.key == APPROVAL_EVENT), None)
    request = _request(event)
    if request is not None:
        if not out:
            out.append(Approval(asked_at=request.created_at))
        last = out[-1]
        update: dict[str, Any] = {"topic": request.topic, "deadline": request.deadline}
        if last.answer is None:
            update["state"] = str(request.state.value)
            if request.answer is not None:
                update["answer"] = request.answer
                update["answered_at"] = request.resolved_at
            elif request.state is ApprovalState.TIMED_OUT:
                update["answered_at"] = request.resolved_at
        out[-1] = last.model_copy(update=update)
    return out


def _answer(value: Any) -> ApprovalAnswer | None:
    if isinstance(value, ApprovalAnswer):
        return value
    if isinstance(value, Mapping) and "decision" in value:
        try:
            return ApprovalAnswer.model_validate(value)
        except ValidationError:
            return None
    return None


def _request(value: Any) -> ApprovalRequest | None:
    if isinstance(value, ApprovalRequest):
        return value
    if isinstance(value, Mapping):
        try:
            return ApprovalRequest.model_validate(value)
        except ValidationError:
            return None
    return None


def plan_questions(export: RunExport) -> tuple[str, ...]:
    """The questions the run researched: its report's, else the plan step's (an edited plan
    is in the report), else the approval's proposal."""
    result = export.detail.result
    if isinstance(result, ResearchReport) and result.questions:
        return result.questions
    for out in export.values.step_outputs.values():
        items = out if isinstance(out, (tuple, list)) else (out,)
        for item in items:
            if isinstance(item, Plan):
                return item.questions
    for a in approvals(export):
        if a.answer is not None and a.answer.questions:
            return a.answer.questions
    request = _request(
        next((e.value for e in export.detail.events if e.key == APPROVAL_EVENT), None)
    )
    proposed = request.proposal.get("questions") if request is not None else None
    if isinstance(proposed, list) and all(isinstance(q, str) for q in proposed):
        return tuple(proposed)
    return ()


# --------------------------------------------------------------------------------------------
# JSON


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="milliseconds")


def _took(start: float | None, end: float | None) -> float | None:
    return round(end - start, 3) if start is not None and end is not None else None


def _row_json(row: WorkflowRow) -> dict[str, Any]:
    out: dict[str, Any] = row.model_dump(mode="json")
    out["shown_status"] = row.shown_status
    for key in ("created_at", "updated_at", "completed_at", "deadline", "delay_until"):
        out[f"{key}_iso"] = _iso(getattr(row, key))
    return out


def _step_json(step: StepRow, output: Any) -> dict[str, Any]:
    claude = claude_of(output)
    return {
        "step_id": step.step_id,
        "name": step.name,
        "status": step.status,
        "started_at": _iso(step.started_at),
        "completed_at": _iso(step.completed_at),
        "duration_s": _took(step.started_at, step.completed_at),
        "attempts": step.attempts,
        "child_id": step.child_id or None,
        "error": step.error or None,
        "summary": _summary(output, step.output_summary),
        "claude": _claude_json(claude) if claude is not None else None,
        "output": jsonable(output),
    }


def document(export: RunExport) -> dict[str, Any]:
    """The JSON document (before redaction): status, input and output as decoded, every step
    with its output, events, stream entries, children, approvals."""
    d = export.detail
    kids = []
    for child in d.children:
        vals = export.children_values.get(child.workflow_id)
        claude = [
            {"step_id": fid, **_claude_json(r)}
            for fid, out in sorted((vals.step_outputs if vals else {}).items())
            if (r := claude_of(out)) is not None
        ]
        kids.append(
            {
                **_row_json(child),
                "works_on": _summary(
                    vals.inputs if vals else None, d.child_notes.get(child.workflow_id, "")
                ),
                "input": jsonable(vals.inputs) if vals else None,
                "claude": claude,
            }
        )
    return {
        "format": JSON_FORMAT,
        "exported_at": _iso(export.exported_at),
        "workflow_id": d.row.workflow_id,
        "name": d.row.name,
        "status": d.row.status,
        "shown_status": d.row.shown_status,
        "row": _row_json(d.row),
        "input": jsonable(export.values.inputs),
        "input_summary": _summary(export.values.inputs, d.input_summary),
        "output": jsonable(d.result),
        "error": d.error or None,
        "plan": list(plan_questions(export)),
        "approvals": [
            {
                "topic": a.topic,
                "state": a.state,
                "asked_at": _iso(a.asked_at),
                "answered_at": _iso(a.answered_at),
                "deadline": _iso(a.deadline),
                "answer": a.answer.model_dump(mode="json") if a.answer else None,
            }
            for a in approvals(export)
        ],
        "steps": [_step_json(s, export.values.step_outputs.get(s.step_id)) for s in d.steps],
        "events": {e.key: jsonable(e.value) for e in d.events},
        "streams": {
            s.key: {"closed": s.closed, "cut": s.cut, "entries": list(s.entries)}
            for s in export.streams
        },
        "children": kids,
        "forks": list(d.forks),
        "pending_topics": list(d.pending_topics),
        "cost_usd": _total_cost(export),
    }


def to_json(export: RunExport) -> str:
    """The run as a JSON document (indented), secrets redacted."""
    return json.dumps(redact_tree(document(export)), indent=2, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------------------------
# Markdown


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))


def _secs(s: float | None) -> str:
    if s is None:
        return "-"
    return f"{s:.2f} s" if s < 60 else f"{int(s // 60)} min {s % 60:04.1f} s"


def _usd(v: float | None) -> str:
    if v is None:
        return "-"
    return f"${v:.2f}" if v >= 1 else f"${v:.4f}"


def _cell(text: str) -> str:
    """Text fit for a Markdown table cell: one line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|") or "-"


def _fence(text: str) -> str:
    ticks = "```"
    while ticks in text:
        ticks += "`"
    return f"{ticks}\n{text.rstrip()}\n{ticks}"


def _short(value: Any) -> str:
    """A value in a few words, from its redacted JSON (a secret's key hides its value)."""
    data = redact_tree(jsonable(value))
    if isinstance(data, dict) and isinstance(data.get("__class__"), str):
        name = str(data.pop("__class__")).rsplit(".", 1)[-1]
        return f"{name}({describe_value(data)})"
    return describe_value(data)


def _summary(value: Any, summary: str) -> str:
    """The data layer's summary of a value, unless the value holds a secret under a secret's
    key (summaries redact only secret-looking text): then one made from the redacted value."""
    data = jsonable(value)
    return summary if redact_tree(data, ()) == data else _short(value)


def _demote(md: str) -> str:
    """The report's headings two levels down, under the export's own ``## Report``."""
    out, fence = [], ""
    for line in md.splitlines():
        mark = line.lstrip()[:3]
        if mark in ("```", "~~~"):
            fence = "" if fence == mark else (fence or mark)
        elif not fence and line.startswith("#"):
            line = "##" + line if line.lstrip("#").startswith(" ") else line
        out.append(line)
    return "\n".join(out)


def _usage_cells(r: ClaudeResult | None) -> tuple[str, str, str]:
    if r is None:
        return "-", "-", "-"
    u = r.usage
    cached = u.cache_read_input_tokens + u.cache_creation_input_tokens
    tokens = f"{u.input_tokens:,} in / {u.output_tokens:,} out"
    tokens += f" / {cached:,} cache" if cached else ""
    return tokens, _usd(r.cost_usd), r.model


def _total_cost(export: RunExport) -> float | None:
    result = export.detail.result
    if isinstance(result, (ResearchReport, CompareReport)) and result.cost_usd:
        return result.cost_usd
    found = [r.cost_usd for out in export.values.step_outputs.values() if (r := claude_of(out))]
    found += [
        r.cost_usd
        for vals in export.children_values.values()
        for out in vals.step_outputs.values()
        if (r := claude_of(out))
    ]
    if found:
        return round(sum(found), 6)
    return export.detail.row.cost_usd


def to_markdown(export: RunExport) -> str:
    """The run as a Markdown document: the report, the plan, each step with its time,
    attempts, usage and cost, the approvals with who answered and when, the errors."""
    d, row = export.detail, export.detail.row
    lines = [f"# {row.name} run `{row.workflow_id}`", ""]
    facts = [
        ("Status", row.shown_status),
        ("Input", _summary(export.values.inputs, d.input_summary or row.summary)),
        ("Created", _when(row.created_at)),
        ("Ended", _when(row.completed_at or (None if row.active else row.updated_at))),
        ("Duration", _secs(row.duration(export.exported_at))),
        ("Claude cost", _usd(_total_cost(export))),
        ("Queue", f"{row.queue}[{row.partition}]" if row.partition else row.queue),
        ("Executor", row.executor),
        ("App version", row.app_version),
        ("Parent", f"`{row.parent_id}`" if row.parent_id else ""),
        ("Forked from", f"`{row.forked_from}`" if row.forked_from else ""),
        ("Forks", ", ".join(f"`{f}`" for f in d.forks)),
        # DBOS counts the first start too: more than one means it was recovered.
        ("Recovery attempts", str(row.recovery_attempts) if row.recovery_attempts > 1 else ""),
        ("Exported", _when(export.exported_at)),
    ]
    lines += ["| | |", "|---|---|"]
    lines += [f"| {k} | {_cell(v)} |" for k, v in facts if v]
    lines.append("")
    if d.error:
        lines += ["## Error", "", _fence(d.error), ""]
    if d.result_markdown:
        lines += ["## Report", "", _demote(d.result_markdown.strip()), ""]
    elif d.result is not None:
        shown = redact_tree(jsonable(d.result))
        lines += ["## Result", "", _fence(json.dumps(shown, indent=2, ensure_ascii=False)), ""]
    questions = plan_questions(export)
    if questions:
        lines += ["## Plan", ""]
        lines += [f"{i}. {q}" for i, q in enumerate(questions, 1)]
        lines.append("")
    found = approvals(export)
    if found:
        lines += [
            "## Approvals",
            "",
            "| Asked | Topic | Answer | By | Answered | Comment |",
            "|---|---|---|---|---|---|",
        ]
        for a in found:
            decision = a.answer.decision.value if a.answer else a.state.replace("_", " ")
            if a.answer is not None and a.answer.questions:
                decision += f" ({len(a.answer.questions)} questions)"
            lines.append(
                f"| {_when(a.asked_at)} | {_cell(a.topic)} | {_cell(decision)} | "
                f"{_cell(a.answer.by if a.answer else '')} | {_when(a.answered_at)} | "
                f"{_cell(a.answer.comment if a.answer else '')} |"
            )
        lines.append("")
    if isinstance(d.result, CompareReport) or d.branches:
        lines += _branches_md(export)
    lines += _steps_md(export)
    if d.children:
        lines += _children_md(export)
    if d.events:
        lines += ["## Events", "", "| Key | Value |", "|---|---|"]
        lines += [f"| {_cell(e.key)} | {_cell(_short(e.value))} |" for e in d.events]
        lines.append("")
    if export.streams:
        lines += ["## Streams", ""]
        for dump in export.streams:
            state = "closed" if dump.closed else "open"
            cut = f", only the first {len(dump.entries):,} exported" if dump.cut else ""
            n = len(dump.entries)
            lines.append(f"- `{dump.key}`: {n:,} {'entry' if n == 1 else 'entries'} ({state}{cut})")
        lines.append("")
    failed = [s for s in d.steps if s.error]
    if failed:
        lines += ["## Step errors", ""]
        for s in failed:
            lines += [
                f"### Step {s.step_id} `{s.name}` (attempt {s.attempts})",
                "",
                _fence(s.error),
                "",
            ]
    text = "\n".join(lines).rstrip() + "\n"
    return redact_with(text, env_secrets())


def _steps_md(export: RunExport) -> list[str]:
    d = export.detail
    lines = ["## Steps", ""]
    if not d.steps:
        return [*lines, "_No steps recorded._", ""]
    lines += [
        "| # | Step | Status | Started | Took | Attempts | Tokens | Cost | Model | Detail |",
        "|---:|---|---|---|---:|---:|---|---:|---|---|",
    ]
    for s in d.steps:
        tokens, cost, model = _usage_cells(claude_of(export.values.step_outputs.get(s.step_id)))
        output = export.values.step_outputs.get(s.step_id)
        detail = describe_error(s.error) if s.error else _summary(output, s.output_summary)
        if s.child_id:
            note = d.child_notes.get(s.child_id, "")
            detail = f"`{s.child_id}`" + (f" {note}" if note else "")
        lines.append(
            f"| {s.step_id} | {_cell(s.name)} | {s.status} | {_when(s.started_at)} | "
            f"{_secs(_took(s.started_at, s.completed_at))} | {s.attempts} | {tokens} | {cost} "
            f"| {_cell(model) if model != '-' else '-'} | {_cell(detail)} |"
        )
    lines.append("")
    return lines


def _children_md(export: RunExport) -> list[str]:
    d = export.detail
    lines = [
        "## Child workflows",
        "",
        "| Run | Name | Status | Works on | Took | Tokens | Cost |",
        "|---|---|---|---|---:|---|---:|",
    ]
    for c in d.children:
        vals = export.children_values.get(c.workflow_id)
        outs = vals.step_outputs.values() if vals else ()
        results = [r for out in outs if (r := claude_of(out))]
        tokens, cost = "-", _usd(c.cost_usd)
        if results:
            total = Usage()
            for r in results:
                total = total + r.usage
            tokens = f"{total.input_tokens:,} in / {total.output_tokens:,} out"
            cost = _usd(sum(r.cost_usd for r in results))
        note = _summary(vals.inputs if vals else None, d.child_notes.get(c.workflow_id, ""))
        lines.append(
            f"| `{c.workflow_id}` | {_cell(c.name)} | {c.shown_status} | "
            f"{_cell(note)} | "
            f"{_secs(c.duration(export.exported_at))} | {tokens} | {cost} |"
        )
        if c.error:
            lines.append(f"|  |  | error | {_cell(describe_error(c.error))} |  |  |  |")
    lines.append("")
    return lines


def _branches_md(export: RunExport) -> list[str]:
    d = export.detail
    lines = ["## Branches", ""]
    if d.winner:
        lines += [f"Winner: **{d.winner}**", ""]
    lines += [
        "| Branch | Model | Style | Status | Words | Tokens | Cost | Run |",
        "|---|---|---|---|---:|---|---:|---|",
    ]
    for b in d.branches:
        res = b.result
        status = (
            (b.row.shown_status if b.row else "-")
            if res is None
            else ("ok" if res.ok else f"failed: {describe_error(res.error)}")
        )
        tokens, cost, _model = _usage_cells(res.result if res is not None else None)
        words = str(res.words) if res is not None else "-"
        run = f"`{b.workflow_id}`" if b.workflow_id else "-"
        lines.append(
            f"| {b.label} | {_cell(b.model)} | {b.style} | {_cell(status)} | {words} | {tokens} "
            f"| {cost} | {run} |"
        )
    lines.append("")
    return lines


# --------------------------------------------------------------------------------------------
# Files


def render(export: RunExport, fmt: ExportFormat) -> str:
    return to_json(export) if fmt == "json" else to_markdown(export)


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def export_filename(workflow_id: str, fmt: ExportFormat) -> str:
    """``<short-id>.<ext>``: the id cut to 32 characters, safe as a file name anywhere."""
    short = _UNSAFE.sub("_", workflow_id)[:32].strip("._") or "run"
    return f"{short}.{fmt}"


def format_of(path: str, default: ExportFormat = "md") -> ExportFormat:
    """The format a file name asks for (``.json``; ``.md``/``.markdown``), else ``default``."""
    suffix = Path(path).suffix.lower()
    if suffix == ".json":
        return "json"
    if suffix in (".md", ".markdown"):
        return "md"
    return default


class ExportFileError(Exception):
    """The file cannot be written; the message is one line, fit for a screen."""


def write_file(path: str | os.PathLike[str], text: str, *, overwrite: bool) -> Path:
    """Write ``text`` to ``path`` whole or not at all (a temporary file renamed over it).

    Raises FileExistsError when the file exists and ``overwrite`` is false, and
    :class:`ExportFileError` for anything else in the way (no such directory, a directory,
    no permission). Blocking: call it from a worker thread.
    """
    target = Path(path).expanduser()
    if target.is_dir():
        raise ExportFileError(f"{target} is a directory")
    if target.exists() and not overwrite:
        raise FileExistsError(str(target))
    folder = target.parent
    if not folder.is_dir():
        raise ExportFileError(f"no such directory: {folder}")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=folder)
    except OSError as exc:
        raise ExportFileError(f"cannot write in {folder}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)  # mkstemp's 0o600 would surprise; as a plain `>` would
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise ExportFileError(f"cannot write {target}: {exc.strerror or exc}") from None
    return target.resolve()
