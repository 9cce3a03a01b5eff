"""``agentdeck.yaml`` and the settings: one typed model of every setting, and the sections.

Each section is validated by the module that owns it (``workflows.schedules`` for
``schedules:``, ``workflows.tools`` for ``tool_policy:``); this module only finds and reads the
file. ``AGENTDECK_CONFIG`` names another file; a missing file means defaults everywhere.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import yaml
from pydantic import (
    AfterValidator,
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from .settings import CONFIG_FILE, DEFAULT_DB_URL, config_file, redact

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_CONFIG",
    "AgentDeckSettings",
    "ConfigError",
    "config_path",
    "describe",
    "rate_of",
    "section",
    "settings",
    "source_of",
]

CONFIG_ENV = "AGENTDECK_CONFIG"
DEFAULT_CONFIG = "agentdeck.yaml"

log = logging.getLogger("agentdeck.config")


class ConfigError(ValueError):
    """The config file exists but cannot be read or a section is invalid (one-line message)."""


def config_path() -> Path:
    return Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)


def _load(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read it: {str(exc).splitlines()[0]}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


def section(name: str, path: Path | None = None) -> Any:
    """The raw value of one top-level section (None when the file or the section is absent)."""
    return _load(path or config_path()).get(name)


# --------------------------------------------------------------------------------------------
# The settings: one typed model, every source named


_OFF = {"", "0", "off", "none", "no"}


def rate_of(raw: str) -> tuple[int, float] | None:
    """``"50/60"`` → (50, 60.0): 50 starts per 60 s; ``"off"``, ``"0"`` or empty → no limit.

    Raises:
        ValueError: anything else, in one line.
    """
    text = raw.strip().lower()
    if text in _OFF:
        return None
    m = re.fullmatch(r"(\d+)\s*/\s*(\d+(?:\.\d+)?)\s*s?", text)
    if not m:
        raise ValueError(f"expected LIMIT/SECONDS such as 50/60 or 'off', not {raw!r}")
    limit, period = int(m.group(1)), float(m.group(2))
    if limit == 0:
        return None
    if period <= 0:
        raise ValueError(f"the period of {raw!r} must be more than 0 seconds")
    return limit, period


def _positive(value: float) -> float:
    if value <= 0:
        raise ValueError("must be more than 0")
    return value


Seconds = Annotated[float, AfterValidator(_positive)]


class AgentDeckSettings(BaseSettings):
    """Every setting of agentdeck, from (first wins) the environment (``AGENTDECK_<NAME>``),
    ``agentdeck.yaml`` (a top-level key named like the field), ``dbos-config.yaml`` (the system
    database URL only), then the defaults. ``agentdeck config`` prints them with their source.
    """

    model_config = SettingsConfigDict(
        env_prefix="AGENTDECK_", extra="ignore", frozen=True, populate_by_name=True
    )

    db_url: str = Field(
        DEFAULT_DB_URL,
        validation_alias=AliasChoices("DBOS_SYSTEM_DATABASE_URL", "db_url"),
        description="The DBOS system database: a SQLite path or URL, or postgresql://… "
        "(--db wins; the environment variable is DBOS_SYSTEM_DATABASE_URL).",
    )
    state_dir: Path = Field(
        Path(".agentdeck"), description="Logs (agentdeck.log) and the offline CLI's home."
    )
    app_version: str | None = Field(
        None,
        description="The pinned DBOS application version (default agentdeck-<package version>); "
        "recovery resumes only runs of the same version.",
    )
    research_concurrency: int = Field(
        2, ge=1, description="Research questions running at once per worker."
    )
    launch_concurrency: int | None = Field(
        None, ge=1, description="Runs one process takes from the launch queue at once (none)."
    )
    launch_rate: str = Field(
        "50/60",
        description="Launch-queue rate limit: starts per seconds across all workers ('off').",
    )
    step_max_attempts: int = Field(4, ge=1, description="Claude step attempts (DBOS retries).")
    step_retry_interval: Seconds = Field(1.0, description="Seconds before the first retry.")
    step_backoff: float = Field(2.0, ge=1.0, description="Retry interval multiplier.")
    claude_cli_reuse: bool = Field(
        True,
        description="Keep each Claude Code CLI for the next step with the same options "
        "(its conversation cleared) instead of starting one per step (bench/density.py).",
    )
    claude_cli_idle: int = Field(
        4, ge=0, description="Idle Claude Code CLIs one process keeps with claude_cli_reuse."
    )
    claude_cli_idle_s: Seconds = Field(
        60.0, description="A Claude Code CLI kept with claude_cli_reuse ends after this idle."
    )
    offline_tps: float = Field(
        80.0, ge=0, description="Offline model pacing, tokens per second (0: no pacing)."
    )
    offline_faults: str = Field("", description="Offline model fault injection, server-wide.")
    offline_url: str = Field(
        "", description="Use an offline model server already running at this URL."
    )
    offline_token_log: str = Field(
        "", description="Benchmarks: a file the offline model logs each streamed piece to."
    )
    read_timeout_s: Seconds = Field(15.0, description="A read of the database gives up after.")
    write_timeout_s: Seconds = Field(10.0, description="A write of the database gives up after.")
    codec_timeout_s: Seconds = Field(5.0, description="--app-path: one decode gives up after.")
    codec_start_timeout_s: Seconds = Field(
        30.0, description="--app-path: importing the app's code gives up after."
    )
    heartbeat_s: Seconds = Field(10.0, description="How often a runtime says it is alive.")
    presence_ttl_s: Seconds | None = Field(
        None, description="A runtime silent this long is gone (default 3 heartbeats)."
    )
    notify_fallback_s: Seconds = Field(
        5.0, description="How often a waiting recv polls when a notification is missed."
    )
    serve_token: SecretStr | None = Field(
        None, description="agentdeck serve's access token (default: random at each start)."
    )
    notify_webhook: SecretStr | None = Field(
        None,
        description="Notifications: the URL each event is POSTed to (wins over notify.webhook "
        "in agentdeck.yaml; shown as its scheme and host, as it often carries a token).",
    )
    notify_command: str | None = Field(
        None,
        description="Notifications: the command run per event with its JSON on stdin, split "
        "like a shell (wins over notify.command in agentdeck.yaml).",
    )
    notify_max_attempts: int = Field(
        5, ge=1, description="Notifications: attempts per target (DBOS step retries)."
    )
    notify_retry_interval: Seconds = Field(
        2.0, description="Notifications: seconds before a target's first retry."
    )
    notify_backoff: float = Field(
        2.0, ge=1.0, description="Notifications: retry interval multiplier."
    )
    notify_watch_s: Seconds = Field(
        5.0,
        description="Notifications: how often each runtime looks for failed, timed-out and "
        "stranded runs.",
    )

    @field_validator("launch_rate")
    @classmethod
    def _rate(cls, value: str) -> str:
        rate_of(value)
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, _Yaml(settings_cls), _DbosYaml(settings_cls)

    @property
    def presence_ttl(self) -> float:
        return self.presence_ttl_s or 3 * self.heartbeat_s


class _Yaml(PydanticBaseSettingsSource):
    """``agentdeck.yaml``: top-level keys named like the fields (its sections are ignored)."""

    label = "agentdeck.yaml"

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        data = _load(config_path())
        return {k: v for k, v in data.items() if k in AgentDeckSettings.model_fields}


class _DbosYaml(PydanticBaseSettingsSource):
    """``dbos-config.yaml``: its ``system_database_url`` (unless it is a ${VAR} template)."""

    label = "dbos-config.yaml"

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        url = config_file().get("system_database_url")
        if isinstance(url, str) and url and "${" not in url:
            return {"db_url": url}
        return {}


def _env_names(name: str) -> list[str]:
    if name == "db_url":
        return ["DBOS_SYSTEM_DATABASE_URL"]
    return [f"AGENTDECK_{name.upper()}"]


def _sources() -> list[tuple[str, dict[str, Any]]]:
    """(label, values) of each source, first wins."""
    env: dict[str, Any] = {}
    for name in AgentDeckSettings.model_fields:
        for var in _env_names(name):
            if var in os.environ:
                env[name] = os.environ[var]
    return [
        ("environment", env),
        (f"{config_path()}", _Yaml(AgentDeckSettings)()),
        ("dbos-config.yaml", _DbosYaml(AgentDeckSettings)()),
    ]


def source_of(name: str) -> str:
    """Where a setting's value comes from: ``$AGENTDECK_X``, a file, or ``default``."""
    for label, values in _sources():
        if name in values:
            return f"${_env_names(name)[0]}" if label == "environment" else label
    return "default"


def _one_line(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        name = str(err["loc"][0]) if err["loc"] else "?"
        field = next(
            (
                n
                for n, f in AgentDeckSettings.model_fields.items()
                if name == n
                or isinstance(f.validation_alias, AliasChoices)
                and name in f.validation_alias.choices
            ),
            name,
        )
        parts.append(f"setting {field} ({source_of(field)}): {err['msg']}")
    return "; ".join(parts)


_cache: tuple[tuple[Any, ...], AgentDeckSettings] | None = None


def _key() -> tuple[Any, ...]:
    """What the settings are read from: the relevant environment and the files' mtimes."""
    env = tuple(
        sorted(
            (k, v)
            for k, v in os.environ.items()
            if k.startswith("AGENTDECK_") or k == "DBOS_SYSTEM_DATABASE_URL"
        )
    )
    stamps: list[tuple[str, int | None]] = []
    for path in (config_path(), Path.cwd() / CONFIG_FILE):
        try:
            stamps.append((str(path), path.stat().st_mtime_ns))
        except OSError:
            stamps.append((str(path), None))
    return env, tuple(stamps)


def settings() -> AgentDeckSettings:
    """The settings in effect, read once and read again only when the environment or a
    settings file changes (tests and benchmarks change the environment between runtimes).

    Raises:
        ConfigError: a bad value, in one line naming the setting and its source.
    """
    global _cache
    key = _key()
    if _cache is not None and _cache[0] == key:
        return _cache[1]
    try:
        value = AgentDeckSettings()
    except ValidationError as exc:
        raise ConfigError(_one_line(exc)) from None
    _cache = (key, value)
    return value


def _secret_shown(name: str, value: SecretStr) -> str:
    """A secret as ``agentdeck config`` shows it: a webhook URL as its scheme and host (its
    path and query often hold a token), anything else as ``***``."""
    if name == "notify_webhook":
        parts = urlsplit(value.get_secret_value().strip())
        if parts.scheme and parts.hostname:
            try:
                port = f":{parts.port}" if parts.port else ""
            except ValueError:  # not a number: the notifier refuses it; show the host alone
                port = ""
            return f"{parts.scheme}://{parts.hostname}{port}/…"
    return "***"


def describe() -> list[tuple[str, str, str, str]]:
    """(setting, value, source, what it is) for ``agentdeck config``, secrets redacted."""
    current = settings()
    out = []
    for name, field in AgentDeckSettings.model_fields.items():
        value = getattr(current, name)
        if isinstance(value, SecretStr):
            shown = _secret_shown(name, value)
        elif value is None:
            shown = "(none)"
        else:
            shown = redact(str(value))
        out.append((name, shown, source_of(name), field.description or ""))
    return out
