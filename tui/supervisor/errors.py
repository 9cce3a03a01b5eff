"""The data layer's errors: one line fit for a screen (secrets removed), and its timeouts."""

from __future__ import annotations

import os

from workflows.settings import redact

__all__ = ["ReadOnlyError", "SupervisorError"]


class SupervisorError(Exception):
    """A data-layer failure with a message fit for a screen (secrets removed)."""


class ReadOnlyError(SupervisorError):
    pass


def _one_line(exc: BaseException) -> str:
    """A database error as one line: no SQLAlchemy background link or statement, no secrets."""
    lines = [
        ln.strip() for ln in str(exc).splitlines()
        if ln.strip() and not ln.startswith(("(Background on this error", "[SQL:", "[parameters:"))
    ]  # fmt: skip
    text = " ".join(lines) or type(exc).__name__
    for prefix in ("(psycopg.OperationalError) ", "(sqlite3.OperationalError) "):
        text = text.replace(prefix, "")
    return redact(text[:400])


def _env_seconds(name: str, default: float) -> float:
    try:
        return max(0.1, float(os.environ.get(name, default)))
    except ValueError:
        return default


def _write_timeout() -> float:
    return _env_seconds("AGENTDECK_WRITE_TIMEOUT_S", 10.0)


def _read_timeout() -> float:
    return _env_seconds("AGENTDECK_READ_TIMEOUT_S", 15.0)
