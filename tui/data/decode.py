"""DBOS's serialized values, decoded without DBOS (``portable_json`` is JSON; anything else is
base64 + pickle, as DBOS's ``DefaultSerializer`` writes it).

An error pickled as a builtin exception, or as one of agentdeck's exception classes that only
carry their message (:data:`MESSAGE_ONLY_ERRORS`), is decoded without importing its module; any
other class is unpickled for real, which imports its module. A value that cannot be decoded
here becomes an :class:`Undecodable` placeholder, never an exception.
"""

from __future__ import annotations

import base64
import io
import json
import pickle
import re
import sys
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MESSAGE_ONLY_ERRORS", "Undecodable", "decode", "error_text"]

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

_MISSING_CLASS = re.compile(r"Can't get attribute '([\w.]+)' on <module '([\w.]+)'")
_MISSING_MODULE = re.compile(r"No module named '([\w.]+)'")


@dataclass(frozen=True)
class Undecodable:
    """A stored value this process cannot decode (e.g. a pickled class it cannot import)."""

    serialization: str
    reason: str
    #: The stored text, for the app codec (``tui.supervisor.codec``), which can decode it.
    raw: str = field(default="", repr=False, compare=False)

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


def _unpickle(value: str, *, light: bool) -> Any:
    data = base64.b64decode(value)
    if light:
        try:
            return _LightUnpickler(io.BytesIO(data)).load()
        except Exception:
            pass  # another class, or a value the light pass cannot read: as DBOS does
    return pickle.loads(data)


def decode(value: str | None, serialization: str | None, *, light: bool = False) -> Any:
    """A stored value, decoded; :class:`Undecodable` when it cannot be.

    Args:
        value: The column's text (``None`` stays ``None``).
        serialization: The row's ``serialization`` column.
        light: Resolve message-only agentdeck errors by name instead of importing their
            modules (``agentdeck ls``); the values come out the same.

    Returns:
        The decoded value (JSON for ``portable_json``, else what was pickled), ``None`` for no
            value, or an :class:`Undecodable` naming why it could not be decoded.
    """
    if value is None:
        return None
    try:
        if serialization == "portable_json":
            return json.loads(value)
        return _unpickle(value, light=light)
    except Exception as exc:  # foreign classes, corrupt rows: show, don't crash
        reason = f"{type(exc).__name__}: {exc}"[:200]
        return Undecodable(serialization or "py_pickle", reason, raw=value)


def error_text(err: Any, redact: Any) -> str:
    """A decoded error as one line for a row: ``Type: message``, secrets removed.

    Args:
        err: A decoded error (an exception, a portable ``{"name", "message"}`` dict, text).
        redact: The redaction function (``workflows.settings.redact`` or a bound one).

    Returns:
        The line, redacted; ``""`` for no error.
    """
    if err is None:
        return ""
    if isinstance(err, dict) and "message" in err:
        err = f"{err.get('name', 'Error')}: {err['message']}"
    if isinstance(err, BaseException):
        text = str(err) or type(err).__name__
        return str(redact(f"{type(err).__name__}: {text}"))
    return str(redact(str(err)))
