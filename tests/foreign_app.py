"""A small DBOS app that is not agentdeck: attach mode must read its system database.

Run as a separate process: ``python tests/foreign_app.py DB_URL``. It uses plain ``DBOS.recv``
on a topic (no approval event), streams written from the workflow body and from a step, a queue
with child workflows, a step whose output is a nested structure, a workflow made only of DBOS
calls (``set_event`` and a ``recv`` with no topic, like a bare agent loop), and a pickled class
defined in ``__main__`` (which no other process can import). It prints READY once everything is
in place and keeps running so the waiter stays blocked in ``recv``; it exits when the waiter has
its message (the agent may still be waiting then: it stays PENDING in the database).
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass

from dbos import DBOS, DBOSConfig, SetWorkflowID

QUEUE = "foreign-q"


@dataclass
class Order:
    """Pickled into the database as ``__main__.Order``."""

    sku: str
    qty: int


@DBOS.step()
def emit(n: int) -> int:
    DBOS.write_stream("tokens", f"from-step-{n}")
    return n


@DBOS.step()
def stock(sku: str) -> dict[str, object]:
    """A nested output: what the dashboard must summarise, not print."""
    return {"sku": sku, "stock": {"warehouse": "A", "qty": 7}, "tags": ["fragile", "blue"]}


@DBOS.workflow(name="foreign.child")
def child(i: int) -> int:
    return i * 10


@DBOS.workflow(name="foreign.streamer")
def streamer(order: Order) -> Order:
    DBOS.write_stream("tokens", "from-body-0")
    emit(1)
    DBOS.write_stream("tokens", "from-body-2")
    DBOS.close_stream("tokens")
    handles = [DBOS.enqueue_workflow(QUEUE, child, i) for i in range(2)]
    total = sum(h.get_result() for h in handles)
    return Order(order.sku, order.qty + total)


@DBOS.workflow(name="foreign.waiter")
def waiter(order: Order) -> str:
    emit(0)
    stock(order.sku)
    msg = DBOS.recv("orders", timeout_seconds=600)
    return f"got {msg!r} for {order.sku}"


@DBOS.workflow(name="foreign.agent")
def durable_agent() -> str:
    """Nothing but DBOS calls: no step of its own."""
    DBOS.set_event("status", "waiting for a message")
    msg = DBOS.recv(timeout_seconds=600)
    DBOS.set_event("status", "done")
    return f"agent got {msg!r}"


def blocked_in_recv(workflow_id: str) -> bool:
    """DBOS has written the recv's timeout (a ``DBOS.sleep`` row): it waits for a message."""
    return any(s["function_name"] == "DBOS.sleep" for s in DBOS.list_workflow_steps(workflow_id))


def main(db_url: str) -> None:
    config: DBOSConfig = {
        "name": "foreignapp",
        "system_database_url": db_url,
        "application_version": "foreign-1",
        "notification_listener_polling_interval_sec": 0.05,
    }
    DBOS(config=config)
    DBOS.launch()
    DBOS.register_queue(QUEUE, worker_concurrency=2, polling_interval_sec=0.1)
    with SetWorkflowID("foreign-streamer"):
        DBOS.start_workflow(streamer, Order("widget", 1)).get_result()
    with SetWorkflowID("foreign-waiter"):
        handle = DBOS.start_workflow(waiter, Order("gizmo", 2))
    with SetWorkflowID("foreign-agent"):
        DBOS.start_workflow(durable_agent)
    while not (blocked_in_recv("foreign-waiter") and blocked_in_recv("foreign-agent")):
        time.sleep(0.02)
    print("READY", flush=True)
    print(handle.get_result(), flush=True)
    DBOS.destroy()
    # The agent's thread may still wait in recv: leave without joining it (the run stays
    # PENDING in the database, as after a crash).
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1])
