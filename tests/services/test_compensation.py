"""Compensation: every failure event of the shipped triggers ends its order terminal and gives back
any credit the order still holds. Each event is hand-fed to the use case the shipped stack files
route it to; a failure event is built as the trigger's state machine publishes it."""

from typing import Any

import pytest

import customer.model

from .saga_world import Crash, World, crash_after_commit, event, failure_event, only

ORDER = "event-tasks.order"
CUSTOMER = "event-tasks.customer"

# detail-type -> the use case the shipped triggers start for it (Pulumi.local.yaml / Pulumi.cloud.yaml).
ROUTES = {
    "OrderCreated": "customer.reserve_credit",
    "CreditReserved": "order.approve",
    "CreditLimitExceeded": "order.reject",
    "CustomerValidationFailed": "order.reject",
    "ReserveCreditFailed": "order.reject",
    "ApproveOrderFailed": "order.reject",
    "RejectOrderFailed": "order.reject",
    "OrderCancelled": "customer.release_credit",
    "OrderRejected": "customer.release_credit",
    "ReleaseCreditFailed": "customer.release_credit",
}


def deliver(world: World, delivered: dict[str, Any]) -> list[dict[str, Any]]:
    """Run the routed consumer of an event; return what it emitted."""
    consumer = ROUTES[delivered["detail-type"]]
    result = world.run(consumer, event=delivered)
    assert result.code == 0, result
    return world.emitted(consumer.split(".")[0])


def settle(world: World, pending: list[dict[str, Any]]) -> None:
    """Deliver events (and whatever they cause) until nothing routed is left (announcements such as
    OrderApproved or CreditReleased have no consumer)."""
    while pending:
        next_event = pending.pop(0)
        if next_event["detail-type"] in ROUTES:
            pending += deliver(world, next_event)


def given_order(world: World, total: int = 60, limit: int = 100) -> dict[str, Any]:
    """c-1 with the limit, o-1 placed; returns its OrderCreated."""
    assert world.run("customer.create", ["--customer-id", "c-1", "--credit-limit", str(limit)]).code == 0
    assert world.run("order.place", ["--order-id", "o-1", "--customer-id", "c-1", "--total", str(total)]).code == 0
    world.emitted("customer")
    return only(world.emitted("order"))


def assert_settled(world: World, status: str, reserved: int) -> None:
    assert world.order("o-1")["status"] == status
    assert world.customer("c-1")["reserved"] == reserved


def test_reserve_credit_crashing_after_commit_then_giving_up_rejects_and_releases(world: World) -> None:
    # GIVEN reserve_credit reserved o-1's 60, then died before PutEvents on every attempt, so the
    # reserve-credit state machine gave up and published ReserveCreditFailed
    created = given_order(world)
    with crash_after_commit(), pytest.raises(Crash):
        world.run("customer.reserve_credit", event=created)
    assert world.customer("c-1")["reserved"] == 60
    failed = failure_event(created, "reserve-credit", "customer")
    # WHEN the failure event flows through the compensation
    rejected = deliver(world, failed)
    released = deliver(world, only(rejected))
    # THEN o-1 is REJECTED for the failed trigger and its credit is given back
    assert (only(rejected)["detail-type"], only(rejected)["detail"]["reason"]) == (
        "OrderRejected",
        "RESERVE_CREDIT_FAILED",
    )
    assert only(released)["detail"] == {
        "orderId": "o-1",
        "customerId": "c-1",
        "amount": 60,
        "eventKey": "CreditReleased:o-1",
    }
    assert_settled(world, "REJECTED", 0)
    # AND a late re-run of the original OrderCreated (ops rerun, redelivery) reserves nothing again
    assert deliver(world, created) == []
    assert_settled(world, "REJECTED", 0)


def test_reserve_credit_failing_before_commit_rejects_and_closes_the_order_for_credit(world: World) -> None:
    # GIVEN reserve_credit never committed anything, and its state machine gave up
    created = given_order(world)
    failed = failure_event(created, "reserve-credit", "customer")
    # WHEN the failure event flows
    rejected = deliver(world, failed)
    released = deliver(world, only(rejected))
    # THEN o-1 is REJECTED, nothing was there to release (no CreditReleased)
    assert released == []
    assert_settled(world, "REJECTED", 0)
    assert world.item("customer", "ORDER#o-1", "CREDIT")["status"] == "CLOSED"
    # AND the original OrderCreated, re-run later, cannot reserve credit for the rejected order
    assert deliver(world, created) == []
    assert_settled(world, "REJECTED", 0)


def test_approve_always_failing_rejects_the_order_and_releases_its_credit(world: World) -> None:
    # GIVEN o-1's credit reserved, and approve-order giving up on CreditReserved without a commit
    created = given_order(world)
    reserved = only(deliver(world, created))
    assert reserved["detail-type"] == "CreditReserved"
    failed = failure_event(reserved, "approve-order", "order")
    assert (failed["detail-type"], failed["source"]) == ("ApproveOrderFailed", ORDER)
    # WHEN ApproveOrderFailed flows through the compensation
    settle(world, [failed])
    # THEN o-1 ends REJECTED for the failed trigger, and no credit is held
    assert world.order("o-1")["rejectionReason"] == "APPROVE_ORDER_FAILED"
    assert_settled(world, "REJECTED", 0)


def test_approve_committed_then_crashed_announces_the_approval_once_and_keeps_the_credit(world: World) -> None:
    # GIVEN approve set o-1 APPROVED and died before PutEvents, and approve-order gave up
    created = given_order(world)
    reserved = only(deliver(world, created))
    with crash_after_commit(), pytest.raises(Crash):
        world.run("order.approve", event=reserved)
    assert world.emitted("order") == []
    failed = failure_event(reserved, "approve-order", "order")
    # WHEN ApproveOrderFailed reaches order.reject, twice (at-least-once delivery)
    first = deliver(world, failed)
    second = deliver(world, failed)
    # THEN the order is not rejected: its never-emitted OrderApproved is announced, once
    assert [e["detail"]["eventKey"] for e in first] == ["OrderApproved:o-1"]
    assert second == []
    # AND the credit stays reserved for the approved order: reserved == sum of approved orders
    assert_settled(world, "APPROVED", 60)


def test_reject_committed_then_crashed_announces_the_rejection_once(world: World) -> None:
    # GIVEN o-2 refused for the limit, and reject set it REJECTED then died before PutEvents
    created = given_order(world, total=160)
    refused = only(deliver(world, created))
    assert refused["detail-type"] == "CreditLimitExceeded"
    with crash_after_commit(), pytest.raises(Crash):
        world.run("order.reject", event=refused)
    failed = failure_event(refused, "reject-order", "order")
    # WHEN RejectOrderFailed flows through reject-failed-order, then OrderRejected
    announced = deliver(world, failed)
    # THEN OrderRejected is announced once, with the recorded reason; no credit to release
    assert [(e["detail"]["eventKey"], e["detail"]["reason"]) for e in announced] == [
        ("OrderRejected:o-1", "CREDIT_LIMIT_EXCEEDED")
    ]
    assert deliver(world, only(announced)) == []
    assert_settled(world, "REJECTED", 0)


def test_a_failed_rejection_of_a_failure_event_finds_the_order_through_both_reports(world: World) -> None:
    # GIVEN reserve_credit reserved then gave up (ReserveCreditFailed), and the reject-order task
    # started by that failure event gave up too (RejectOrderFailed wrapping ReserveCreditFailed)
    created = given_order(world)
    with crash_after_commit(), pytest.raises(Crash):
        world.run("customer.reserve_credit", event=created)
    failed_twice = failure_event(failure_event(created, "reserve-credit", "customer"), "reject-order", "order")
    assert failed_twice["detail"]["event"]["detail"]["event"]["detail"]["orderId"] == "o-1"
    # WHEN it flows through reject-failed-order
    settle(world, [failed_twice])
    # THEN o-1 is rejected for the reject-order failure and its credit released
    assert world.order("o-1")["rejectionReason"] == "REJECT_ORDER_FAILED"
    assert_settled(world, "REJECTED", 0)


@pytest.mark.parametrize("crash", [False, True], ids=["failed-before-commit", "committed-then-crashed"])
def test_release_credit_failing_is_released_again(world: World, crash: bool) -> None:
    # GIVEN o-1 approved then cancelled, and release-credit giving up on OrderCancelled
    created = given_order(world)
    settle(world, [created])
    assert world.run("order.cancel", ["--order-id", "o-1"]).code == 0
    cancelled = only(world.emitted("order"))
    if crash:
        with crash_after_commit(), pytest.raises(Crash):
            world.run("customer.release_credit", event=cancelled)
    failed = failure_event(cancelled, "release-credit", "customer")
    assert (failed["detail-type"], failed["source"]) == ("ReleaseCreditFailed", CUSTOMER)
    # WHEN ReleaseCreditFailed flows through release-failed-credit, twice
    released = deliver(world, failed)
    again = deliver(world, failed)
    # THEN the credit is released once and CreditReleased announced once
    assert [e["detail"]["eventKey"] for e in released] == ["CreditReleased:o-1"]
    assert again == []
    assert_settled(world, "CANCELLED", 0)


def test_a_failure_event_for_a_settled_order_changes_nothing(world: World) -> None:
    # GIVEN o-1 approved, cancelled and its credit released (every announcement emitted)
    created = given_order(world)
    settle(world, [created])
    reserved_event = event("CreditReserved", CUSTOMER, {"orderId": "o-1", "customerId": "c-1", "amount": 60}, "cr-late")
    assert world.run("order.cancel", ["--order-id", "o-1"]).code == 0
    settle(world, world.emitted("order"))
    state = world.items("order")
    # WHEN a late ApproveOrderFailed arrives
    result = world.run("order.reject", event=failure_event(reserved_event, "approve-order", "order"))
    # THEN the order stays CANCELLED, nothing emitted, no warning (a failure is not a contradiction)
    assert (result.code, result.err) == (0, "")
    assert "the order is settled" in result.out
    assert [i for i in world.items("order") if not i["pk"].startswith("EVENT#")] == [
        i for i in state if not i["pk"].startswith("EVENT#")
    ]
    assert world.emitted("order") == []
    assert_settled(world, "CANCELLED", 0)


def test_an_order_rejected_for_the_limit_holds_no_credit_to_release(world: World) -> None:
    # GIVEN o-1 (160) refused for the limit and rejected
    created = given_order(world, total=160)
    rejected = deliver(world, only(deliver(world, created)))
    # WHEN its OrderRejected reaches release_credit
    result = world.run("customer.release_credit", event=only(rejected))
    # THEN nothing to release, nothing emitted, no warning
    assert (result.code, result.err) == (0, "")
    assert "credit was refused, nothing to release" in result.out
    assert world.emitted("customer") == []
    assert_settled(world, "REJECTED", 0)


@pytest.mark.parametrize(
    ("mangle", "field"),
    [
        (lambda d: d.pop("event"), "eventDetail.event"),
        (lambda d: d.update(trigger="Reserve Credit"), "eventDetail.trigger"),
        (lambda d: d["event"].update(detail="o-1"), "eventDetail.event.detail"),
        (lambda d: d["event"]["detail"].pop("orderId"), "eventDetail.event.detail.orderId"),
    ],
    ids=["no-event", "bad-trigger", "detail-not-object", "no-order-id"],
)
def test_a_malformed_failure_event_is_bad_input(world: World, mangle: Any, field: str) -> None:
    # GIVEN o-1 PENDING and a ReserveCreditFailed with one part missing or malformed
    created = given_order(world)
    failed = failure_event(created, "reserve-credit", "customer")
    mangle(failed["detail"])
    state = world.items("order")
    # WHEN order.reject runs with it
    result = world.run("order.reject", event=failed)
    # THEN exit 2, one line naming the field; nothing written or emitted
    assert result.code == 2
    assert result.err.startswith(f"bad input: {field}:"), result.err
    assert world.items("order") == state
    assert world.emitted("order") == []


def test_release_credit_failed_reporting_another_event_is_bad_input(world: World) -> None:
    # GIVEN a ReleaseCreditFailed reporting an OrderCreated (not an event release-credit handles)
    created = given_order(world)
    failed = failure_event(created, "release-credit", "customer")
    # WHEN release_credit runs with it
    result = world.run("customer.release_credit", event=failed)
    # THEN exit 2 naming the reported detail-type
    assert result.code == 2
    assert result.err.startswith("bad input: eventDetail.event.detail-type: expected one of")


def test_a_late_reservation_racing_the_release_of_a_rejected_order_reserves_nothing(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN o-1 rejected after ReserveCreditFailed (nothing committed), and a late reserve_credit
    # (a zombie attempt, an ops re-run) that read "no decision" just before the release ran
    created = given_order(world)
    rejected = only(deliver(world, failure_event(created, "reserve-credit", "customer")))
    real_load = customer.model.load_credit
    raced: list[str] = []

    def load_then_release(table, order_id):
        found = real_load(table, order_id)
        if not raced:
            raced.append(order_id)
            assert world.run("customer.release_credit", event=rejected).code == 0
        return found

    monkeypatch.setattr(customer.model, "load_credit", load_then_release)
    # WHEN the late reservation commits after that
    result = world.run("customer.reserve_credit", event=created)
    # THEN its stale decision is refused by the CLOSED decision: nothing reserved, nothing emitted
    assert result.code == 0
    assert "already decided (CLOSED)" in result.out
    assert_settled(world, "REJECTED", 0)
    assert world.emitted("customer") == []
