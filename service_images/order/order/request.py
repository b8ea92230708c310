"""order.request — start the orchestrated saga for a new order: emit ``OrderRequested``.

Command line:  python -m order.request --order-id o-1 --customer-id c-1 --total 60

The orchestrated twin of ``order.place``: nothing is written to the order yet (the saga's
``create`` step does it); the request itself is recorded, so it is announced once. Emits
``OrderRequested`` {orderId, customerId, total, eventKey ``OrderRequested:<orderId>``}, which the
``order-saga`` trigger routes to its state machine. Running it again for the same order emits
nothing (or, after a crash between the record and PutEvents, the never-emitted request); the same
order id with another customerId or total is bad input (exit 2).
"""

import sys
from collections.abc import Sequence

from event_tasks_common import (
    ArgumentParser,
    BadInput,
    Context,
    Decision,
    Outcome,
    amount_arg,
    identifier,
    run,
    settle,
)

from . import model

USE_CASE = "order.request"
REQUEST_SK = "REQUEST"


def handle(argv: Sequence[str]) -> int:
    parser = ArgumentParser(prog="python -m order.request", description="Request an order (orchestrated saga).")
    parser.add_argument("--order-id", required=True)
    parser.add_argument("--customer-id", required=True)
    parser.add_argument("--total", required=True, help="positive integer amount")
    args = parser.parse_args(argv)
    request = {
        "orderId": identifier(args.order_id, "--order-id"),
        "customerId": identifier(args.customer_id, "--customer-id"),
        "total": amount_arg(args.total, "--total"),
    }
    order_id = request["orderId"]
    ctx = Context.from_env(model.SOURCE)

    def decide() -> Decision:
        recorded = ctx.table.get(model.pk(order_id), REQUEST_SK)
        if recorded is not None:
            if {k: recorded[k] for k in request} != request:
                raise BadInput(
                    "--order-id",
                    f"order {order_id!r} was requested with customerId {recorded['customerId']!r} "
                    f"and total {recorded['total']}",
                )
            return Decision(
                Outcome(f"order {order_id} already requested", "OrderRequested", request, subject=order_id),
                replay=True,
            )
        item = {"pk": model.pk(order_id), "sk": REQUEST_SK, "type": "OrderRequest", **request}
        return Decision(
            Outcome(f"order {order_id} requested", "OrderRequested", request, subject=order_id),
            writes=[ctx.table.put_op(item, condition="attribute_not_exists(pk)")],
        )

    return settle(ctx, use_case=USE_CASE, event=None, decide=decide)


def main(argv: Sequence[str] | None = None) -> int:
    return run(handle, argv)


if __name__ == "__main__":
    sys.exit(main())
