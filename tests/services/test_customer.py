"""Customer service: create, reserve_credit (reserve / limit exceeded / unknown customer), release_credit."""

from .saga_world import World, event, only

ORDER = "event-tasks.order"
CUSTOMER = "event-tasks.customer"


def order_created(order_id: str, customer_id: str, total: int, event_id: str) -> dict:
    return event("OrderCreated", ORDER, {"orderId": order_id, "customerId": customer_id, "total": total}, event_id)


def order_cancelled(order_id: str, customer_id: str, total: int, event_id: str) -> dict:
    return event("OrderCancelled", ORDER, {"orderId": order_id, "customerId": customer_id, "total": total}, event_id)


def create_customer(world: World, customer_id: str = "c-1", limit: int = 100) -> None:
    assert world.run("customer.create", ["--customer-id", customer_id, "--credit-limit", str(limit)]).code == 0
    world.emitted("customer")


def test_create_writes_customer_and_emits_customer_created(world: World) -> None:
    # GIVEN no customer
    # WHEN customer.create runs from the command line
    result = world.run("customer.create", ["--customer-id", "c-1", "--credit-limit", "100"])
    # THEN the customer exists with nothing reserved, and CustomerCreated went to the customer bus
    assert result.code == 0
    assert "customer c-1 created" in result.out
    customer = world.customer("c-1")
    assert customer is not None
    assert (customer["creditLimit"], customer["reserved"]) == (100, 0)
    emitted = only(world.emitted("customer"))
    assert (emitted["source"], emitted["detail-type"]) == (CUSTOMER, "CustomerCreated")
    assert emitted["detail"] == {"customerId": "c-1", "creditLimit": 100, "eventKey": "CustomerCreated:c-1"}
    assert world.emitted("order") == []


def test_create_again_with_same_limit_is_a_no_op_that_emits_nothing_more(world: World) -> None:
    # GIVEN c-1 exists and already reserved some credit
    create_customer(world)
    assert world.run("customer.reserve_credit", event=order_created("o-1", "c-1", 30, "e-1")).code == 0
    world.emitted("customer")
    # WHEN it is created again with the same limit
    result = world.run("customer.create", ["--customer-id", "c-1", "--credit-limit", "100"])
    # THEN exit 0, the reservation is untouched and CustomerCreated, already emitted, is not again
    assert result.code == 0
    assert "replay" in result.out and "CustomerCreated:c-1 already emitted" in result.out
    assert world.customer("c-1")["reserved"] == 30
    assert world.emitted("customer") == []


def test_create_again_with_another_limit_is_refused(world: World) -> None:
    # GIVEN c-1 exists with limit 100
    create_customer(world)
    before = world.items("customer")
    # WHEN it is created again with limit 50
    result = world.run("customer.create", ["--customer-id", "c-1", "--credit-limit", "50"])
    # THEN exit 2 with one line naming --credit-limit; nothing changed, nothing emitted
    assert result.code == 2
    assert result.err.strip().count("\n") == 0
    assert "--credit-limit" in result.err and "already exists with creditLimit 100" in result.err
    assert world.items("customer") == before
    assert world.emitted("customer") == []


def test_reserve_credit_reserves_when_credit_is_available(world: World) -> None:
    # GIVEN c-1 with limit 100
    create_customer(world)
    # WHEN OrderCreated o-1 for 60 arrives
    result = world.run("customer.reserve_credit", event=order_created("o-1", "c-1", 60, "e-1"))
    # THEN 60 is reserved, the decision is recorded and CreditReserved is emitted
    assert result.code == 0
    assert world.customer("c-1")["reserved"] == 60
    decision = world.item("customer", "ORDER#o-1", "CREDIT")
    assert (decision["status"], decision["amount"], decision["customerId"]) == ("RESERVED", 60, "c-1")
    emitted = only(world.emitted("customer"))
    assert (emitted["source"], emitted["detail-type"]) == (CUSTOMER, "CreditReserved")
    assert emitted["detail"] == {"orderId": "o-1", "customerId": "c-1", "amount": 60, "eventKey": "CreditReserved:o-1"}


def test_reserve_credit_up_to_exactly_the_limit(world: World) -> None:
    # GIVEN c-1 with limit 100 and 60 reserved
    create_customer(world)
    world.run("customer.reserve_credit", event=order_created("o-1", "c-1", 60, "e-1"))
    world.emitted("customer")
    # WHEN an order for exactly the 40 left arrives
    result = world.run("customer.reserve_credit", event=order_created("o-2", "c-1", 40, "e-2"))
    # THEN it is reserved (the boundary is inclusive)
    assert result.code == 0
    assert world.customer("c-1")["reserved"] == 100
    assert only(world.emitted("customer"))["detail-type"] == "CreditReserved"


def test_reserve_credit_emits_limit_exceeded_when_not_enough_credit(world: World) -> None:
    # GIVEN c-1 with limit 100 and 60 reserved
    create_customer(world)
    world.run("customer.reserve_credit", event=order_created("o-1", "c-1", 60, "e-1"))
    world.emitted("customer")
    # WHEN OrderCreated o-2 for 50 arrives
    result = world.run("customer.reserve_credit", event=order_created("o-2", "c-1", 50, "e-2"))
    # THEN a handled rejection: exit 0, nothing more reserved, CreditLimitExceeded with what is left
    assert result.code == 0
    assert world.customer("c-1")["reserved"] == 60
    assert world.item("customer", "ORDER#o-2", "CREDIT")["status"] == "REJECTED"
    emitted = only(world.emitted("customer"))
    assert emitted["detail-type"] == "CreditLimitExceeded"
    assert emitted["detail"] == {
        "orderId": "o-2",
        "customerId": "c-1",
        "amount": 50,
        "availableCredit": 40,
        "eventKey": "CreditLimitExceeded:o-2",
    }


def test_reserve_credit_for_unknown_customer_emits_validation_failed(world: World) -> None:
    # GIVEN no customer c-9
    # WHEN OrderCreated for c-9 arrives
    result = world.run("customer.reserve_credit", event=order_created("o-3", "c-9", 10, "e-3"))
    # THEN exit 0, CustomerValidationFailed with a reason, no customer invented
    assert result.code == 0
    assert world.customer("c-9") is None
    emitted = only(world.emitted("customer"))
    assert emitted["detail-type"] == "CustomerValidationFailed"
    assert emitted["detail"] == {
        "orderId": "o-3",
        "customerId": "c-9",
        "reason": "CUSTOMER_NOT_FOUND",
        "eventKey": "CustomerValidationFailed:o-3",
    }


def test_same_order_created_event_twice_reserves_once_and_emits_once(world: World) -> None:
    # GIVEN c-1 (limit 100) already processed OrderCreated e-1 (o-1, 60)
    create_customer(world)
    trigger = order_created("o-1", "c-1", 60, "e-1")
    world.run("customer.reserve_credit", event=trigger)
    first = only(world.emitted("customer"))
    state = world.items("customer")
    # WHEN the very same event (same eventId) is run again
    result = world.run("customer.reserve_credit", event=trigger)
    # THEN nothing changed (no double reservation) and the outcome, emitted once, is not emitted again
    assert result.code == 0
    assert "duplicate (eventId already processed)" in result.out
    assert f"CreditReserved:o-1 already emitted ({first['id']})" in result.out
    assert world.items("customer") == state
    assert world.customer("c-1")["reserved"] == 60
    assert world.emitted("customer") == []


def test_replayed_order_with_a_new_event_id_never_reserves_twice(world: World) -> None:
    # GIVEN o-1 (60) reserved for c-1 from event e-1
    create_customer(world)
    world.run("customer.reserve_credit", event=order_created("o-1", "c-1", 60, "e-1"))
    world.emitted("customer")
    # WHEN OrderCreated for o-1 arrives again under a new event id (upstream re-emit)
    result = world.run("customer.reserve_credit", event=order_created("o-1", "c-1", 60, "e-1-again"))
    # THEN the per-order decision wins: still 60 reserved, CreditReserved (emitted once) not again
    assert result.code == 0
    assert world.customer("c-1")["reserved"] == 60
    assert world.emitted("customer") == []


def test_a_rejected_order_stays_rejected_even_after_credit_frees_up(world: World) -> None:
    # GIVEN o-2 (50) was refused for c-1 (60 of 100 reserved by o-1), then o-1's credit was released
    create_customer(world)
    world.run("customer.reserve_credit", event=order_created("o-1", "c-1", 60, "e-1"))
    world.run("customer.reserve_credit", event=order_created("o-2", "c-1", 50, "e-2"))
    world.run("customer.release_credit", event=order_cancelled("o-1", "c-1", 60, "e-4"))
    world.emitted("customer")
    # WHEN OrderCreated o-2 is delivered again with a new id
    result = world.run("customer.reserve_credit", event=order_created("o-2", "c-1", 50, "e-2-again"))
    # THEN the refusal stands (nothing reserved for the rejected order) and is not announced again
    assert result.code == 0
    assert world.customer("c-1")["reserved"] == 0
    assert "CreditLimitExceeded:o-2 already emitted" in result.out
    assert world.emitted("customer") == []


def test_same_event_id_with_different_content_is_bad_input(world: World) -> None:
    # GIVEN e-1 processed for o-1
    create_customer(world)
    world.run("customer.reserve_credit", event=order_created("o-1", "c-1", 60, "e-1"))
    world.emitted("customer")
    state = world.items("customer")
    # WHEN e-1 comes back carrying another order
    result = world.run("customer.reserve_credit", event=order_created("o-2", "c-1", 10, "e-1"))
    # THEN exit 2 naming eventId; nothing changed, nothing emitted
    assert result.code == 2
    assert result.err.startswith("bad input: eventId:")
    assert world.items("customer") == state
    assert world.emitted("customer") == []


def test_release_credit_frees_the_reservation(world: World) -> None:
    # GIVEN o-1 (60) reserved for c-1
    create_customer(world)
    world.run("customer.reserve_credit", event=order_created("o-1", "c-1", 60, "e-1"))
    world.emitted("customer")
    # WHEN OrderCancelled o-1 arrives
    result = world.run("customer.release_credit", event=order_cancelled("o-1", "c-1", 60, "e-4"))
    # THEN the credit is back, the decision says RELEASED and CreditReleased is emitted
    assert result.code == 0
    assert world.customer("c-1")["reserved"] == 0
    assert world.item("customer", "ORDER#o-1", "CREDIT")["status"] == "RELEASED"
    emitted = only(world.emitted("customer"))
    assert (emitted["source"], emitted["detail-type"]) == (CUSTOMER, "CreditReleased")
    assert emitted["detail"] == {"orderId": "o-1", "customerId": "c-1", "amount": 60, "eventKey": "CreditReleased:o-1"}


def test_release_credit_twice_releases_once(world: World) -> None:
    # GIVEN o-1 (60) and o-2 (30) reserved for c-1 and o-1 released by event e-4
    create_customer(world)
    world.run("customer.reserve_credit", event=order_created("o-1", "c-1", 60, "e-1"))
    world.run("customer.reserve_credit", event=order_created("o-2", "c-1", 30, "e-2"))
    world.run("customer.release_credit", event=order_cancelled("o-1", "c-1", 60, "e-4"))
    world.emitted("customer")
    # WHEN the same event and then a new event for the same cancellation arrive
    replay = world.run("customer.release_credit", event=order_cancelled("o-1", "c-1", 60, "e-4"))
    again = world.run("customer.release_credit", event=order_cancelled("o-1", "c-1", 60, "e-5"))
    # THEN o-2's 30 stays reserved (never released twice) and CreditReleased is not emitted again
    assert (replay.code, again.code) == (0, 0)
    assert world.customer("c-1")["reserved"] == 30
    assert world.emitted("customer") == []


def test_release_credit_without_reservation_is_a_silent_no_op(world: World) -> None:
    # GIVEN o-2 was refused (limit) for c-1
    create_customer(world, limit=10)
    world.run("customer.reserve_credit", event=order_created("o-2", "c-1", 50, "e-2"))
    world.emitted("customer")
    state = world.items("customer")
    # WHEN an OrderCancelled for o-2 arrives
    result = world.run("customer.release_credit", event=order_cancelled("o-2", "c-1", 50, "e-4"))
    # THEN exit 0, nothing to release: only the processed-event marker is added, nothing emitted
    assert result.code == 0
    assert "nothing to release" in result.out
    assert [i for i in world.items("customer") if i["pk"] != "EVENT#e-4"] == state
    assert world.item("customer", "EVENT#e-4", "USECASE#customer.release_credit") is not None
    assert world.emitted("customer") == []
