"""``agentdeck.yaml``: the file a user edits for schedules and the tool policy.

Each section is validated by the module that owns it (``workflows.schedules`` for
``schedules:``, ``workflows.tools`` for ``tool_policy:``); this module only finds and reads the
file. ``AGENTDECK_CONFIG`` names another file; a missing file means defaults everywhere.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import yaml

__all__ = ["CONFIG_ENV", "DEFAULT_CONFIG", "config_path", "section"]

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
