"""An event contradicting a final state a service recorded changes nothing, exits 0, and is not
dropped silently: ONE JSON warning line on stderr, ``"kind":"ContradictingEvent"`` (a stable key
the sandbox counts), written once per event, not again on its redelivery."""

import io
import json

from event_tasks_common import Contradiction, warn_contradicting
from event_tasks_common.trigger import Detail, TriggerEvent

from .saga_world import World, event

ORDER = "event-tasks.order"
CUSTOMER = "event-tasks.customer"


def warnings(err: str) -> list[dict]:
    return [json.loads(line) for line in err.splitlines()]


def given(world: World, status: str) -> None:
    """c-1 (limit 100) and o-1 (60) in ``status`` through the saga's own use cases."""
    assert world.run("customer.create", ["--customer-id", "c-1", "--credit-limit", "100"]).code == 0
    assert world.run("order.place", ["--order-id", "o-1", "--customer-id", "c-1", "--total", "60"]).code == 0
    if status in ("APPROVED", "CANCELLED"):
        reserved = {"orderId": "o-1", "customerId": "c-1", "amount": 60}
        assert world.run("order.approve", event=event("CreditReserved", CUSTOMER, reserved, "e-cr")).code == 0
    if status == "CANCELLED":
        assert world.run("order.cancel", ["--order-id", "o-1"]).code == 0
    if status == "REJECTED":
        refused = {"orderId": "o-1", "customerId": "c-1", "reason": "CUSTOMER_NOT_FOUND"}
        assert world.run("order.reject", event=event("CustomerValidationFailed", CUSTOMER, refused, "e-vf")).code == 0
    world.emitted("order")
    world.emitted("customer")


def limit_exceeded(event_id: str = "e-le") -> dict:
    detail = {"orderId": "o-1", "customerId": "c-1", "amount": 60, "availableCredit": 0}
    return event("CreditLimitExceeded", CUSTOMER, detail, event_id)


def test_the_warning_is_one_json_line_with_stable_keys() -> None:
    # GIVEN an event with an eventKey and a contradiction, with a newline in its message
    trigger = TriggerEvent(
        "e-1",
        "CreditLimitExceeded",
        CUSTOMER,
        Detail({"orderId": "o-1", "eventKey": "CreditLimitExceeded:o-1"}),
    )
    stream = io.StringIO()
    # WHEN it is warned about
    warn_contradicting("order.reject", trigger, Contradiction("APPROVED", {"orderId": "o-1"}, "two\nlines"), stream)
    # THEN exactly one line, these keys in this order
    (line,) = stream.getvalue().splitlines()
    assert json.loads(line) == {
        "level": "WARNING",
        "kind": "ContradictingEvent",
        "useCase": "order.reject",
        "eventId": "e-1",
        "event": "CreditLimitExceeded",
        "source": CUSTOMER,
        "eventKey": "CreditLimitExceeded:o-1",
        "orderId": "o-1",
        "state": "APPROVED",
        "message": "two\nlines",
    }
    assert list(json.loads(line))[:2] == ["level", "kind"]


def test_a_credit_refusal_for_an_approved_order_is_warned_once(world: World) -> None:
    # GIVEN o-1 APPROVED
    given(world, "APPROVED")
    state = world.items("order")
    # WHEN CreditLimitExceeded for it arrives, then is redelivered
    first = world.run("order.reject", event=limit_exceeded())
    again = world.run("order.reject", event=limit_exceeded())
    # THEN exit 0, order unchanged, nothing emitted, one warning for the first delivery only
    assert (first.code, again.code) == (0, 0)
    (warning,) = warnings(first.err)
    assert {k: warning[k] for k in ("level", "kind", "useCase", "eventId", "event", "orderId", "state")} == {
        "level": "WARNING",
        "kind": "ContradictingEvent",
        "useCase": "order.reject",
        "eventId": "e-le",
        "event": "CreditLimitExceeded",
        "orderId": "o-1",
        "state": "APPROVED",
    }
    assert again.err == ""
    assert world.order("o-1")["status"] == "APPROVED"
    assert [i for i in world.items("order") if not i["pk"].startswith("EVENT#")] == [
        i for i in state if not i["pk"].startswith("EVENT#")
    ]
    assert world.emitted("order") == []


def test_a_validation_failure_for_a_cancelled_order_is_warned(world: World) -> None:
    # GIVEN o-1 CANCELLED
    given(world, "CANCELLED")
    refused = {"orderId": "o-1", "customerId": "c-1", "reason": "CUSTOMER_NOT_FOUND"}
    # WHEN CustomerValidationFailed for it arrives
    result = world.run("order.reject", event=event("CustomerValidationFailed", CUSTOMER, refused, "e-vf"))
    # THEN one warning naming the CANCELLED state; nothing emitted
    assert result.code == 0
    assert [(w["kind"], w["state"]) for w in warnings(result.err)] == [("ContradictingEvent", "CANCELLED")]
    assert world.emitted("order") == []


def test_credit_reserved_for_a_rejected_order_is_warned(world: World) -> None:
    # GIVEN o-1 REJECTED
    given(world, "REJECTED")
    reserved = {"orderId": "o-1", "customerId": "c-1", "amount": 60}
    # WHEN CreditReserved for it arrives
    result = world.run("order.approve", event=event("CreditReserved", CUSTOMER, reserved, "e-cr"))
    # THEN one warning from order.approve naming REJECTED; still REJECTED, nothing emitted
    assert result.code == 0
    assert [(w["useCase"], w["state"]) for w in warnings(result.err)] == [("order.approve", "REJECTED")]
    assert world.order("o-1")["status"] == "REJECTED"
    assert world.emitted("order") == []


def test_a_cancellation_of_an_order_refused_credit_is_warned_by_the_customer_service(world: World) -> None:
    # GIVEN o-1 refused credit (limit 10)
    assert world.run("customer.create", ["--customer-id", "c-1", "--credit-limit", "10"]).code == 0
    created = {"orderId": "o-1", "customerId": "c-1", "total": 60}
    assert world.run("customer.reserve_credit", event=event("OrderCreated", ORDER, created, "e-oc")).code == 0
    world.emitted("customer")
    # WHEN OrderCancelled for it arrives
    result = world.run("customer.release_credit", event=event("OrderCancelled", ORDER, created, "e-x"))
    # THEN one warning naming the REJECTED credit decision; nothing released or emitted
    assert result.code == 0
    assert [(w["useCase"], w["state"], w["orderId"]) for w in warnings(result.err)] == [
        ("customer.release_credit", "REJECTED", "o-1")
    ]
    assert world.customer("c-1")["reserved"] == 0
    assert world.emitted("customer") == []


def test_duplicates_and_late_events_that_agree_with_the_state_warn_nothing(world: World) -> None:
    # GIVEN o-1 REJECTED for CUSTOMER_NOT_FOUND
    given(world, "REJECTED")
    # WHEN another refusal for it arrives (agreeing: it is rejected)
    result = world.run("order.reject", event=limit_exceeded("e-le-2"))
    # THEN no warning, exit 0
    assert (result.code, result.err) == (0, "")
