"""A value in one line: a run's input in the list and its detail, a step's output, a result.

A workflow's input reads as its arguments (``'bob', 'only bob'``), agentdeck's requests in their
own words; a value that could not be decoded names what it needs. Nothing is imported:
agentdeck's request classes are known by name. Used by the dashboard and ``agentdeck ls``.
"""

from __future__ import annotations

from typing import Any

from workflows.settings import env_secrets, redact_with

from .decode import Undecodable

__all__ = ["INPUT_CAP", "input_summary", "summarize"]

#: Stored inputs (serialized text) longer than this are not read for a list row's summary.
INPUT_CAP = 4096


def summarize(value: Any, limit: int = 160, secrets: tuple[str, ...] | None = None) -> str:
    """``value`` in one line of at most ``limit`` characters, secrets hidden.

    Args:
        value: A decoded value (an input's ``{"args", "kwargs"}``, a model, anything).
        limit: The longest line returned.
        secrets: The secret values to hide (default: those in the environment now).

    Returns:
        The line: a workflow input as its arguments, agentdeck's requests in their own words,
            an undecodable value as what it needs, anything else as its ``repr``; ``""`` for
            ``None``.
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


def input_summary(size: int | None, inputs: Any, secrets: tuple[str, ...]) -> str:
    """A list row's decoded input as :func:`summarize` puts it; past :data:`INPUT_CAP` only its
    size (the statement leaves such inputs unread).

    Args:
        size: The stored input's length in characters, when the statement measured it.
        inputs: The decoded input (``None`` when it was left unread).
        secrets: The secret values to hide.

    Returns:
        The summary line.
    """
    if size is not None and size > INPUT_CAP:
        return f"<large input: {size / 1024:.0f} kB>"
    return summarize(inputs, secrets=secrets)
