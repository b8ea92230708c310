"""Bad input: exit 2, ONE stderr line naming the field, nothing written, nothing emitted."""

import json

import pytest

from .saga_world import World

ORDER = "event-tasks.order"
CUSTOMER = "event-tasks.customer"

# The event each event-triggered use case expects: (detail-type, source, valid detail).
VALID = {
    "order.place": (
        "PlaceOrderRequested",
        "event-tasks.api",
        {"orderId": "o-2", "customerId": "c-1", "total": 5},
    ),
    "customer.reserve_credit": ("OrderCreated", ORDER, {"orderId": "o-1", "customerId": "c-1", "total": 60}),
    "order.approve": ("CreditReserved", CUSTOMER, {"orderId": "o-1", "customerId": "c-1", "amount": 60}),
    "order.reject": (
        "CreditLimitExceeded",
        CUSTOMER,
        {"orderId": "o-1", "customerId": "c-1", "amount": 60, "availableCredit": 40},
    ),
    "customer.release_credit": (
        "OrderCancelled",
        ORDER,
        {"orderId": "o-1", "customerId": "c-1", "total": 60},
    ),
}
AMOUNT_FIELD = {
    "order.place": "total",
    "customer.reserve_credit": "total",
    "order.approve": "amount",
    "order.reject": "amount",
    "customer.release_credit": "total",
}


def trigger_env(use_case: str, **overrides: str) -> dict[str, str]:
    detail_type, source, detail = VALID[use_case]
    env = {
        "eventDetail": json.dumps(detail),
        "eventId": "e-bad",
        "eventDetailType": detail_type,
        "eventSource": source,
    }
    env.update(overrides)
    return env


def with_detail(use_case: str, **changes: object) -> str:
    detail = dict(VALID[use_case][2])
    for name, value in changes.items():
        if value is ...:
            del detail[name]
        else:
            detail[name] = value
    return json.dumps(detail)


@pytest.fixture(scope="module")
def seeded(module_world: World) -> World:
    """c-1 (limit 100) and o-1 (60, PENDING), events drained: the state bad input must not touch.

    Shared by the whole module (fast): every test asserts it changed nothing.
    """
    world = module_world
    assert world.run("customer.create", ["--customer-id", "c-1", "--credit-limit", "100"]).code == 0
    assert world.run("order.place", ["--order-id", "o-1", "--customer-id", "c-1", "--total", "60"]).code == 0
    world.emitted("customer")
    world.emitted("order")
    return world


def assert_refused(world: World, use_case: str, field: str, *, argv=None, env=None) -> None:
    before = {service: world.items(service) for service in ("order", "customer")}
    result = world.run(use_case, argv, env=env)
    assert result.code == 2, result
    lines = result.err.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"bad input: {field}:"), lines[0]
    assert result.out == ""
    assert {service: world.items(service) for service in ("order", "customer")} == before
    assert world.emitted("order") == []
    assert world.emitted("customer") == []


EVENT_USE_CASES = list(VALID)


@pytest.mark.parametrize("use_case", EVENT_USE_CASES)
def test_missing_event_detail(seeded: World, use_case: str) -> None:
    # GIVEN the trigger env without eventDetail
    env = trigger_env(use_case)
    del env["eventDetail"]
    # WHEN / THEN the use case refuses, naming eventDetail
    assert_refused(seeded, use_case, "eventDetail", env=env)


@pytest.mark.parametrize("use_case", EVENT_USE_CASES)
def test_event_detail_not_json(seeded: World, use_case: str) -> None:
    # GIVEN an eventDetail that is not JSON
    env = trigger_env(use_case, eventDetail="{orderId: o-1")
    # WHEN / THEN refused, naming eventDetail
    assert_refused(seeded, use_case, "eventDetail", env=env)


@pytest.mark.parametrize("use_case", EVENT_USE_CASES)
def test_event_detail_not_an_object(seeded: World, use_case: str) -> None:
    # GIVEN an eventDetail that is JSON but a list
    env = trigger_env(use_case, eventDetail="[1, 2]")
    # WHEN / THEN refused, naming eventDetail
    assert_refused(seeded, use_case, "eventDetail", env=env)


@pytest.mark.parametrize("use_case", EVENT_USE_CASES)
@pytest.mark.parametrize("field", ["orderId", "customerId", "amount"])
def test_missing_field(seeded: World, use_case: str, field: str) -> None:
    # GIVEN a detail without one required field
    name = AMOUNT_FIELD[use_case] if field == "amount" else field
    env = trigger_env(use_case, eventDetail=with_detail(use_case, **{name: ...}))
    # WHEN / THEN refused, naming eventDetail.<field>
    assert_refused(seeded, use_case, f"eventDetail.{name}", env=env)


@pytest.mark.parametrize("use_case", EVENT_USE_CASES)
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("orderId", 17),
        ("customerId", ""),
        ("customerId", "c 1"),
        ("amount", "60"),
        ("amount", 60.5),
        ("amount", True),
        ("amount", -60),
        ("amount", 0),
    ],
    ids=[
        "orderId-int",
        "customerId-empty",
        "customerId-space",
        "amount-string",
        "amount-float",
        "amount-bool",
        "amount-negative",
        "amount-zero",
    ],
)
def test_mistyped_field(seeded: World, use_case: str, field: str, value: object) -> None:
    # GIVEN a detail with one field of the wrong type or out of range
    name = AMOUNT_FIELD[use_case] if field == "amount" else field
    env = trigger_env(use_case, eventDetail=with_detail(use_case, **{name: value}))
    # WHEN / THEN refused, naming eventDetail.<field>
    assert_refused(seeded, use_case, f"eventDetail.{name}", env=env)


@pytest.mark.parametrize("use_case", EVENT_USE_CASES)
@pytest.mark.parametrize("variable", ["eventId", "eventDetailType", "eventSource"])
def test_missing_event_metadata(seeded: World, use_case: str, variable: str) -> None:
    # GIVEN the trigger env without one of eventId / eventDetailType / eventSource
    env = trigger_env(use_case)
    del env[variable]
    # WHEN / THEN refused, naming the variable
    assert_refused(seeded, use_case, variable, env=env)


@pytest.mark.parametrize("use_case", [u for u in EVENT_USE_CASES if u != "order.place"])
def test_event_from_the_wrong_source_or_of_the_wrong_type(seeded: World, use_case: str) -> None:
    # GIVEN an event of the right type from a foreign source, and one of another type
    # WHEN / THEN both are refused, naming eventSource / eventDetailType
    assert_refused(seeded, use_case, "eventSource", env=trigger_env(use_case, eventSource="event-tasks.evil"))
    assert_refused(seeded, use_case, "eventDetailType", env=trigger_env(use_case, eventDetailType="Other"))


def test_customer_validation_failed_without_reason(seeded: World) -> None:
    # GIVEN CustomerValidationFailed lacking its reason
    env = {
        "eventDetail": json.dumps({"orderId": "o-1", "customerId": "c-1"}),
        "eventId": "e-vf",
        "eventDetailType": "CustomerValidationFailed",
        "eventSource": CUSTOMER,
    }
    # WHEN / THEN order.reject refuses it naming eventDetail.reason
    assert_refused(seeded, "order.reject", "eventDetail.reason", env=env)


@pytest.mark.parametrize(
    ("use_case", "argv", "field"),
    [
        ("order.place", ["--order-id", "o-2", "--customer-id", "c-1", "--total", "-5"], "--total"),
        ("order.place", ["--order-id", "o-2", "--customer-id", "c-1", "--total", "0"], "--total"),
        ("order.place", ["--order-id", "o-2", "--customer-id", "c-1", "--total", "1.5"], "--total"),
        ("order.place", ["--order-id", "o-2", "--total", "5"], "--customer-id"),
        ("order.place", ["--order-id", "o 2", "--customer-id", "c-1", "--total", "5"], "--order-id"),
        ("customer.create", ["--customer-id", "c-2", "--credit-limit", "abc"], "--credit-limit"),
        ("customer.create", ["--customer-id", "c-2", "--credit-limit", "-1"], "--credit-limit"),
        ("customer.create", ["--customer-id", "c-2"], "arguments"),
        ("order.cancel", [], "arguments"),
        ("order.place", [], "arguments"),
        ("order.approve", ["--unexpected"], "arguments"),
    ],
    ids=[
        "place-negative",
        "place-zero",
        "place-decimal",
        "place-missing-customer",
        "place-bad-id",
        "create-not-number",
        "create-negative",
        "create-missing-limit",
        "cancel-missing-id",
        "place-nothing",
        "approve-extra-arg",
    ],
)
def test_bad_command_line(seeded: World, use_case: str, argv: list[str], field: str) -> None:
    # GIVEN a bad command line
    # WHEN / THEN refused with one line naming the argument, nothing written or emitted
    assert_refused(seeded, use_case, field, argv=argv)


def test_bad_input_is_reported_before_configuration_is_read(seeded: World) -> None:
    # GIVEN a misconfigured task (TABLE_NAME empty) AND a negative total
    argv = ["--order-id", "o-2", "--customer-id", "c-1", "--total", "-1"]
    # WHEN / THEN the input error wins: exit 2 naming --total (validation precedes any AWS access)
    assert_refused(seeded, "order.place", "--total", argv=argv, env={"TABLE_NAME": ""})
