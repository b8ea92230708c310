"""order.cancel — compensation: APPROVED -> CANCELLED, emit ``OrderCancelled``.

Command line: python -m order.cancel --order-id o-1
Emits ``OrderCancelled`` {orderId, customerId, total, eventKey ``OrderCancelled:<orderId>``}.

Outcomes:
- APPROVED: set CANCELLED, emit ``OrderCancelled`` (exit 0).
- already CANCELLED: nothing written (exit 0); ``OrderCancelled`` is emitted only if it was
  recorded and never emitted — re-running the command after a failed emit delivers the event,
  re-running it after a successful one emits nothing.
- PENDING or REJECTED: refused, exit 2 (bad input: only APPROVED orders can be cancelled),
  nothing written or emitted. Unknown order: exit 2 as well.
"""

import sys
from collections.abc import Sequence

from event_tasks_common import (
    ArgumentParser,
    BadInput,
    Context,
    Decision,
    Outcome,
    identifier,
    run,
    settle,
)

from . import model

USE_CASE = "order.cancel"
DESCRIPTION = "Cancel an APPROVED order (compensation)."


def handle(argv: Sequence[str]) -> int:
    parser = ArgumentParser(prog="python -m order.cancel", description=DESCRIPTION)
    parser.add_argument("--order-id", required=True)
    args = parser.parse_args(argv)
    order_id = identifier(args.order_id, "--order-id")
    ctx = Context.from_env(model.SOURCE)

    def decide() -> Decision:
        order = model.require(ctx.table, order_id, "--order-id")
        status = order["status"]
        if status == model.APPROVED:
            return Decision(
                Outcome(
                    f"order {order_id} APPROVED -> CANCELLED", "OrderCancelled", model.summary(order), subject=order_id
                ),
                writes=[model.set_status(ctx.table, order_id, model.APPROVED, model.CANCELLED)],
            )
        if status == model.CANCELLED:
            return Decision(model.announcement(order, f"order {order_id} already CANCELLED"), replay=True)
        raise BadInput("--order-id", f"order {order_id!r} is {status}; only APPROVED orders can be cancelled")

    return settle(ctx, use_case=USE_CASE, event=None, decide=decide)


def main(argv: Sequence[str] | None = None) -> int:
    return run(handle, argv)


if __name__ == "__main__":
    sys.exit(main())
