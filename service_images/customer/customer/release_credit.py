"""customer.release_credit — compensation: free the credit still reserved for an order that ended.

Triggers (no command-line arguments):
- ``OrderCancelled`` {orderId, customerId, total} from ``event-tasks.order``
- ``OrderRejected`` {orderId, customerId, total, reason} from ``event-tasks.order`` (a rejection
  after a failed saga step may leave credit reserved, e.g. reserve_credit committed then crashed)
- ``ReleaseCreditFailed`` from ``event-tasks.customer``: the release-credit task gave up; the
  reported event (``event.detail-type`` ``OrderCancelled``/``OrderRejected``, ``event.detail``) is
  handled again, as if delivered anew.
Emits ``CreditReleased`` {orderId, customerId, amount, eventKey ``CreditReleased:<orderId>``}.

Outcomes (exit 0 unless noted), by the order's credit decision:
- RESERVED: one transaction sets it RELEASED (condition status = RESERVED) and decrements the
  customer's ``reserved`` (condition ``reserved >= amount``), emit ``CreditReleased``.
- RELEASED: nothing written; ``CreditReleased`` is emitted only if it was recorded and never
  emitted (the crash window).
- REJECTED (credit refused: limit exceeded or unknown customer): nothing was reserved, nothing to
  release, nothing emitted. On ``OrderCancelled`` this also writes one ``ContradictingEvent``
  warning line on stderr (only an approved order can be cancelled, and it was refused credit).
- none yet: nothing to release, nothing emitted; a CLOSED decision is written so that a late
  ``OrderCreated`` (a redelivery or a re-run) can never reserve credit for the ended order.
- CLOSED: nothing to release, nothing emitted.
- customerId/total not matching the decision: bad input, exit 2.
"""

import sys
from collections.abc import Sequence

from event_tasks_common import (
    ArgumentParser,
    BadInput,
    Context,
    Decision,
    failure,
    read_event,
    run,
    settle,
)

from . import credit, model

USE_CASE = "customer.release_credit"
ORDER = "event-tasks.order"
ENDED = ("OrderCancelled", "OrderRejected")
TRIGGERS = {"OrderCancelled": ORDER, "OrderRejected": ORDER, "ReleaseCreditFailed": model.SOURCE}


def handle(argv: Sequence[str]) -> int:
    ArgumentParser(
        prog="python -m customer.release_credit",
        description="Release the credit reserved for a cancelled or rejected order.",
    ).parse_args(argv)
    event = read_event(TRIGGERS)
    ended, facts = event.detail_type, event.detail
    if event.detail_type == "ReleaseCreditFailed":
        reported = failure.reported(event.detail)
        if reported.detail_type not in ENDED:
            raise BadInput(f"{event.detail.prefix}.event.detail-type", f"expected one of {list(ENDED)}")
        ended, facts = reported.detail_type, reported.detail
    order_id = facts.identifier("orderId")
    customer_id = facts.identifier("customerId")
    amount = facts.amount("total")
    ctx = Context.from_env(model.SOURCE)
    table = ctx.table

    def decide() -> Decision:
        return credit.decide_release(table, order_id, customer_id, amount, ended=ended, prefix=facts.prefix)

    return settle(ctx, use_case=USE_CASE, event=event, decide=decide)


def main(argv: Sequence[str] | None = None) -> int:
    return run(handle, argv)


if __name__ == "__main__":
    sys.exit(main())
