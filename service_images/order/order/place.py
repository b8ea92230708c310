"""order.place — the ``POST /orders`` step: write the order PENDING and emit ``OrderCreated``.

Command line:  python -m order.place --order-id o-1 --customer-id c-1 --total 60
By an event:   python -m order.place   (env eventDetail/eventId/eventDetailType/eventSource)
               detail-type ``PlaceOrderRequested`` from any source, detail {orderId, customerId, total}.
Giving both command-line arguments and trigger env vars is bad input.

Emits ``OrderCreated`` {orderId, customerId, total, eventKey ``OrderCreated:<orderId>``}.
Idempotency: the order id is the business key (conditional put). Placing an existing order with
the same customerId and total writes nothing; ``OrderCreated`` is emitted again only if it was
recorded and never emitted (the crash window) AND the order is still PENDING: an order that was
approved, rejected or cancelled since is not announced as created again. Same order id with a
different customerId or total: bad input (exit 2). When triggered by an event, the same eventId
or eventKey run twice is a duplicate (the same rules, nothing written).
"""

import sys
from collections.abc import Sequence

from event_tasks_common import (
    ANY_SOURCE,
    ArgumentParser,
    BadInput,
    Context,
    Decision,
    Outcome,
    amount_arg,
    identifier,
    read_event,
    run,
    settle,
    trigger_present,
)

from . import model

USE_CASE = "order.place"
TRIGGERS = {"PlaceOrderRequested": ANY_SOURCE}


def _parser() -> ArgumentParser:
    parser = ArgumentParser(prog="python -m order.place", description="Place an order (PENDING).")
    parser.add_argument("--order-id")
    parser.add_argument("--customer-id")
    parser.add_argument("--total", help="positive integer amount")
    return parser


def handle(argv: Sequence[str]) -> int:
    args = _parser().parse_args(argv)
    cli_values = {"--order-id": args.order_id, "--customer-id": args.customer_id, "--total": args.total}
    event = None
    if any(value is not None for value in cli_values.values()):
        if trigger_present():
            raise BadInput("arguments", "give either command-line arguments or a triggering event, not both")
        for name, value in cli_values.items():
            if value is None:
                raise BadInput(name, "required")
        order_id = identifier(args.order_id, "--order-id")
        customer_id = identifier(args.customer_id, "--customer-id")
        total = amount_arg(args.total, "--total")
        order_field = "--order-id"
    elif not trigger_present():
        raise BadInput("arguments", "give --order-id, --customer-id and --total, or start the task with an event")
    else:
        event = read_event(TRIGGERS)
        order_id = event.detail.identifier("orderId")
        customer_id = event.detail.identifier("customerId")
        total = event.detail.amount("total")
        order_field = "eventDetail.orderId"

    ctx = Context.from_env(model.SOURCE)
    order = {"orderId": order_id, "customerId": customer_id, "total": total}

    def decide() -> Decision:
        existing = model.load(ctx.table, order_id)
        if existing is not None:
            if model.summary(existing) != order:
                raise BadInput(
                    order_field,
                    f"order {order_id!r} already exists with customerId {existing['customerId']!r} "
                    f"and total {existing['total']}",
                )
            message = f"order {order_id} already placed ({existing['status']})"
            if existing["status"] != model.PENDING:
                return Decision(Outcome(f"{message}: OrderCreated is not announced again"), replay=True)
            return Decision(model.announcement(existing, message), replay=True)
        item = {"pk": model.pk(order_id), "sk": model.SK, "type": "Order", **order, "status": model.PENDING}
        return Decision(
            Outcome(f"order {order_id} placed PENDING", "OrderCreated", order, subject=order_id),
            writes=[ctx.table.put_op(item, condition="attribute_not_exists(pk)")],
        )

    return settle(ctx, use_case=USE_CASE, event=event, decide=decide)


def main(argv: Sequence[str] | None = None) -> int:
    return run(handle, argv)


if __name__ == "__main__":
    sys.exit(main())
