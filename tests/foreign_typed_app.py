"""A DBOS app that is not agentdeck, whose ``recv`` expects a message of its own class.

Run as a separate process: ``python tests/foreign_typed_app.py DB_URL``. Everything it stores is
pickled as ``__main__.*`` (no other process can import it without its code, ``--app-path``): a
run's input (``Order``), its ``agent_status`` event (``Status``), a result (``Order``) and an
error (``Rejected``). The waiter's ``recv`` expects a ``Reply`` and says what it got. It prints
READY once the waiter has set its event, and exits when the waiter has its message.

Importing this module (as the app codec does) only defines classes and registers workflows.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

from dbos import DBOS, DBOSConfig, SetWorkflowID


@dataclass
class Order:
    sku: str
    qty: int


@dataclass
class Status:
    """What the app publishes about itself (an ``agent_status``-like event)."""

    phase: str
    done: int
    note: str


@dataclass
class Reply:
    """The message the waiter's ``recv`` expects."""

    approved: bool
    note: str = ""


class Rejected(Exception):
    pass


@DBOS.workflow(name="typed.double")
def double(order: Order) -> Order:
    return Order(order.sku, order.qty * 2)


@DBOS.workflow(name="typed.refuse")
def refuse(order: Order) -> Order:
    raise Rejected(f"no stock for {order.sku}")


@DBOS.workflow(name="typed.waiter")
def waiter(order: Order) -> str:
    # Markup-like text in the app's data: shown as it is.
    DBOS.set_event("agent_status", Status("waiting for a reply", 1, "[b]bold?[/b]"))
    msg = DBOS.recv("reply", timeout_seconds=600)
    if isinstance(msg, Reply):
        return f"Reply approved={msg.approved} note={msg.note!r} for {order.sku}"
    return f"not a Reply: {type(msg).__name__} {msg!r}"


def main(db_url: str) -> None:
    config: DBOSConfig = {
        "name": "typedapp",
        "system_database_url": db_url,
        "application_version": "typed-1",
        "notification_listener_polling_interval_sec": 0.05,
    }
    DBOS(config=config)
    DBOS.launch()
    with SetWorkflowID("typed-double"):
        DBOS.start_workflow(double, Order("widget", 3)).get_result()
    with SetWorkflowID("typed-refuse"):
        try:
            DBOS.start_workflow(refuse, Order("nothing", 0)).get_result()
        except Rejected:
            pass
    with SetWorkflowID("typed-waiter"):
        handle = DBOS.start_workflow(waiter, Order("gizmo", 2))
    while not DBOS.list_workflow_steps("typed-waiter"):  # its event is set
        time.sleep(0.02)
    print("READY", flush=True)
    print(handle.get_result(), flush=True)
    DBOS.destroy()


if __name__ == "__main__":
    main(sys.argv[1])
