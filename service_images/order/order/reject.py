"""order.reject — on a credit refusal: PENDING -> REJECTED, emit ``OrderRejected``.

Triggers (from ``event-tasks.customer``; no command-line arguments):
- ``CreditLimitExceeded`` {orderId, customerId, amount, availableCredit} -> reason ``CREDIT_LIMIT_EXCEEDED``
- ``CustomerValidationFailed`` {orderId, customerId, reason} -> the event's reason
  (e.g. ``CUSTOMER_NOT_FOUND``)
Emits ``OrderRejected`` {orderId, customerId, total, reason}; the order keeps ``rejectionReason``.

Outcomes (exit 0 unless noted):
- PENDING: set REJECTED with the reason, emit ``OrderRejected``.
- already REJECTED: no-op replay, re-emit ``OrderRejected`` with the recorded reason.
- APPROVED or CANCELLED: no change, nothing emitted (a late duplicate, see order.approve).
- unknown order or customerId (or amount) not matching: bad input, exit 2, nothing written.
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

USE_CASE = "order.reject"
DESCRIPTION = "Reject an order whose credit was refused (event-triggered)."
CUSTOMER = "event-tasks.customer"
TRIGGERS = {"CreditLimitExceeded": CUSTOMER, "CustomerValidationFailed": CUSTOMER}
CREDIT_LIMIT_EXCEEDED = "CREDIT_LIMIT_EXCEEDED"


def handle(argv: Sequence[str]) -> int:
    ArgumentParser(prog="python -m order.reject", description=DESCRIPTION).parse_args(argv)
    event = read_trigger_event(TRIGGERS)
    order_id = event.detail.identifier("orderId")
    customer_id = event.detail.identifier("customerId")
    if event.detail_type == "CreditLimitExceeded":
        amount: int | None = event.detail.amount("amount")
        event.detail.amount("availableCredit", allow_zero=True)
        reason = CREDIT_LIMIT_EXCEEDED
    else:
        amount = None
        reason = event.detail.text("reason")
    ctx = Context.from_env(model.SOURCE)

    def decide() -> Decision:
        order = model.require(ctx.table, order_id, "eventDetail.orderId")
        model.check_matches(
            order,
            customer_id,
            order["total"] if amount is None else amount,
            prefix="eventDetail",
            amount_field="amount",
        )
        status = order["status"]
        if status == model.PENDING:
            return Decision(
                Outcome(
                    f"order {order_id} PENDING -> REJECTED ({reason})",
                    "OrderRejected",
                    {**model.summary(order), "reason": reason},
                ),
                writes=[model.set_status(ctx.table, order_id, model.PENDING, model.REJECTED, rejectionReason=reason)],
            )
        if status == model.REJECTED:
            recorded = order["rejectionReason"]
            return Decision(
                Outcome(
                    f"order {order_id} already REJECTED ({recorded})",
                    "OrderRejected",
                    {**model.summary(order), "reason": recorded},
                ),
                replay=True,
            )
        return Decision(Outcome(f"order {order_id} is {status}: {event.detail_type} ignored"))

    return settle(ctx, use_case=USE_CASE, event=event, decide=decide)


def main(argv: Sequence[str] | None = None) -> int:
    return run(handle, argv)


if __name__ == "__main__":
    sys.exit(main())
