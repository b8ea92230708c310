"""order.approve — on ``CreditReserved``: PENDING -> APPROVED, emit ``OrderApproved``.

Trigger: detail-type ``CreditReserved`` from ``event-tasks.customer``; no command-line arguments.
Emits ``OrderApproved`` {orderId, customerId, total}.

Outcomes (all exit 0 unless noted):
- PENDING: set APPROVED, emit ``OrderApproved``.
- already APPROVED: no-op replay, re-emit ``OrderApproved``.
- REJECTED or CANCELLED: no change, nothing emitted (a late duplicate; the customer service keeps
  one credit decision per order, so a rejected order never has credit reserved).
- unknown order, or customerId/amount not matching the order: bad input, exit 2, nothing written.
The same eventId run again re-emits the recorded outcome (see event_tasks_common.process).
"""

import sys
from collections.abc import Sequence

from event_tasks_common import (
    ArgumentParser,
    Context,
    Decision,
    Outcome,
    read_trigger_event,
    run,
    settle,
)

from . import model

USE_CASE = "order.approve"
DESCRIPTION = "Approve an order whose credit was reserved (event-triggered)."
TRIGGERS = {"CreditReserved": "event-tasks.customer"}


def handle(argv: Sequence[str]) -> int:
    ArgumentParser(prog="python -m order.approve", description=DESCRIPTION).parse_args(argv)
    event = read_trigger_event(TRIGGERS)
    order_id = event.detail.identifier("orderId")
    customer_id = event.detail.identifier("customerId")
    amount = event.detail.amount("amount")
    ctx = Context.from_env(model.SOURCE)

    def decide() -> Decision:
        order = model.require(ctx.table, order_id, "eventDetail.orderId")
        model.check_matches(order, customer_id, amount, prefix="eventDetail", amount_field="amount")
        status = order["status"]
        if status == model.PENDING:
            return Decision(
                Outcome(f"order {order_id} PENDING -> APPROVED", "OrderApproved", model.summary(order)),
                writes=[model.set_status(ctx.table, order_id, model.PENDING, model.APPROVED)],
            )
        if status == model.APPROVED:
            return Decision(
                Outcome(f"order {order_id} already APPROVED", "OrderApproved", model.summary(order)),
                replay=True,
            )
        return Decision(Outcome(f"order {order_id} is {status}: CreditReserved ignored"))

    return settle(ctx, use_case=USE_CASE, event=event, decide=decide)


def main(argv: Sequence[str] | None = None) -> int:
    return run(handle, argv)


if __name__ == "__main__":
    sys.exit(main())
