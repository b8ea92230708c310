"""event_tasks_common: emit's FailedEntryCount check, exit-code mapping, configuration errors."""

import json

import boto3
import pytest
from botocore.stub import Stubber

from event_tasks_common import BadInput, EmitFailed, emit, read_trigger_event, run

from .saga_world import World


def test_emit_raises_when_eventbridge_did_not_accept_the_event() -> None:
    # GIVEN an EventBridge answering FailedEntryCount 1
    client = boto3.client("events", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(client)
    stubber.add_response(
        "put_events",
        {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "try later"}]},
    )
    # WHEN emitting
    with stubber, pytest.raises(EmitFailed) as error:
        emit(client, bus_name="b", source="event-tasks.order", detail_type="OrderCreated", detail={"a": 1})
    # THEN the failure names the event and EventBridge's error code
    assert "OrderCreated" in str(error.value)
    assert "InternalFailure" in str(error.value)


def test_emit_refuses_a_detail_too_large_for_the_consumers_container_overrides() -> None:
    # GIVEN a detail that, escaped in a consumer's RunTask overrides (8192 characters) and wrapped
    # twice by failure events, would not fit: 1,100 quotes are 2,2xx characters of JSON, but each
    # is 4 characters once that JSON is escaped into the overrides
    client = boto3.client("events", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(client)  # no response queued: any PutEvents call would fail the test
    # WHEN emitting it
    with (
        stubber,
        pytest.raises(EmitFailed, match=r"OrderCreated detail is 4\d{3} characters as a consumer.*within 4096"),
    ):
        emit(client, bus_name="b", source="event-tasks.order", detail_type="OrderCreated", detail={"note": '"' * 1100})
    # THEN nothing was sent
    stubber.assert_no_pending_responses()


def test_emit_sends_to_the_given_bus_with_the_service_source() -> None:
    # GIVEN an EventBridge accepting the entry
    client = boto3.client("events", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(client)
    expected_entry = {
        "EventBusName": "order-bus",
        "Source": "event-tasks.order",
        "DetailType": "OrderCreated",
        "Detail": json.dumps({"orderId": "o-1", "total": 60}, separators=(",", ":")),
    }
    stubber.add_response(
        "put_events", {"FailedEntryCount": 0, "Entries": [{"EventId": "id-1"}]}, {"Entries": [expected_entry]}
    )
    # WHEN emitting
    with stubber:
        event_id = emit(
            client,
            bus_name="order-bus",
            source="event-tasks.order",
            detail_type="OrderCreated",
            detail={"orderId": "o-1", "total": 60},
        )
    # THEN exactly that entry was sent and its id returned
    assert event_id == "id-1"


@pytest.mark.parametrize(
    ("error", "code"),
    [(BadInput("eventDetail.total", "expected a positive integer"), 2), (RuntimeError("boom"), 1)],
)
def test_run_maps_errors_to_exit_codes(capsys: pytest.CaptureFixture[str], error: Exception, code: int) -> None:
    # GIVEN a handler failing with a bad-input or an unexpected error
    def handler(argv: list[str]) -> int:
        raise error

    # WHEN run through the entry wrapper
    result = run(handler, [])
    # THEN the exit code is mapped and the last stderr line explains it
    assert result == code
    assert str(error) in capsys.readouterr().err.splitlines()[-1]


def test_run_returns_the_handlers_code() -> None:
    # GIVEN a handler that handled its business outcome
    # WHEN / THEN run returns its code unchanged
    assert run(lambda argv: 0, []) == 0


def test_read_trigger_event_parses_amounts_without_floats() -> None:
    # GIVEN an event detail with a decimal number
    env = {"eventDetail": '{"total": 60.1}', "eventId": "e", "eventDetailType": "T", "eventSource": "s"}
    # WHEN it is read
    event = read_trigger_event({"T": "s"}, env)
    # THEN the number is a Decimal (never a float) and refused as an amount
    assert type(event.detail.data["total"]).__name__ == "Decimal"
    with pytest.raises(BadInput, match=r"eventDetail.total: expected a positive integer"):
        event.detail.amount("total")


def test_missing_table_name_is_a_configuration_error_exit_1(world: World) -> None:
    # GIVEN a task definition without TABLE_NAME
    # WHEN a valid command runs
    result = world.run("customer.create", ["--customer-id", "c-1", "--credit-limit", "5"], env={"TABLE_NAME": ""})
    # THEN exit 1 with one line naming TABLE_NAME, nothing emitted
    assert result.code == 1
    assert result.err == "error: ConfigError: TABLE_NAME: missing from the task environment\n"
    assert world.emitted("customer") == []


def test_a_refused_emit_fails_the_task_and_a_rerun_delivers_the_recorded_event(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN EventBridge refusing every PutEvents of the order service's client
    real_client = boto3.client

    def refusing_client(service: str, *args, **kwargs):
        client = real_client(service, *args, **kwargs)
        if service == "events":
            refusal = {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "ThrottlingException"}]}
            client.meta.events.register(
                "before-call.events.PutEvents",
                lambda **_: (type("Http", (), {"status_code": 200})(), refusal),
            )
        return client

    monkeypatch.setattr(boto3, "client", refusing_client)
    # WHEN an order is placed
    failed = world.run("order.place", ["--order-id", "o-1", "--customer-id", "c-1", "--total", "60"])
    monkeypatch.setattr(boto3, "client", real_client)
    # THEN the task fails (exit 1, one line) though the order was written...
    assert failed.code == 1
    assert failed.err.startswith("error: EmitFailed: PutEvents did not accept OrderCreated")
    assert world.order("o-1")["status"] == "PENDING"
    assert world.emitted("order") == []
    # ...and re-running the same command (the replay) emits the event that was not delivered
    retried = world.run("order.place", ["--order-id", "o-1", "--customer-id", "c-1", "--total", "60"])
    assert retried.code == 0
    assert [e["detail-type"] for e in world.emitted("order")] == ["OrderCreated"]


def test_failure_reports_are_read_through_nesting_but_not_without_end() -> None:
    # GIVEN an OrderCreated reported by failure events nested 3 and 4 deep
    from event_tasks_common import failure
    from event_tasks_common.trigger import Detail

    def report(inner: dict, trigger: str) -> dict:
        return {"trigger": trigger, "event": {"id": "x", "detail-type": "T", "source": "s", "detail": inner}}

    three = report(report(report({"orderId": "o-1"}, "a"), "b"), "c")
    # WHEN / THEN three levels reach the business event, under the field path it was read from
    found = failure.original(Detail(three))
    assert (found.detail.data, found.detail.prefix) == (
        {"orderId": "o-1"},
        "eventDetail.event.detail.event.detail.event.detail",
    )
    # AND a fourth level is refused as bad input
    with pytest.raises(BadInput, match=r"failure events nested deeper than 3 levels"):
        failure.original(Detail(report(three, "d")))
    # AND the reason names the failed trigger
    assert failure.reason("reserve-credit") == "RESERVE_CREDIT_FAILED"
