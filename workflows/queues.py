"""DBOS queues used by the workflows (declared in the system database at launch)."""

from __future__ import annotations

import os

from dbos import DBOS

__all__ = ["RESEARCH_QUEUE", "register_queues", "register_queues_async"]

RESEARCH_QUEUE = "agentdeck-research"


def research_concurrency() -> int:
    try:
        return max(1, int(os.environ.get("AGENTDECK_RESEARCH_CONCURRENCY", "2")))
    except ValueError:
        return 2


def register_queues() -> None:
    DBOS.register_queue(
        RESEARCH_QUEUE,
        worker_concurrency=research_concurrency(),
        polling_interval_sec=0.2,
        on_conflict="always_update",
    )


async def register_queues_async() -> None:
    await DBOS.register_queue_async(
        RESEARCH_QUEUE,
        worker_concurrency=research_concurrency(),
        polling_interval_sec=0.2,
        on_conflict="always_update",
    )
