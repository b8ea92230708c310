"""order.create_pending — orchestrated saga step: write the requested order PENDING.

First step of the ``order-saga`` orchestration, triggered by ``OrderRequested`` {orderId,
customerId, total} from ``event-tasks.order`` (``order.request`` puts it); no arguments. Like
``order.place`` but answered to the state machine, not announced: an ``OrderCreated`` would start
the choreographed saga for the same order.

Answers ``{"status": <the order's status>}``: ``PENDING`` when created (or still pending); a
redelivered ``OrderRequested`` for an order the saga already settled answers its final status and
changes nothing. An existing order with another customerId or total is bad input (exit 2).
"""

import sys
from collections.abc import Sequence
from typing import Any

from event_tasks_common import ArgumentParser, BadInput, Context, Decision, Outcome, decide_once, read_event
from event_tasks_common.step import StepInput, run_step

from . import model

USE_CASE = "order.create_pending"
TRIGGERS = {"OrderRequested": model.SOURCE}


def handle(argv: Sequence[str], step: StepInput) -> dict[str, Any]:
    ArgumentParser(prog="python -m order.create_pending", description="Saga step: create the order.").parse_args(argv)
    event = read_event(TRIGGERS)
    order = {
        "orderId": event.detail.identifier("orderId"),
        "customerId": event.detail.identifier("customerId"),
        "total": event.detail.amount("total"),
    }
    order_id = order["orderId"]
    ctx = Context.from_env(model.SOURCE)

    def decide() -> Decision:
        existing = model.load(ctx.table, order_id)
        if existing is not None:
            if model.summary(existing) != order:
                raise BadInput(
                    "eventDetail.orderId",
                    f"order {order_id!r} already exists with customerId {existing['customerId']!r} "
                    f"and total {existing['total']}",
                )
            return Decision(Outcome(f"order {order_id} already exists ({existing['status']})"), replay=True)
        item = {"pk": model.pk(order_id), "sk": model.SK, "type": "Order", **order, "status": model.PENDING}
        return Decision(
            Outcome(f"order {order_id} created PENDING"),
            writes=[ctx.table.put_op(item, condition="attribute_not_exists(pk)")],
        )

    decide_once(ctx.table, use_case=USE_CASE, event=event, decide=decide)
    return {"status": model.require(ctx.table, order_id, "eventDetail.orderId")["status"]}


def main(argv: Sequence[str] | None = None) -> int:
    return run_step(handle, argv)


if __name__ == "__main__":
    sys.exit(main())
