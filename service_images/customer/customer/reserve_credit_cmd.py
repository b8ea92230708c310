"""customer.reserve_credit_cmd — orchestrated saga step: reserve credit for the requested order.

Step of the ``order-saga`` orchestration, triggered by ``OrderRequested`` {orderId, customerId,
total} from ``event-tasks.order``; no command-line arguments. The same credit decision as
``customer.reserve_credit`` (one per order, never over the limit), answered to the state machine
instead of announced on the bus:

- ``{"status": "RESERVED", "amount": N}``
- ``{"status": "CREDIT_LIMIT_EXCEEDED", "amount": N, "availableCredit": M}``
- ``{"status": "CUSTOMER_NOT_FOUND"}``
- ``{"status": "RELEASED"}`` / ``{"status": "CLOSED"}``: the saga was already compensated (a late retry).

A retry (same eventId) commits nothing again and answers from the recorded decision.
"""

import sys
from collections.abc import Sequence
from typing import Any

from event_tasks_common import ArgumentParser, Context, decide_once, read_event
from event_tasks_common.step import StepInput, answered_not_announced, run_step

from . import credit, model

USE_CASE = "customer.reserve_credit_cmd"
TRIGGERS = {"OrderRequested": "event-tasks.order"}
REFUSALS = {"CreditLimitExceeded": "CREDIT_LIMIT_EXCEEDED", "CustomerValidationFailed": "CUSTOMER_NOT_FOUND"}


def handle(argv: Sequence[str], step: StepInput) -> dict[str, Any]:
    ArgumentParser(prog="python -m customer.reserve_credit_cmd", description="Saga step: reserve credit.").parse_args(
        argv
    )
    event = read_event(TRIGGERS)
    order_id = event.detail.identifier("orderId")
    customer_id = event.detail.identifier("customerId")
    amount = event.detail.amount("total")
    ctx = Context.from_env(model.SOURCE)
    decide_once(
        ctx.table,
        use_case=USE_CASE,
        event=event,
        decide=lambda: answered_not_announced(credit.decide_reservation(ctx.table, order_id, customer_id, amount)),
    )
    decision = model.load_credit(ctx.table, order_id)
    assert decision is not None  # decided by this run or an earlier one
    return result(decision)


def result(decision: dict[str, Any]) -> dict[str, Any]:
    """The step's answer, from the order's credit decision as it stands."""
    status = decision["status"]
    if status == model.RESERVED:
        return {"status": "RESERVED", "amount": decision["amount"]}
    if status == model.REJECTED:
        refusal = REFUSALS[decision["outcomeDetailType"]]
        answer: dict[str, Any] = {"status": refusal}
        if refusal == "CREDIT_LIMIT_EXCEEDED":
            detail = model.recorded_outcome(decision, "").detail or {}
            answer.update(amount=detail["amount"], availableCredit=detail["availableCredit"])
        return answer
    return {"status": status}


def main(argv: Sequence[str] | None = None) -> int:
    return run_step(handle, argv)


if __name__ == "__main__":
    sys.exit(main())
