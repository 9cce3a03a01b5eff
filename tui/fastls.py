"""``agentdeck ls`` without DBOS: the workflow list read straight from DBOS's system tables.

``agentdeck ls`` is a one-shot process, so what it imports is most of what it costs: DBOS with
SQLAlchemy takes about 0.4 s to import, the listing itself a tenth of that. This module gives
the same rows as the data layer (``Supervisor.list_workflows`` dumped as JSON, key for key)
with the standard library's ``sqlite3``, or ``psycopg`` (DBOS's own PostgreSQL driver) without
SQLAlchemy. It lives outside ``tui.supervisor`` because importing that package loads DBOS.
``tests/test_fast_ls.py`` holds the two listings equal on real databases.

What it reads, all in one read transaction (one snapshot): the newest workflows (as DBOS's
``list_workflows(sort_desc=True, load_input=False, load_output=False)``), the executors'
presence rows, the progress and approval events of the listed runs, the errors of failed ones,
and which pending ones wait in ``recv``; the same statements as ``tui/supervisor/_sql.py``.

Values are decoded as DBOS does (``portable_json`` is JSON; anything else base64 + pickle). An
error pickled as a builtin exception, or as one of agentdeck's exception classes that only
carry their message (:data:`MESSAGE_ONLY_ERRORS`), is decoded without importing its module;
any other class (DBOS's own errors, say) is unpickled for real, which imports its module: only
listings holding such errors pay for that. Events in the shape agentdeck writes them are
copied as the pydantic models would dump them; any other shape is handed to the models
themselves (``workflows.models``, imported then), so odd values come out as the data layer
shows them.
"""

from __future__ import annotations

import base64
import io
import json
import math
import os
import pickle
import re
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workflows.settings import (
    env_secrets,
    presence_ttl,
    redact,
    redact_with,
    resolve_db_url,
)

__all__ = [
    "INPUT_CAP",
    "MESSAGE_ONLY_ERRORS",
    "LsError",
    "Undecodable",
    "input_summary",
    "list_rows",
    "redact",
    "resolve_db_url",
    "summarize",
]

#: As in ``workflows.models`` / ``workflows.presence`` (tests/test_fast_ls.py checks they match).
PROGRESS_EVENT = "agentdeck.progress"
APPROVAL_EVENT = "agentdeck.approval"
PRESENCE_WORKFLOW = "agentdeck.worker"
#: DBOS's system schema on PostgreSQL (the data layer's ``SQL`` uses the same).
PG_SCHEMA = "dbos"
#: Ids per IN list on SQLite (PostgreSQL takes them as one array).
BATCH = 1000
ACTIVE = frozenset({"PENDING", "ENQUEUED", "DELAYED"})

#: agentdeck's exception classes that keep only their message (no ``__init__``, ``__str__`` or
#: ``__reduce__`` of their own): decoded by name, without importing their modules.
MESSAGE_ONLY_ERRORS = frozenset(
    {
        "workflows.approvals.ApprovalTimeout",
        "workflows.claude.ClaudeError",
        "workflows.claude.ClaudeFatalError",
        "workflows.claude.ClaudeTransientError",
        "workflows.compare.CompareFailed",
        "workflows.config.ConfigError",
        "workflows.research.InvalidPlanError",
        "workflows.research.ResearchFailed",
    }
)


class LsError(Exception):
    """A failure fit for one terminal line (secrets removed)."""


# --------------------------------------------------------------------------------------------
# Configuration and secrets: workflows.settings, which imports nothing heavy


def _env_seconds(name: str, default: float) -> float:
    try:
        return max(0.1, float(os.environ.get(name, default)))
    except ValueError:
        return default


def _read_timeout() -> float:
    return _env_seconds("AGENTDECK_READ_TIMEOUT_S", 15.0)


def _one_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return redact(" ".join(lines)[:400] or type(exc).__name__)


# --------------------------------------------------------------------------------------------
# Decoding DBOS's serialized values

_MISSING_CLASS = re.compile(r"Can't get attribute '([\w.]+)' on <module '([\w.]+)'")
_MISSING_MODULE = re.compile(r"No module named '([\w.]+)'")


@dataclass(frozen=True)
class Undecodable:
    """A stored value this process cannot decode (e.g. a pickled class it cannot import); the
    data layer's too (``tui.supervisor._sql`` re-exports it)."""

    serialization: str
    reason: str

    @property
    def type_name(self) -> str:
        """The class (or module) the value needs, when the error names it."""
        if m := _MISSING_CLASS.search(self.reason):
            return f"{m.group(2)}.{m.group(1)}"
        if m := _MISSING_MODULE.search(self.reason):
            return f"{m.group(1)}.*"
        return ""

    def __str__(self) -> str:
        what = self.type_name
        if what:
            return f"<{what}: pickled class not importable here>"
        return f"<undecodable {self.serialization} value: {self.reason}>"


class _NeedsImport(Exception):
    """The pickle names a class whose module is not loaded: unpickle it for real."""


_STAND_INS: dict[str, type[Exception]] = {}


def _stand_in(module: str, name: str) -> type[Exception]:
    """An exception class named like the real one; str() is the same for message-only ones."""
    key = f"{module}.{name}"
    cls = _STAND_INS.get(key)
    if cls is None:
        cls = type(name, (Exception,), {"__module__": module})
        _STAND_INS[key] = cls
    return cls


class _LightUnpickler(pickle.Unpickler):
    """Resolves classes from loaded modules and the message-only errors; nothing is imported."""

    def find_class(self, module: str, name: str) -> Any:
        if module in sys.modules:
            return super().find_class(module, name)
        if f"{module}.{name}" in MESSAGE_ONLY_ERRORS:
            return _stand_in(module, name)
        raise _NeedsImport(f"{module}.{name}")


def _unpickle(value: str) -> Any:
    data = base64.b64decode(value)
    try:
        return _LightUnpickler(io.BytesIO(data)).load()
    except Exception:
        # Another class, or a value the light pass cannot read: exactly what DBOS does.
        return pickle.loads(data)


def _decode(value: str | None, serialization: str | None) -> Any:
    if value is None:
        return None
    try:
        if serialization == "portable_json":
            return json.loads(value)
        return _unpickle(value)
    except Exception as exc:  # foreign classes, corrupt rows: show, don't crash
        return Undecodable(serialization or "py_pickle", f"{type(exc).__name__}: {exc}"[:200])


def summarize(value: Any, limit: int = 160, secrets: tuple[str, ...] | None = None) -> str:
    """A value in one line of at most ``limit`` characters, secrets hidden; the data layer's
    too (a run's input and result in its detail, a list row's input).

    A workflow's input reads as its arguments (``'bob', 'only bob'``), agentdeck's requests in
    their own words; a value that could not be decoded names what it needs. Nothing is
    imported: agentdeck's request classes are known by name.
    """
    return _summary_of(value, limit, env_secrets() if secrets is None else secrets, raw=True)


def _summary_of(value: Any, limit: int, secrets: tuple[str, ...], *, raw: bool) -> str:
    if value is None:
        return ""
    if isinstance(value, Undecodable):
        return str(value)
    cls = type(value)
    if cls.__module__ == "workflows.models" and cls.__name__ == "ResearchRequest":
        text = f"{value.topic} · {value.questions}q · {value.model}"
    elif cls.__module__ == "workflows.models" and cls.__name__ == "CompareRequest":
        text = f"{value.question} · {len(value.specs)} branches"
    elif isinstance(value, dict) and ("args" in value or "positionalArgs" in value):
        args = value.get("args") or value.get("positionalArgs") or ()
        kwargs = value.get("kwargs", value.get("namedArgs")) or {}
        # Decoded arguments: a long string among them is data, never a raw serialized value.
        parts = [_summary_of(a, limit, secrets, raw=False) for a in args]
        parts += [f"{k}={_summary_of(v, limit, secrets, raw=False)}" for k, v in kwargs.items()]
        text = ", ".join(p for p in parts if p)
    elif raw and isinstance(value, str) and len(value) > 40 and " " not in value[:40]:
        # DBOS hands back undecodable values (step outputs) as the raw serialized string.
        text = f"<undecodable value ({len(value)} bytes)>"
    else:
        text = repr(value)
    return redact_with(text if len(text) <= limit else text[: limit - 1] + "…", secrets)


#: Stored inputs (serialized text) longer than this are not read for a list row's summary.
INPUT_CAP = 4096


def input_summary(size: int | None, inputs: Any, secrets: tuple[str, ...]) -> str:
    """A list row's decoded input as :func:`summarize` puts it; past :data:`INPUT_CAP` only its
    size (the statement leaves such inputs unread)."""
    if size is not None and size > INPUT_CAP:
        return f"<large input: {size / 1024:.0f} kB>"
    return summarize(inputs, secrets=secrets)


def _error_text(err: Any, secrets: tuple[str, ...]) -> str:
    if err is None:
        return ""
    if isinstance(err, BaseException):
        text = str(err) or type(err).__name__
        return redact_with(f"{type(err).__name__}: {text}", secrets)
    return redact_with(str(err), secrets)


# --------------------------------------------------------------------------------------------
# Events as the pydantic models dump them (workflows.models.Progress / ApprovalRequest)


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


_PROGRESS_KEYS = frozenset({"phase", "done", "total", "detail", "cost_usd"})
_DECISIONS = ("approve", "reject", "edit")
_STATES = frozenset({"pending", "answered", "timed_out"})
_APPROVAL_KEYS = frozenset(
    {
        "request_id", "topic", "prompt", "options", "proposal", "answer_schema",
        "created_at", "deadline", "state", "answer", "resolved_at",
    }
)  # fmt: skip
_ANSWER_KEYS = frozenset({"decision", "questions", "comment", "by"})


def _progress(v: dict[str, Any]) -> dict[str, Any]:
    if not v.keys() <= _PROGRESS_KEYS or "phase" not in v:
        raise _Odd
    return {
        "phase": _str(v["phase"]),
        "done": _int(v.get("done", 0)),
        "total": _int(v.get("total", 0)),
        "detail": _str(v.get("detail", "")),
        "cost_usd": _float(v.get("cost_usd", 0.0)),
    }


def _answer(v: Any) -> dict[str, Any] | None:
    if v is None:
        return None
    if type(v) is not dict or not v.keys() <= _ANSWER_KEYS or v.get("decision") not in _DECISIONS:
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
    return {"decision": v["decision"], "questions": questions, "comment": comment, "by": by}


def _approval(v: dict[str, Any]) -> dict[str, Any]:
    # created_at has a clock default: a value without it goes to the model too.
    required = ("request_id", "topic", "prompt", "deadline", "created_at")
    if not v.keys() <= _APPROVAL_KEYS or any(k not in v for k in required):
        raise _Odd
    options = v.get("options", list(_DECISIONS))
    if type(options) is not list or any(o not in _DECISIONS for o in options):
        raise _Odd
    proposal, schema = v.get("proposal", {}), v.get("answer_schema", {})
    if type(proposal) is not dict or type(schema) is not dict:
        raise _Odd
    state = v.get("state", "pending")
    if state not in _STATES:
        raise _Odd
    return {
        "request_id": _str(v["request_id"]),
        "topic": _str(v["topic"]),
        "prompt": _str(v["prompt"]),
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


# --------------------------------------------------------------------------------------------
# The database


class _DB:
    """One read transaction on SQLite (sqlite3) or PostgreSQL (psycopg)."""

    def __init__(self, conn: Any, *, sqlite: bool) -> None:
        self.conn = conn
        self.sqlite = sqlite
        self.ph = "?" if sqlite else "%s"
        self.prefix = "" if sqlite else f'"{PG_SCHEMA}".'

    def t(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cur = self.conn.execute(sql, tuple(params))
        return list(cur.fetchall())

    def batches(self, ids: Sequence[str]) -> list[Sequence[str]]:
        if not self.sqlite:
            return [ids] if ids else []
        return [ids[i : i + BATCH] for i in range(0, len(ids), BATCH)]

    def any_of(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        """``column IN (...)``: bound one by one on SQLite; on PostgreSQL one JSON array of
        strings (psycopg's array adapter takes 25 ms for 10k ids, json.dumps 1 ms)."""
        if self.sqlite:
            return f"{column} IN ({', '.join('?' * len(values))})", list(values)
        array = "ARRAY(SELECT jsonb_array_elements_text(%s::jsonb))"
        return f"{column} = ANY({array})", [json.dumps(list(values))]


def not_dbos(error: str) -> bool:
    """Whether a database error says DBOS's tables are not there (not, or not yet, a DBOS
    system database), on SQLite or PostgreSQL."""
    low = error.lower()
    return "no such table" in low or ("relation" in low and "does not exist" in low)


def sqlite_path(url: str) -> str:
    """The file of a ``sqlite:///`` URL ("" if it is not one; ``:memory:`` as is)."""
    m = re.match(r"sqlite(\+\w+)?:///(.*)$", url)
    if not m:
        return ""
    return m.group(2).split("?", 1)[0]


@contextmanager
def _open(db_url: str) -> Iterator[_DB]:
    shown = redact(db_url)
    if db_url.startswith("sqlite"):
        import sqlite3

        path = sqlite_path(db_url)
        if not path or path == ":memory:":
            raise LsError(f"not a DBOS system database: {shown}")
        if not Path(path).exists():
            raise LsError(f"no database at {path} (start `agentdeck` once, or pass --db)")
        try:
            # Autocommit mode, so that BEGIN below is the one transaction (a snapshot).
            conn = sqlite3.connect(path, timeout=_read_timeout(), isolation_level=None)
        except sqlite3.Error as exc:
            raise LsError(f"cannot open {shown}: {_one_line(exc)}") from None
        try:
            with _errors(shown, sqlite3.Error):
                conn.execute("BEGIN")
                yield _DB(conn, sqlite=True)
        finally:
            conn.close()
        return
    if not re.match(r"postgres(ql)?(\+\w+)?://", db_url):
        raise LsError(f"unsupported database URL {shown} (a SQLite path or postgresql://...)")
    import psycopg

    conninfo = re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql://", db_url)
    extra: dict[str, Any] = {"application_name": "agentdeck ls"}
    if "connect_timeout=" not in conninfo:
        extra["connect_timeout"] = 10
    try:
        pg = psycopg.connect(conninfo, **extra)
    except psycopg.Error as exc:
        raise LsError(f"cannot open {shown}: {_one_line(exc)}") from None
    # jsonb as text, as SQLite hands it over: most runs' attributes need no parsing (_summary).
    pg.adapters.register_loader("jsonb", psycopg.types.string.TextLoader)
    try:
        with _errors(shown, psycopg.Error):
            pg.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            pg.read_only = True
            pg.execute(f"SET LOCAL statement_timeout = {int(_read_timeout() * 1000)}")
            yield _DB(pg, sqlite=False)
            pg.rollback()
    finally:
        pg.close()


@contextmanager
def _errors(shown: str, kind: type[BaseException]) -> Iterator[None]:
    """Database errors as one line: a locked or slow database, a database that is not DBOS's."""
    try:
        yield
    except kind as exc:
        text = _one_line(exc)
        low = text.lower()
        if "database is locked" in low or "statement timeout" in low:
            raise LsError(
                f"list workflows: the database did not answer within {_read_timeout():g} s "
                "(locked by another process?)"
            ) from None
        if not_dbos(low):
            raise LsError(f"not a DBOS system database: {shown} ({text})") from None
        if "file is not a database" in low:
            raise LsError(f"cannot open {shown}: {text}") from None
        raise LsError(f"list workflows failed: {text}") from None


# --------------------------------------------------------------------------------------------
# The listing

_LIST_COLUMNS = (
    "workflow_uuid, status, name, recovery_attempts, queue_name, executor_id, created_at, "
    "updated_at, application_version, forked_from, parent_workflow_id, completed_at, "
    "attributes, workflow_timeout_ms, workflow_deadline_epoch_ms, delay_until_epoch_ms, "
    "queue_partition_key"
)


def _json_attrs(attrs: Any) -> dict[str, Any]:
    if isinstance(attrs, str):  # JSON text (SQLite's column; jsonb is read as text too)
        try:
            attrs = json.loads(attrs)
        except ValueError:
            attrs = None
    return attrs if isinstance(attrs, dict) else {}


def _summary(attrs: Any, secrets: tuple[str, ...]) -> str:
    # Most runs have no summary: their JSON text is not parsed at all.
    if attrs is None or (isinstance(attrs, str) and '"summary"' not in attrs):
        return ""
    return redact_with(str(_json_attrs(attrs).get("summary", "")), secrets)


def _sec(ms: int | None) -> float | None:
    return ms / 1000.0 if ms else None


def _inputs(db: _DB, ids: Sequence[str]) -> dict[str, tuple[int | None, Any]]:
    """(stored size, decoded input) of the given workflows; inputs past INPUT_CAP unread (as
    ``SQL.input_summaries``)."""
    out: dict[str, tuple[int | None, Any]] = {}
    s, i = db.t("workflow_status"), db.t("workflow_input")
    size, stored = ("length" if db.sqlite else "octet_length"), "coalesce(i.inputs, s.inputs)"
    for batch in db.batches(ids):
        w, params = db.any_of("s.workflow_uuid", batch)
        for wid, n, inputs, ser in db.rows(
            f"SELECT s.workflow_uuid, {size}({stored}), CASE WHEN {size}({stored}) <= {db.ph} "
            f"THEN {stored} END, s.serialization FROM {s} s "
            f"LEFT JOIN {i} i ON i.workflow_uuid = s.workflow_uuid WHERE {w}",
            [INPUT_CAP, *params],
        ):
            out[wid] = (n, _decode(inputs, ser))
    return out


def _events(db: _DB, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for batch in db.batches(ids):
        w, p1 = db.any_of("workflow_uuid", batch)
        k, p2 = db.any_of("key", [PROGRESS_EVENT, APPROVAL_EVENT])
        for wid, key, value, ser in db.rows(
            "SELECT workflow_uuid, key, value, serialization "
            f"FROM {db.t('workflow_events')} WHERE {w} AND {k}",
            p1 + p2,
        ):
            out.setdefault(wid, {})[key] = _decode(value, ser)
    return out


def _errors_of(db: _DB, ids: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    s, o = db.t("workflow_status"), db.t("workflow_output")
    for batch in db.batches(ids):
        w, params = db.any_of("s.workflow_uuid", batch)
        for wid, err, ser in db.rows(
            f"SELECT s.workflow_uuid, coalesce(o.error, s.error), s.serialization FROM {s} s "
            f"LEFT JOIN {o} o ON o.workflow_uuid = s.workflow_uuid WHERE {w}",
            params,
        ):
            if err is None:
                continue
            value = _decode(err, ser)
            if isinstance(value, dict) and "message" in value:
                value = f"{value.get('name', 'Error')}: {value['message']}"
            out[wid] = value
    return out


def _recv_waits(db: _DB, ids: Sequence[str]) -> dict[str, float | None]:
    """Deadline of each PENDING run blocked in ``recv`` (see ``SQL._waiting_in_recv_batch``)."""
    out: dict[str, float | None] = {}
    o, s = db.t("operation_outputs"), db.t("workflow_status")
    for batch in db.batches(ids):
        w, params = db.any_of("o.workflow_uuid", batch)
        for wid, _fid, output, ser in db.rows(
            f"SELECT o.workflow_uuid, o.function_id, o.output, o.serialization FROM {o} o "
            f"JOIN {s} s ON s.workflow_uuid = o.workflow_uuid AND s.status = 'PENDING' "
            f"WHERE {w} AND o.function_name = 'DBOS.sleep' "
            "AND o.completed_at_epoch_ms - o.started_at_epoch_ms < 1000 "
            f"AND o.function_id = (SELECT max(m.function_id) FROM {o} m "
            "WHERE m.workflow_uuid = o.workflow_uuid) "
            f"AND NOT EXISTS (SELECT 1 FROM {o} p WHERE p.workflow_uuid = o.workflow_uuid "
            "AND p.function_id = o.function_id - 1)",
            params,
        ):
            deadline: float | None
            try:
                value = _decode(output, ser)
                deadline = float(value) if not isinstance(value, Undecodable) else None
            except (TypeError, ValueError):
                deadline = None
            out[wid] = deadline
    return out


def _presence(db: _DB) -> dict[str, tuple[float, str, bool]]:
    """Executors that announced themselves: id → (last heartbeat, app version, alive)."""
    now, ttl = time.time(), presence_ttl()
    out: dict[str, tuple[float, str, bool]] = {}
    for executor_id, attrs in db.rows(
        f"SELECT executor_id, attributes FROM {db.t('workflow_status')} "
        f"WHERE status = 'PENDING' AND name = {db.ph}",
        [PRESENCE_WORKFLOW],
    ):
        a = _json_attrs(attrs)
        beat = float(a.get("heartbeat") or 0)
        executor = str(a.get("executor") or executor_id or "")
        out[executor] = (beat, str(a.get("app_version") or ""), now - beat <= ttl)
    return out


def _stranded(row: dict[str, Any], presence: dict[str, tuple[float, str, bool]]) -> str:
    """As ``Supervisor._flag_stranded``: why no executor will carry this run on by itself."""
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


def list_rows(db_url: str, *, limit: int = 50) -> list[dict[str, Any]]:
    """The newest workflows as ``Supervisor.list_workflows(limit=...)`` rows dumped as JSON.

    ``limit`` 0 lists every workflow (as DBOS does). Raises :class:`LsError` with one line.
    """
    with _open(db_url) as db:
        sql = f"SELECT {_LIST_COLUMNS} FROM {db.t('workflow_status')} ORDER BY created_at DESC"
        statuses = db.rows(sql + f" LIMIT {db.ph}", [limit]) if limit else db.rows(sql)
        presence = _presence(db)
        listed = [s for s in statuses if s[2] != PRESENCE_WORKFLOW]
        events = _events(db, [s[0] for s in listed])
        errors = _errors_of(db, [s[0] for s in listed if s[1] == "ERROR"])
        waits = _recv_waits(db, [s[0] for s in listed if s[1] == "PENDING"])
        secrets = env_secrets()
        summaries = {s[0]: _summary(s[12], secrets) for s in listed}
        # Rows without a summary of their own (other apps' runs): their input, in one statement.
        inputs = _inputs(db, [wid for wid, text in summaries.items() if not text])
    out = []
    for (wid, status, name, attempts, queue, executor, created, updated, version, forked, parent,
         completed, _attrs, timeout_ms, deadline_ms, delay_ms, partition) in listed:  # fmt: skip
        ev = events.get(wid, {})
        progress = _event(ev.get(PROGRESS_EVENT), _progress, "Progress")
        approval = _event(ev.get(APPROVAL_EVENT), _approval, "ApprovalRequest")
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
            "summary": summaries[wid] or input_summary(*inputs.get(wid, (None, None)), secrets),
            "error": _error_text(errors.get(wid), secrets),
            "recovery_attempts": int(attempts or 0),
            "progress": progress,
            "approval": approval,
            "cost_usd": progress["cost_usd"] if progress and progress["cost_usd"] else None,
            "waiting_recv": wid in waits,
            "recv_deadline": waits.get(wid),
            "stranded": "",
            "timeout_s": _sec(timeout_ms),
            "deadline": _sec(deadline_ms),
            "delay_until": _sec(delay_ms),
        }
        row["stranded"] = _stranded(row, presence)
        out.append(row)
    return out
