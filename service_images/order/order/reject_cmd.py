"""order.reject_cmd — orchestrated saga step and compensation: reject the requested order.

In the ``order-saga`` orchestration it runs twice over:
- as the step that runs ``when`` the ``reserve`` step refused credit: the reason is that answer
  (``CREDIT_LIMIT_EXCEEDED``, ``CUSTOMER_NOT_FOUND``);
- as the compensation of ``create`` when a later step failed: the reason is ``SAGA_FAILED``. An
  order the failed saga had already approved is taken back too: the saga never announced it.

Triggered by ``OrderRequested`` from ``event-tasks.order``; no arguments. PENDING or APPROVED ->
REJECTED, answers ``{"status": "REJECTED", "reason": ...}``; a REJECTED order answers the same (a
retry); a CANCELLED one answers ``{"status": "CANCELLED"}`` (its credit went back with the
cancellation). An order never created is recorded REJECTED, so a late ``create_pending`` (an attempt
still running) finds it and creates nothing. Nothing is announced.
"""

import sys
from collections.abc import Sequence
from typing import Any

from event_tasks_common import ArgumentParser, Context, Decision, Outcome, decide_once, read_event
from event_tasks_common.step import StepInput, run_step

from . import model

USE_CASE = "order.reject_cmd"
TRIGGERS = {"OrderRequested": model.SOURCE}
RESERVATION_STEP = "reserve"
SAGA_FAILED = "SAGA_FAILED"


def reason(step: StepInput) -> str:
    """The credit refusal this step runs for, or SAGA_FAILED when it compensates a failed saga."""
    answer = step.results.get(RESERVATION_STEP) or {}
    status = answer.get("status")
    refused = isinstance(status, str) and status not in ("RESERVED", "SKIPPED") and step.step != "create"
    return status if refused else SAGA_FAILED


def handle(argv: Sequence[str], step: StepInput) -> dict[str, Any]:
    ArgumentParser(prog="python -m order.reject_cmd", description="Saga step: reject the order.").parse_args(argv)
    event = read_event(TRIGGERS)
    requested = {
        "orderId": event.detail.identifier("orderId"),
        "customerId": event.detail.identifier("customerId"),
        "total": event.detail.amount("total"),
    }
    order_id = requested["orderId"]
    why = reason(step)
    ctx = Context.from_env(model.SOURCE)

    def decide() -> Decision:
        order = model.load(ctx.table, order_id)
        if order is None:
            # create may still be running (a slow attempt the saga gave up on): the rejected order
            # written here makes its late create a replay, so no order is left PENDING.
            item = {"pk": model.pk(order_id), "sk": model.SK, "type": "Order", **requested, "status": model.REJECTED}
            return Decision(
                Outcome(f"order {order_id} was never created: recorded REJECTED ({why})"),
                writes=[ctx.table.put_op({**item, "rejectionReason": why}, condition="attribute_not_exists(pk)")],
            )
        if order["status"] in (model.REJECTED, model.CANCELLED):
            return Decision(Outcome(f"order {order_id}: already {order['status']}, nothing to reject"), replay=True)
        return Decision(
            Outcome(f"order {order_id} {order['status']} -> REJECTED ({why})"),
            writes=[model.set_status(ctx.table, order_id, order["status"], model.REJECTED, rejectionReason=why)],
        )

    decide_once(ctx.table, use_case=USE_CASE, event=event, decide=decide)
    order = model.require(ctx.table, order_id, "eventDetail.orderId")
    if order["status"] == model.REJECTED:
        return {"status": model.REJECTED, "reason": order["rejectionReason"]}
    return {"status": order["status"]}


def main(argv: Sequence[str] | None = None) -> int:
    return run_step(handle, argv)


if __name__ == "__main__":
    sys.exit(main())
