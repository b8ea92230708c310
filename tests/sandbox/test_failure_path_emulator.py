"""The rendered failure path EXECUTES on the emulator: retries, the bad-input exit, backoff, the
failure event on the failed service's bus, and the failed execution."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from test_emulator import fargate_service, finished

from components.failure_path import FailurePath, with_failure_path
from components.run_task_state_machine import FargateLaunch, TaskTarget, render_definition
from sandbox.emulator import Emulator, TaskLaunch, start_in_process

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/states"
BUS = "event-tasks-test-customer"
EVENT = {
    "version": "0",
    "id": "ev-1",
    "detail-type": "OrderCreated",
    "source": "event-tasks.order",
    "account": "123456789012",
    "time": "2026-11-29T12:00:00Z",
    "region": REGION,
    "resources": [],
    "detail": {"orderId": "o-1", "customerId": "c-1", "total": 60},
}


@pytest.fixture
def emu() -> Iterator[Emulator]:
    emulator = start_in_process(REGION, sync_poll_seconds=0.02)
    # The real backoff is 30 s, 60 s...: a thousandth keeps each retry to tens of milliseconds.
    emulator.set_wait_scale(0.001)
    try:
        yield emulator
    finally:
        emulator.stop()


class ExitCodes:
    """A task runner: the n-th task exits with the n-th code (the last one repeats)."""

    def __init__(self, emu: Emulator, *codes: int | None):
        self.emu, self.codes, self.launches = emu, list(codes), []

    def __call__(self, launch: TaskLaunch) -> None:
        self.launches.append(launch)
        code = self.codes[min(len(self.launches), len(self.codes)) - 1]
        threading.Timer(0.01, self.emu.complete_task, (launch.task_arn, code)).start()


def machine(emu: Emulator, *, retries: int = 2, detail_type: str = "ReserveCreditFailed", timeout: int = 60) -> str:
    service = fargate_service(emu)
    target = TaskTarget(
        cluster_arn=service["cluster"],
        task_definition_arn=service["task_definition"],
        container_name="customer",
        pass_role_arns=[],
        launch=FargateLaunch([service["subnet"]], [service["group"]]),
    )
    failure = FailurePath(
        trigger="reserve-credit", service="customer", bus_name=BUS, detail_type=detail_type, task_retries=retries
    )
    definition = with_failure_path(
        render_definition(target, ["python", "-m", "customer.reserve_credit"], timeout, trigger="reserve-credit"),
        failure,
    )
    emu.boto3_client("events").create_event_bus(Name=BUS)
    return emu.boto3_client("stepfunctions").create_state_machine(
        name="reserve-credit", definition=json.dumps(definition), roleArn=ROLE
    )["stateMachineArn"]


def run(emu: Emulator, machine_arn: str) -> dict[str, Any]:
    sfn = emu.boto3_client("stepfunctions")
    started = sfn.start_execution(stateMachineArn=machine_arn, name=f"e-{time.monotonic_ns()}", input=json.dumps(EVENT))
    return finished(sfn, started["executionArn"], timeout=20)


def failure_events(emu: Emulator) -> list[dict[str, Any]]:
    # No service code runs here: whatever reached a bus was put by the workflow.
    return emu.events.emitted


def test_bad_input_exit_is_not_retried_and_publishes_the_failure_event(emu: Emulator) -> None:
    # GIVEN a workflow with 2 retries whose task exits with the bad-input code
    runner = ExitCodes(emu, 2)
    emu.set_task_runner(runner)
    arn = machine(emu)
    # WHEN the event runs it
    execution = run(emu, arn)
    # THEN the task ran once, the execution FAILED under the failure's detail-type
    assert len(runner.launches) == 1
    assert execution["status"] == "FAILED"
    assert execution["error"] == "ReserveCreditFailed"
    assert (
        execution["cause"] == "States.TaskFailed after 1 attempts: exit codes [2]: Essential container in task exited"
    )
    # AND exactly one failure event is on the customer's bus, as the contract describes it
    (event,) = failure_events(emu)
    assert {k: v for k, v in event.items() if k != "id"} == {
        "event-bus": BUS,
        "source": "event-tasks.customer",
        "detail-type": "ReserveCreditFailed",
        "detail": {
            "trigger": "reserve-credit",
            "service": "customer",
            "eventKey": "ReserveCreditFailed:ev-1",
            "error": "States.TaskFailed",
            "cause": "exit codes [2]: Essential container in task exited",
            "executionArn": execution["executionArn"],
            "attempts": 1,
            "event": {
                "id": "ev-1",
                "detail-type": "OrderCreated",
                "source": "event-tasks.order",
                "detail": EVENT["detail"],
            },
        },
    }


def test_a_failing_task_is_retried_until_it_succeeds(emu: Emulator) -> None:
    # GIVEN a task that exits 1 twice, then 0
    runner = ExitCodes(emu, 1, 1, 0)
    emu.set_task_runner(runner)
    # WHEN the event runs it
    execution = run(emu, machine(emu))
    # THEN three attempts ran with the same event, the execution SUCCEEDED and nothing was published
    assert execution["status"] == "SUCCEEDED"
    assert len(runner.launches) == 3
    assert {launch.containers[0].environment["eventId"] for launch in runner.launches} == {"ev-1"}
    assert failure_events(emu) == []
    # AND it waited between attempts (the Backoff state ran twice)
    history = emu.boto3_client("stepfunctions").get_execution_history(executionArn=execution["executionArn"])
    waits = [e for e in history["events"] if e["type"] == "WaitStateEntered"]
    assert len(waits) == 2


def test_a_task_that_always_fails_gives_up_after_its_retries(emu: Emulator) -> None:
    # GIVEN a task that always exits 1
    runner = ExitCodes(emu, 1)
    emu.set_task_runner(runner)
    # WHEN the event runs it
    execution = run(emu, machine(emu))
    # THEN 1 + taskRetries attempts ran, then one failure event says so, and the execution FAILED
    assert len(runner.launches) == 3
    assert execution["status"] == "FAILED"
    (event,) = failure_events(emu)
    assert event["event-bus"] == BUS
    assert (event["detail"]["attempts"], event["detail"]["error"], event["detail"]["cause"]) == (
        3,
        "States.TaskFailed",
        "exit codes [1]: Essential container in task exited",
    )


def test_no_retries_and_an_overridden_detail_type(emu: Emulator) -> None:
    # GIVEN taskRetries 0 and a failureDetailType override
    runner = ExitCodes(emu, 1)
    emu.set_task_runner(runner)
    # WHEN the event runs a task that exits 1
    execution = run(emu, machine(emu, retries=0, detail_type="CreditCheckBroken"))
    # THEN it ran once and published under the override
    assert len(runner.launches) == 1
    (event,) = failure_events(emu)
    assert (event["detail-type"], event["detail"]["attempts"], event["detail"]["eventKey"]) == (
        "CreditCheckBroken",
        1,
        "CreditCheckBroken:ev-1",
    )
    assert execution["error"] == "CreditCheckBroken"


def test_a_task_that_never_started_is_retried_and_described_without_exit_code(emu: Emulator) -> None:
    # GIVEN a task whose container never starts (no exit code), then one that succeeds
    runner = ExitCodes(emu, None, 0)
    emu.set_task_runner(runner)
    # WHEN the event runs it
    execution = run(emu, machine(emu))
    # THEN the missing exit code is retried like a crash
    assert execution["status"] == "SUCCEEDED"
    assert len(runner.launches) == 2


def test_a_task_state_timeout_is_retried_then_reported(emu: Emulator) -> None:
    # GIVEN a task that never stops within the state's 1 s timeout
    launches: list[TaskLaunch] = []
    emu.set_task_runner(launches.append)
    # WHEN the event runs it with no retries
    execution = run(emu, machine(emu, retries=1, timeout=1))
    # THEN both attempts timed out and the failure event names States.Timeout
    assert len(launches) == 2
    (event,) = failure_events(emu)
    assert (event["detail"]["error"], event["detail"]["attempts"]) == ("States.Timeout", 2)
    assert execution["status"] == "FAILED"
    for launch in launches:  # the emulator does not stop timed-out tasks (AWS would)
        emu.complete_task(launch.task_arn, 137)


def test_wait_scale_must_be_positive(emu: Emulator) -> None:
    # THEN a scale that would never end (or never wait) is refused
    with pytest.raises(ValueError, match="wait scale must be > 0"):
        emu.set_wait_scale(0)


def test_bad_input_on_a_retry_stops_the_retries(emu: Emulator) -> None:
    # GIVEN a task that crashes once, then reports bad input
    runner = ExitCodes(emu, 137, 2)
    emu.set_task_runner(runner)
    # WHEN the event runs it with retries left
    execution = run(emu, machine(emu, retries=5))
    # THEN the second attempt's bad input ends it: no third attempt, the failure event counts two
    assert len(runner.launches) == 2
    (event,) = failure_events(emu)
    assert (event["detail"]["attempts"], event["detail"]["cause"]) == (
        2,
        "exit codes [2]: Essential container in task exited",
    )
    assert execution["status"] == "FAILED"
