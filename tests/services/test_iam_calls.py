"""The task role grants exactly the calls the service code makes.

Every service test records the AWS calls of the use cases it runs (the autouse ``task_role_calls``
fixture) and fails if the role lacks one. Here: the role's statements as an exact dict, a saga
through every branch of every use case proving each granted action is used, and proof that the
recorder catches an action, a table or a bus the role lacks.
"""

import pytest

from components.service_task import task_role_statements
from event_tasks_common.store import Table

from . import saga_world
from .iam_calls import CallRecorder, Request, allows, bus_arn, granted_actions, table_arn
from .saga_world import World, bus_name, event, only, table_name
from .test_saga import ROUTES, deliver, place


def test_the_task_role_may_emit_to_its_bus_and_use_its_table_with_the_helpers_calls_only() -> None:
    # GIVEN a service's bus and table WHEN its task role's statements are rendered
    statements = task_role_statements("BUS-ARN", "TABLE-ARN", source="event-tasks.order", detail_types=("B", "A"))
    # THEN PutEvents on its bus with its own source and declared detail-types, and on its table
    # GetItem plus the three actions DynamoDB authorizes inside TransactWriteItems; no DeleteItem,
    # no Query, no Scan
    assert statements == [
        {
            "Sid": "EmitToOwnBus",
            "Effect": "Allow",
            "Action": "events:PutEvents",
            "Resource": "BUS-ARN",
            "Condition": {"StringEquals": {"events:source": "event-tasks.order", "events:detail-type": ["A", "B"]}},
        },
        {
            "Sid": "ReadWriteOwnTable",
            "Effect": "Allow",
            "Action": [
                "dynamodb:ConditionCheckItem",
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:Scan",
                "dynamodb:UpdateItem",
            ],
            "Resource": "TABLE-ARN",
        },
    ]


def redeliver(world: World, emitted: dict) -> None:
    """The same event once more (at-least-once delivery); whatever it re-emits is drained."""
    consumer = ROUTES[emitted["detail-type"]]
    assert world.run(consumer, event=emitted).code == 0
    world.emitted(consumer.split(".")[0])


def play_every_branch(world: World) -> None:
    """Every use case through each of its outcomes, each also run again."""
    for _ in range(2):
        assert world.run("customer.create", ["--customer-id", "c-1", "--credit-limit", "100"]).code == 0
        world.emitted("customer")
    # o-1 reserved and approved, o-2 over the limit, o-3 for an unknown customer
    for order_id, customer_id, total in (("o-1", "c-1", 60), ("o-2", "c-1", 50), ("o-3", "c-404", 10)):
        created = place(world, order_id, customer_id, total)
        credit = deliver(world, created)
        redeliver(world, created)
        deliver(world, credit)
        redeliver(world, credit)
    # an order placed by an event, and that event again
    request = event(
        "PlaceOrderRequested", "event-tasks.api", {"orderId": "o-4", "customerId": "c-1", "total": 5}, "e-4"
    )
    for _ in range(2):
        assert world.run("order.place", event=request).code == 0
        world.emitted("order")
    # compensation: cancel o-1 and release its credit, each twice
    assert world.run("order.cancel", ["--order-id", "o-1"]).code == 0
    cancelled = only(world.emitted("order"))
    assert world.run("order.cancel", ["--order-id", "o-1"]).code == 0
    world.emitted("order")
    deliver(world, cancelled)
    redeliver(world, cancelled)
    assert world.customer("c-1")["reserved"] == 0
    # the nightly expiry tick (it scans the customer's own credit decisions), and that tick again
    tick = "2099-01-01T03:00:00Z"
    scheduled = event(
        "Scheduled",
        "event-tasks.scheduler",
        {"schedule": "expire-reservations", "scheduledTime": tick, "executionId": "x-1"},
        tick,
    )
    for _ in range(2):
        assert world.run("customer.expire_reservations", ["--older-than", "1h"], event=scheduled).code == 0
        world.emitted("customer")


def test_the_use_cases_call_exactly_what_the_task_roles_grant(world: World, task_role_calls: CallRecorder) -> None:
    # GIVEN every branch of every use case played (and replayed) against moto, calls recorded
    play_every_branch(world)
    # THEN no call was denied by its service's task role
    assert task_role_calls.denied() == []
    # AND every action a role grants was needed by some service: no unused grant
    granted = granted_actions("order") | granted_actions("customer")
    assert task_role_calls.actions("order") | task_role_calls.actions("customer") == granted
    # AND both services made calls (the recorder saw them)
    assert task_role_calls.actions("order") and task_role_calls.actions("customer")


def query_instead_of_get(monkeypatch: pytest.MonkeyPatch) -> None:
    def get(self: Table, pk: str, sk: str) -> None:
        self.client.query(
            TableName=self.name,
            KeyConditionExpression="pk = :pk AND sk = :sk",
            ExpressionAttributeValues={":pk": {"S": pk}, ":sk": {"S": sk}},
        )

    monkeypatch.setattr(Table, "get", get)


def delete_in_transaction(monkeypatch: pytest.MonkeyPatch) -> None:
    real = Table.transact

    def transact(self: Table, ops: list) -> None:
        delete = {"Delete": {"TableName": self.name, "Key": {"pk": {"S": "STALE"}, "sk": {"S": "STALE"}}}}
        real(self, [*ops, delete])

    monkeypatch.setattr(Table, "transact", transact)


def other_services_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(saga_world, "table_name", lambda service: table_name("customer"))


def other_services_bus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(saga_world, "bus_name", lambda service: bus_name("customer"))


@pytest.mark.parametrize(
    ("change", "denied"),
    [
        (query_instead_of_get, Request("order", "dynamodb:Query", table_arn("order"))),
        (
            delete_in_transaction,
            Request(
                "order",
                "dynamodb:DeleteItem",
                table_arn("order"),
                (("dynamodb:enclosingoperation", "TransactWriteItems"),),
            ),
        ),
        (other_services_table, Request("order", "dynamodb:GetItem", table_arn("customer"))),
        (
            other_services_bus,
            Request(
                "order",
                "events:PutEvents",
                bus_arn("customer"),
                (("events:detail-type", "OrderCreated"), ("events:source", "event-tasks.order")),
            ),
        ),
    ],
    ids=["query", "delete-in-transaction", "other-services-table", "other-services-bus"],
)
def test_a_call_the_role_lacks_is_caught(
    world: World, task_role_calls: CallRecorder, monkeypatch: pytest.MonkeyPatch, change, denied: Request
) -> None:
    # GIVEN service code changed to call something its task role does not grant
    change(monkeypatch)
    # WHEN order.place runs
    world.run("order.place", ["--order-id", "o-1", "--customer-id", "c-1", "--total", "60"])
    # THEN the recorder reports that call as denied
    assert denied in task_role_calls.denied()
    task_role_calls.forget()  # provoked on purpose: the autouse check must not fail this test


def test_harness_calls_are_not_attributed_to_a_service(world: World, task_role_calls: CallRecorder) -> None:
    # GIVEN a test that scans and deletes through its own client (not service code)
    world.dynamodb.scan(TableName=table_name("order"))
    world.dynamodb.delete_item(TableName=table_name("order"), Key={"pk": {"S": "x"}, "sk": {"S": "x"}})
    # WHEN / THEN nothing is recorded, and a use case's calls are
    assert task_role_calls.requests == []
    assert world.run("customer.create", ["--customer-id", "c-1", "--credit-limit", "1"]).code == 0
    # (UpdateItem: the outcome record is marked emitted once PutEvents accepted the event)
    assert {r.action for r in task_role_calls.requests} == {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "events:PutEvents",
    }
    assert only(world.emitted("customer"))["detail-type"] == "CustomerCreated"


def test_a_condition_on_the_emitted_source_is_evaluated() -> None:
    # GIVEN a PutEvents grant conditioned on the service's own source and detail-types
    statements = [
        {
            "Effect": "Allow",
            "Action": "events:PutEvents",
            "Resource": bus_arn("order"),
            "Condition": {
                "StringEquals": {"events:source": "event-tasks.order", "events:detail-type": ["OrderCreated"]}
            },
        }
    ]

    def put(source: str, detail_type: str) -> Request:
        return Request(
            "order",
            "events:PutEvents",
            bus_arn("order"),
            (("events:detail-type", detail_type), ("events:source", source)),
        )

    # WHEN / THEN only the declared source and detail-type are allowed
    assert allows(statements, put("event-tasks.order", "OrderCreated"))
    assert not allows(statements, put("event-tasks.customer", "OrderCreated"))
    assert not allows(statements, put("event-tasks.order", "CreditReserved"))
    # AND an unknown condition key fails loudly instead of guessing
    statements[0]["Condition"] = {"StringEquals": {"aws:SourceVpc": "vpc-1"}}
    with pytest.raises(AssertionError, match="aws:SourceVpc"):
        allows(statements, put("event-tasks.order", "OrderCreated"))
