"""A DBOS app with the queue shapes real apps have (not agentdeck): the list and the queue view
must show them.

Run as a separate process: ``python tests/foreign_queues_app.py DB_URL``. It sets up

- ``partitioned_queue``: one running at a time per partition (``partition_concurrency=1``) and
  a per-partition rate limit (5 an hour); tenants alice (3 runs), bob (2) and carol (1), so
  each runs one and alice has two queued, bob one;
- ``rate_limited_queue``: 2 starts an hour; four runs of plain ints, two done, two queued;
- ``priority_queue``: one at a time; a blocker runs, and reports with priorities 1, 1, 1 and 5
  wait, their input a pickled class defined in ``__main__`` (no other process can import it);
- a DBOS ``Debouncer``: ``debouncer_workflow('bob', 'only bob')`` waits DELAYED for an hour;
- two runs off any queue: one with a long URL argument, one with an input of 2,000 lines.

It prints READY once all of that is in place, then keeps running (the runs stay where they are)
until its standard input closes.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass

from dbos import DBOS, DBOSConfig, Debouncer, SetEnqueueOptions, SetWorkflowID

PARTITIONED = "partitioned_queue"
RATE_LIMITED = "rate_limited_queue"
PRIORITY = "priority_queue"
#: Tenant → runs enqueued for it on the partitioned queue.
TENANTS = {"alice": 3, "bob": 2, "carol": 1}
#: Priorities of the reports waiting on the priority queue.
PRIORITIES = (1, 1, 1, 5)
#: A long argument without spaces: plain data, not a raw serialized value.
WEBHOOK = "https://hooks.example.com/services/T0000/B0000/0123456789abcdef0123456789"
#: How long the waiting runs wait (they never get their message).
WAIT_S = 3600


@dataclass
class Ticket:
    """Pickled into the database as ``__main__.Ticket``."""

    customer: str
    severity: int


@DBOS.workflow()
def fair_queue_consumer(tenant: str, n: int) -> str:
    DBOS.recv("go", timeout_seconds=WAIT_S)
    return f"{tenant}-{n}"


@DBOS.workflow()
def rate_limited_workflow(n: int) -> int:
    return n * 2


@DBOS.workflow()
def blocker_workflow(reason: str) -> str:
    DBOS.recv("go", timeout_seconds=WAIT_S)
    return reason


@DBOS.workflow()
def priority_report(ticket: Ticket) -> str:
    return ticket.customer


@DBOS.workflow()
def debouncer_workflow(user: str, message: str) -> str:
    return f"{user}: {message}"


@DBOS.workflow()
def notify_webhook(url: str, attempts: int) -> str:
    return url


@DBOS.workflow()
def bulk_import(lines: list[str]) -> int:
    return len(lines)


def _count(queue: str, status: str) -> int:
    return len(DBOS.list_workflows(queue_name=queue, status=status, load_input=False))


def main(db_url: str) -> None:
    config: DBOSConfig = {
        "name": "queuesapp",
        "system_database_url": db_url,
        "application_version": "queues-1",
        "notification_listener_polling_interval_sec": 0.05,
    }
    DBOS(config=config)
    DBOS.launch()
    DBOS.register_queue(
        PARTITIONED,
        partition_concurrency=1,
        partition_limiter={"limit": 5, "period": 3600.0},
        polling_interval_sec=0.1,
    )
    DBOS.register_queue(
        RATE_LIMITED, limiter={"limit": 2, "period": 3600.0}, polling_interval_sec=0.1
    )
    DBOS.register_queue(PRIORITY, global_concurrency=1, polling_interval_sec=0.1)

    for tenant, runs in TENANTS.items():
        for n in range(runs):
            with SetWorkflowID(f"fair-{tenant}-{n}"), SetEnqueueOptions(queue_partition_key=tenant):
                DBOS.enqueue_workflow(PARTITIONED, fair_queue_consumer, tenant, n)
    for n in range(4):
        with SetWorkflowID(f"rate-{n}"):
            DBOS.enqueue_workflow(RATE_LIMITED, rate_limited_workflow, n)
    with SetWorkflowID("blocker"):
        DBOS.enqueue_workflow(PRIORITY, blocker_workflow, "holds the only slot")
    while _count(PRIORITY, "PENDING") < 1:
        time.sleep(0.02)
    for i, priority in enumerate(PRIORITIES):
        with SetWorkflowID(f"report-{i}"), SetEnqueueOptions(priority=priority):
            DBOS.enqueue_workflow(PRIORITY, priority_report, Ticket(f"customer-{i}", priority))
    with SetWorkflowID("webhook"):
        DBOS.start_workflow(notify_webhook, WEBHOOK, 3).get_result()
    with SetWorkflowID("bulk"):
        DBOS.start_workflow(bulk_import, [f"line {i}" for i in range(2000)]).get_result()
    with SetWorkflowID("debounced-bob"):
        Debouncer.create(debouncer_workflow).debounce("bob", WAIT_S, "bob", "only bob")

    while _count(PARTITIONED, "PENDING") < len(TENANTS) or _count(RATE_LIMITED, "SUCCESS") < 2:
        time.sleep(0.02)
    print("READY", flush=True)
    sys.stdin.read()
    DBOS.destroy()
    os._exit(0)  # the runs blocked in recv hold their threads: do not wait for them


if __name__ == "__main__":
    main(sys.argv[1])
