"""customer.release_credit — compensation: on ``OrderCancelled`` free the order's credit reservation.

Trigger: detail-type ``OrderCancelled`` from ``event-tasks.order``; no command-line arguments.
Emits ``CreditReleased`` {orderId, customerId, amount}.

Outcomes (exit 0 unless noted):
- decision RESERVED: one transaction sets it RELEASED (condition status = RESERVED) and
  decrements the customer's ``reserved`` (condition ``reserved >= amount``), emit ``CreditReleased``.
- already RELEASED: no-op replay, re-emit ``CreditReleased``.
- no decision or a REJECTED one: nothing was reserved, nothing to release: no change, nothing emitted.
- customerId/total not matching the reservation: bad input, exit 2.
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

USE_CASE = "customer.release_credit"
TRIGGERS = {"OrderCancelled": "event-tasks.order"}


def handle(argv: Sequence[str]) -> int:
    ArgumentParser(
        prog="python -m customer.release_credit",
        description="Release the credit reserved for a cancelled order.",
    ).parse_args(argv)
    event = read_trigger_event(TRIGGERS)
    order_id = event.detail.identifier("orderId")
    customer_id = event.detail.identifier("customerId")
    amount = event.detail.amount("total")
    ctx = Context.from_env(model.SOURCE)
    table = ctx.table

    def decide() -> Decision:
        credit = model.load_credit(table, order_id)
        if credit is None or credit["status"] == model.REJECTED:
            return Decision(Outcome(f"order {order_id}: no credit reserved, nothing to release"))
        model.check_credit_matches(credit, customer_id, amount, amount_field="total")
        released = Outcome(
            f"order {order_id}: released {amount} of customer {customer_id}",
            "CreditReleased",
            {"orderId": order_id, "customerId": customer_id, "amount": amount},
        )
        if credit["status"] == model.RELEASED:
            return Decision(
                Outcome(f"order {order_id}: credit already released", released.detail_type, released.detail),
                replay=True,
            )
        return Decision(
            released,
            writes=[
                table.update_op(
                    model.credit_pk(order_id),
                    model.CREDIT_SK,
                    "SET #status = :released",
                    condition="#status = :reserved",
                    names={"#status": "status"},
                    values={":released": model.RELEASED, ":reserved": model.RESERVED},
                ),
                table.update_op(
                    model.customer_pk(customer_id),
                    model.CUSTOMER_SK,
                    "SET reserved = reserved - :amount",
                    condition="reserved >= :amount",
                    values={":amount": amount},
                ),
            ],
        )

    return settle(ctx, use_case=USE_CASE, event=event, decide=decide)


def main(argv: Sequence[str] | None = None) -> int:
    return run(handle, argv)


if __name__ == "__main__":
    sys.exit(main())
