"""Test helpers for the Order/Customer services: both services' tables and buses, and a runner.

Each bus has a catch-all rule delivering to an SQS queue, so a test reads exactly what a use case
emitted (and from which source). Use cases are run in-process through their ``main(argv)``, with
the environment the state machine / task definition would give the container.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

REGION = "us-east-1"
SERVICES = ("order", "customer")
TRIGGER_VARS = ("eventDetail", "eventId", "eventDetailType", "eventSource")


def table_name(service: str) -> str:
    return f"event-tasks-{service}"


def bus_name(service: str) -> str:
    return f"event-tasks-{service}-bus"


def create_service_resources(session_kwargs: Mapping[str, Any], service: str) -> str:
    """Create the service's table (pk/sk, on demand), bus, and an observer queue; return the queue URL."""
    dynamodb = boto3.client("dynamodb", **session_kwargs)
    events = boto3.client("events", **session_kwargs)
    sqs = boto3.client("sqs", **session_kwargs)
    dynamodb.create_table(
        TableName=table_name(service),
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    events.create_event_bus(Name=bus_name(service))
    queue_url = sqs.create_queue(QueueName=f"{service}-observer")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(
        Name=f"{service}-everything",
        EventBusName=bus_name(service),
        EventPattern=json.dumps({"source": [{"prefix": ""}]}),
    )
    events.put_targets(
        Rule=f"{service}-everything",
        EventBusName=bus_name(service),
        Targets=[{"Id": "observer", "Arn": queue_arn}],
    )
    return queue_url


def drain(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    """Every EventBridge event delivered to the queue so far (removed from it)."""
    events: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return events
        for message in messages:
            events.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


@dataclass
class Result:
    code: int
    out: str
    err: str


class World:
    """Both services' resources plus helpers to run use cases and observe their effects.

    Needs an active ``moto.mock_aws`` and the fake credentials of ``fake_aws_env``.
    """

    def __init__(self) -> None:
        self.dynamodb = boto3.client("dynamodb", region_name=REGION)
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.queues = {service: create_service_resources({"region_name": REGION}, service) for service in SERVICES}

    # -- running use cases ---------------------------------------------------------------
    def run(
        self,
        use_case: str,
        argv: list[str] | None = None,
        *,
        event: Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Result:
        """Run ``<service>.<use_case>`` in-process as its ECS task would; capture its stdout/stderr.

        ``event``: an EventBridge event (``id``, ``detail-type``, ``source``, ``detail``) turned into
        the trigger env vars; ``env``: raw trigger env vars (for bad-input tests).
        """
        service = use_case.split(".")[0]
        module = importlib.import_module(use_case)
        out, err = io.StringIO(), io.StringIO()
        with pytest.MonkeyPatch.context() as patch:
            # The task definition's variables (and the region the resources live in, whatever
            # another fixture exported).
            patch.setenv("AWS_DEFAULT_REGION", REGION)
            patch.setenv("AWS_REGION", REGION)
            patch.setenv("TABLE_NAME", table_name(service))
            patch.setenv("EVENT_BUS_NAME", bus_name(service))
            for name in TRIGGER_VARS:
                patch.delenv(name, raising=False)
            if event is not None:
                patch.setenv("eventDetail", json.dumps(event["detail"]))
                patch.setenv("eventId", event["id"])
                patch.setenv("eventDetailType", event["detail-type"])
                patch.setenv("eventSource", event["source"])
            for name, value in (env or {}).items():
                patch.setenv(name, value)
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = module.main(argv or [])
        return Result(code, out.getvalue(), err.getvalue())

    # -- observing ---------------------------------------------------------------------------
    def emitted(self, service: str) -> list[dict[str, Any]]:
        """Events the service emitted on its own bus since the last call."""
        return drain(self.sqs, self.queues[service])

    def items(self, service: str) -> list[dict[str, Any]]:
        from event_tasks_common.store import from_attributes

        response = self.dynamodb.scan(TableName=table_name(service), ConsistentRead=True)
        return sorted((from_attributes(i) for i in response["Items"]), key=lambda i: (i["pk"], i["sk"]))

    def item(self, service: str, pk: str, sk: str) -> dict[str, Any] | None:
        return next((i for i in self.items(service) if i["pk"] == pk and i["sk"] == sk), None)

    def order(self, order_id: str) -> dict[str, Any] | None:
        return self.item("order", f"ORDER#{order_id}", "ORDER")

    def customer(self, customer_id: str) -> dict[str, Any] | None:
        return self.item("customer", f"CUSTOMER#{customer_id}", "CUSTOMER")


def event(detail_type: str, source: str, detail: Mapping[str, Any], event_id: str) -> dict[str, Any]:
    """An EventBridge-shaped event, as a rule would hand it to the state machine."""
    return {"id": event_id, "detail-type": detail_type, "source": source, "detail": dict(detail)}


def only(events: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(events) == 1, f"expected exactly one emitted event, got {events}"
    return events[0]


@contextlib.contextmanager
def fake_aws_env() -> Iterator[None]:
    """Fake credentials and region; no endpoint override, so moto's in-process mock answers."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
        }.items():
            patch.setenv(name, value)
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "TABLE_NAME", "EVENT_BUS_NAME", *TRIGGER_VARS):
            patch.delenv(name, raising=False)
        yield


class Crash(BaseException):
    """The task process dying at a chosen point (not an ``Exception``: ``run`` cannot turn it into an exit code)."""


@contextlib.contextmanager
def after_commit(action: Callable[[str], None], times: int = 1) -> Iterator[list[str]]:
    """The next ``times`` use cases that commit a state change call ``action(use_case)`` right after
    the commit, before PutEvents (the crash window). Yields the use cases it was called for."""
    from event_tasks_common import process

    real = process.decide_once
    hit: list[str] = []

    def committing_then_acting(table, *, use_case, event, decide):
        settled = real(table, use_case=use_case, event=event, decide=decide)
        if settled.committed and len(hit) < times:
            hit.append(use_case)
            action(use_case)
        return settled

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(process, "decide_once", committing_then_acting)
        yield hit


def crash_after_commit(times: int = 1) -> contextlib.AbstractContextManager[list[str]]:
    """The next ``times`` committing use cases die right after their commit, before PutEvents."""

    def die(use_case: str) -> None:
        raise Crash(f"{use_case} died after its commit")

    return after_commit(die, times)


def failure_event(failed: Mapping[str, Any], trigger: str, service: str, *, attempts: int = 3) -> dict[str, Any]:
    """The event a trigger's state machine publishes when it gives up on its task (ISSUE8 contract):
    on the failed service's bus, source ``event-tasks.<service>``, detail-type ``<Trigger>Failed``."""
    detail_type = "".join(part.capitalize() for part in trigger.split("-")) + "Failed"
    detail = {
        "trigger": trigger,
        "service": service,
        "error": "States.TaskFailed",
        "cause": "exit code 137: Essential container in task exited",
        "executionArn": f"arn:aws:states:{REGION}:123456789012:execution:event-tasks-local-{trigger}:x-{failed['id']}",
        "attempts": attempts,
        "event": {k: failed[k] for k in ("id", "detail-type", "source", "detail")},
    }
    return event(detail_type, f"event-tasks.{service}", detail, f"failed-{failed['id']}")
