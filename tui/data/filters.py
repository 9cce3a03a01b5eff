"""The filter language of the list, ``agentdeck ls --filter`` and the bulk actions.

``words status:error,timed_out name:research id:abc queue:q partition:tenant-a executor:w1
version:v3 input:raft since:2h until:2026-12-01
is:waiting|child|top|fork|active|stranded|timed_out``

Every term must match. A free word matches the name, the id or the input summary; ``name:``,
``queue:``, ``executor:``, ``version:`` and ``input:`` match a part of their field (ignoring
case), ``id:`` a prefix, ``partition:KEY`` and ``queue:NAME[KEY]`` a whole partition key. A
value with spaces goes in quotes
(``input:"durable execution"``). The whole filter compiles to one WHERE clause over
``workflow_status`` (alias ``s``), so it means the same in ``/``, in ``ls`` and in a bulk action.
"""

from __future__ import annotations

import re
import shlex
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .sql import DB
from .statements import FAILED_CONDITION

__all__ = [
    "IS_VALUES",
    "KEYS",
    "STATUS_ALIASES",
    "TABS",
    "Compiled",
    "Filter",
    "FilterError",
    "Presence",
    "parse_when",
]

PRESENCE_WORKFLOW = "agentdeck.worker"
APPROVAL_EVENT = "agentdeck.approval"
ACTIVE = ("PENDING", "ENQUEUED", "DELAYED")

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
_STATUSES = frozenset(STATUS_ALIASES.values())
_FAILED = frozenset({"ERROR", "CANCELLED", "MAX_RECOVERY_ATTEMPTS_EXCEEDED"})
#: The condition of DBOS's ``idx_workflow_status_failed (status, created_at)``, as it writes it.
_FAILED_INDEX = FAILED_CONDITION
_IN_FLIGHT = frozenset({"ENQUEUED", "PENDING"})
#: The condition of DBOS's ``idx_workflow_status_in_flight_v2`` (its runs queued or running).
_IN_FLIGHT_INDEX = "s.status IN ('ENQUEUED', 'PENDING')"

#: Quick status tabs: id → (label, filter term).
TABS: dict[str, tuple[str, str]] = {
    "all": ("All", ""),
    "running": ("Running", "status:running,queued"),
    "waiting": ("Waiting", "is:waiting"),
    "failed": ("Failed", "status:error,stuck,timed_out"),
    "done": ("Done", "status:success,cancelled"),
}

KEYS = (
    "status",
    "name",
    "id",
    "queue",
    "partition",
    "executor",
    "version",
    "input",
    "since",
    "until",
    "is",
)
IS_VALUES = ("waiting", "child", "top", "fork", "active", "stranded", "timed_out")

_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class FilterError(ValueError):
    """A filter that cannot be compiled; the message names the bad term."""


def parse_when(value: str, now: float) -> float:
    """``2h`` / ``30m`` / ``7d`` / ``1w`` ago, or a local date or datetime, as epoch seconds.

    Args:
        value: A ``since:`` or ``until:`` value as typed.
        now: The time a relative value counts back from, in epoch seconds.

    Returns:
        The moment meant, in epoch seconds.

    Raises:
        FilterError: Neither a relative time nor an ISO date or datetime.
    """
    if m := _RELATIVE.match(value.lower()):
        return now - float(m.group(1)) * _UNIT_S[m.group(2)]
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        raise FilterError(
            f"bad time '{value}' (2h, 30m, 7d, 2026-12-01 or 2026-12-01T09:30)"
        ) from None


@dataclass(frozen=True)
class Presence:
    """What the executors' heartbeats say, for ``is:stranded`` (empty: nothing is judged)."""

    alive: frozenset[str] = frozenset()
    versions: frozenset[str] = frozenset()
    any: bool = False


@dataclass(frozen=True)
class Compiled:
    """A WHERE clause over ``workflow_status s`` and its parameters."""

    where: str
    params: dict[str, Any] = field(default_factory=dict)
    #: "failed": every row matches DBOS's partial index of failed runs (see ``_Compiler.status``);
    #: "failed_in_order": and one status of it, a literal, so that index reads the matches in
    #: ``created_at`` order; "in_flight": the rows are found through DBOS's partial indexes of
    #: runs in flight (queued, running, delayed), not in ``created_at`` order.
    hints: frozenset[str] = frozenset()


def _split(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:
        raise FilterError("unclosed quote in the filter") from None


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True)
class Filter:
    """A filter as typed: ``Filter("status:error since:1d raft")``."""

    text: str = ""

    def terms(self) -> list[tuple[str, str]]:
        """The filter's terms, split as a shell splits words (a quoted value keeps its spaces).

        Returns:
            (key, value) per term, the key lower-cased; key ``""`` for a free word.

        Raises:
            FilterError: An unclosed quote.
        """
        out: list[tuple[str, str]] = []
        for term in _split(self.text):
            key, sep, value = term.partition(":")
            if not sep:
                out.append(("", term))
            else:
                out.append((key.lower(), value))
        return out

    def problems(self, now: float | None = None) -> list[str]:
        """Every bad term, one message each.

        Args:
            now: The time relative ``since:`` / ``until:`` values count back from (default: now).

        Returns:
            One message per bad term, naming it; ``[]`` for a good filter.
        """
        try:
            terms = self.terms()
        except FilterError as exc:
            return [str(exc)]
        bad: list[str] = []
        for key, value in terms:
            if key == "":
                continue
            if key not in KEYS:
                bad.append(f"unknown filter key '{key}' ({', '.join(KEYS)})")
            elif not value:
                bad.append(f"'{key}:' needs a value")
            elif key == "status":
                for v in value.split(","):
                    if v and v.lower() not in STATUS_ALIASES and v.upper() not in _STATUSES:
                        bad.append(f"unknown status '{v}'")
            elif key == "is" and value.lower() not in IS_VALUES:
                bad.append(f"unknown 'is:{value}' ({', '.join(IS_VALUES)})")
            elif key in ("since", "until"):
                try:
                    parse_when(value, now or time.time())
                except FilterError as exc:
                    bad.append(f"{key}: {exc}")
        return bad

    def needs_presence(self) -> bool:
        """Whether the filter has ``is:stranded``, which needs the executors' heartbeats read first.

        Returns:
            True when :meth:`compile` should be given a :class:`Presence`; False for a filter that
                cannot be parsed.
        """
        try:
            return any(k == "is" and v.lower() == "stranded" for k, v in self.terms())
        except FilterError:
            return False

    def __and__(self, other: Filter) -> Filter:
        return Filter(f"{self.text} {other.text}".strip())

    def compile(
        self, db: DB, *, now: float | None = None, presence: Presence | None = None
    ) -> Compiled:
        """The filter as one WHERE clause (presence rows are always left out).

        Args:
            db: The connection the clause is for (its dialect's LIKE and JSON fields).
            now: The time relative ``since:`` / ``until:`` values count back from (default: now).
            presence: The executors' heartbeats, for ``is:stranded`` (default: none judged).

        Returns:
            The clause over ``workflow_status s``, its parameters and hints of which of DBOS's
                indexes serve it.

        Raises:
            FilterError: A bad term (the message names it).
        """
        problems = self.problems(now)
        if problems:
            raise FilterError("; ".join(problems))
        now = time.time() if now is None else now
        c = _Compiler(db, now, presence or Presence())
        clauses = ["s.name <> :presence_name"]
        c.params["presence_name"] = PRESENCE_WORKFLOW
        for key, value in self.terms():
            clauses.append(c.term(key, value))
        return Compiled(" AND ".join(f"({x})" for x in clauses), c.params, frozenset(c.hints))


class _Compiler:
    def __init__(self, db: DB, now: float, presence: Presence) -> None:
        self.db = db
        self.now = now
        self.presence = presence
        self.params: dict[str, Any] = {}
        self.hints: set[str] = set()

    def p(self, value: Any) -> str:
        name = f"f{len(self.params)}"
        self.params[name] = value
        return f":{name}"

    def contains(self, column: str, value: str) -> str:
        pattern = self.p(f"%{_escape_like(value)}%")
        return f"{column} {self.db.like} {pattern} ESCAPE '\\'"

    def partition(self, key: str) -> str:
        """A partition key is an identifier: the whole key, ignoring case."""
        return f"lower(s.queue_partition_key) = lower({self.p(key)})"

    def summary(self) -> str:
        return self.db.json_field("s.attributes", "summary")

    def term(self, key: str, value: str) -> str:
        if key == "":
            return " OR ".join(
                [
                    self.contains("s.name", value),
                    self.contains("s.workflow_uuid", value),
                    self.contains(self.summary(), value),
                ]
            )
        if key == "status":
            return self.status([v for v in value.split(",") if v])
        if key == "id":
            return f"s.workflow_uuid LIKE {self.p(_escape_like(value) + '%')} ESCAPE '\\'"
        if key == "queue" and "[" in value:  # queue:NAME[KEY]: that partition, as listed
            name, _, part = value.partition("[")
            return f"{self.contains('s.queue_name', name)} AND {self.partition(part.rstrip(']'))}"
        if key == "partition":
            return self.partition(value)
        column = {
            "name": "s.name",
            "queue": "s.queue_name",
            "executor": "s.executor_id",
            "version": "s.application_version",
        }.get(key)
        if column is not None:
            return self.contains(column, value)
        if key == "input":
            return self.contains(self.summary(), value)
        if key == "since":
            return f"s.created_at >= {self.p(int(parse_when(value, self.now) * 1000))}"
        if key == "until":
            return f"s.created_at < {self.p(int(parse_when(value, self.now) * 1000))}"
        return self.is_(value.lower())

    def status(self, values: list[str]) -> str:
        """``s.status IN (...)``, written so that the database can use DBOS's partial indexes:
        a set of failed statuses, or of queued and running ones, repeats the condition of the
        failed-runs or the in-flight index word for word (SQLite uses a partial index only
        when the query states its condition), and PENDING alone is a literal (the
        pending-runs index)."""
        wanted = {STATUS_ALIASES.get(v.lower(), v.upper()) for v in values}
        parts = []
        plain = sorted(wanted - {"TIMED_OUT"})
        if len(plain) == 1 and plain[0] in _STATUSES:
            # One status as a literal (it is one of DBOS's names): the database can then read
            # the (status, created_at) index in order instead of sorting the matches.
            parts.append(f"s.status = '{plain[0]}'")
        elif plain:
            parts.append(f"s.status IN {self.p(plain)}")
        if "TIMED_OUT" in wanted:
            parts.append(self.timed_out())
        clause = " OR ".join(parts)
        if "DELAYED" in wanted and len(wanted) > 1 and wanted <= frozenset(ACTIVE):
            return self.active(wanted)
        if wanted <= _IN_FLIGHT and wanted != {"PENDING"}:
            # DBOS 3.4 has no index on status alone: its index of queued and running runs
            # finds them (PENDING alone has an index of its own, in created_at order).
            self.hints.add("in_flight")
            return f"{_IN_FLIGHT_INDEX} AND ({clause})"
        if wanted <= _FAILED | {"TIMED_OUT"}:
            self.hints.add("failed")
            if len(wanted) == 1 and len(plain) == 1:
                # (status, created_at) with status fixed: the index's order is the list's.
                self.hints.add("failed_in_order")
            return f"{_FAILED_INDEX} AND ({clause})"
        return clause

    def active(self, statuses: set[str] | frozenset[str]) -> str:
        """Runs of these statuses, DELAYED among them. No DBOS index covers queued, running and
        delayed runs at once, so each part states one partial index's condition (runs in
        flight; delayed runs): SQLite reads the ids through both in a subquery, PostgreSQL ORs
        two bitmap scans. ``s.status IN (...)`` read every run (at 1M on PostgreSQL 240 ms, at
        100k on SQLite 57 ms; now under 1 ms)."""
        self.hints.add("in_flight")
        moving = sorted(set(statuses) & _IN_FLIGHT)
        if self.db.sqlite:
            parts = ["SELECT w.workflow_uuid FROM {workflow_status} w WHERE w.status = 'DELAYED'"]
            if moving:
                flight = _IN_FLIGHT_INDEX.replace("s.", "w.")
                parts.insert(
                    0,
                    "SELECT w.workflow_uuid FROM {workflow_status} w "
                    f"WHERE {flight} AND w.status IN {self.p(moving)}",
                )
            return f"s.workflow_uuid IN ({' UNION ALL '.join(parts)})"
        ors = ["s.status = 'DELAYED'"]
        if moving:
            ors.insert(0, f"({_IN_FLIGHT_INDEX} AND s.status IN {self.p(moving)})")
        return " OR ".join(ors)

    def approval_state(self, state: str) -> str:
        value = self.db.json_text_field("e.value", "state")
        return (
            f"EXISTS (SELECT 1 FROM {{workflow_events}} e WHERE e.workflow_uuid = s.workflow_uuid "
            f"AND e.key = {self.p(APPROVAL_EVENT)} AND e.serialization = 'portable_json' "
            f"AND (CASE WHEN e.serialization = 'portable_json' THEN {value} END) = "
            f"{self.p(state)})"
        )

    def timed_out(self) -> str:
        """As ``WorkflowRow.timed_out``: cancelled at its deadline, or failed on an approval's."""
        ended = "coalesce(s.completed_at, s.updated_at)"
        return (
            "(s.status = 'CANCELLED' AND s.workflow_deadline_epoch_ms IS NOT NULL "
            f"AND {ended} >= s.workflow_deadline_epoch_ms - 1000) "
            f"OR (s.status = 'ERROR' AND {self.approval_state('timed_out')})"
        )

    def recv_wait(self) -> str:
        """Blocked in ``recv`` per DBOS's own rows (see ``reads.recv_waits``)."""
        return (
            "EXISTS (SELECT 1 FROM {operation_outputs} o WHERE o.workflow_uuid = s.workflow_uuid "
            "AND o.function_name = 'DBOS.sleep' "
            "AND o.completed_at_epoch_ms - o.started_at_epoch_ms < 1000 "
            "AND o.function_id = (SELECT max(m.function_id) FROM {operation_outputs} m "
            "WHERE m.workflow_uuid = s.workflow_uuid) "
            "AND NOT EXISTS (SELECT 1 FROM {operation_outputs} q "
            "WHERE q.workflow_uuid = s.workflow_uuid AND q.function_id = o.function_id - 1))"
        )

    def is_(self, value: str) -> str:
        if value == "waiting":
            return (
                f"s.status = 'PENDING' AND ({self.approval_state('pending')} OR {self.recv_wait()})"
            )
        if value == "child":
            return "s.parent_workflow_id IS NOT NULL"
        if value == "top":
            return "s.parent_workflow_id IS NULL"
        if value == "fork":
            return "s.forked_from IS NOT NULL"
        if value == "active":
            return self.active(frozenset(ACTIVE))
        if value == "timed_out":
            return self.timed_out()
        # stranded: as rows.stranded(), from the presence rows read just before.
        stuck = "s.status = 'MAX_RECOVERY_ATTEMPTS_EXCEEDED'"
        pr = self.presence
        if not pr.any:
            return stuck
        active = f"s.status IN {self.p(list(ACTIVE))}"
        if not pr.alive:
            return f"{stuck} OR {active}"
        alive = self.p(sorted(pr.alive))
        gone = (
            "s.status = 'PENDING' AND coalesce(s.executor_id, '') <> '' "
            f"AND s.executor_id NOT IN {alive}"
        )
        reasons = [gone]
        if pr.versions:
            versions = self.p(sorted(pr.versions))
            reasons.append(
                "coalesce(s.application_version, '') <> '' "
                f"AND s.application_version NOT IN {versions}"
            )
        return f"{stuck} OR ({active} AND (({') OR ('.join(reasons)})))"
