"""Claude Code CLIs kept between Claude steps: the ``claude_cli_reuse`` setting (on by default).

Without it every Claude step starts its own CLI through ``query()`` and the CLI exits with the
step: about 0.4 CPU-s and 0.5 s of start-up and 0.5 CPU-s of CLI per call in all
(``bench/density.py``). With it a step that ends well hands its CLI back, the CLI is told
``/clear`` (a new, empty conversation: the CLI answers with a ``ConversationResetMessage``) and
the next step with the same options sends its prompt to it through ``ClaudeSDKClient.query``
(0.1 CPU-s of CLI per call). What the model is sent then differs from a fresh CLI's request by
what ``/clear`` leaves at the head of the new conversation: three short text blocks (a
local-command caveat, the ``/clear`` command, its empty output; ~99 input tokens).

What keeps a step from seeing another step's conversation:

* a CLI goes back to the pool only after a successful result *and* a ``/clear`` that the CLI
  confirmed; any other ending (an exception, a cancellation, an error result, a step stopped for
  a tool decision, a consumer that stopped reading) disconnects it (the CLI process ends);
* a CLI serves only calls with the same options (model, system prompt, tools, turns, budget,
  endpoint): they are fixed when it starts;
* calls with tools never reuse (their permission callbacks belong to one step, and a Bash shell's
  state would outlive ``/clear``);
* a retried attempt never gets the CLI of the attempt that failed (that one was discarded), and a
  crashed process's CLIs end with it (their stdin closes).

CLIs belong to the event loop that started them: one pool per loop. ``close_all`` ends every idle
CLI (the runtime calls it on shutdown).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import threading
import weakref
from collections.abc import AsyncIterator, Hashable
from dataclasses import dataclass
from typing import Any

from claude_agent_sdk import (
    ClaudeAgentOptions,
    ClaudeSDKClient,
    ConversationResetMessage,
    ResultMessage,
)

__all__ = ["CliPool", "Lease", "PoolStats", "all_stats", "close_all", "pool_for_loop"]

log = logging.getLogger("agentdeck.claude")

#: A ``/clear`` that takes longer than this: the CLI is not trusted and is ended.
CLEAR_TIMEOUT_S = 10.0
#: Calls one CLI serves at most: a kept CLI's RSS grew ~1 MiB a call over its first 40
#: (221 → 265 MiB, bench/density.py), so none is kept for ever.
MAX_CALLS = 100


@dataclass
class PoolStats:
    started: int = 0  # CLIs started by the pool
    reused: int = 0  # steps served by a kept CLI
    discarded: int = 0  # CLIs ended after a step (error, cancellation, pool full)


def _process(client: ClaudeSDKClient) -> Any:
    # The SDK keeps the CLI's process (anyio's Process) on its transport; no public accessor.
    return getattr(getattr(client, "_transport", None), "_process", None)


def _pid(client: ClaudeSDKClient) -> int | None:
    # Used only to end an idle CLI whose event loop has gone.
    pid = getattr(_process(client), "pid", None)
    return pid if isinstance(pid, int) else None


class CliPool:
    """Idle CLIs of one event loop, by options key; at most ``max_idle`` in all."""

    def __init__(self, max_idle: int, idle_s: float = 0.0) -> None:
        self.max_idle = max_idle
        self.idle_s = idle_s
        self._expiring: set[asyncio.Task[None]] = set()
        self.stats = PoolStats()
        self._idle: dict[Hashable, list[ClaudeSDKClient]] = {}
        self._order: list[tuple[Hashable, ClaudeSDKClient]] = []  # oldest first
        self._calls: weakref.WeakKeyDictionary[ClaudeSDKClient, int] = weakref.WeakKeyDictionary()
        #: Each CLI's process as started (the SDK may drop it from the client before the end).
        self._procs: weakref.WeakKeyDictionary[ClaudeSDKClient, Any] = weakref.WeakKeyDictionary()
        self.closed = False

    @property
    def idle(self) -> int:
        return len(self._order)

    def pids(self) -> list[int]:
        return [p for _, c in self._order if (p := _pid(c)) is not None]

    def take_idle(self, key: Hashable) -> ClaudeSDKClient | None:
        clients = self._idle.get(key)
        if not clients:
            return None
        client = clients.pop()
        if not clients:
            del self._idle[key]
        self._order.remove((key, client))
        return client

    async def start(self, options: ClaudeAgentOptions) -> ClaudeSDKClient:
        client = ClaudeSDKClient(options)
        try:
            await client.connect()
        except BaseException:
            with contextlib.suppress(Exception):
                await client.disconnect()
            raise
        self.stats.started += 1
        self._procs[client] = _process(client)
        return client

    async def discard(self, client: ClaudeSDKClient) -> None:
        self.stats.discarded += 1
        proc = self._procs.pop(client, None) or _process(client)
        try:
            await client.disconnect()
        except Exception as exc:  # the process is gone either way
            log.debug("claude cli: disconnect failed: %s", exc)
        # Reaped here, on this loop: a CLI that outlived disconnect() would exit after the loop
        # closed (at shutdown), and asyncio would print its "Event loop is closed" traceback
        # over the user's terminal.
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(OSError):
                proc.kill()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(CLEAR_TIMEOUT_S):
                    await proc.wait()

    async def give(self, key: Hashable, client: ClaudeSDKClient) -> None:
        """Clear the CLI's conversation and keep it, or end it."""
        calls = self._calls[client] = self._calls.get(client, 0) + 1
        if self.closed or self.max_idle <= 0 or calls >= MAX_CALLS:
            await self.discard(client)
            return
        ok = reset = False
        try:
            async with asyncio.timeout(CLEAR_TIMEOUT_S):
                await client.query("/clear", session_id="")
                async for msg in client.receive_response():
                    if isinstance(msg, ConversationResetMessage):
                        reset = True
                    elif isinstance(msg, ResultMessage):
                        ok = reset and not msg.is_error
        except (Exception, asyncio.CancelledError) as exc:
            await self.discard(client)
            if isinstance(exc, asyncio.CancelledError):
                raise
            log.debug("claude cli: /clear failed: %s", exc)
            return
        if not ok:
            log.debug("claude cli: /clear not confirmed; the CLI is ended")
            await self.discard(client)
            return
        self._idle.setdefault(key, []).append(client)
        self._order.append((key, client))
        if self.idle_s > 0:  # an idle CLI holds ~200 MiB: not kept past idle_s
            asyncio.get_running_loop().call_later(self.idle_s, self._expire, key, client)
        while len(self._order) > self.max_idle:
            old_key, old = self._order[0]
            self._idle[old_key].remove(old)
            if not self._idle[old_key]:
                del self._idle[old_key]
            self._order.pop(0)
            await self.discard(old)

    def _expire(self, key: Hashable, client: ClaudeSDKClient) -> None:
        if (key, client) not in self._order:
            return  # taken again, or ended, since
        self._order.remove((key, client))
        self._idle[key].remove(client)
        if not self._idle[key]:
            del self._idle[key]
        task = asyncio.ensure_future(self.discard(client))
        self._expiring.add(task)
        task.add_done_callback(self._expiring.discard)

    async def close(self) -> None:
        self.closed = True
        while self._order:
            key, client = self._order[0]
            self.take_idle(key)
            await self.discard(client)

    def kill(self) -> None:
        """End every idle CLI by its pid (its event loop is gone)."""
        self.closed = True
        for pid in self.pids():
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        self._idle.clear()
        self._order.clear()


_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, CliPool] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def pool_for_loop(max_idle: int, idle_s: float = 0.0) -> CliPool:
    loop = asyncio.get_running_loop()
    with _lock:
        pool = _pools.get(loop)
        if pool is None or pool.closed:
            pool = _pools[loop] = CliPool(max_idle, idle_s)
        return pool


def all_stats() -> PoolStats:
    total = PoolStats()
    with _lock:
        for pool in _pools.values():
            total.started += pool.stats.started
            total.reused += pool.stats.reused
            total.discarded += pool.stats.discarded
    return total


def close_all(timeout: float = 15.0) -> None:
    """End every pool's idle CLIs (from any thread but a pool's own loop's)."""
    with _lock:
        pools = list(_pools.items())
        _pools.clear()
    try:
        here: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        here = None
    for loop, pool in pools:
        if loop is not here and loop.is_running() and not loop.is_closed():
            try:
                asyncio.run_coroutine_threadsafe(pool.close(), loop).result(timeout)
                continue
            except Exception as exc:
                log.debug("claude cli pool: close on its loop failed: %s", exc)
        pool.kill()


class Lease:
    """One call on a kept CLI (or a new one): :meth:`messages` as ``query()`` yields them, then
    :meth:`finish` with whether the step succeeded, checks included: only then is the CLI
    cleared and kept."""

    def __init__(
        self, pool: CliPool, key: Hashable, options: ClaudeAgentOptions, prompt: str
    ) -> None:
        self.pool, self.key, self.options, self.prompt = pool, key, options, prompt
        self.client: ClaudeSDKClient | None = None
        self.result: ResultMessage | None = None
        self.reused = False

    async def messages(self) -> AsyncIterator[Any]:
        pool = self.pool
        client = pool.take_idle(self.key)
        if client is not None:
            try:
                await client.query(self.prompt, session_id="")
                pool.stats.reused += 1
                self.reused = True
            except Exception as exc:  # it died while idle: the prompt went nowhere
                log.debug("claude cli: a kept CLI is gone (%s); starting another", exc)
                await pool.discard(client)
                client = None
        if client is None:
            client = await pool.start(self.options)
            self.client = client
            await client.query(self.prompt, session_id="")
        self.client = client
        async for msg in client.receive_response():
            if isinstance(msg, ResultMessage):
                self.result = msg
            yield msg

    async def finish(self, ok: bool) -> None:
        client, self.client = self.client, None
        if client is None:
            return
        r = self.result
        if ok and r is not None and r.subtype == "success" and not r.is_error:
            await self.pool.give(self.key, client)
        else:
            await self.pool.discard(client)
