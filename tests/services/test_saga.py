"""The whole choreography, each emitted event hand-fed to the use case the infrastructure routes it to."""

from typing import Any

from .saga_world import World, only

# detail-type -> the use case a rule on the producer's bus starts (the infrastructure's routing).
ROUTES = {
    "OrderCreated": "customer.reserve_credit",
    "CreditReserved": "order.approve",
    "CreditLimitExceeded": "order.reject",
    "CustomerValidationFailed": "order.reject",
    "OrderCancelled": "customer.release_credit",
}


def deliver(world: World, emitted: dict[str, Any]) -> dict[str, Any]:
    """Run the consumer of an emitted event with its id/detail-type/source/detail; return what it emitted."""
    consumer = ROUTES[emitted["detail-type"]]
    result = world.run(consumer, event=emitted)
    assert result.code == 0, result
    return only(world.emitted(consumer.split(".")[0]))


def place(world: World, order_id: str, customer_id: str, total: int) -> dict[str, Any]:
    argv = ["--order-id", order_id, "--customer-id", customer_id, "--total", str(total)]
    assert world.run("order.place", argv).code == 0
    return only(world.emitted("order"))


def test_the_credit_check_saga_end_to_end(world: World) -> None:
    # GIVEN customer c-1 with a credit limit of 100
    assert world.run("customer.create", ["--customer-id", "c-1", "--credit-limit", "100"]).code == 0
    assert only(world.emitted("customer"))["detail-type"] == "CustomerCreated"

    # WHEN o-1 (60) is placed and its events flow
    credit = deliver(world, place(world, "o-1", "c-1", 60))
    outcome = deliver(world, credit)
    # THEN credit is reserved and the order approved
    assert credit["detail-type"] == "CreditReserved"
    assert (outcome["detail-type"], world.order("o-1")["status"]) == ("OrderApproved", "APPROVED")
    assert world.customer("c-1")["reserved"] == 60

    # WHEN o-2 (50) is placed: only 40 left
    credit = deliver(world, place(world, "o-2", "c-1", 50))
    outcome = deliver(world, credit)
    # THEN it is rejected for the credit limit, nothing more reserved
    assert (credit["detail-type"], credit["detail"]["availableCredit"]) == ("CreditLimitExceeded", 40)
    assert (outcome["detail-type"], outcome["detail"]["reason"]) == ("OrderRejected", "CREDIT_LIMIT_EXCEEDED")
    assert world.order("o-2")["status"] == "REJECTED"
    assert world.customer("c-1")["reserved"] == 60

    # WHEN o-3 is placed for an unknown customer
    credit = deliver(world, place(world, "o-3", "c-404", 10))
    outcome = deliver(world, credit)
    # THEN customer validation fails and the order is rejected
    assert credit["detail-type"] == "CustomerValidationFailed"
    assert (outcome["detail-type"], outcome["detail"]["reason"]) == ("OrderRejected", "CUSTOMER_NOT_FOUND")
    assert world.order("o-3")["status"] == "REJECTED"

    # WHEN o-1 is cancelled (compensation) and OrderCancelled flows
    assert world.run("order.cancel", ["--order-id", "o-1"]).code == 0
    released = deliver(world, only(world.emitted("order")))
    # THEN its credit is released: c-1 has nothing reserved any more
    assert released["detail-type"] == "CreditReleased"
    assert released["detail"] == {"orderId": "o-1", "customerId": "c-1", "amount": 60, "eventKey": "CreditReleased:o-1"}
    assert world.order("o-1")["status"] == "CANCELLED"
    assert world.customer("c-1")["reserved"] == 0
    statuses = {o: world.order(o)["status"] for o in ("o-1", "o-2", "o-3")}
    assert statuses == {"o-1": "CANCELLED", "o-2": "REJECTED", "o-3": "REJECTED"}
