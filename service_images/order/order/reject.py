"""order.reject — on a credit refusal or a failed saga step: PENDING -> REJECTED, emit ``OrderRejected``.

Triggers (no command-line arguments):
- refusals from ``event-tasks.customer``:
  ``CreditLimitExceeded`` {orderId, customerId, amount, availableCredit} -> reason ``CREDIT_LIMIT_EXCEEDED``;
  ``CustomerValidationFailed`` {orderId, customerId, reason} -> the event's reason (``CUSTOMER_NOT_FOUND``)
- failure events (a trigger's state machine gave up on its task; the order is read from the
  reported event, ``event.detail.orderId``, looking through nested reports):
  ``ReserveCreditFailed`` from ``event-tasks.customer``, ``ApproveOrderFailed`` and
  ``RejectOrderFailed`` from ``event-tasks.order`` -> reason ``<TRIGGER>_FAILED``
  (``RESERVE_CREDIT_FAILED``, ``APPROVE_ORDER_FAILED``, ``REJECT_ORDER_FAILED``)
Emits ``OrderRejected`` {orderId, customerId, total, reason, eventKey ``OrderRejected:<orderId>``};
the order keeps ``rejectionReason``. ``OrderRejected`` makes the customer service release any credit
still reserved for the order.

Outcomes (exit 0 unless noted):
- PENDING: set REJECTED with the reason, emit ``OrderRejected``.
- REJECTED: nothing written; ``OrderRejected`` (recorded reason) is emitted only if it was recorded
  and never emitted (a reject that committed, then crashed: ``RejectOrderFailed``).
- APPROVED, on a failure event: nothing written; the order is settled (approve committed, so the
  credit stays reserved for it). ``OrderApproved`` is emitted only if it was recorded and never
  emitted: approve committed and crashed before PutEvents (``ApproveOrderFailed``).
- CANCELLED, on a failure event: nothing written, nothing emitted (settled, credit released).
- APPROVED or CANCELLED, on a refusal: nothing written, nothing emitted, one ``ContradictingEvent``
  warning line on stderr (the customer service refused credit for an order it had approved).
- unknown order, or customerId (or amount) not matching: bad input, exit 2, nothing written.
"""

import sys
from collections.abc import Sequence

from event_tasks_common import (
    ArgumentParser,
    Context,
    Contradiction,
    Decision,
    Outcome,
    failure,
    read_event,
    run,
    settle,
)

from . import model

USE_CASE = "order.reject"
DESCRIPTION = "Reject an order whose credit was refused or whose saga step failed (event-triggered)."
CUSTOMER = "event-tasks.customer"
ORDER = model.SOURCE
REFUSALS = {"CreditLimitExceeded": CUSTOMER, "CustomerValidationFailed": CUSTOMER}
FAILURES = {"ReserveCreditFailed": CUSTOMER, "ApproveOrderFailed": ORDER, "RejectOrderFailed": ORDER}
TRIGGERS = {**REFUSALS, **FAILURES}
CREDIT_LIMIT_EXCEEDED = "CREDIT_LIMIT_EXCEEDED"


def handle(argv: Sequence[str]) -> int:
    ArgumentParser(prog="python -m order.reject", description=DESCRIPTION).parse_args(argv)
    event = read_event(TRIGGERS)
    refusal = event.detail_type in REFUSALS
    if refusal:
        facts = event.detail
    else:
        trigger = failure.failed_trigger(event.detail)
        facts = failure.original(event.detail).detail
    order_id = facts.identifier("orderId")
    customer_id = facts.identifier("customerId")
    amount_field = "total" if "total" in facts.data else "amount"
    if event.detail_type == "CreditLimitExceeded":
        amount: int | None = facts.amount("amount")
        facts.amount("availableCredit", allow_zero=True)
        reason = CREDIT_LIMIT_EXCEEDED
    elif event.detail_type == "CustomerValidationFailed":
        amount = None
        reason = facts.text("reason")
    else:
        amount = facts.amount(amount_field) if amount_field in facts.data else None
        reason = failure.reason(trigger)
    ctx = Context.from_env(model.SOURCE)

    def decide() -> Decision:
        order = model.require(ctx.table, order_id, f"{facts.prefix}.orderId")
        model.check_matches(
            order,
            customer_id,
            order["total"] if amount is None else amount,
            prefix=facts.prefix,
            amount_field=amount_field,
        )
        status = order["status"]
        if status == model.PENDING:
            return Decision(
                Outcome(
                    f"order {order_id} PENDING -> REJECTED ({reason})",
                    "OrderRejected",
                    {**model.summary(order), "reason": reason},
                    subject=order_id,
                ),
                writes=[model.set_status(ctx.table, order_id, model.PENDING, model.REJECTED, rejectionReason=reason)],
            )
        if status == model.REJECTED:
            return Decision(
                model.announcement(order, f"order {order_id} already REJECTED ({order['rejectionReason']})"),
                replay=True,
            )
        if refusal:
            return Decision(
                Outcome(f"order {order_id} is {status}: {event.detail_type} contradicts it, ignored"),
                contradiction=Contradiction(
                    status,
                    {"orderId": order_id},
                    f"credit was refused for an order that was approved ({status})",
                ),
            )
        if status == model.APPROVED:
            return Decision(
                model.announcement(order, f"order {order_id} is APPROVED: {event.detail_type} leaves it approved"),
                replay=True,
            )
        return Decision(Outcome(f"order {order_id} is {status}: {event.detail_type} ignored, the order is settled"))

    return settle(ctx, use_case=USE_CASE, event=event, decide=decide)


def main(argv: Sequence[str] | None = None) -> int:
    return run(handle, argv)


if __name__ == "__main__":
    sys.exit(main())
