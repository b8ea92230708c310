"""The sandbox as a judge: every check it makes is shown to FAIL a run that breaks it.

Each check is a pure function (fast tests with a bad state), and one deployed sandbox proves
`Sandbox.report` / `Sandbox.play` apply them: its table is tampered with after a good run.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from components.config import load_config, read_stack_file
from sandbox.harness import (
    Report,
    Sandbox,
    _short,
    contradicting_events,
    credit_problems,
    failures,
    replay_problems,
    unsettled_orders,
)
from sandbox.provision import PROJECT_ROOT
from sandbox.runner import TaskRun
from sandbox.scenario import Customer, Order, Scenario

STACK = Path(__file__).parent / "stacks" / "Pulumi.judge.yaml"
OK_CUSTOMERS = {"c-1": {"creditLimit": 100, "reserved": 60}}
OK_ORDERS = [
    {"orderId": "o-1", "customerId": "c-1", "total": 60, "status": "APPROVED"},
    {"orderId": "o-2", "customerId": "c-1", "total": 50, "status": "REJECTED"},
    {"orderId": "o-3", "customerId": "c-1", "total": 30, "status": "CANCELLED"},
]


# -- the checks, one by one ----------------------------------------------------------------------


def test_a_settled_saga_passes_every_check():
    # GIVEN orders all terminal and credit that adds up THEN no check fires (the baseline of the rest)
    assert unsettled_orders({o["orderId"]: o["status"] for o in OK_ORDERS}) == []
    assert credit_problems(OK_CUSTOMERS, OK_ORDERS) == []
    assert replay_problems(Report(orders={"o-1": "APPROVED"}), Report(orders={"o-1": "APPROVED"})) == []


def test_an_order_left_pending_is_a_problem():
    # GIVEN an order the saga never finished
    # WHEN judged THEN it is named with its state
    assert unsettled_orders({"o-1": "APPROVED", "o-2": "PENDING"}) == [
        "order o-2 ended PENDING, not one of APPROVED, REJECTED, CANCELLED"
    ]


def test_credit_reserved_over_the_limit_is_a_problem():
    # GIVEN a customer with more reserved than its limit (all of it approved: only the limit is broken)
    orders = [*OK_ORDERS, {"orderId": "o-4", "customerId": "c-1", "total": 50, "status": "APPROVED"}]
    # WHEN judged THEN the over-reservation is reported, and nothing else
    assert credit_problems({"c-1": {"creditLimit": 100, "reserved": 110}}, orders) == [
        "customer c-1 has 110 reserved, over its limit 100"
    ]


def test_credit_reserved_but_not_approved_is_a_problem():
    # GIVEN credit still held for an order that was rejected (a leak), and a customer with too little
    customers = {"c-1": {"creditLimit": 100, "reserved": 90}, "c-2": {"creditLimit": 10, "reserved": 0}}
    orders = [*OK_ORDERS, {"orderId": "o-5", "customerId": "c-2", "total": 5, "status": "APPROVED"}]
    # WHEN judged THEN both mismatches are reported, each with the amounts
    assert credit_problems(customers, orders) == [
        "customer c-1 has 90 reserved but its approved, uncancelled orders total 60",
        "customer c-2 has 0 reserved but its approved, uncancelled orders total 5",
    ]


def test_a_replay_that_changes_the_outcome_is_a_problem():
    # GIVEN the state before and after delivering every event again
    before = Report(orders={"o-1": "CANCELLED"}, customers={"c-1": {"creditLimit": 100, "reserved": 0}})
    after = Report(orders={"o-1": "APPROVED"}, customers={"c-1": {"creditLimit": 100, "reserved": 60}})
    # WHEN judged THEN the change is reported
    (problem,) = replay_problems(before, after)
    assert problem.startswith("replaying the events changed the outcome: orders {'o-1': 'CANCELLED'} -> ")


# -- the checks applied by a deployed sandbox ------------------------------------------------------


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    """The judge stack deployed once, after one good order (o-1 approved, 60 of 100 reserved)."""
    config = load_config(read_stack_file(STACK), "judge", PROJECT_ROOT)
    with Sandbox(config, out=None, timeout_seconds=60) as deployed:
        report = deployed.play(
            Scenario(
                customers=[Customer(id="c-1", creditLimit=100)], orders=[Order(id="o-1", customerId="c-1", total=60)]
            )
        )
        assert report.problems == [], report.problems
        yield deployed


def _item(sandbox: Sandbox, service: str, sort_key: str) -> tuple[str, dict[str, Any]]:
    table = sandbox.container(service).environment["TABLE_NAME"]
    (item,) = [i for i in sandbox.client("dynamodb").scan(TableName=table)["Items"] if i["sk"]["S"] == sort_key]
    return table, item


@pytest.fixture
def tamper(sandbox: Sandbox) -> Iterator[Any]:
    """Overwrite one attribute of the only item of a kind; every change is undone after the test."""
    undo: list[tuple[str, dict[str, Any]]] = []

    def change(service: str, sort_key: str, **values: dict[str, str]) -> None:
        table, item = _item(sandbox, service, sort_key)
        undo.append((table, dict(item)))
        sandbox.client("dynamodb").put_item(TableName=table, Item={**item, **values})

    yield change
    for table, item in reversed(undo):
        sandbox.client("dynamodb").put_item(TableName=table, Item=item)


def test_the_deployed_judge_passes_the_good_run(sandbox: Sandbox):
    # GIVEN the untouched good run THEN report() finds nothing (the tampering below is what fires)
    report = sandbox.report([])
    assert report.problems == []
    assert report.orders == {"o-1": "APPROVED"}


def test_report_catches_over_reservation_in_the_table(sandbox: Sandbox, tamper: Any):
    # GIVEN the customer's reserved counter pushed over its limit behind the saga's back
    tamper("customer", "CUSTOMER", reserved={"N": "150"})
    # WHEN the run is judged THEN both credit checks fire
    assert sandbox.report([]).problems == [
        "customer c-1 has 150 reserved, over its limit 100",
        "customer c-1 has 150 reserved but its approved, uncancelled orders total 60",
    ]


def test_report_catches_an_order_left_pending_in_the_table(sandbox: Sandbox, tamper: Any):
    # GIVEN the approved order set back to PENDING
    tamper("order", "ORDER", status={"S": "PENDING"})
    # WHEN judged THEN it is unsettled, and its reserved credit no longer matches approved orders
    assert sandbox.report([]).problems == [
        "order o-1 ended PENDING, not one of APPROVED, REJECTED, CANCELLED",
        "customer c-1 has 60 reserved but its approved, uncancelled orders total 0",
    ]


def test_play_reports_a_replay_that_changed_the_outcome(sandbox: Sandbox, tamper: Any, monkeypatch):
    # GIVEN a "replay" that, instead of delivering events again, cancels the order in the table
    monkeypatch.setattr(sandbox, "replay", lambda events, timeline: tamper("order", "ORDER", status={"S": "CANCELLED"}))
    # WHEN a scenario with replayEvents is played
    report = sandbox.play(Scenario(replayEvents=True))
    # THEN the changed outcome fails the run
    assert any(
        p.startswith("replaying the events changed the outcome: orders {'o-1': 'APPROVED'}") for p in report.problems
    )


def test_play_reports_a_system_that_never_became_quiet(sandbox: Sandbox, monkeypatch):
    # GIVEN executions that never end (the wait for quiet gives up)
    monkeypatch.setattr(sandbox, "wait_until_quiet", lambda timeline, deadline: False)
    # WHEN a scenario is played THEN the run fails saying so
    report = sandbox.play(Scenario())
    assert report.problems == ["the system was not quiet within 60 s (running tasks: 0)"]


# -- failed executions and contradicting events ------------------------------------------------------

ARN = "arn:aws:states:ap-southeast-1:123456789012:execution:event-tasks-judge-approve-order:"
STARTED_WITH = {"id": "e-1234567890", "detail-type": "CreditReserved", "detail": {"orderId": "o-1"}}


def described(name: str, status: str = "FAILED", error: str = "States.TaskFailed") -> dict[str, Any]:
    return {"executionArn": ARN + name, "status": status, "error": error, "input": json.dumps(STARTED_WITH)}


def failure_event(event_id: str, execution: str, **detail: Any) -> dict[str, Any]:
    detail = {"trigger": "approve-order", "executionArn": ARN + execution, "event": STARTED_WITH, **detail}
    return {
        "id": event_id,
        "event-bus": "b",
        "source": "event-tasks.order",
        "detail-type": "ApproveOrderFailed",
        "detail": detail,
    }


def test_a_failed_execution_that_published_its_failure_event_is_listed_but_no_problem():
    # GIVEN a FAILED execution and the failure event that names its ARN
    entries, problems = failures([("approve-order", described("x1"))], [failure_event("f-1", "x1")])
    # THEN the summary lists it with the failure event's id, and the run is not failed for it
    assert entries == [
        {"trigger": "approve-order", "eventId": "e-1234567890", "error": "States.TaskFailed", "failureEventId": "f-1"}
    ]
    assert problems == []


def test_a_failure_lists_the_tasks_error_as_its_failure_event_reports_it():
    # GIVEN an execution that ended in its Fail state (its own error name) after publishing the
    # failure event with the task's error
    execution = described("x3", error="ApproveOrderFailed")
    entries, _ = failures([("approve-order", execution)], [failure_event("f-3", "x3", error="States.Timeout")])
    # THEN the summary names the task's error, not the Fail state's
    assert [(e["error"], e["failureEventId"]) for e in entries] == [("States.Timeout", "f-3")]


@pytest.mark.parametrize(("status", "error"), [("FAILED", "States.Timeout"), ("TIMED_OUT", None), ("ABORTED", None)])
def test_an_execution_that_did_not_succeed_and_published_nothing_is_a_problem(status, error):
    # GIVEN an execution that did not succeed, and only a failure event of ANOTHER execution
    execution = {k: v for k, v in described("x2", status, error or "").items() if v}
    entries, problems = failures([("approve-order", execution)], [failure_event("f-1", "x1")])
    # THEN it is listed without a failure event, and it fails the run, named with its trigger and event
    assert entries == [
        {"trigger": "approve-order", "eventId": "e-1234567890", "error": error or status, "failureEventId": None}
    ]
    assert problems == [
        f"execution judge-approve-order/x2 of approve-order for CreditReserved [id e-123456] ended {status} "
        f"({error or status}) and published no failure event: nothing will compensate it"
    ]


def task_run(stderr: str) -> TaskRun:
    return TaskRun(
        "arn:task/1", "order", ["python", "-m", "order.reject"], "AWS Step Functions", 0.0, 0, 1.0, "", stderr
    )


def test_a_contradicting_event_warning_on_stderr_is_a_problem():
    # GIVEN a task that logged the structured warning among other output, and one that logged other JSON
    warning = '{"kind":"ContradictingEvent","orderId":"o-1","status":"APPROVED","event":"CreditLimitExceeded"}'
    runs = [task_run(f"starting\n{warning}\n"), task_run('{"kind":"Info"}\nnot json {\n')]
    # WHEN judged THEN exactly the warning is a problem, naming the task
    assert contradicting_events(runs) == [f"task order (python -m order.reject) got a contradicting event: {warning}"]


@pytest.fixture
def replaced_machine(sandbox: Sandbox) -> Iterator[Any]:
    """Swap one state machine's definition for the test; recreated afterwards (its executions go with it)."""
    sfn = sandbox.client("stepfunctions")
    (machine,) = [m for m in sfn.list_state_machines()["stateMachines"] if m["name"].endswith("-approve-order")]
    original = sfn.describe_state_machine(stateMachineArn=machine["stateMachineArn"])

    def replace(states: dict[str, Any]) -> str:
        definition = json.dumps({"StartAt": next(iter(states)), "States": states})
        sfn.update_state_machine(stateMachineArn=machine["stateMachineArn"], definition=definition)
        started = sfn.start_execution(
            stateMachineArn=machine["stateMachineArn"], name="judged", input=json.dumps(STARTED_WITH)
        )["executionArn"]
        deadline = time.monotonic() + 30
        while sfn.describe_execution(executionArn=started)["status"] == "RUNNING" and time.monotonic() < deadline:
            time.sleep(0.05)
        return started

    yield replace
    sfn.delete_state_machine(stateMachineArn=machine["stateMachineArn"])
    sfn.create_state_machine(name=original["name"], definition=original["definition"], roleArn=original["roleArn"])


def test_report_fails_a_run_whose_failed_execution_announced_nothing(sandbox: Sandbox, replaced_machine: Any):
    # GIVEN a state machine that fails without publishing anything
    started = replaced_machine({"Give up": {"Type": "Fail", "Error": "Sandbox.TaskFailed", "Cause": "exit code 1"}})
    # WHEN the run is judged
    report = sandbox.report([])
    # THEN the failure is in the summary without a failure event, and it is a problem
    assert report.failures == [
        {"trigger": "approve-order", "eventId": "e-1234567890", "error": "Sandbox.TaskFailed", "failureEventId": None}
    ]
    assert report.problems == [
        f"execution {_short(started)} of approve-order for CreditReserved [id e-123456] ended FAILED "
        "(Sandbox.TaskFailed) and published no failure event: nothing will compensate it"
    ]


def test_report_accepts_a_failed_execution_that_published_its_failure_event(sandbox: Sandbox, replaced_machine: Any):
    # GIVEN a state machine that publishes a failure event naming its execution, then fails
    bus = sandbox.container("order").environment["EVENT_BUS_NAME"]
    publish = {
        "Type": "Task",
        "Resource": "arn:aws:states:::events:putEvents",
        "Parameters": {
            "Entries": [
                {
                    "EventBusName": bus,
                    "Source": "event-tasks.order",
                    "DetailType": "ApproveOrderFailed",
                    "Detail": {"trigger": "approve-order", "executionArn.$": "$$.Execution.Id", "event.$": "$"},
                }
            ]
        },
        "Next": "Give up",
    }
    started = replaced_machine(
        {"Publish": publish, "Give up": {"Type": "Fail", "Error": "Sandbox.TaskFailed", "Cause": "exit code 1"}}
    )
    # WHEN the run is judged
    report = sandbox.report([])
    # THEN the failure names the published event and nothing fails the run
    (published,) = [e for e in sandbox.emulator.events.emitted if e["detail-type"] == "ApproveOrderFailed"]
    assert published["detail"]["executionArn"] == started
    assert report.failures == [
        {
            "trigger": "approve-order",
            "eventId": "e-1234567890",
            "error": "Sandbox.TaskFailed",
            "failureEventId": published["id"],
        }
    ]
    assert report.problems == []


def test_report_counts_a_contradicting_event_logged_by_a_task(sandbox: Sandbox):
    # GIVEN a task run that logged a ContradictingEvent warning
    assert sandbox.runner is not None
    warning = '{"kind": "ContradictingEvent", "orderId": "o-1"}'
    sandbox.runner.runs.append(task_run(warning))
    try:
        # WHEN the run is judged THEN it is the one problem
        assert sandbox.report([]).problems == [
            f"task order (python -m order.reject) got a contradicting event: {warning}"
        ]
    finally:
        sandbox.runner.runs.pop()
