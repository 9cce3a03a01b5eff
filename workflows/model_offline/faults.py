"""Fault injection for the offline model.

A spec is a comma-separated list of items ``[task.]kind[*count]``, e.g. ``overload*1``,
``synthesize.invalid_request*1``, ``plan.invalid_plan*2``, ``midstream``, ``auth``, ``hang*inf``.

* ``task`` limits the item to requests for that task (``plan``, ``research``, ...).
* ``count`` is how many matching requests the item fires for (default 1; ``auth`` defaults to
  ``inf``). Firings are counted per server, per item, per ``(task, prompt hash)``, so a retry of the
  very same request sees the fault go away after ``count`` firings while other requests still see
  it fire.

Faults come from the server (``OfflineModelServer(faults=...)``, ``AGENTDECK_OFFLINE_FAULTS`` via
``OfflineModelServer.from_env`` or ``--faults``) and from ``agentdeck-fault:`` lines in the prompt;
prompt items are tried first and counted separately from server items. A bad prompt spec is logged
and ignored; a bad server spec raises ``ValueError``. ``invalid_plan`` only ever applies to ``plan``
requests, whatever its task prefix says.

When several items match a request, the first with budget left fires (only one fault per request),
so ``overload*1,ratelimit*1`` gives an overload, then a rate limit, then a normal answer.

A fault is *sticky within a CLI session*: the Claude Code CLI re-sends a request by itself even with
``CLAUDE_CODE_MAX_RETRIES=0`` (up to five "degraded" re-sends after a 400, a non-streaming re-send
after a broken stream). Those re-sends carry the same ``X-Claude-Code-Session-Id`` header and the
same prompt, and they get the same fault again without using up its count. So ``count`` counts
model *calls* (one ``query()`` each), and a call that hits a fault fails as a whole. Requests
without a session header (plain HTTP clients) count one by one.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["LOOP_REPEATS", "FaultBook", "FaultItem", "FaultKind", "loops", "parse_fault_spec"]


class FaultKind(StrEnum):
    OVERLOAD = "overload"  # HTTP 529 overloaded_error before streaming
    RATELIMIT = "ratelimit"  # HTTP 429 rate_limit_error, retry-after: 1
    AUTH = "auth"  # HTTP 401 authentication_error
    INVALID_REQUEST = "invalid_request"  # HTTP 400 invalid_request_error
    MIDSTREAM = "midstream"  # about half the tokens, then an SSE error event
    INVALID_PLAN = "invalid_plan"  # plan task only: prose instead of JSON
    SLOW = "slow"  # max(tps / 10, 5) tokens/s (5 when unpaced), never faster than tps
    HANG = "hang"  # a few tokens, then stall until the client or the server goes away
    #: With tools: the model asks for its first tool call again and again (LOOP_REPEATS times)
    #: before it answers, as a model stuck in a tool loop does. Applies while it is in the spec.
    LOOP = "loop"


#: How many times a ``loop`` fault repeats the first tool call.
LOOP_REPEATS = 12


def loops(spec: str | tuple[str, ...], task: str) -> bool:
    """Whether a ``loop`` item of ``spec`` (or of any spec in a tuple) applies to ``task``."""
    specs = (spec,) if isinstance(spec, str) else spec
    for one in specs:
        try:
            items = parse_fault_spec(one)
        except ValueError:
            continue
        if any(i.kind is FaultKind.LOOP and i.matches(task) for i in items):
            return True
    return False


_ALIASES = {
    "overloaded": FaultKind.OVERLOAD,
    "rate_limit": FaultKind.RATELIMIT,
    "ratelimited": FaultKind.RATELIMIT,
    "authentication": FaultKind.AUTH,
    "invalid": FaultKind.INVALID_REQUEST,
    "mid_stream": FaultKind.MIDSTREAM,
}


@dataclass(frozen=True)
class FaultItem:
    kind: FaultKind
    task: str | None = None
    count: float = 1.0  # math.inf for "forever"

    def matches(self, task: str) -> bool:
        if self.kind is FaultKind.INVALID_PLAN and task != "plan":
            return False
        return self.task is None or self.task == task

    def __str__(self) -> str:
        prefix = f"{self.task}." if self.task else ""
        count = "inf" if math.isinf(self.count) else str(int(self.count))
        return f"{prefix}{self.kind.value}*{count}"


def _parse_item(raw: str) -> FaultItem:
    text = raw.strip()
    count_text: str | None = None
    if "*" in text:
        text, count_text = (part.strip() for part in text.split("*", 1))
    task: str | None = None
    if "." in text:
        task, text = (part.strip() for part in text.rsplit(".", 1))
        task = task.lower() or None
    name = text.lower()
    try:
        kind = _ALIASES.get(name) or FaultKind(name)
    except ValueError:
        known = ", ".join(k.value for k in FaultKind)
        raise ValueError(
            f"unknown fault kind {name!r} in {raw.strip()!r} (known: {known})"
        ) from None
    if count_text is None:
        count = math.inf if kind is FaultKind.AUTH else 1.0
    elif count_text.lower() in {"inf", "infinite", "forever"}:
        count = math.inf
    else:
        try:
            count = float(int(count_text))
        except ValueError:
            raise ValueError(f"bad fault count {count_text!r} in {raw.strip()!r}") from None
        if count < 0:
            raise ValueError(f"negative fault count in {raw.strip()!r}")
    return FaultItem(kind=kind, task=task, count=count)


def parse_fault_spec(spec: str) -> tuple[FaultItem, ...]:
    """Parse a fault spec; raises ``ValueError`` on an unknown kind or a bad count."""
    return tuple(_parse_item(part) for part in spec.replace(";", ",").split(",") if part.strip())


class FaultBook:
    """Decides which fault (if any) a request gets, counting firings thread-safely."""

    def __init__(self, server_items: tuple[FaultItem, ...] = ()) -> None:
        self._server_items = server_items
        self._fired: dict[tuple[str, int, str, str, str], int] = {}
        self._sticky: dict[tuple[str, str, str], FaultItem] = {}
        self._lock = threading.Lock()

    @property
    def server_items(self) -> tuple[FaultItem, ...]:
        return self._server_items

    def pick(
        self,
        task: str,
        prompt_hash: str,
        prompt_items: tuple[FaultItem, ...] = (),
        session: str | None = None,
    ) -> FaultItem | None:
        """Return the item that fires for this request (and count it), or ``None``."""
        sources = (("prompt", prompt_items), ("server", self._server_items))
        with self._lock:
            if session:
                sticky = self._sticky.get((session, task, prompt_hash))
                if sticky is not None:
                    return sticky
            item = self._pick_locked(task, prompt_hash, sources)
            if item is not None and session:
                self._sticky[(session, task, prompt_hash)] = item
            return item

    def _pick_locked(
        self,
        task: str,
        prompt_hash: str,
        sources: tuple[tuple[str, tuple[FaultItem, ...]], ...],
    ) -> FaultItem | None:
        for source, items in sources:
            for position, item in enumerate(items):
                if not item.matches(task):
                    continue
                key = (source, position, str(item), task, prompt_hash)
                fired = self._fired.get(key, 0)
                if fired < item.count:
                    self._fired[key] = fired + 1
                    return item
        return None
