"""customer.reserve_credit — on ``OrderCreated`` {orderId, customerId, total}: decide the order's credit.

Trigger: detail-type ``OrderCreated`` from ``event-tasks.order``; no command-line arguments.
Outcomes (all exit 0, each emitted to the customer bus):
- customer exists, ``reserved + total <= creditLimit``: reserve ->
  ``CreditReserved`` {orderId, customerId, amount}
- not enough credit -> ``CreditLimitExceeded`` {orderId, customerId, amount, availableCredit}
- unknown customer -> ``CustomerValidationFailed`` {orderId, customerId, reason: "CUSTOMER_NOT_FOUND"}

Each carries eventKey ``<detail-type>:<orderId>``.

One transaction writes the per-order credit decision (``attribute_not_exists``), the customer's
``reserved`` counter (``SET reserved = reserved + :amount`` under ``reserved <= creditLimit - amount``),
the outcome record and the processed-event marker. So credit is never reserved twice: the same
eventId/eventKey is a duplicate; another OrderCreated for the same order (new event id) finds the
decision. Then, by the decision's status:
- RESERVED / REJECTED: the recorded outcome is emitted only if it was recorded and never emitted
  (the crash window); the decision is final, even if credit has been freed since.
- RELEASED: nothing emitted: the credit was given back, ``CreditReserved`` is a state left.
- CLOSED: nothing reserved, nothing emitted: the order ended (rejected after a failed step,
  cancelled) before its credit was decided; reserving now would hold credit for a dead order.
A conflicting customerId/total for an already decided order is bad input (exit 2).
"""

import sys
from collections.abc import Sequence

from event_tasks_common import (
    ArgumentParser,
    Context,
    Decision,
    Outcome,
    read_event,
    run,
    settle,
)

from . import model

USE_CASE = "customer.reserve_credit"
TRIGGERS = {"OrderCreated": "event-tasks.order"}


def handle(argv: Sequence[str]) -> int:
    ArgumentParser(prog="python -m customer.reserve_credit", description="Reserve credit for an order.").parse_args(
        argv
    )
    event = read_event(TRIGGERS)
    order_id = event.detail.identifier("orderId")
    customer_id = event.detail.identifier("customerId")
    amount = event.detail.amount("total")
    ctx = Context.from_env(model.SOURCE)
    table = ctx.table

    def decide() -> Decision:
        credit = model.load_credit(table, order_id)
        if credit is not None:
            model.check_credit_matches(credit, customer_id, amount, amount_field="total")
            message = f"order {order_id} already decided ({credit['status']})"
            if credit["status"] in (model.RESERVED, model.REJECTED):
                return Decision(model.recorded_outcome(credit, message), replay=True)
            return Decision(Outcome(f"{message}: its credit decision is not announced again"), replay=True)
        customer = model.load_customer(table, customer_id)
        if customer is None:
            outcome = Outcome(
                f"order {order_id}: customer {customer_id} not found",
                "CustomerValidationFailed",
                {"orderId": order_id, "customerId": customer_id, "reason": model.CUSTOMER_NOT_FOUND},
                subject=order_id,
            )
            customer_condition = table.check_op(
                model.customer_pk(customer_id), model.CUSTOMER_SK, "attribute_not_exists(pk)"
            )
            status = model.REJECTED
        else:
            limit = customer["creditLimit"]
            available = limit - customer["reserved"]
            most_reserved_before = limit - amount
            if amount > available:
                outcome = Outcome(
                    f"order {order_id}: {amount} exceeds available credit {available} of customer {customer_id}",
                    "CreditLimitExceeded",
                    {
                        "orderId": order_id,
                        "customerId": customer_id,
                        "amount": amount,
                        "availableCredit": available,
                    },
                    subject=order_id,
                )
                # Still true at commit time, else decide again on fresh state.
                customer_condition = table.check_op(
                    model.customer_pk(customer_id),
                    model.CUSTOMER_SK,
                    "creditLimit = :limit AND reserved > :most",
                    values={":limit": limit, ":most": most_reserved_before},
                )
                status = model.REJECTED
            else:
                outcome = Outcome(
                    f"order {order_id}: reserved {amount} of customer {customer_id} (available {available - amount})",
                    "CreditReserved",
                    {"orderId": order_id, "customerId": customer_id, "amount": amount},
                    subject=order_id,
                )
                customer_condition = table.update_op(
                    model.customer_pk(customer_id),
                    model.CUSTOMER_SK,
                    "SET reserved = reserved + :amount",
                    condition="creditLimit = :limit AND reserved <= :most",
                    values={":amount": amount, ":limit": limit, ":most": most_reserved_before},
                )
                status = model.RESERVED
        decision_put = table.put_op(
            model.credit_item(order_id, customer_id, amount, status, outcome),
            condition="attribute_not_exists(pk)",
        )
        return Decision(outcome, writes=[decision_put, customer_condition])

    return settle(ctx, use_case=USE_CASE, event=event, decide=decide)


def main(argv: Sequence[str] | None = None) -> int:
    return run(handle, argv)


if __name__ == "__main__":
    sys.exit(main())
