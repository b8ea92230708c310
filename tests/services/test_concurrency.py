"""Another task changing the customer between our read and our write: the transaction's conditions
catch it and the decision is taken again on fresh state (never over the limit, never a stale refusal)."""

import pytest

import customer.model
import order.model

from .saga_world import World, event, only, table_name

ORDER = "event-tasks.order"
CUSTOMER = "event-tasks.customer"


def set_reserved(world: World, customer_id: str, reserved: int) -> None:
    world.dynamodb.update_item(
        TableName=table_name("customer"),
        Key={"pk": {"S": f"CUSTOMER#{customer_id}"}, "sk": {"S": "CUSTOMER"}},
        UpdateExpression="SET reserved = :r",
        ExpressionAttributeValues={":r": {"N": str(reserved)}},
    )


def interfere_after_first_read(world: World, monkeypatch: pytest.MonkeyPatch, reserved: int) -> None:
    """The first time reserve_credit reads the customer, another writer sets ``reserved``."""
    real_load = customer.model.load_customer
    calls = []

    def load_then_interfere(table, customer_id):
        found = real_load(table, customer_id)
        if not calls:
            calls.append(customer_id)
            set_reserved(world, customer_id, reserved)
        return found

    monkeypatch.setattr(customer.model, "load_customer", load_then_interfere)


def interfere_after_first_credit_read(
    world: World, monkeypatch: pytest.MonkeyPatch, use_case: str, other: dict
) -> None:
    """The first time a use case reads an order's credit decision, another task runs ``use_case``."""
    real_load = customer.model.load_credit
    calls = []

    def load_then_interfere(table, order_id):
        found = real_load(table, order_id)
        if not calls:
            calls.append(order_id)
            assert world.run(use_case, event=other).code == 0
        return found

    monkeypatch.setattr(customer.model, "load_credit", load_then_interfere)


def order_created(order_id: str, total: int) -> dict:
    return event("OrderCreated", "event-tasks.order", {"orderId": order_id, "customerId": "c-1", "total": total}, "e")


def test_a_reservation_racing_another_never_exceeds_the_limit(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN c-1 (limit 100, nothing reserved) and, right after our read, another task reserving 90
    world.run("customer.create", ["--customer-id", "c-1", "--credit-limit", "100"])
    world.emitted("customer")
    interfere_after_first_read(world, monkeypatch, reserved=90)
    # WHEN OrderCreated o-1 for 60 is processed
    result = world.run("customer.reserve_credit", event=order_created("o-1", 60))
    # THEN the stale decision is not committed: decided again, refused with the 10 really left
    assert result.code == 0
    assert world.customer("c-1")["reserved"] == 90
    emitted = only(world.emitted("customer"))
    assert (emitted["detail-type"], emitted["detail"]["availableCredit"]) == ("CreditLimitExceeded", 10)


def test_a_refusal_racing_a_release_is_decided_again(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN c-1 (limit 100) with 90 reserved and, right after our read, the 90 released
    world.run("customer.create", ["--customer-id", "c-1", "--credit-limit", "100"])
    world.emitted("customer")
    set_reserved(world, "c-1", 90)
    interfere_after_first_read(world, monkeypatch, reserved=0)
    # WHEN OrderCreated o-1 for 60 is processed
    result = world.run("customer.reserve_credit", event=order_created("o-1", 60))
    # THEN the stale refusal is not committed: the credit is reserved
    assert result.code == 0
    assert world.customer("c-1")["reserved"] == 60
    assert only(world.emitted("customer"))["detail-type"] == "CreditReserved"


def test_two_releases_racing_release_once(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN c-1 (limit 200) with o-1 (60) and o-2 (100) reserved, and another task releasing o-1
    # right after our read of o-1's reservation
    world.run("customer.create", ["--customer-id", "c-1", "--credit-limit", "200"])
    world.run("customer.reserve_credit", event=order_created("o-1", 60))
    world.run("customer.reserve_credit", event=order_created("o-2", 100) | {"id": "e-2"})
    world.emitted("customer")
    cancelled = {"orderId": "o-1", "customerId": "c-1", "total": 60}
    interfere_after_first_credit_read(
        world, monkeypatch, "customer.release_credit", event("OrderCancelled", ORDER, cancelled, "other")
    )
    # WHEN our release of o-1 (another event id) commits after that
    result = world.run("customer.release_credit", event=event("OrderCancelled", ORDER, cancelled, "ours"))
    # THEN the 60 is given back once: o-2's 100 is still reserved
    assert result.code == 0
    assert world.customer("c-1")["reserved"] == 100
    assert "already released" in result.out


def test_two_reservations_of_one_order_racing_reserve_once(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN c-1 (limit 200), and another task reserving o-1 (other event id) right after our read
    world.run("customer.create", ["--customer-id", "c-1", "--credit-limit", "200"])
    world.emitted("customer")
    interfere_after_first_credit_read(
        world, monkeypatch, "customer.reserve_credit", order_created("o-1", 60) | {"id": "other"}
    )
    # WHEN our reservation of o-1 commits after that
    result = world.run("customer.reserve_credit", event=order_created("o-1", 60) | {"id": "ours"})
    # THEN o-1 is reserved once and announced once (by the twin that committed it)
    assert result.code == 0
    assert world.customer("c-1")["reserved"] == 60
    assert [e["detail"]["eventKey"] for e in world.emitted("customer")] == ["CreditReserved:o-1"]


def test_approve_racing_a_rejection_does_not_overwrite_it(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN o-1 PENDING, and another task rejecting it right after approve reads it
    world.run("order.place", ["--order-id", "o-1", "--customer-id", "c-1", "--total", "60"])
    world.emitted("order")
    real_load = order.model.load
    raced = []

    def load_then_reject_elsewhere(table, order_id):
        found = real_load(table, order_id)
        if not raced:
            raced.append(order_id)
            refused = {"orderId": "o-1", "customerId": "c-1", "reason": "CUSTOMER_NOT_FOUND"}
            trigger = event("CustomerValidationFailed", CUSTOMER, refused, "other")
            assert world.run("order.reject", event=trigger).code == 0
        return found

    monkeypatch.setattr(order.model, "load", load_then_reject_elsewhere)
    # WHEN approve commits after that
    reserved = {"orderId": "o-1", "customerId": "c-1", "amount": 60}
    result = world.run("order.approve", event=event("CreditReserved", CUSTOMER, reserved, "ours"))
    # THEN the rejection stands and no OrderApproved is emitted
    assert result.code == 0
    assert world.order("o-1")["status"] == "REJECTED"
    assert [e["detail-type"] for e in world.emitted("order")] == ["OrderRejected"]
