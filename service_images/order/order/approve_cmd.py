"""order.approve_cmd — orchestrated saga step: approve the order once its credit is reserved.

Step of the ``order-saga`` orchestration that runs ``when`` the ``reserve`` step answered
``RESERVED``; triggered by ``OrderRequested`` from ``event-tasks.order``; no arguments. Reads the
reservation from ``sagaResults`` (bad input if it is not ``RESERVED``: the state machine's ``when``
guards this, the check keeps a misconfigured saga from approving without credit).

PENDING -> APPROVED, answers ``{"status": "APPROVED"}``; an order already APPROVED answers the same
(a retry). Any other status is bad input (exit 2, never retried): the saga compensates. Nothing is
announced: the saga publishes ``OrderSagaCompleted`` with every step's result.
"""

import sys
from collections.abc import Sequence
from typing import Any

from event_tasks_common import ArgumentParser, BadInput, Context, Decision, Outcome, decide_once, read_event
from event_tasks_common.step import StepInput, run_step

from . import model

USE_CASE = "order.approve_cmd"
TRIGGERS = {"OrderRequested": model.SOURCE}
RESERVATION_STEP = "reserve"


def handle(argv: Sequence[str], step: StepInput) -> dict[str, Any]:
    ArgumentParser(prog="python -m order.approve_cmd", description="Saga step: approve the order.").parse_args(argv)
    event = read_event(TRIGGERS)
    order_id = event.detail.identifier("orderId")
    customer_id = event.detail.identifier("customerId")
    total = event.detail.amount("total")
    reservation = step.status(RESERVATION_STEP)
    if reservation != "RESERVED":
        raise BadInput(f"sagaResults.{RESERVATION_STEP}.status", f"expected RESERVED to approve, got {reservation!r}")
    ctx = Context.from_env(model.SOURCE)

    def decide() -> Decision:
        order = model.require(ctx.table, order_id, "eventDetail.orderId")
        model.check_matches(order, customer_id, total, prefix="eventDetail", amount_field="total")
        if order["status"] == model.PENDING:
            return Decision(
                Outcome(f"order {order_id} PENDING -> APPROVED"),
                writes=[model.set_status(ctx.table, order_id, model.PENDING, model.APPROVED)],
            )
        if order["status"] == model.APPROVED:
            return Decision(Outcome(f"order {order_id} already APPROVED"), replay=True)
        raise BadInput(
            "eventDetail.orderId", f"order {order_id!r} is {order['status']}; only a PENDING order is approved"
        )

    decide_once(ctx.table, use_case=USE_CASE, event=event, decide=decide)
    return {"status": model.APPROVED}


def main(argv: Sequence[str] | None = None) -> int:
    return run_step(handle, argv)


if __name__ == "__main__":
    sys.exit(main())
