"""Order service: place (command line and event), approve, reject, cancel; status state machine."""

import pytest

from .saga_world import World, event, only

ORDER = "event-tasks.order"
CUSTOMER = "event-tasks.customer"


def place(world: World, order_id: str = "o-1", customer_id: str = "c-1", total: int = 60) -> None:
    argv = ["--order-id", order_id, "--customer-id", customer_id, "--total", str(total)]
    assert world.run("order.place", argv).code == 0
    world.emitted("order")


def credit_reserved(order_id: str = "o-1", amount: int = 60, event_id: str = "e-cr") -> dict:
    detail = {"orderId": order_id, "customerId": "c-1", "amount": amount}
    return event("CreditReserved", CUSTOMER, detail, event_id)


def limit_exceeded(order_id: str = "o-1", amount: int = 60, event_id: str = "e-le") -> dict:
    detail = {"orderId": order_id, "customerId": "c-1", "amount": amount, "availableCredit": 40}
    return event("CreditLimitExceeded", CUSTOMER, detail, event_id)


def validation_failed(order_id: str = "o-1", event_id: str = "e-vf") -> dict:
    detail = {"orderId": order_id, "customerId": "c-1", "reason": "CUSTOMER_NOT_FOUND"}
    return event("CustomerValidationFailed", CUSTOMER, detail, event_id)


def approved(world: World, order_id: str = "o-1") -> None:
    place(world, order_id)
    assert world.run("order.approve", event=credit_reserved(order_id, event_id=f"e-cr-{order_id}")).code == 0
    world.emitted("order")


def test_place_from_the_command_line_writes_pending_and_emits_order_created(world: World) -> None:
    # GIVEN an empty order table
    # WHEN the POST /orders step runs from the command line
    result = world.run("order.place", ["--order-id", "o-1", "--customer-id", "c-1", "--total", "60"])
    # THEN the order is PENDING and OrderCreated went to the order bus (only)
    assert result.code == 0
    order = world.order("o-1")
    assert order is not None
    assert (order["status"], order["customerId"], order["total"]) == ("PENDING", "c-1", 60)
    emitted = only(world.emitted("order"))
    assert (emitted["source"], emitted["detail-type"]) == (ORDER, "OrderCreated")
    assert emitted["detail"] == {"orderId": "o-1", "customerId": "c-1", "total": 60, "eventKey": "OrderCreated:o-1"}
    assert world.emitted("customer") == []


def test_place_triggered_by_an_event(world: World) -> None:
    # GIVEN a PlaceOrderRequested event (e.g. from an API front end)
    detail = {"orderId": "o-7", "customerId": "c-1", "total": 25}
    trigger = event("PlaceOrderRequested", "event-tasks.api", detail, "e-place")
    # WHEN order.place runs with it, twice
    first = world.run("order.place", event=trigger)
    second = world.run("order.place", event=trigger)
    # THEN one PENDING order, a processed-event marker, and OrderCreated emitted once
    assert (first.code, second.code) == (0, 0)
    assert world.order("o-7")["status"] == "PENDING"
    assert world.item("order", "EVENT#e-place", "USECASE#order.place") is not None
    emitted = world.emitted("order")
    assert [e["detail"] for e in emitted] == [{**detail, "eventKey": "OrderCreated:o-7"}]
    assert "OrderCreated:o-7 already emitted" in second.out


def test_place_with_both_arguments_and_event_is_bad_input(world: World) -> None:
    # GIVEN trigger env vars present
    trigger = event("PlaceOrderRequested", "x", {"orderId": "o-1", "customerId": "c-1", "total": 1}, "e-1")
    # WHEN order.place is also given command-line arguments
    result = world.run("order.place", ["--order-id", "o-2", "--customer-id", "c-1", "--total", "5"], event=trigger)
    # THEN exit 2 and nothing happened
    assert result.code == 2
    assert result.err.startswith("bad input: arguments:")
    assert world.items("order") == []
    assert world.emitted("order") == []


def test_place_same_order_again_emits_nothing_and_different_data_is_refused(world: World) -> None:
    # GIVEN o-1 placed (60 for c-1)
    place(world)
    # WHEN placed again identically, then with another total
    same = world.run("order.place", ["--order-id", "o-1", "--customer-id", "c-1", "--total", "60"])
    same_emitted = world.emitted("order")
    other = world.run("order.place", ["--order-id", "o-1", "--customer-id", "c-1", "--total", "61"])
    # THEN the first is a replay emitting nothing (OrderCreated went out once); the second is exit 2
    assert same.code == 0
    assert same_emitted == []
    assert other.code == 2
    assert other.err.startswith("bad input: --order-id: order 'o-1' already exists")
    assert world.order("o-1")["total"] == 60
    assert world.emitted("order") == []


def test_approve_moves_pending_to_approved(world: World) -> None:
    # GIVEN o-1 PENDING
    place(world)
    # WHEN CreditReserved for it arrives
    result = world.run("order.approve", event=credit_reserved())
    # THEN APPROVED and OrderApproved emitted
    assert result.code == 0
    assert world.order("o-1")["status"] == "APPROVED"
    emitted = only(world.emitted("order"))
    assert (emitted["source"], emitted["detail-type"]) == (ORDER, "OrderApproved")
    assert emitted["detail"] == {"orderId": "o-1", "customerId": "c-1", "total": 60, "eventKey": "OrderApproved:o-1"}


def test_approve_replay_changes_nothing_and_emits_nothing(world: World) -> None:
    # GIVEN o-1 approved by CreditReserved e-cr
    place(world)
    world.run("order.approve", event=credit_reserved(event_id="e-cr"))
    world.emitted("order")
    state = world.items("order")
    # WHEN the same event runs again
    result = world.run("order.approve", event=credit_reserved(event_id="e-cr"))
    # THEN no write at all, and OrderApproved, emitted once, is not emitted again
    assert result.code == 0
    assert world.items("order") == state
    assert world.emitted("order") == []


@pytest.mark.parametrize(
    ("trigger", "reason"),
    [(limit_exceeded(), "CREDIT_LIMIT_EXCEEDED"), (validation_failed(), "CUSTOMER_NOT_FOUND")],
    ids=["limit-exceeded", "unknown-customer"],
)
def test_reject_moves_pending_to_rejected_with_the_reason(world: World, trigger: dict, reason: str) -> None:
    # GIVEN o-1 PENDING
    place(world)
    # WHEN the customer service refused the credit
    result = world.run("order.reject", event=trigger)
    # THEN REJECTED with the reason, and OrderRejected carries it
    assert result.code == 0
    order = world.order("o-1")
    assert (order["status"], order["rejectionReason"]) == ("REJECTED", reason)
    emitted = only(world.emitted("order"))
    assert emitted["detail-type"] == "OrderRejected"
    assert emitted["detail"] == {
        "orderId": "o-1",
        "customerId": "c-1",
        "total": 60,
        "reason": reason,
        "eventKey": "OrderRejected:o-1",
    }


def test_reject_of_an_already_rejected_order_keeps_the_recorded_reason(world: World) -> None:
    # GIVEN o-1 rejected for CREDIT_LIMIT_EXCEEDED
    place(world)
    world.run("order.reject", event=limit_exceeded(event_id="e-1"))
    world.emitted("order")
    # WHEN another refusal for it arrives under a new event id
    result = world.run("order.reject", event=limit_exceeded(event_id="e-2"))
    # THEN still REJECTED with the first reason; OrderRejected, emitted once, is not emitted again
    assert result.code == 0
    assert world.order("o-1")["rejectionReason"] == "CREDIT_LIMIT_EXCEEDED"
    assert "OrderRejected:o-1 already emitted" in result.out
    assert world.emitted("order") == []


def test_late_credit_events_for_a_decided_order_change_nothing(world: World) -> None:
    # GIVEN o-1 APPROVED and o-2 REJECTED
    approved(world, "o-1")
    place(world, "o-2")
    world.run("order.reject", event=limit_exceeded("o-2", event_id="e-le-o-2"))
    world.emitted("order")
    # WHEN a refusal for o-1 and a reservation for o-2 arrive (new event ids)
    reject = world.run("order.reject", event=limit_exceeded("o-1", event_id="e-late-1"))
    approve = world.run("order.approve", event=credit_reserved("o-2", event_id="e-late-2"))
    # THEN both are handled (exit 0) without changing a status or emitting
    assert (reject.code, approve.code) == (0, 0)
    assert "ignored" in reject.out and "ignored" in approve.out
    assert (world.order("o-1")["status"], world.order("o-2")["status"]) == ("APPROVED", "REJECTED")
    assert world.emitted("order") == []


def test_approve_of_an_unknown_order_is_bad_input(world: World) -> None:
    # GIVEN no order o-9
    # WHEN CreditReserved for o-9 arrives
    result = world.run("order.approve", event=credit_reserved("o-9"))
    # THEN exit 2 naming eventDetail.orderId; nothing written or emitted
    assert result.code == 2
    assert result.err.startswith("bad input: eventDetail.orderId: order 'o-9' does not exist")
    assert world.items("order") == []
    assert world.emitted("order") == []


def test_approve_with_an_amount_not_matching_the_order_is_bad_input(world: World) -> None:
    # GIVEN o-1 PENDING for 60
    place(world)
    # WHEN CreditReserved says 59
    result = world.run("order.approve", event=credit_reserved(amount=59))
    # THEN exit 2 naming eventDetail.amount; still PENDING
    assert result.code == 2
    assert result.err.startswith("bad input: eventDetail.amount:")
    assert world.order("o-1")["status"] == "PENDING"
    assert world.emitted("order") == []


def test_cancel_an_approved_order(world: World) -> None:
    # GIVEN o-1 APPROVED
    approved(world)
    # WHEN an operator cancels it, then runs the command again
    first = world.run("order.cancel", ["--order-id", "o-1"])
    second = world.run("order.cancel", ["--order-id", "o-1"])
    # THEN CANCELLED; OrderCancelled emitted by the first, not again by the replay
    assert (first.code, second.code) == (0, 0)
    assert world.order("o-1")["status"] == "CANCELLED"
    emitted = only(world.emitted("order"))
    assert emitted["detail"] == {"orderId": "o-1", "customerId": "c-1", "total": 60, "eventKey": "OrderCancelled:o-1"}


@pytest.mark.parametrize("status", ["PENDING", "REJECTED"])
def test_cancel_of_a_non_approved_order_is_refused(world: World, status: str) -> None:
    # GIVEN o-1 PENDING or REJECTED
    place(world)
    if status == "REJECTED":
        world.run("order.reject", event=validation_failed())
        world.emitted("order")
    state = world.items("order")
    # WHEN someone cancels it
    result = world.run("order.cancel", ["--order-id", "o-1"])
    # THEN exit 2 with one line saying only APPROVED orders can be cancelled; nothing changed
    assert result.code == 2
    assert result.err == f"bad input: --order-id: order 'o-1' is {status}; only APPROVED orders can be cancelled\n"
    assert world.items("order") == state
    assert world.emitted("order") == []


def test_cancel_of_an_unknown_order_is_refused(world: World) -> None:
    # GIVEN no order
    # WHEN cancelling o-9
    result = world.run("order.cancel", ["--order-id", "o-9"])
    # THEN exit 2 naming --order-id
    assert result.code == 2
    assert result.err.startswith("bad input: --order-id: order 'o-9' does not exist")
    assert world.emitted("order") == []
