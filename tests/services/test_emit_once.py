"""Emit once: each business fact is announced once under a stable eventKey; a redelivery re-emits
only a fact recorded but never emitted (the crash window), never one emitted, never a state left;
consumers deduplicate on eventKey as well as on eventId."""

import json

import pytest

import order.model

from .saga_world import Crash, World, after_commit, crash_after_commit, event, only

ORDER = "event-tasks.order"
CUSTOMER = "event-tasks.customer"

# Each event-triggered use case with a trigger that changes state on a fresh world (after `given`),
# and the fact it announces.
CASES = {
    "customer.reserve_credit": (
        event("OrderCreated", ORDER, {"orderId": "o-1", "customerId": "c-1", "total": 60}, "e-oc"),
        "CreditReserved:o-1",
    ),
    "order.approve": (
        event("CreditReserved", CUSTOMER, {"orderId": "o-1", "customerId": "c-1", "amount": 60}, "e-cr"),
        "OrderApproved:o-1",
    ),
    "order.reject": (
        event(
            "CreditLimitExceeded",
            CUSTOMER,
            {"orderId": "o-1", "customerId": "c-1", "amount": 60, "availableCredit": 0},
            "e-le",
        ),
        "OrderRejected:o-1",
    ),
    "customer.release_credit": (
        event("OrderCancelled", ORDER, {"orderId": "o-1", "customerId": "c-1", "total": 60}, "e-ocx"),
        "CreditReleased:o-1",
    ),
    "order.place": (
        event("PlaceOrderRequested", "event-tasks.api", {"orderId": "o-2", "customerId": "c-1", "total": 5}, "e-p"),
        "OrderCreated:o-2",
    ),
}


def given(world: World, use_case: str) -> None:
    """c-1 (limit 100) and o-1 (60) PENDING; for release_credit, o-1's 60 reserved."""
    assert world.run("customer.create", ["--customer-id", "c-1", "--credit-limit", "100"]).code == 0
    assert world.run("order.place", ["--order-id", "o-1", "--customer-id", "c-1", "--total", "60"]).code == 0
    if use_case == "customer.release_credit":
        assert world.run("customer.reserve_credit", event=CASES["customer.reserve_credit"][0]).code == 0
    world.emitted("order")
    world.emitted("customer")


def service(use_case: str) -> str:
    return use_case.split(".")[0]


@pytest.mark.parametrize("use_case", list(CASES))
def test_a_crash_between_commit_and_emit_is_healed_by_the_redelivery_exactly_once(world: World, use_case: str) -> None:
    # GIVEN the use case's trigger, and its task dying right after committing, before PutEvents
    trigger, key = CASES[use_case]
    given(world, use_case)
    state_before = world.items(service(use_case))
    with crash_after_commit() as crashed, pytest.raises(Crash):
        world.run(use_case, event=trigger)
    assert crashed == [use_case]
    assert world.items(service(use_case)) != state_before  # the change is committed...
    assert world.emitted(service(use_case)) == []  # ...and never announced
    record = world.item(service(use_case), f"OUTCOME#{key}", "OUTCOME")
    assert record is not None and "emittedEventId" not in record
    # WHEN the same event is delivered again, then again
    healed = world.run(use_case, event=trigger)
    healed_events = world.emitted(service(use_case))
    again = world.run(use_case, event=trigger)
    # THEN the first redelivery announces the recorded fact once, under its eventKey, and marks it
    assert (healed.code, again.code) == (0, 0)
    emitted = only(healed_events)
    assert emitted["detail"]["eventKey"] == key
    assert emitted["detail-type"] == key.split(":")[0]
    assert "was recorded but never emitted" in healed.out
    assert world.item(service(use_case), f"OUTCOME#{key}", "OUTCOME")["emittedEventId"] == emitted["id"]
    # AND the second emits nothing
    assert world.emitted(service(use_case)) == []
    assert f"{key} already emitted ({emitted['id']})" in again.out


@pytest.mark.parametrize("use_case", list(CASES))
def test_the_crash_window_announcement_equals_an_uninterrupted_one(world: World, use_case: str) -> None:
    # GIVEN the announcement of an uninterrupted run
    trigger, key = CASES[use_case]
    given(world, use_case)
    assert world.run(use_case, event=trigger).code == 0
    clean = only(world.emitted(service(use_case)))
    # WHEN the same fact is recorded in another world by a run that crashed, then redelivered
    # under a NEW event id (an upstream re-emit)
    for name in ("order", "customer"):
        for item in world.items(name):
            world.dynamodb.delete_item(
                TableName=f"event-tasks-{name}", Key={"pk": {"S": item["pk"]}, "sk": {"S": item["sk"]}}
            )
    given(world, use_case)
    with crash_after_commit(), pytest.raises(Crash):
        world.run(use_case, event=trigger)
    assert world.run(use_case, event={**trigger, "id": "another-id"}).code == 0
    # THEN the re-emission carries exactly the detail of the uninterrupted emission
    healed = only(world.emitted(service(use_case)))
    assert (healed["detail-type"], healed["detail"]) == (clean["detail-type"], clean["detail"])
    assert healed["detail"]["eventKey"] == key


def test_the_command_line_re_run_heals_a_crashed_cancel_once(world: World) -> None:
    # GIVEN o-1 APPROVED, and a cancel that died after its commit
    given(world, "order.cancel")
    assert world.run("order.approve", event=CASES["order.approve"][0]).code == 0
    world.emitted("order")
    with crash_after_commit(), pytest.raises(Crash):
        world.run("order.cancel", ["--order-id", "o-1"])
    # WHEN the operator runs the command again, twice
    first = world.run("order.cancel", ["--order-id", "o-1"])
    second = world.run("order.cancel", ["--order-id", "o-1"])
    # THEN OrderCancelled is announced once
    assert (first.code, second.code) == (0, 0)
    assert only(world.emitted("order"))["detail"]["eventKey"] == "OrderCancelled:o-1"


def test_credit_reserved_redelivered_after_cancel_and_release_announces_no_approval(world: World) -> None:
    # GIVEN o-1 approved through CreditReserved e-cr, then cancelled and its credit released
    given(world, "customer.release_credit")  # o-1's 60 reserved
    approve = CASES["order.approve"][0]
    assert world.run("order.approve", event=approve).code == 0
    assert world.run("order.cancel", ["--order-id", "o-1"]).code == 0
    cancelled = [e for e in world.emitted("order") if e["detail-type"] == "OrderCancelled"]
    assert world.run("customer.release_credit", event=only(cancelled)).code == 0
    world.emitted("customer")
    # WHEN CreditReserved is redelivered (same id) and re-emitted upstream (new id)
    same = world.run("order.approve", event=approve)
    other = world.run("order.approve", event={**approve, "id": "e-cr-again"})
    # THEN no OrderApproved for the cancelled order, nothing changed
    assert (same.code, other.code) == (0, 0)
    assert world.emitted("order") == []
    assert world.order("o-1")["status"] == "CANCELLED"
    assert world.customer("c-1")["reserved"] == 0


def test_an_approval_never_emitted_is_not_announced_once_the_order_was_cancelled(world: World) -> None:
    # GIVEN approve committed APPROVED and died before PutEvents, then the operator cancelled o-1
    given(world, "order.approve")
    approve = CASES["order.approve"][0]
    with crash_after_commit(), pytest.raises(Crash):
        world.run("order.approve", event=approve)
    assert world.run("order.cancel", ["--order-id", "o-1"]).code == 0
    assert [e["detail-type"] for e in world.emitted("order")] == ["OrderCancelled"]
    # WHEN CreditReserved is redelivered
    result = world.run("order.approve", event=approve)
    # THEN the recorded approval stays unannounced: the order has left APPROVED
    assert result.code == 0
    assert world.emitted("order") == []
    assert "emittedEventId" not in world.item("order", "OUTCOME#OrderApproved:o-1", "OUTCOME")


def test_reserve_credit_re_run_after_release_announces_no_reservation(world: World) -> None:
    # GIVEN o-1's 60 reserved by OrderCreated e-oc, then released
    given(world, "customer.release_credit")
    release = CASES["customer.release_credit"][0]
    assert world.run("customer.release_credit", event=release).code == 0
    world.emitted("customer")
    # WHEN OrderCreated is redelivered and re-emitted under a new id
    same = world.run("customer.reserve_credit", event=CASES["customer.reserve_credit"][0])
    other = world.run("customer.reserve_credit", event={**CASES["customer.reserve_credit"][0], "id": "e-oc-2"})
    # THEN nothing reserved again, no CreditReserved
    assert (same.code, other.code) == (0, 0)
    assert world.customer("c-1")["reserved"] == 0
    assert world.emitted("customer") == []


def test_place_re_run_does_not_re_announce_an_order_that_left_pending(world: World) -> None:
    # GIVEN o-1 placed but its OrderCreated never emitted (crash), and o-1 rejected since
    with crash_after_commit(), pytest.raises(Crash):
        world.run("order.place", ["--order-id", "o-1", "--customer-id", "c-1", "--total", "60"])
    refused = {"orderId": "o-1", "customerId": "c-1", "reason": "CUSTOMER_NOT_FOUND"}
    assert world.run("order.reject", event=event("CustomerValidationFailed", CUSTOMER, refused, "e-vf")).code == 0
    world.emitted("order")
    # WHEN the place command is run again
    result = world.run("order.place", ["--order-id", "o-1", "--customer-id", "c-1", "--total", "60"])
    # THEN OrderCreated is not announced for the REJECTED order
    assert result.code == 0
    assert "not announced again" in result.out
    assert world.emitted("order") == []


def test_the_same_event_key_under_two_event_ids_is_applied_once(world: World) -> None:
    # GIVEN o-1 PENDING and CreditReserved o-1 as announced (eventKey), applied under id e-1
    given(world, "order.approve")
    detail = {"orderId": "o-1", "customerId": "c-1", "amount": 60, "eventKey": "CreditReserved:o-1"}
    assert world.run("order.approve", event=event("CreditReserved", CUSTOMER, detail, "e-1")).code == 0
    assert only(world.emitted("order"))["detail"]["eventKey"] == "OrderApproved:o-1"
    state = world.items("order")
    # WHEN the same fact arrives under another id (a crash-window re-emission upstream)
    result = world.run("order.approve", event=event("CreditReserved", CUSTOMER, detail, "e-2"))
    # THEN it is recognised by its eventKey: nothing written (no marker for e-2), nothing emitted
    assert result.code == 0
    assert "duplicate (eventKey already processed)" in result.out
    assert world.items("order") == state
    assert world.item("order", "EVENTKEY#CreditReserved:o-1", "USECASE#order.approve")["eventId"] == "e-1"
    assert world.emitted("order") == []


def test_a_cancel_and_its_re_emission_release_credit_once(world: World) -> None:
    # GIVEN o-1 (60) and o-2 (30) reserved and OrderCancelled o-1 emitted twice under one eventKey
    given(world, "customer.release_credit")
    assert (
        world.run(
            "customer.reserve_credit",
            event=event("OrderCreated", ORDER, {"orderId": "o-2", "customerId": "c-1", "total": 30}, "e-2"),
        ).code
        == 0
    )
    world.emitted("customer")
    detail = {"orderId": "o-1", "customerId": "c-1", "total": 60, "eventKey": "OrderCancelled:o-1"}
    # WHEN both copies are delivered
    first = world.run("customer.release_credit", event=event("OrderCancelled", ORDER, detail, "id-1"))
    second = world.run("customer.release_credit", event=event("OrderCancelled", ORDER, detail, "id-2"))
    # THEN o-1's credit is released once, announced once; o-2's 30 stays
    assert (first.code, second.code) == (0, 0)
    assert world.customer("c-1")["reserved"] == 30
    assert only(world.emitted("customer"))["detail"]["eventKey"] == "CreditReleased:o-1"


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("OrderApproved:o-1", "is not a key of a CreditReserved event"),
        ("CreditReserved:", "expected '<detail-type>:<id>'"),
        (17, "expected '<detail-type>:<id>'"),
    ],
    ids=["other-type", "no-id", "not-a-string"],
)
def test_a_malformed_event_key_is_bad_input(world: World, key: object, problem: str) -> None:
    # GIVEN o-1 PENDING and CreditReserved carrying a bad eventKey
    given(world, "order.approve")
    detail = {"orderId": "o-1", "customerId": "c-1", "amount": 60, "eventKey": key}
    state = world.items("order")
    # WHEN approve runs with it
    result = world.run("order.approve", event=event("CreditReserved", CUSTOMER, detail, "e-1"))
    # THEN exit 2 naming eventDetail.eventKey; nothing written or emitted
    assert result.code == 2
    assert result.err.startswith("bad input: eventDetail.eventKey:") and problem in result.err
    assert world.items("order") == state
    assert world.emitted("order") == []


def test_the_same_event_key_with_another_detail_is_bad_input(world: World) -> None:
    # GIVEN CreditReserved o-1 applied under its eventKey
    given(world, "order.approve")
    detail = {"orderId": "o-1", "customerId": "c-1", "amount": 60, "eventKey": "CreditReserved:o-1"}
    assert world.run("order.approve", event=event("CreditReserved", CUSTOMER, detail, "e-1")).code == 0
    world.emitted("order")
    # WHEN another event claims the same key with another detail
    result = world.run("order.approve", event=event("CreditReserved", CUSTOMER, {**detail, "amount": 59}, "e-2"))
    # THEN exit 2 naming eventDetail.eventKey
    assert result.code == 2
    assert result.err.startswith("bad input: eventDetail.eventKey: eventKey 'CreditReserved:o-1' was already processed")


def test_twins_racing_on_one_event_key_apply_and_announce_once(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN o-1 PENDING, and the twin (same eventKey, another id) running to completion right
    # after our task read the order
    given(world, "order.approve")
    detail = {"orderId": "o-1", "customerId": "c-1", "amount": 60, "eventKey": "CreditReserved:o-1"}
    real_load = order.model.load
    raced: list[str] = []

    def load_then_twin(table, order_id):
        found = real_load(table, order_id)
        if not raced:
            raced.append(order_id)
            assert world.run("order.approve", event=event("CreditReserved", CUSTOMER, detail, "twin")).code == 0
        return found

    monkeypatch.setattr(order.model, "load", load_then_twin)
    # WHEN our approval commits after that
    result = world.run("order.approve", event=event("CreditReserved", CUSTOMER, detail, "ours"))
    # THEN our stale decision is not committed: recognised as the twin's duplicate, OrderApproved once
    assert result.code == 0
    assert "duplicate (eventKey already processed)" in result.out
    assert world.item("order", "EVENT#ours", "USECASE#order.approve") is None
    assert only(world.emitted("order"))["detail"]["eventKey"] == "OrderApproved:o-1"


def test_a_twin_inside_the_crash_window_heals_it_once(world: World) -> None:
    # GIVEN approve committed o-1 APPROVED and died before PutEvents, and a twin (another
    # CreditReserved id for the same fact) arrives
    given(world, "order.approve")
    with crash_after_commit(), pytest.raises(Crash):
        world.run("order.approve", event=CASES["order.approve"][0])
    twin = world.run("order.approve", event={**CASES["order.approve"][0], "id": "twin"})
    # WHEN the first one's retry runs too
    retry = world.run("order.approve", event=CASES["order.approve"][0])
    # THEN one announcement (the twin's), and the retry finds it emitted
    assert (twin.code, retry.code) == (0, 0)
    assert [e["detail"]["eventKey"] for e in world.emitted("order")] == ["OrderApproved:o-1"]
    assert "OrderApproved:o-1 already emitted" in retry.out


def test_twins_racing_inside_the_crash_window_announce_one_key_that_consumers_apply_once(world: World) -> None:
    # GIVEN reserve_credit committed o-1's reservation and, before its PutEvents, a twin (another
    # OrderCreated id) found the reservation recorded but not yet emitted, and emitted it
    given(world, "customer.reserve_credit")
    trigger = CASES["customer.reserve_credit"][0]

    def twin_runs(_: str) -> None:
        assert world.run("customer.reserve_credit", event={**trigger, "id": "twin"}).code == 0

    with after_commit(twin_runs):
        first = world.run("customer.reserve_credit", event=trigger)
    copies = world.emitted("customer")
    # WHEN both copies reach order.approve
    results = [world.run("order.approve", event=copy) for copy in copies]
    # THEN the two copies carry one eventKey and one detail; o-1 is approved and announced once
    assert first.code == 0
    assert [c["detail"]["eventKey"] for c in copies] == ["CreditReserved:o-1", "CreditReserved:o-1"]
    assert copies[0]["detail"] == copies[1]["detail"] and copies[0]["id"] != copies[1]["id"]
    assert [r.code for r in results] == [0, 0]
    assert "duplicate (eventKey already processed)" in results[1].out
    assert world.customer("c-1")["reserved"] == 60
    assert only(world.emitted("order"))["detail"]["eventKey"] == "OrderApproved:o-1"


def test_the_outcome_record_holds_the_announced_detail(world: World) -> None:
    # GIVEN an approval announced
    given(world, "order.approve")
    assert world.run("order.approve", event=CASES["order.approve"][0]).code == 0
    emitted = only(world.emitted("order"))
    # WHEN its outcome record is read
    record = world.item("order", "OUTCOME#OrderApproved:o-1", "OUTCOME")
    # THEN it holds what was emitted, under which id, and by which use case
    assert json.loads(record["detail"]) == emitted["detail"]
    assert (record["detailType"], record["useCase"], record["emittedEventId"]) == (
        "OrderApproved",
        "order.approve",
        emitted["id"],
    )


def test_a_malformed_event_key_wins_over_a_misconfigured_task(world: World) -> None:
    # GIVEN a task without TABLE_NAME and a CreditReserved whose eventKey names another event
    detail = {"orderId": "o-1", "customerId": "c-1", "amount": 60, "eventKey": "OrderApproved:o-1"}
    # WHEN approve runs
    result = world.run("order.approve", event=event("CreditReserved", CUSTOMER, detail, "e-1"), env={"TABLE_NAME": ""})
    # THEN the bad input is reported (exit 2), as every trigger problem is, before any AWS access
    assert result.code == 2
    assert result.err.startswith("bad input: eventDetail.eventKey:")
