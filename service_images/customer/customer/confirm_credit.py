"""customer.confirm_credit — on ``OrderApproved`` {orderId, customerId, total}: mark the order's
reservation settled, so ``customer.expire_reservations`` never releases credit an approved order holds.

Trigger: detail-type ``OrderApproved`` from ``event-tasks.order``; no command-line arguments.
Emits nothing (the reservation's amount does not change).

Outcomes (exit 0 unless noted):
- decision RESERVED without ``settledAt``: set ``settledAt`` (condition: still RESERVED, not settled).
- already settled: no-op.
- RELEASED by ``expire_reservations`` before the approval arrived: no change; the line says so
  (the order holds no credit: an operator must decide, see the service README).
- no decision, a REJECTED one, or RELEASED by a cancellation: no change.
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

USE_CASE = "customer.confirm_credit"
TRIGGERS = {"OrderApproved": "event-tasks.order"}


def handle(argv: Sequence[str]) -> int:
    ArgumentParser(
        prog="python -m customer.confirm_credit",
        description="Mark the credit reserved for an approved order as settled.",
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
            return Decision(Outcome(f"order {order_id}: no credit reserved, nothing to confirm"))
        model.check_credit_matches(credit, customer_id, amount, amount_field="total")
        if credit.get("settledAt"):
            return Decision(Outcome(f"order {order_id}: credit already settled"), replay=True)
        if credit["status"] == model.RELEASED:
            why = f"expired by tick {credit['expiredBy']}" if credit.get("expiredBy") else "released"
            return Decision(Outcome(f"order {order_id}: approved but its credit was already {why}"))
        return Decision(
            Outcome(f"order {order_id}: credit of customer {customer_id} settled"),
            writes=[
                table.update_op(
                    model.credit_pk(order_id),
                    model.CREDIT_SK,
                    "SET settledAt = :now",
                    condition="#status = :reserved AND attribute_not_exists(settledAt)",
                    names={"#status": "status"},
                    values={":now": model.utc_timestamp(), ":reserved": model.RESERVED},
                )
            ],
        )

    return settle(ctx, use_case=USE_CASE, event=event, decide=decide)


def main(argv: Sequence[str] | None = None) -> int:
    return run(handle, argv)


if __name__ == "__main__":
    sys.exit(main())
