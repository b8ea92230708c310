"""customer.expire_reservations — on a schedule tick: release credit held too long by unsettled orders.

Trigger: detail-type ``Scheduled`` from ``event-tasks.scheduler`` (an EventBridge Scheduler tick:
``eventId`` and ``detail.scheduledTime`` are the tick's scheduled time). Argument
``--older-than AGE`` (``<n>s|m|h|d``, default ``24h``).

The customer service never reads the order service's table: it decides from its own credit
decisions. A reservation expires when it is RESERVED, has no ``settledAt`` (``customer.confirm_credit``
sets it when the order is approved) and its ``reservedAt`` is at or before ``scheduledTime - AGE``.
The cut-off comes from the tick, not the clock, so running the same tick again decides the same set.

Per expiring reservation, one transaction sets it RELEASED (``expiredBy`` = the tick; condition:
still RESERVED and unsettled) and decrements the customer's ``reserved`` (condition
``reserved >= amount``), then ``CreditReservationExpired`` {orderId, customerId, amount, reservedAt}
is emitted. Idempotent per tick: a re-run of the same tick re-emits the outcome of the reservations
that tick expired and releases nothing twice; a concurrent tick releases each reservation once.
Exit 0 (also when nothing expired), 2 on bad input (nothing written).
"""

import datetime as dt
import re
import sys
from collections.abc import Sequence
from typing import Any

from event_tasks_common import (
    ArgumentParser,
    BadInput,
    Context,
    Decision,
    Outcome,
    decide_once,
    read_trigger_event,
    run,
)
from event_tasks_common.process import announce, announce_again
from event_tasks_common.store import from_attributes, to_attributes

from . import model

USE_CASE = "customer.expire_reservations"
TRIGGERS = {"Scheduled": "event-tasks.scheduler"}
EXPIRED = "CreditReservationExpired"
AGE = re.compile(r"^(?P<value>\d+)(?P<unit>[smhd])$")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
SCHEDULED_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def parse_age(text: str) -> dt.timedelta:
    match = AGE.match(text)
    if not match:
        raise BadInput("--older-than", f"{text!r} is not an age; use <n>s, <n>m, <n>h or <n>d, e.g. 24h")
    return dt.timedelta(seconds=int(match["value"]) * UNIT_SECONDS[match["unit"]])


def parse_time(text: str, field: str) -> dt.datetime:
    if not SCHEDULED_TIME.match(text):
        raise BadInput(field, f"{text!r} is not a UTC time like 2026-11-29T03:00:00Z")
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)


def candidates(ctx: Context, tick: str) -> list[str]:
    """Order ids whose decision is RESERVED, or was expired by this tick (to re-emit)."""
    orders: list[str] = []
    start: dict[str, Any] | None = None
    while True:
        page = ctx.table.client.scan(
            TableName=ctx.table.name,
            ConsistentRead=True,
            FilterExpression="sk = :credit AND (#status = :reserved OR expiredBy = :tick)",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=to_attributes(
                {":credit": model.CREDIT_SK, ":reserved": model.RESERVED, ":tick": tick}
            ),
            **({"ExclusiveStartKey": start} if start else {}),
        )
        orders += [from_attributes(item)["orderId"] for item in page.get("Items", [])]
        start = page.get("LastEvaluatedKey")
        if not start:
            return sorted(orders)


def handle(argv: Sequence[str]) -> int:
    parser = ArgumentParser(
        prog="python -m customer.expire_reservations",
        description="Release credit reserved by orders that were not settled within an age.",
    )
    parser.add_argument("--older-than", default="24h", help="age of an unsettled reservation to release (default 24h)")
    args = parser.parse_args(argv)
    age = parse_age(args.older_than)
    event = read_trigger_event(TRIGGERS)
    tick = event.event_id
    scheduled = parse_time(event.detail.text("scheduledTime"), "eventDetail.scheduledTime")
    if model.utc_timestamp(scheduled) != parse_time(tick, "eventId").strftime("%Y-%m-%dT%H:%M:%SZ"):
        raise BadInput("eventId", f"{tick!r} is not the tick's scheduledTime; the schedule's input sets both to it")
    cutoff = model.utc_timestamp(scheduled - age)
    ctx = Context.from_env(model.SOURCE)
    table = ctx.table

    def decide_for(order_id: str) -> Decision:
        credit = model.load_credit(table, order_id)
        if credit is None:
            return Decision(Outcome(f"order {order_id}: no credit decision"))
        detail = {
            "orderId": order_id,
            "customerId": credit["customerId"],
            "amount": credit["amount"],
            "reservedAt": credit.get("reservedAt", ""),
        }
        if credit["status"] == model.RELEASED and credit.get("expiredBy") == tick:
            return Decision(
                Outcome(f"order {order_id}: expired by this tick", EXPIRED, detail, subject=order_id), replay=True
            )
        reserved_at = credit.get("reservedAt")
        if credit["status"] != model.RESERVED or credit.get("settledAt") or not reserved_at or reserved_at > cutoff:
            return Decision(Outcome(f"order {order_id}: kept"))
        return Decision(
            Outcome(
                f"order {order_id}: released {credit['amount']} of customer {credit['customerId']} "
                f"reserved at {reserved_at}, unsettled after {args.older_than}",
                EXPIRED,
                detail,
                subject=order_id,
            ),
            writes=[
                table.update_op(
                    model.credit_pk(order_id),
                    model.CREDIT_SK,
                    "SET #status = :released, expiredBy = :tick",
                    condition="#status = :reserved AND attribute_not_exists(settledAt)",
                    names={"#status": "status"},
                    values={":released": model.RELEASED, ":reserved": model.RESERVED, ":tick": tick},
                ),
                table.update_op(
                    model.customer_pk(credit["customerId"]),
                    model.CUSTOMER_SK,
                    "SET reserved = reserved - :amount",
                    condition="reserved >= :amount",
                    values={":amount": credit["amount"]},
                ),
            ],
        )

    expired = 0
    for order_id in candidates(ctx, tick):
        settled = decide_once(table, use_case=USE_CASE, event=None, decide=lambda o=order_id: decide_for(o))
        outcome = settled.decision.outcome
        if outcome.detail_type and outcome.event_key:
            expired += 1
            # Announced once (emit-once, as every use case): a repeated tick re-emits only an
            # expiry recorded but never emitted.
            said = (
                announce(ctx, outcome.event_key, outcome.detail_type, outcome.detail or {})
                if settled.committed
                else announce_again(ctx, outcome.event_key)
            )
            print(f"{USE_CASE}: {'replay: ' if settled.decision.replay else ''}{outcome.message}; {said}")
    print(f"{USE_CASE}: tick {tick}: {expired} reservation(s) unsettled since before {cutoff} expired", flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(handle, argv)


if __name__ == "__main__":
    sys.exit(main())
