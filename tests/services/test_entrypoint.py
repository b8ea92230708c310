"""The image's entry point for real: ``python -m order.place`` in a subprocess, from
``service_images/order`` (the image's WORKDIR layout), against a moto server reached only through
the standard ``AWS_ENDPOINT_URL`` setting."""

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from event_tasks_common.store import from_attributes

from .saga_world import REGION, bus_name, create_service_resources, drain, table_name

ORDER_DIR = Path(__file__).resolve().parents[2] / "service_images" / "order"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": REGION}


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="module")
def queue_url(endpoint: str) -> str:
    """The order service's table, bus and an observer queue on the server."""
    return create_service_resources({"endpoint_url": endpoint, **CREDENTIALS}, "order")


def task_env(endpoint: str, **extra: str) -> dict[str, str]:
    """Only what the ECS task would have: no PYTHONPATH, no credentials from the developer."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "TABLE_NAME": table_name("order"),
        "EVENT_BUS_NAME": bus_name("order"),
        **extra,
    }


def python_m(module: str, *args: str | bytes, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ORDER_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_python_m_order_place_against_the_endpoint_from_the_environment(endpoint: str, queue_url: str) -> None:
    # GIVEN the order service's table, bus and an observer queue on a moto server
    sqs = boto3.client("sqs", endpoint_url=endpoint, **CREDENTIALS)
    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint, **CREDENTIALS)

    # WHEN the image's command runs as a process
    done = python_m("order.place", "--order-id", "o-1", "--customer-id", "c-1", "--total", "60", env=task_env(endpoint))

    # THEN it exits 0, the order is PENDING in the server's table and OrderCreated is on the bus
    assert done.returncode == 0, done.stderr
    assert "order o-1 placed PENDING" in done.stdout
    item = dynamodb.get_item(TableName=table_name("order"), Key={"pk": {"S": "ORDER#o-1"}, "sk": {"S": "ORDER"}})
    assert from_attributes(item["Item"])["status"] == "PENDING"
    emitted = drain(sqs, queue_url)
    assert [(e["source"], e["detail-type"], e["detail"]) for e in emitted] == [
        (
            "event-tasks.order",
            "OrderCreated",
            {"orderId": "o-1", "customerId": "c-1", "total": 60, "eventKey": "OrderCreated:o-1"},
        )
    ]

    # WHEN the next step runs as a process, triggered through the env-var contract
    trigger = {
        "eventDetail": json.dumps({"orderId": "o-1", "customerId": "c-1", "amount": 60}),
        "eventId": "e-42",
        "eventDetailType": "CreditReserved",
        "eventSource": "event-tasks.customer",
    }
    approved = python_m("order.approve", env=task_env(endpoint, **trigger))
    # THEN it exits 0 and OrderApproved is emitted
    assert approved.returncode == 0, approved.stderr
    assert [e["detail-type"] for e in drain(sqs, queue_url)] == ["OrderApproved"]

    # WHEN a process gets bad input
    refused = python_m(
        "order.place", "--order-id", "o-2", "--customer-id", "c-1", "--total", "-5", env=task_env(endpoint)
    )
    # THEN exit 2 with one stderr line naming --total, and nothing emitted
    assert refused.returncode == 2
    assert refused.stderr.splitlines() == ["bad input: --total: expected a positive integer, got '-5'"]
    assert drain(sqs, queue_url) == []


def approve_trigger(detail: str, **overrides: str) -> dict[str, str]:
    return {
        "eventDetail": detail,
        "eventId": "e-hostile",
        "eventDetailType": "CreditReserved",
        "eventSource": "event-tasks.customer",
        **overrides,
    }


VALID_APPROVAL = '{"orderId": "o-1", "customerId": "c-1", "amount": 60}'
HOSTILE_TRIGGERS = {
    "nul-in-id": (approve_trigger(VALID_APPROVAL.replace("c-1", "c-\\u00001")), "eventDetail.customerId"),
    "rtl-override-in-id": (approve_trigger(VALID_APPROVAL.replace("c-1", "c-\u202e1")), "eventDetail.customerId"),
    "lone-surrogate": (approve_trigger(VALID_APPROVAL.replace("o-1", "\\ud800")), "eventDetail.orderId"),
    # os.fsencode turns "\udcff" back into the byte 0xff: a variable that is not UTF-8.
    "byte-ff-in-source": (approve_trigger(VALID_APPROVAL, eventSource="event-tasks.customer\udcff"), "eventSource"),
    "escape-in-type": (approve_trigger(VALID_APPROVAL, eventDetailType="CreditReserved\x1b[2K"), "eventDetailType"),
    # 20 000 characters: one environment variable holds at most 128 KiB.
    "deep-nesting": (approve_trigger('{"x": ' + "[" * 10_000 + "]" * 10_000 + "}"), "eventDetail"),
    "5000-digit-amount": (approve_trigger(VALID_APPROVAL.replace("60", "9" * 5000)), "eventDetail.amount"),
}


@pytest.mark.parametrize("case", list(HOSTILE_TRIGGERS))
def test_python_m_refuses_a_hostile_trigger_with_one_line(endpoint: str, queue_url: str, case: str) -> None:
    # GIVEN the table as it is, and a hostile trigger for order.approve
    trigger, field = HOSTILE_TRIGGERS[case]
    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint, **CREDENTIALS)
    before = dynamodb.scan(TableName=table_name("order"))["Items"]
    # WHEN the image's command runs as a process
    done = python_m("order.approve", env=task_env(endpoint, **trigger))
    # THEN exit 2, exactly one printable stderr line naming the field, nothing written or emitted
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"bad input: {field}: ") and lines[0].isprintable(), lines[0]
    assert dynamodb.scan(TableName=table_name("order"))["Items"] == before
    assert drain(boto3.client("sqs", endpoint_url=endpoint, **CREDENTIALS), queue_url) == []


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ((b"--order-id", b"o-\xff", b"--customer-id", b"c-1", b"--total", b"5"), "--order-id"),
        (("--order-id", "o-2", "--customer-id", "c-\u2066x", "--total", "5"), "--customer-id"),
        (("--order-id", "o-2", "--customer-id", "c-1", "--total", "9" * 5000), "--total"),
        (("\x1b[2Jbad input: forged",), "arguments"),
    ],
    ids=["byte-ff", "bidi-isolate", "5000-digits", "escape-positional"],
)
def test_python_m_refuses_a_hostile_command_line_with_one_line(
    endpoint: str, queue_url: str, args: tuple[str | bytes, ...], field: str
) -> None:
    # GIVEN a command line with an undecodable byte, a bidi control, a huge number or an escape sequence
    # WHEN order.place runs as a process
    done = python_m("order.place", *args, env=task_env(endpoint))
    # THEN exit 2 with exactly one printable stderr line naming the argument, nothing emitted
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"bad input: {field}: ") and lines[0].isprintable(), lines
    assert drain(boto3.client("sqs", endpoint_url=endpoint, **CREDENTIALS), queue_url) == []
