"""Customer table layout.

- Customer ``pk = CUSTOMER#<customerId>``, ``sk = CUSTOMER``:
  ``type=Customer, customerId, creditLimit (int), reserved (int)``; invariant ``0 <= reserved <= creditLimit``
  (enforced by the conditions of every update), available credit = ``creditLimit - reserved``.
- Credit decision, one per order ``pk = ORDER#<orderId>``, ``sk = CREDIT``:
  ``type=CreditDecision, orderId, customerId, amount (int), status, outcomeDetailType, outcomeDetail (JSON)``.
  status RESERVED (counted in ``reserved``), RELEASED (was reserved, given back), REJECTED (limit
  exceeded or unknown customer, never counted), CLOSED (the order ended, cancelled or rejected,
  before its credit was decided: nothing may be reserved for it any more; no outcome fields). A
  RESERVED decision also records ``reservedAt`` (UTC, ``YYYY-MM-DDTHH:MM:SSZ``);
  ``customer.confirm_credit`` adds ``settledAt`` once the order is approved, and
  ``customer.expire_reservations`` releases unsettled ones after an age (``expiredBy``: the tick
  that did). Written with ``attribute_not_exists``, so an order is decided once whatever the number
  of OrderCreated events, and credit is never reserved twice.
- Processed-event markers and outcome records written by event_tasks_common
  (``pk = EVENT#<eventId>`` / ``EVENTKEY#<eventKey>``, ``pk = OUTCOME#<eventKey>``).
"""

import datetime as dt
import json
from typing import Any

from event_tasks_common import BadInput, Outcome, Table

SOURCE = "event-tasks.customer"

CUSTOMER_SK = "CUSTOMER"
CREDIT_SK = "CREDIT"
RESERVED = "RESERVED"
RELEASED = "RELEASED"
REJECTED = "REJECTED"
CLOSED = "CLOSED"
CUSTOMER_NOT_FOUND = "CUSTOMER_NOT_FOUND"


def customer_pk(customer_id: str) -> str:
    return f"CUSTOMER#{customer_id}"


def credit_pk(order_id: str) -> str:
    return f"ORDER#{order_id}"


def load_customer(table: Table, customer_id: str) -> dict[str, Any] | None:
    return table.get(customer_pk(customer_id), CUSTOMER_SK)


def load_credit(table: Table, order_id: str) -> dict[str, Any] | None:
    return table.get(credit_pk(order_id), CREDIT_SK)


def check_credit_matches(
    credit: dict[str, Any], customer_id: str, amount: int, *, amount_field: str, prefix: str = "eventDetail"
) -> None:
    """An event about an already decided order must agree with the decision (else bad input)."""
    if credit["customerId"] != customer_id:
        raise BadInput(
            f"{prefix}.customerId",
            f"{customer_id!r} does not match the customer {credit['customerId']!r} of order {credit['orderId']!r}",
        )
    if credit["amount"] != amount:
        raise BadInput(
            f"{prefix}.{amount_field}",
            f"{amount} does not match the amount {credit['amount']} of order {credit['orderId']!r}",
        )


def recorded_outcome(credit: dict[str, Any], message: str) -> Outcome:
    """The credit decision's own announcement (``CreditReserved``/``CreditLimitExceeded``/...)."""
    return Outcome(message, credit["outcomeDetailType"], json.loads(credit["outcomeDetail"]), subject=credit["orderId"])


def utc_timestamp(moment: dt.datetime | None = None) -> str:
    """UTC to the second, ISO 8601 with ``Z``: sorts as text, as the Scheduler writes its times."""
    return (moment or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def credit_item(order_id: str, customer_id: str, amount: int, status: str, outcome: Outcome | None) -> dict[str, Any]:
    # When the credit was reserved: the age customer.expire_reservations measures.
    reserved_at = {"reservedAt": utc_timestamp()} if status == RESERVED else {}
    item = {
        **reserved_at,
        "pk": credit_pk(order_id),
        "sk": CREDIT_SK,
        "type": "CreditDecision",
        "orderId": order_id,
        "customerId": customer_id,
        "amount": amount,
        "status": status,
    }
    if outcome is not None:
        item["outcomeDetailType"] = outcome.detail_type
        item["outcomeDetail"] = json.dumps(dict(outcome.detail or {}), sort_keys=True)
    return item
