"""The customer's credit decisions, shared by the choreographed and the orchestrated use cases.

Each function reads the current state and returns the `Decision` (outcome and conditional writes)
that `event_tasks_common.decide_once` commits at most once per triggering event. The choreographed
use cases (`reserve_credit`, `release_credit`) announce the outcome on the customer bus; the
orchestrated ones (`reserve_credit_cmd`, `release_credit_cmd`) answer the saga's state machine.
"""

from event_tasks_common import Contradiction, Decision, Outcome, Table

from . import model


def decide_reservation(table: Table, order_id: str, customer_id: str, amount: int) -> Decision:
    """Reserve `amount` of the customer's credit for the order, refuse it, or name the recorded decision.

    One decision per order (``attribute_not_exists``): the customer's ``reserved`` is raised only
    under ``reserved <= creditLimit - amount``, so credit is never over-reserved or reserved twice.
    """
    credit = model.load_credit(table, order_id)
    if credit is not None:
        model.check_credit_matches(credit, customer_id, amount, amount_field="total")
        message = f"order {order_id} already decided ({credit['status']})"
        if credit["status"] in (model.RESERVED, model.REJECTED):
            return Decision(model.recorded_outcome(credit, message), replay=True)
        return Decision(Outcome(f"{message}: its credit decision is not announced again"), replay=True)
    customer = model.load_customer(table, customer_id)
    if customer is None:
        outcome = Outcome(
            f"order {order_id}: customer {customer_id} not found",
            "CustomerValidationFailed",
            {"orderId": order_id, "customerId": customer_id, "reason": model.CUSTOMER_NOT_FOUND},
            subject=order_id,
        )
        customer_condition = table.check_op(
            model.customer_pk(customer_id), model.CUSTOMER_SK, "attribute_not_exists(pk)"
        )
        status = model.REJECTED
    else:
        limit = customer["creditLimit"]
        available = limit - customer["reserved"]
        most_reserved_before = limit - amount
        if amount > available:
            outcome = Outcome(
                f"order {order_id}: {amount} exceeds available credit {available} of customer {customer_id}",
                "CreditLimitExceeded",
                {
                    "orderId": order_id,
                    "customerId": customer_id,
                    "amount": amount,
                    "availableCredit": available,
                },
                subject=order_id,
            )
            # Still true at commit time, else decide again on fresh state.
            customer_condition = table.check_op(
                model.customer_pk(customer_id),
                model.CUSTOMER_SK,
                "creditLimit = :limit AND reserved > :most",
                values={":limit": limit, ":most": most_reserved_before},
            )
            status = model.REJECTED
        else:
            outcome = Outcome(
                f"order {order_id}: reserved {amount} of customer {customer_id} (available {available - amount})",
                "CreditReserved",
                {"orderId": order_id, "customerId": customer_id, "amount": amount},
                subject=order_id,
            )
            customer_condition = table.update_op(
                model.customer_pk(customer_id),
                model.CUSTOMER_SK,
                "SET reserved = reserved + :amount",
                condition="creditLimit = :limit AND reserved <= :most",
                values={":amount": amount, ":limit": limit, ":most": most_reserved_before},
            )
            status = model.RESERVED
    decision_put = table.put_op(
        model.credit_item(order_id, customer_id, amount, status, outcome),
        condition="attribute_not_exists(pk)",
    )
    return Decision(outcome, writes=[decision_put, customer_condition])


def decide_release(table: Table, order_id: str, customer_id: str, amount: int, *, ended: str, prefix: str) -> Decision:
    """Give back the credit still reserved for an order that ended (`ended`: the detail-type saying so).

    `prefix` names the event fields the ids came from, for bad input.
    """
    credit = model.load_credit(table, order_id)
    if credit is None:
        return Decision(
            Outcome(f"order {order_id}: no credit decided, nothing to release; closed for reservations"),
            writes=[
                table.put_op(
                    model.credit_item(order_id, customer_id, amount, model.CLOSED, None),
                    condition="attribute_not_exists(pk)",
                )
            ],
        )
    model.check_credit_matches(credit, customer_id, amount, amount_field="total", prefix=prefix)
    status = credit["status"]
    if status == model.REJECTED:
        message = f"order {order_id}: credit was refused, nothing to release"
        if ended != "OrderCancelled":
            return Decision(Outcome(message))
        return Decision(
            Outcome(f"{message}; OrderCancelled contradicts the refusal"),
            contradiction=Contradiction(
                status, {"orderId": order_id}, "an order refused credit was cancelled, as if it had been approved"
            ),
        )
    if status == model.CLOSED:
        return Decision(Outcome(f"order {order_id}: closed before its credit was decided, nothing to release"))
    released = Outcome(
        f"order {order_id}: released {amount} of customer {customer_id}",
        "CreditReleased",
        {"orderId": order_id, "customerId": customer_id, "amount": amount},
        subject=order_id,
    )
    if status == model.RELEASED:
        return Decision(
            Outcome(
                f"order {order_id}: credit already released",
                released.detail_type,
                released.detail,
                subject=order_id,
            ),
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
