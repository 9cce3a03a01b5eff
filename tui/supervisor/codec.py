"""Someone else's app's classes, decoded and built by a helper process that imports its code.

A DBOS app pickles its own classes into the system database (``__main__.Order`` for an app run
as a script): the dashboard cannot import them, so they show as placeholders. Given the app's
code (``--app-path``), :class:`AppCodec` starts ``python -m tui.codec_worker``, which imports the
app (its module-level code runs, there and not here; DBOS is never launched) and answers over
JSON lines: a stored value becomes a description (class name and fields, shown here as an
:class:`AppValue`), and a message for the app's ``recv`` is built as one of its classes and
handed back pickled (sent as a :class:`Pickled`, which unpickles into the app's own object).

Every call is bounded (``AGENTDECK_CODEC_TIMEOUT_S``, 5 s; the import
``AGENTDECK_CODEC_START_TIMEOUT_S``, 30 s). A helper that hangs or dies is stopped, the values
stay placeholders, and :attr:`AppCodec.problem` (and ``on_problem``) says why; it is started
again on the next call, up to three failures. An app that cannot be imported is not retried.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import itertools
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workflows.config import settings
from workflows.settings import redact

from ..data.decode import Undecodable
from .app_values import (
    _NOT_DECODED,
    AppSpec,
    AppValue,
    CodecError,
    Pickled,
    _collect,
    _Failed,
    _replace,
    _value,
)

__all__ = ["AppCodec", "AppSpec", "AppValue", "CodecError", "Pickled"]

log = logging.getLogger("agentdeck.codec")

#: The longest line the helper may answer with (its descriptions are bounded well below).
LINE_LIMIT = 64 * 1024 * 1024
#: Decoded values remembered (a run's detail is re-read on every change).
CACHE_SIZE = 512
#: Where ``tui`` is importable from (the helper is ``python -m tui.codec_worker``).
_ROOT = str(Path(__file__).resolve().parents[2])


class AppCodec:
    """The helper process for one app: started on first use, one request at a time."""

    MAX_FAILURES = 3

    def __init__(self, spec: AppSpec, *, on_problem: Callable[[str], None] | None = None) -> None:
        self.spec = spec
        self.on_problem = on_problem
        #: Why values are not being decoded ('' while all is well).
        self.problem = ""
        #: What the helper imported: module name, its class names, pickled as ``__main__``?
        self.module = ""
        self.classes: tuple[str, ...] = ()
        self.as_main = False
        self._proc: asyncio.subprocess.Process | None = None
        self._lock: asyncio.Lock | None = None
        self._starting: asyncio.Future[asyncio.subprocess.Process] | None = None
        self._ids = itertools.count(1)
        self._failures = 0
        self._given_up = False
        self._stderr_task: asyncio.Task[None] | None = None
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=10)
        self._cache: collections.OrderedDict[str, Any] = collections.OrderedDict()

    @property
    def timeout(self) -> float:
        return settings().codec_timeout_s

    @property
    def start_timeout(self) -> float:
        return settings().codec_start_timeout_s

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    def _locked(self) -> asyncio.Lock:
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    # -- the process ---------------------------------------------------------------------------

    async def start(self) -> bool:
        """Import the app in the helper now (else on first use); False, and ``problem``, if not."""
        async with self._locked():
            try:
                await self._ensure()
            except CodecError:
                return False
            return True

    def _report(self, text: str) -> None:
        self.problem = redact(text)
        log.warning("%s", self.problem)
        if self.on_problem is not None:
            self.on_problem(self.problem)

    async def _ensure(self) -> asyncio.subprocess.Process:
        """The running helper; started (and the import awaited) if there is none."""
        if self._proc is not None and self._proc.returncode is None:
            return self._proc
        if self._given_up:
            raise CodecError(self.problem)
        if self._starting is None or self._starting.done():
            self._starting = asyncio.ensure_future(self._launch())
        # Shielded: a caller that is cancelled (a screen closed) does not kill the start.
        return await asyncio.shield(self._starting)

    async def _launch(self) -> asyncio.subprocess.Process:
        wrong = await asyncio.to_thread(self.spec.check)
        if wrong:
            self._given_up = True
            self._report(f"app code: {wrong}")
            raise CodecError(self.problem)
        cmd = [sys.executable, "-m", "tui.codec_worker", "--path", self.spec.path]
        if self.spec.module:
            cmd += ["--module", self.spec.module]
        log.warning(
            "importing the app's code from %s in a helper process: its module-level code runs",
            self.spec.path,
        )
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_ROOT, env.get("PYTHONPATH", "")) if p)
        proc = await asyncio.create_subprocess_exec(
            *cmd,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            limit=LINE_LIMIT,
            env=env,
        )
        self._stderr_tail.clear()
        self._stderr_task = asyncio.ensure_future(self._drain_stderr(proc))
        try:
            hello = await self._hello(proc)
        except BaseException:  # closed while importing
            await self._stop(proc)
            raise
        if not isinstance(hello, dict) or not hello.get("ready"):
            await self._stop(proc)
            self._given_up = True
            why = hello.get("error") if isinstance(hello, dict) else hello
            if not why:
                why = f"the helper exited (code {proc.returncode})" + self._tail()
            self._report(f"app code {self.spec.label} could not be imported: {why}")
            raise CodecError(self.problem)
        self.module = str(hello.get("module", ""))
        self.classes = tuple(str(c) for c in hello.get("classes", []))
        self.as_main = bool(hello.get("as_main"))
        if self.problem:
            log.info("app codec running again")
        self.problem = ""
        self._proc = proc
        return proc

    async def _hello(self, proc: asyncio.subprocess.Process) -> Any:
        """The helper's first line (did the import work?); a string if it never came."""
        assert proc.stdout is not None
        try:
            line = await asyncio.wait_for(proc.stdout.readline(), self.start_timeout)
            return json.loads(line) if line.strip() else None
        except TimeoutError:
            return f"the import did not finish within {self.start_timeout:g} s (stopped it)"
        except ValueError:
            return None

    def _tail(self) -> str:
        return f": {self._stderr_tail[-1]}" if self._stderr_tail else ""

    async def _drain_stderr(self, proc: asyncio.subprocess.Process) -> None:
        """What the app prints goes to the log (never the screen); the last lines are kept."""
        assert proc.stderr is not None
        pending = b""
        while chunk := await proc.stderr.read(65536):
            *lines, pending = (pending + chunk).split(b"\n")
            for raw in lines:
                text = redact(raw.decode("utf-8", "replace").rstrip())[:500]
                if text:
                    self._stderr_tail.append(text)
                    log.info("app code: %s", text)

    async def _stop(self, proc: asyncio.subprocess.Process) -> None:
        if proc.returncode is None:
            try:
                proc.kill()
            except ProcessLookupError:
                pass
        await proc.wait()
        if self._stderr_task is not None:
            try:
                await asyncio.wait_for(self._stderr_task, 2.0)
            except Exception:
                self._stderr_task.cancel()
            self._stderr_task = None
        if self._proc is proc:
            self._proc = None

    async def _fail(self, proc: asyncio.subprocess.Process, what: str = "") -> CodecError:
        """Stop it and say why (no ``what``: it died, with its exit code and last words)."""
        await self._stop(proc)
        what = what or f"died (exit code {proc.returncode})" + self._tail()
        self._failures += 1
        text = f"app codec ({self.spec.label}) {what}"
        if self._failures >= self.MAX_FAILURES:
            self._given_up = True
            text += f"; {self._failures} failures, not started again (values stay placeholders)"
        else:
            text += "; values stay placeholders, it restarts on the next read"
        self._report(text)
        return CodecError(self.problem)

    async def _request(self, msg: dict[str, Any]) -> dict[str, Any]:
        """One request and its answer (the caller holds the lock)."""
        proc = await self._ensure()
        assert proc.stdin is not None and proc.stdout is not None
        rid = next(self._ids)
        line = json.dumps({**msg, "id": rid}).encode() + b"\n"
        try:
            proc.stdin.write(line)
            answer = await asyncio.wait_for(self._answer(proc, rid), self.timeout)
        except TimeoutError:
            raise await self._fail(
                proc, f"did not answer within {self.timeout:g} s (stopped it)"
            ) from None
        except (_Failed, ConnectionError, ValueError):  # EOF, a closed pipe, a garbled line
            try:
                await asyncio.wait_for(proc.wait(), 1.0)
            except TimeoutError:
                raise await self._fail(proc, "sent an answer that is not JSON lines") from None
            raise await self._fail(proc) from None
        return answer

    @staticmethod
    async def _answer(proc: asyncio.subprocess.Process, rid: int) -> dict[str, Any]:
        assert proc.stdin is not None and proc.stdout is not None
        await proc.stdin.drain()
        while True:
            line = await proc.stdout.readline()
            if not line:
                raise _Failed("EOF")
            answer = json.loads(line)
            if isinstance(answer, dict) and answer.get("id") == rid:
                return answer

    # -- what the data layer calls -------------------------------------------------------------

    async def decode(self, raws: list[str]) -> list[Any]:
        """The stored (base64 pickle) values as AppValue/JSON, in order; a value that cannot be
        decoded is ``_NOT_DECODED``. Raises CodecError when the helper is not there."""
        known: dict[str, Any] = {}
        for raw in raws:
            if raw in self._cache:
                self._cache.move_to_end(raw)
                known[raw] = self._cache[raw]
        todo = [r for r in dict.fromkeys(raws) if r not in known]
        if todo:
            async with self._locked():
                answer = await self._request({"op": "decode", "values": todo})
            results = answer.get("values") if answer.get("ok") else None
            if not isinstance(results, list) or len(results) != len(todo):
                raise CodecError(f"app codec: bad answer ({answer.get('error', '?')})")
            for raw, res in zip(todo, results, strict=True):
                if isinstance(res, dict) and res.get("ok"):
                    value = _value(res.get("value"))
                else:
                    value = _NOT_DECODED
                    why = res.get("error") if isinstance(res, dict) else res
                    log.info("app codec could not decode a value: %s", why)
                known[raw] = value
                if len(raw) <= 65536:  # a big value is decoded again when shown again
                    self._cache[raw] = value
                    while len(self._cache) > CACHE_SIZE:
                        self._cache.popitem(last=False)
        return [known[r] for r in raws]

    async def resolve(self, value: Any) -> Any:
        """``value`` with every placeholder (:class:`Undecodable`) in it decoded if the app's
        code can; the others, and all of them if the helper fails, stay placeholders."""
        found: list[Undecodable] = []
        _collect(value, found)
        if not found:
            return value
        raws = list(dict.fromkeys(u.raw for u in found))
        try:
            decoded = await self.decode(raws)
        except CodecError:
            return value
        table = {r: v for r, v in zip(raws, decoded, strict=True) if v is not _NOT_DECODED}
        return _replace(value, table) if table else value

    async def build(self, class_name: str, data: Any) -> Pickled:
        """A message of the app's class ``class_name`` made from JSON ``data``, pickled."""
        async with self._locked():
            answer = await self._request({"op": "build", "class": class_name, "data": data})
        if not answer.get("ok"):
            raise CodecError(redact(f"cannot build {class_name}: {answer.get('error', '?')}"))
        raw = base64.b64decode(str(answer.get("pickle", "")))
        return Pickled(raw, redact(str(answer.get("repr") or class_name)))

    async def close(self) -> None:
        """Stop the helper (it keeps nothing: killed, not asked, so quitting does not wait for
        the app's interpreter to shut down)."""
        if self._starting is not None and not self._starting.done():
            self._starting.cancel()
            await asyncio.wait([self._starting])  # its own cleanup stops the process
        if self._proc is not None:
            await self._stop(self._proc)
