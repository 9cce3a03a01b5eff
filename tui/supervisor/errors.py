"""The data layer's errors: one line fit for a screen (secrets removed), and its timeouts."""

from __future__ import annotations

from workflows.config import settings
from workflows.settings import redact

__all__ = ["ReadOnlyError", "SupervisorError"]


class SupervisorError(Exception):
    """A data-layer failure with a message fit for a screen (secrets removed)."""


class ReadOnlyError(SupervisorError):
    pass


def _one_line(exc: BaseException) -> str:
    """A database error as one line: no SQLAlchemy background link or statement, no secrets."""
    lines = [
        ln.strip()
        for ln in str(exc).splitlines()
        if ln.strip() and not ln.startswith(("(Background on this error", "[SQL:", "[parameters:"))
    ]
    text = " ".join(lines) or type(exc).__name__
    for prefix in ("(psycopg.OperationalError) ", "(sqlite3.OperationalError) "):
        text = text.replace(prefix, "")
    return redact(text[:400])


def _write_timeout() -> float:
    return settings().write_timeout_s


def _read_timeout() -> float:
    return settings().read_timeout_s
