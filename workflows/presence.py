"""Executor presence: each runtime keeps one PENDING workflow whose attributes carry a heartbeat.

DBOS records which executor runs a workflow but not whether that executor is still alive. Every
agentdeck runtime (embedded dashboard, worker) therefore starts ``agentdeck.worker`` with the id
``agentdeck-worker:<executor id>`` (idempotent: a restarted executor finds its own), which just
waits, and a heartbeat thread merges ``{"heartbeat": <time>, ...}`` into that workflow's
attributes with ``DBOS.update_workflow_attributes``. An observer calls an executor gone when its
heartbeat is older than the TTL, and can then hand that executor's runs to live workers with
DBOS's own ``resume_workflow`` (they replay from their checkpoints).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from typing import Any

from dbos import DBOS, SetWorkflowID

from .names import PRESENCE_WORKFLOW
from .settings import heartbeat_interval, presence_ttl

__all__ = [
    "PRESENCE_PREFIX",
    "PRESENCE_WORKFLOW",
    "Heartbeat",
    "heartbeat_interval",
    "presence_ttl",
    "worker_presence",
]

log = logging.getLogger("agentdeck.presence")

PRESENCE_PREFIX = "agentdeck-worker:"
_FOREVER = 10 * 365 * 86400


@DBOS.workflow(name=PRESENCE_WORKFLOW)
async def worker_presence(executor_id: str) -> None:
    """Stands for a live executor. A durable sleep, not a ``recv``: a ``recv`` wait polls the
    database (every 50 ms on SQLite), a sleep waits in memory."""
    await DBOS.sleep_async(_FOREVER)


class Heartbeat:
    """Starts the presence workflow and refreshes its heartbeat from a daemon thread."""

    def __init__(self, executor_id: str, app_version: str) -> None:
        self.executor_id = executor_id
        self.app_version = app_version
        self.workflow_id = f"{PRESENCE_PREFIX}{executor_id}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        with SetWorkflowID(self.workflow_id):
            DBOS.start_workflow(worker_presence, self.executor_id)
        self._beat()
        self._thread = threading.Thread(target=self._run, name="agentdeck-heartbeat", daemon=True)
        self._thread.start()

    def _attributes(self) -> dict[str, Any]:
        return {
            "heartbeat": time.time(),
            "executor": self.executor_id,
            "app_version": self.app_version,
            "host": socket.gethostname(),
            "pid": os.getpid(),
        }

    def _beat(self) -> None:
        try:
            DBOS.update_workflow_attributes(self.workflow_id, self._attributes(), merge=True)
        except Exception as exc:  # the database may be away for a while: keep beating
            log.warning("heartbeat failed: %s", exc)

    def _run(self) -> None:
        while not self._stop.wait(heartbeat_interval()):
            self._beat()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
