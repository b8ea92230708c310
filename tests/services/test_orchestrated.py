"""The orchestrated saga's use cases (order-saga in the stack files), run as its steps run them:
each reads the OrderRequested event and the earlier results (sagaResults), answers a result and
announces nothing; each is safe to retry and to compensate, in any order a failure can produce."""

from __future__ import annotations

import json
from typing import Any

import pytest

from .saga_world import World, event

ORDER = "event-tasks.order"


def requested(order_id: str, customer_id: str, total: int, event_id: str = "req-1") -> dict[str, Any]:
    return event("OrderRequested", ORDER, {"orderId": order_id, "customerId": customer_id, "total": total}, event_id)


def step(
    world: World, use_case: str, request: dict[str, Any], results: dict[str, Any] | None = None, *, name: str = "x"
) -> dict[str, Any]:
    """Run one step as the state machine does; return its answer (the result it prints without a token)."""
    ran = world.run(use_case, event=request, env={"sagaStep": name, "sagaResults": json.dumps(results or {})})
    assert ran.code == 0, ran
    (line,) = [line for line in ran.out.splitlines() if line.startswith("result: ")]
    return json.loads(line.removeprefix("result: "))


def customer(world: World, customer_id: str = "c-1", limit: int = 100) -> None:
    assert world.run("customer.create", ["--customer-id", customer_id, "--credit-limit", str(limit)]).code == 0
    world.emitted("customer")


def saga(world: World, request: dict[str, Any]) -> dict[str, Any]:
    """The happy path of order-saga, step by step, each result handed to the next."""
    results: dict[str, Any] = {}
    results["create"] = step(world, "order.create_pending", request, results, name="create")
    results["reserve"] = step(world, "customer.reserve_credit_cmd", request, results, name="reserve")
    if results["reserve"]["status"] == "RESERVED":
        results["approve"] = step(world, "order.approve_cmd", request, results, name="approve")
    else:
        results["reject"] = step(world, "order.reject_cmd", request, results, name="reject")
    return results


def test_an_approved_order_answers_every_step_and_announces_nothing(world: World):
    # GIVEN a customer with credit 100
    customer(world)
    # WHEN the saga runs for an order of 60
    results = saga(world, requested("s-1", "c-1", 60))
    # THEN each step answered, the order is approved with its credit held
    assert results == {
        "create": {"status": "PENDING"},
        "reserve": {"status": "RESERVED", "amount": 60},
        "approve": {"status": "APPROVED"},
    }
    assert world.order("s-1")["status"] == "APPROVED"
    assert world.customer("c-1")["reserved"] == 60
    # AND no service put an event on its bus: nothing starts the choreographed twin
    assert world.emitted("order") == [] and world.emitted("customer") == []


@pytest.mark.parametrize(
    ("customer_id", "reserve", "reason"),
    [
        ("c-1", {"status": "CREDIT_LIMIT_EXCEEDED", "amount": 150, "availableCredit": 100}, "CREDIT_LIMIT_EXCEEDED"),
        ("c-404", {"status": "CUSTOMER_NOT_FOUND"}, "CUSTOMER_NOT_FOUND"),
    ],
)
def test_a_refused_reservation_is_answered_and_the_order_rejected_for_it(world: World, customer_id, reserve, reason):
    customer(world)
    results = saga(world, requested("s-2", customer_id, 150))
    assert results["reserve"] == reserve
    assert results["reject"] == {"status": "REJECTED", "reason": reason}
    assert world.order("s-2")["rejectionReason"] == reason
    assert world.customer("c-1")["reserved"] == 0


def test_a_redelivered_request_changes_nothing_and_answers_the_same(world: World):
    # GIVEN a saga that completed
    customer(world)
    request = requested("s-1", "c-1", 60)
    first = saga(world, request)
    # WHEN the same OrderRequested runs the whole saga again (and then each step once more)
    again = saga(world, request)
    # THEN every answer is the final state, and no credit was reserved twice
    assert again == {**first, "create": {"status": "APPROVED"}}
    assert step(world, "customer.reserve_credit_cmd", request, name="reserve") == {"status": "RESERVED", "amount": 60}
    assert world.customer("c-1")["reserved"] == 60


def test_a_failed_saga_is_compensated_in_reverse_and_twice_is_once(world: World):
    # GIVEN create and reserve done, then a later step failed
    customer(world)
    request = requested("s-1", "c-1", 60)
    step(world, "order.create_pending", request, name="create")
    step(world, "customer.reserve_credit_cmd", request, name="reserve")
    # WHEN the compensations run in reverse, each twice (a retry)
    for _ in range(2):
        released = step(world, "customer.release_credit_cmd", request, name="reserve")
        rejected = step(world, "order.reject_cmd", request, {"reserve": {"status": "RESERVED"}}, name="create")
    # THEN the credit is back and the order rejected because the saga failed
    assert released == {"status": "RELEASED", "amount": 60}
    assert rejected == {"status": "REJECTED", "reason": "SAGA_FAILED"}
    assert world.customer("c-1")["reserved"] == 0


def test_compensation_takes_back_an_approval_the_failed_saga_never_announced(world: World):
    customer(world)
    request = requested("s-1", "c-1", 60)
    results = saga(world, request)
    assert results["approve"] == {"status": "APPROVED"}
    step(world, "customer.release_credit_cmd", request, name="reserve")
    assert step(world, "order.reject_cmd", request, results, name="create") == {
        "status": "REJECTED",
        "reason": "SAGA_FAILED",
    }
    assert (world.order("s-1")["status"], world.customer("c-1")["reserved"]) == ("REJECTED", 0)


def test_a_late_create_after_its_compensation_leaves_no_pending_order(world: World):
    # GIVEN create's attempt is slow: the saga gave up and compensated before it ran
    request = requested("s-1", "c-1", 60)
    assert step(world, "order.reject_cmd", request, name="create") == {"status": "REJECTED", "reason": "SAGA_FAILED"}
    # WHEN the slow attempt finally runs
    late = step(world, "order.create_pending", request, name="create")
    # THEN it finds the rejected order and creates nothing
    assert late == {"status": "REJECTED"}
    assert world.order("s-1")["status"] == "REJECTED"


def test_a_late_reservation_after_its_release_holds_no_credit(world: World):
    # GIVEN the reserve step's slow attempt: the saga released (closed) the order's credit first
    customer(world)
    request = requested("s-1", "c-1", 60)
    assert step(world, "customer.release_credit_cmd", request, name="reserve") == {"status": "CLOSED"}
    # WHEN the slow attempt runs
    assert step(world, "customer.reserve_credit_cmd", request, name="reserve") == {"status": "CLOSED"}
    # THEN nothing is held
    assert world.customer("c-1")["reserved"] == 0


def test_approving_without_a_reservation_is_bad_input(world: World):
    customer(world)
    request = requested("s-1", "c-1", 60)
    step(world, "order.create_pending", request, name="create")
    ran = world.run(
        "order.approve_cmd",
        event=request,
        env={"sagaStep": "approve", "sagaResults": json.dumps({"reserve": {"status": "CREDIT_LIMIT_EXCEEDED"}})},
    )
    assert ran.code == 2
    assert (
        ran.err.strip()
        == "bad input: sagaResults.reserve.status: expected RESERVED to approve, got 'CREDIT_LIMIT_EXCEEDED'"
    )
    assert world.order("s-1")["status"] == "PENDING"


def test_an_order_id_reused_with_other_values_is_bad_input(world: World):
    step(world, "order.create_pending", requested("s-1", "c-1", 60), name="create")
    ran = world.run("order.create_pending", event=requested("s-1", "c-2", 60, "req-2"), env={"sagaResults": "{}"})
    assert ran.code == 2 and "already exists with customerId 'c-1'" in ran.err


def test_a_request_is_announced_once(world: World):
    # WHEN the same order is requested twice
    for _ in range(2):
        assert world.run("order.request", ["--order-id", "s-1", "--customer-id", "c-1", "--total", "60"]).code == 0
    # THEN one OrderRequested carries it, with its eventKey
    (announced,) = world.emitted("order")
    assert (announced["detail-type"], announced["source"]) == ("OrderRequested", ORDER)
    assert announced["detail"] == {"orderId": "s-1", "customerId": "c-1", "total": 60, "eventKey": "OrderRequested:s-1"}
    # AND the same order id with another total is bad input
    ran = world.run("order.request", ["--order-id", "s-1", "--customer-id", "c-1", "--total", "61"])
    assert (
        ran.code == 2
        and ran.err.strip() == "bad input: --order-id: order 's-1' was requested with customerId 'c-1' and total 60"
    )
