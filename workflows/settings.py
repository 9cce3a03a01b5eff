"""Settings and secrets without DBOS: the database URL, redaction, presence timing.

The standard library only (``yaml`` when a config file exists), so ``agentdeck ls`` (tui/fastls.py)
can use the same code as the runtime without paying for importing DBOS.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

__all__ = [
    "CONFIG_FILE",
    "DEFAULT_DB_URL",
    "SECRET_ENV",
    "config_file",
    "env_seconds",
    "env_secrets",
    "heartbeat_interval",
    "presence_ttl",
    "redact",
    "redact_with",
    "resolve_db_url",
]

DEFAULT_DB_URL = "sqlite:///agentdeck.sqlite"
CONFIG_FILE = "dbos-config.yaml"
#: Environment variables holding credentials: their values never reach a screen or a log.
SECRET_ENV = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN")

log = logging.getLogger("agentdeck.runtime")


def config_file(start: Path | None = None) -> dict[str, Any]:
    """``dbos-config.yaml`` in ``start`` (the working directory), or {} if absent or unreadable."""
    path = (start or Path.cwd()) / CONFIG_FILE
    if not path.is_file():
        return {}
    import yaml  # only when there is a config file

    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        log.warning("ignoring unreadable %s: %s", path, exc)
        return {}
    return data if isinstance(data, dict) else {}


def resolve_db_url(explicit: str | None = None) -> str:
    """``--db`` wins, then ``DBOS_SYSTEM_DATABASE_URL``, then dbos-config.yaml, then SQLite."""
    if explicit:
        return _normalize_db_url(explicit)
    env = os.environ.get("DBOS_SYSTEM_DATABASE_URL")
    if env:
        return _normalize_db_url(env)
    url = config_file().get("system_database_url")
    if isinstance(url, str) and url and "${" not in url:
        return _normalize_db_url(url)
    return DEFAULT_DB_URL


def _normalize_db_url(url: str) -> str:
    url = url.strip()
    # A bare path is a SQLite file.
    return url if "://" in url else f"sqlite:///{url}"


_URL_PASSWORD = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]+):(?P<pw>[^@\s]+)@")
_KEY_LIKE = re.compile(r"sk-ant-[A-Za-z0-9_\-]{8,}")


def env_secrets() -> tuple[str, ...]:
    values = (os.environ.get(name) for name in SECRET_ENV)
    return tuple(v for v in values if v and len(v) >= 6)


def redact(text: str) -> str:
    """Hide database passwords, API keys and tokens in a string meant for a screen or a log."""
    return redact_with(text, env_secrets())


def redact_with(text: str, secrets: tuple[str, ...]) -> str:
    """``redact`` with the secrets read once (a listing redacts every row)."""
    if "://" in text:  # only then can the URL pattern match
        text = _URL_PASSWORD.sub(r"\g<scheme>:***@", text)
    if "sk-ant-" in text:
        text = _KEY_LIKE.sub("sk-ant-***", text)
    for value in secrets:
        text = text.replace(value, "***")
    return text


def env_seconds(name: str, default: float) -> float:
    """A number of seconds from the environment, for the light paths that cannot load the
    settings model (``agentdeck ls``, the data core): the model (``workflows.config``) has the
    same names and defaults and refuses a bad value at start; here a bad value is the default.
    """
    try:
        value = float(os.environ.get(name, default))
    except ValueError:
        return default
    return value if value > 0 else default


def heartbeat_interval() -> float:
    return env_seconds("AGENTDECK_HEARTBEAT_S", 10.0)


def presence_ttl() -> float:
    """How old a heartbeat may be before its executor counts as gone (3 missed beats)."""
    return env_seconds("AGENTDECK_PRESENCE_TTL_S", 3 * heartbeat_interval())
