"""order.approve — on ``CreditReserved``: PENDING -> APPROVED, emit ``OrderApproved``.

Trigger: detail-type ``CreditReserved`` from ``event-tasks.customer``; no command-line arguments.
Emits ``OrderApproved`` {orderId, customerId, total, eventKey ``OrderApproved:<orderId>``}.

Outcomes (all exit 0 unless noted):
- PENDING: set APPROVED, emit ``OrderApproved``.
- already APPROVED (a redelivery, or another CreditReserved for the order): nothing written;
  ``OrderApproved`` is emitted only if it was recorded and never emitted (the crash window).
- CANCELLED: nothing written, nothing emitted: the order was approved before and has left that
  state, so ``OrderApproved`` is not announced again.
- REJECTED: nothing written, nothing emitted, and one ``ContradictingEvent`` warning line on stderr
  (credit was reserved for an order rejected meanwhile, e.g. after ``ReserveCreditFailed``; its
  ``OrderRejected`` makes the customer service release that credit).
- unknown order, or customerId/amount not matching the order: bad input, exit 2, nothing written.
The same eventId or eventKey run again is a duplicate: the same rules, nothing written
(see event_tasks_common.process).
"""

import sys
from collections.abc import Sequence

from event_tasks_common import (
    ArgumentParser,
    Context,
    Contradiction,
    Decision,
    Outcome,
    read_event,
    run,
    settle,
)

from . import model

USE_CASE = "order.approve"
DESCRIPTION = "Approve an order whose credit was reserved (event-triggered)."
TRIGGERS = {"CreditReserved": "event-tasks.customer"}


def handle(argv: Sequence[str]) -> int:
    ArgumentParser(prog="python -m order.approve", description=DESCRIPTION).parse_args(argv)
    event = read_event(TRIGGERS)
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
                Outcome(
                    f"order {order_id} PENDING -> APPROVED", "OrderApproved", model.summary(order), subject=order_id
                ),
                writes=[model.set_status(ctx.table, order_id, model.PENDING, model.APPROVED)],
            )
        if status == model.APPROVED:
            return Decision(model.announcement(order, f"order {order_id} already APPROVED"), replay=True)
        if status == model.REJECTED:
            return Decision(
                Outcome(f"order {order_id} is REJECTED: CreditReserved contradicts it, ignored"),
                contradiction=Contradiction(
                    model.REJECTED,
                    {"orderId": order_id},
                    "credit was reserved for a rejected order; its OrderRejected releases that credit",
                ),
            )
        return Decision(Outcome(f"order {order_id} is {status}: CreditReserved ignored, the order has left APPROVED"))

    return settle(ctx, use_case=USE_CASE, event=event, decide=decide)


def main(argv: Sequence[str] | None = None) -> int:
    return run(handle, argv)


if __name__ == "__main__":
    sys.exit(main())
