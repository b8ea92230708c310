"""Order table layout and the order status state machine.

Item ``pk = ORDER#<orderId>``, ``sk = ORDER``:
``type=Order, orderId, customerId, total (int), status, rejectionReason (only when REJECTED)``.
Status: PENDING -> APPROVED | REJECTED; APPROVED -> CANCELLED.
Plus the processed-event markers and outcome records written by event_tasks_common
(``pk = EVENT#<eventId>`` / ``EVENTKEY#<eventKey>``, ``pk = OUTCOME#<eventKey>``).

Each status is announced by one fact, ``STATUS_EVENT``; its eventKey is ``<detail-type>:<orderId>``.
"""

from typing import Any

from event_tasks_common import BadInput, Outcome, Table

SOURCE = "event-tasks.order"

PENDING = "PENDING"
APPROVED = "APPROVED"
REJECTED = "REJECTED"
CANCELLED = "CANCELLED"

SK = "ORDER"

STATUS_EVENT = {
    PENDING: "OrderCreated",
    APPROVED: "OrderApproved",
    REJECTED: "OrderRejected",
    CANCELLED: "OrderCancelled",
}


def pk(order_id: str) -> str:
    return f"ORDER#{order_id}"


def load(table: Table, order_id: str) -> dict[str, Any] | None:
    return table.get(pk(order_id), SK)


def require(table: Table, order_id: str, field: str) -> dict[str, Any]:
    order = load(table, order_id)
    if order is None:
        raise BadInput(field, f"order {order_id!r} does not exist")
    return order


def check_matches(order: dict[str, Any], customer_id: str, amount: int, *, prefix: str, amount_field: str) -> None:
    """An event about this order must agree with it; a mismatch is bad input (nothing changed)."""
    if order["customerId"] != customer_id:
        raise BadInput(
            f"{prefix}.customerId",
            f"{customer_id!r} does not match order {order['orderId']!r} customer {order['customerId']!r}",
        )
    if order["total"] != amount:
        raise BadInput(
            f"{prefix}.{amount_field}",
            f"{amount} does not match order {order['orderId']!r} total {order['total']}",
        )


def summary(order: dict[str, Any]) -> dict[str, Any]:
    """The common part of every Order* event detail."""
    return {"orderId": order["orderId"], "customerId": order["customerId"], "total": order["total"]}


def announcement(order: dict[str, Any], message: str) -> Outcome:
    """The fact the order's current status announces (to re-emit only if recorded, never emitted)."""
    detail = summary(order)
    if order["status"] == REJECTED:
        detail["reason"] = order["rejectionReason"]
    return Outcome(message, STATUS_EVENT[order["status"]], detail, subject=order["orderId"])


def set_status(table: Table, order_id: str, expected: str, new: str, **extra: Any) -> Any:
    """Conditional status transition ``expected -> new`` (fails if someone moved it meanwhile)."""
    assignments = ["#status = :new"] + [f"{name} = :{name}" for name in extra]
    return table.update_op(
        pk(order_id),
        SK,
        "SET " + ", ".join(assignments),
        condition="#status = :expected",
        names={"#status": "status"},
        values={":new": new, ":expected": expected, **{f":{name}": value for name, value in extra.items()}},
    )
