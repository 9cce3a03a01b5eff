"""The offline scripted model: a loopback Anthropic Messages API for the real Claude Code CLI.

Start an :class:`OfflineModelServer`, point the CLI at it with :func:`offline_env`, and the
workflows run end to end without network access, deterministically, with optional pacing and
fault injection. See :mod:`workflows.model_offline.server` for what each fault looks like from
the Claude Agent SDK.
"""

from __future__ import annotations

from .faults import FaultItem, FaultKind, parse_fault_spec
from .server import (
    OFFLINE_API_KEY,
    OFFLINE_MODEL_LABEL,
    OfflineModelServer,
    RequestRecord,
    offline_env,
)

__all__ = [
    "OFFLINE_API_KEY",
    "OFFLINE_MODEL_LABEL",
    "FaultItem",
    "FaultKind",
    "OfflineModelServer",
    "RequestRecord",
    "offline_env",
    "parse_fault_spec",
]
