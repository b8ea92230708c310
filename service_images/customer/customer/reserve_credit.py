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
    read_event,
    run,
    settle,
)

from . import credit, model

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
        return credit.decide_reservation(table, order_id, customer_id, amount)

    return settle(ctx, use_case=USE_CASE, event=event, decide=decide)


def main(argv: Sequence[str] | None = None) -> int:
    return run(handle, argv)


if __name__ == "__main__":
    sys.exit(main())
