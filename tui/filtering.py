"""The workflow list's filter language: free text plus ``key:value`` terms."""

from __future__ import annotations

from dataclasses import dataclass

from .supervisor import WorkflowRow

__all__ = ["Filter", "STATUS_ALIASES", "TABS"]

STATUS_ALIASES: dict[str, str] = {
    "running": "PENDING",
    "pending": "PENDING",
    "queued": "ENQUEUED",
    "enqueued": "ENQUEUED",
    "delayed": "DELAYED",
    "error": "ERROR",
    "failed": "ERROR",
    "success": "SUCCESS",
    "done": "SUCCESS",
    "ok": "SUCCESS",
    "cancelled": "CANCELLED",
    "canceled": "CANCELLED",
    "stuck": "MAX_RECOVERY_ATTEMPTS_EXCEEDED",
    "timed_out": "TIMED_OUT",
    "timeout": "TIMED_OUT",
}

#: Quick status tabs: id → (label, filter term).
TABS: dict[str, tuple[str, str]] = {
    "all": ("All", ""),
    "running": ("Running", "status:running,queued"),
    "waiting": ("Waiting", "is:waiting"),
    "failed": ("Failed", "status:error,stuck,timed_out"),
    "done": ("Done", "status:success,cancelled"),
}


def _queue_matches(value: str, row: WorkflowRow) -> bool:
    """``queue:NAME`` (part of the queue's name) or ``queue:NAME[KEY]`` (and that partition,
    as the list shows it)."""
    name, bracket, key = value.partition("[")
    if not bracket:
        return value in row.queue.lower()
    return name in row.queue.lower() and key.removesuffix("]") == row.partition.lower()


@dataclass(frozen=True)
class Filter:
    """``status:error name:research id:abc queue:q[key] partition:key is:waiting is:child`` +
    free words (all must match)."""

    text: str = ""

    def problems(self) -> list[str]:
        bad = []
        for term in self.text.split():
            key, sep, value = term.partition(":")
            if not sep:
                continue
            if key == "status":
                for v in value.split(","):
                    if v.lower() not in STATUS_ALIASES and v.upper() not in STATUS_ALIASES.values():
                        bad.append(f"unknown status '{v}'")
            elif key == "is":
                if value not in ("waiting", "child", "fork", "active", "stranded"):
                    bad.append(f"unknown 'is:{value}' (waiting, child, fork, active, stranded)")
            elif key not in ("name", "id", "queue", "partition", "executor"):
                bad.append(f"unknown filter key '{key}'")
        return bad

    def matches(self, row: WorkflowRow) -> bool:
        for term in self.text.split():
            key, sep, value = term.partition(":")
            if not sep:
                hay = f"{row.name} {row.workflow_id} {row.summary}".lower()
                if term.lower() not in hay:
                    return False
                continue
            value_l = value.lower()
            if key == "status":
                wanted = {STATUS_ALIASES.get(v.lower(), v.upper()) for v in value.split(",") if v}
                if row.status not in wanted and row.shown_status not in wanted:
                    return False
            elif key == "name" and value_l not in row.name.lower():
                return False
            elif key == "id" and not row.workflow_id.lower().startswith(value_l):
                return False
            elif key == "queue" and not _queue_matches(value_l, row):
                return False
            elif key == "partition" and value_l != row.partition.lower():
                return False
            elif key == "executor" and value_l not in row.executor.lower():
                return False
            elif key == "is":
                if value == "waiting" and not (row.waiting_approval or row.waiting_message):
                    return False
                if value == "child" and not row.parent_id:
                    return False
                if value == "fork" and not row.forked_from:
                    return False
                if value == "active" and not row.active:
                    return False
                if value == "stranded" and not row.stranded:
                    return False
        return True
