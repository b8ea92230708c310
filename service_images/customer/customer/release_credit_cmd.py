"""customer.release_credit_cmd — orchestrated saga compensation: give back the order's credit.

Compensation of the ``reserve`` step of the ``order-saga`` orchestration, run when a later step
(or ``reserve`` itself, which may have committed before it died) failed. Triggered by the saga's
``OrderRequested`` {orderId, customerId, total} from ``event-tasks.order``; no arguments. The same
release as ``customer.release_credit``, answered instead of announced:

- ``{"status": "RELEASED", "amount": N}``: credit that was reserved is free again;
- ``{"status": "REFUSED"}``: credit had been refused, nothing to give back;
- ``{"status": "CLOSED"}``: nothing was decided; the order is closed for reservations, so a late
  reservation (a retry still running) can never hold credit for it.

Idempotent: a retry or a second compensation changes nothing and answers the same.
"""

import sys
from collections.abc import Sequence
from typing import Any

from event_tasks_common import ArgumentParser, Context, decide_once, read_event
from event_tasks_common.step import StepInput, answered_not_announced, run_step

from . import credit, model

USE_CASE = "customer.release_credit_cmd"
TRIGGERS = {"OrderRequested": "event-tasks.order"}


def handle(argv: Sequence[str], step: StepInput) -> dict[str, Any]:
    ArgumentParser(
        prog="python -m customer.release_credit_cmd", description="Saga compensation: release the order's credit."
    ).parse_args(argv)
    event = read_event(TRIGGERS)
    order_id = event.detail.identifier("orderId")
    customer_id = event.detail.identifier("customerId")
    amount = event.detail.amount("total")
    ctx = Context.from_env(model.SOURCE)
    decide_once(
        ctx.table,
        use_case=USE_CASE,
        event=event,
        decide=lambda: answered_not_announced(
            credit.decide_release(
                ctx.table, order_id, customer_id, amount, ended="OrderRejected", prefix=event.detail.prefix
            )
        ),
    )
    decision = model.load_credit(ctx.table, order_id)
    assert decision is not None  # at least CLOSED by this run
    status = decision["status"]
    if status == model.RELEASED:
        return {"status": "RELEASED", "amount": decision["amount"]}
    if status == model.REJECTED:
        return {"status": "REFUSED"}
    return {"status": status}


def main(argv: Sequence[str] | None = None) -> int:
    return run_step(handle, argv)


if __name__ == "__main__":
    sys.exit(main())
