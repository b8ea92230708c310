"""`make demo` underneath: the program deployed into the emulator, the saga played through it."""

from __future__ import annotations

import gc
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.config import load_config, read_stack_file
from sandbox.harness import Sandbox, _short, run
from sandbox.provision import PROJECT_ROOT
from sandbox.scenario import DEFAULT_SCENARIO, Customer, Fault, Order, Scenario, ScenarioError, load_scenario

# The tests' own stack files (the shipped ones belong to the user).
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SMALL = Scenario(customers=[Customer(id="c-1", creditLimit=100)], orders=[Order(id="o-1", customerId="c-1", total=60)])


def play(stack_file: Path, scenario: Scenario, stack: str | None = None) -> dict[str, Any]:
    """Play `scenario` and keep what the tests inspect before the emulator goes away."""
    stack = stack or stack_file.name.removeprefix("Pulumi.").removesuffix(".yaml")
    config = load_config(read_stack_file(stack_file), stack, PROJECT_ROOT)
    lines: list[str] = []
    with Sandbox(config, out=lines.append, timeout_seconds=90) as sandbox:
        report = sandbox.play(scenario)
        sfn = sandbox.client("stepfunctions")
        executions: dict[str, list[dict[str, Any]]] = {}
        for machine in sfn.list_state_machines()["stateMachines"]:
            executions[machine["name"]] = [
                sfn.describe_execution(executionArn=e["executionArn"])
                for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=machine["stateMachineArn"])
                for e in page["executions"]
            ]
        assert sandbox.emulator is not None
        return {
            "report": report,
            "executions": executions,
            "emitted": sandbox.emulator.events.emitted,
            "deliveries": sandbox.emulator.events.deliveries,
            "runs": list(sandbox.runner.runs) if sandbox.runner else [],
            "timeline": lines,
        }


def test_the_default_demo_settles_the_saga_and_survives_replay():
    # GIVEN the local stack and the shipped scenario (one cancellation, every event replayed)
    # WHEN it is played
    result = play(FIXTURES / "Pulumi.local.yaml", load_scenario(DEFAULT_SCENARIO))
    report = result["report"]
    # THEN every order reached its end state, credit is back to 0, nothing was lost or changed twice
    assert report.problems == []
    assert report.orders == {
        "o-1": "CANCELLED",
        "o-2": "REJECTED",
        "o-3": "REJECTED",
        "s-1": "APPROVED",
        "s-2": "REJECTED",
    }
    assert report.customers == {
        "c-1": {"creditLimit": 100, "reserved": 0},
        "c-2": {"creditLimit": 100, "reserved": 40},
    }
    # AND the orchestrated orders' sagas announced their results
    assert {k: (v["outcome"], v["steps"]["reserve"]["status"]) for k, v in report.sagas.items()} == {
        "s-1": ("COMPLETED", "RESERVED"),
        "s-2": ("COMPLETED", "CREDIT_LIMIT_EXCEEDED"),
    }
    assert report.events["lost"] == 0 and report.events["deadLettered"] == 0
    assert report.executions["FAILED"] == 0
    # AND each saga step ran as the ECS task its state machine started, with the event in its env;
    # no task failed, so no compensation of a failure ran
    machines = {name.removeprefix("event-tasks-local-"): runs for name, runs in result["executions"].items()}
    assert {m: len(e) > 0 for m, e in machines.items()} == {
        "reserve-credit": True,
        "approve-order": True,
        "reject-order": True,
        "release-credit": True,
        "reject-failed-order": False,
        "release-failed-credit": False,
        "confirm-credit": True,
        "expire-reservations": False,  # a schedule: runs only when ticked
        "order-saga": True,  # the orchestrated saga beside the choreographed one
    }
    first = machines["reserve-credit"][0]
    started_with = json.loads(first["input"])
    assert set(started_with) == {
        "version",
        "id",
        "detail-type",
        "source",
        "account",
        "time",
        "region",
        "resources",
        "detail",
    }
    assert started_with["detail-type"] == "OrderCreated"
    # AND the timeline printed every execution, replays included, under the event that started it
    under, heading = {}, ""
    for line in result["timeline"]:
        if found := re.search(r"  event  .*\[id (\w{8})\]", line):
            heading = found[1]
        elif found := re.search(r"started execution ([\w-]+/\w{8})", line):
            under[found[1]] = heading
    started = {d.execution_arn: d.event["id"] for d in result["deliveries"] if d.execution_arn}
    assert len(started) > len(set(started.values()))  # replays started executions of the same events
    assert under == {_short(arn): event_id[:8] for arn, event_id in started.items()}


def test_the_cloud_stack_runs_on_the_looked_up_task_definitions():
    # GIVEN the cloud stack (its shared cluster and task definitions stood in for by the sandbox)
    result = play(FIXTURES / "Pulumi.cloud.yaml", SMALL)
    # THEN the order is approved through the cloud wiring
    assert result["report"].problems == []
    assert result["report"].orders == {"o-1": "APPROVED"}
    assert result["report"].customers == {"c-1": {"creditLimit": 100, "reserved": 60}}
    # AND the tasks ran on FARGATE with the revision the config names
    (execution,) = result["executions"]["event-tasks-cloud-reserve-credit"]
    task = json.loads(execution["output"])
    assert task["LaunchType"] == "FARGATE"
    assert task["TaskDefinitionArn"].endswith(":task-definition/customer:5")


def test_a_cloud_stack_file_of_another_account_and_region_plays(tmp_path):
    # GIVEN the cloud fixture moved to account 210987654321 and region eu-west-1 (every ARN too)
    text = (FIXTURES / "Pulumi.cloud.yaml").read_text()
    assert "123456789012" in text and "ap-southeast-1" in text
    path = tmp_path / "Pulumi.cloud.yaml"
    path.write_text(text.replace("123456789012", "210987654321").replace("ap-southeast-1", "eu-west-1"))
    # WHEN the saga is played on it
    result = play(path, SMALL)
    # THEN the emulator ran as that account and region, and the order went through the cloud wiring
    assert result["report"].problems == []
    assert result["report"].orders == {"o-1": "APPROVED"}
    (execution,) = result["executions"]["event-tasks-cloud-reserve-credit"]
    assert execution["stateMachineArn"].startswith("arn:aws:states:eu-west-1:210987654321:stateMachine:")
    task = json.loads(execution["output"])
    assert task["TaskDefinitionArn"] == "arn:aws:ecs:eu-west-1:210987654321:task-definition/customer:5"


@pytest.fixture(scope="module")
def extended(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The local stack file plus two triggers added only here: one that works, one that fails."""
    data = yaml.safe_load((FIXTURES / "Pulumi.local.yaml").read_text())
    data["config"]["event-tasks:triggers"].update(
        {
            "audit-approved": {
                "bus": "order",
                "detailTypes": ["OrderApproved"],
                "service": "order",
                "command": [
                    "python",
                    "-c",
                    "import os, sys; sys.exit(0 if os.environ['eventDetailType'] == 'OrderApproved' else 4)",
                ],
            },
            "broken-audit": {
                "bus": "order",
                "detailTypes": ["OrderCreated"],
                "service": "order",
                "command": ["python", "-c", "raise SystemExit(3)"],
            },
        }
    )
    path = tmp_path_factory.mktemp("stack") / "Pulumi.sandboxtest.yaml"
    path.write_text(yaml.safe_dump(data))
    return play(path, SMALL)


def test_a_trigger_added_only_in_config_runs_without_code_change(extended):
    # GIVEN a trigger that only the test's stack file declares
    # THEN its rule started its state machine, which ran the task with the event and succeeded
    (execution,) = extended["executions"]["event-tasks-sandboxtest-audit-approved"]
    assert execution["status"] == "SUCCEEDED"
    assert json.loads(execution["input"])["detail-type"] == "OrderApproved"


def test_a_task_that_exits_non_zero_fails_its_execution(extended):
    # GIVEN a trigger whose task always exits 3
    (execution,) = extended["executions"]["event-tasks-sandboxtest-broken-audit"]
    # THEN the task ran 1 + 2 retries times, then the execution FAILED under its failure detail-type,
    # its cause naming States.TaskFailed as on AWS, and the summary counts it
    assert execution["status"] == "FAILED"
    assert execution["error"] == "BrokenAuditFailed"
    assert execution["cause"].startswith("States.TaskFailed after 3 attempts: exit codes [3]: ")
    report = extended["report"]
    assert report.executions["FAILED"] == 1
    # AND its failure event is on the order bus
    (published,) = [e for e in extended["emitted"] if e["detail-type"] == "BrokenAuditFailed"]
    assert (published["event-bus"], published["detail"]["attempts"]) == ("event-tasks-sandboxtest-order", 3)
    # AND the summary lists the failure with the task's error and that event, and the run is not failed
    (failure,) = report.failures
    assert failure == {
        "trigger": "broken-audit",
        "eventId": json.loads(execution["input"])["id"],
        "error": "States.TaskFailed",
        "failureEventId": published["id"],
    }
    assert not [p for p in report.problems if "published no failure event" in p]
    # AND the saga itself was not disturbed
    assert extended["report"].orders == {"o-1": "APPROVED"}


def test_an_event_matching_no_rule_is_counted_and_not_lost(extended):
    # GIVEN CustomerCreated, which no rule listens to
    created = [e for e in extended["emitted"] if e["detail-type"] == "CustomerCreated"]
    # THEN it was emitted once, delivered nowhere, and not reported lost
    assert len(created) == 1
    assert [d for d in extended["deliveries"] if d.event["id"] == created[0]["id"]] == []
    assert extended["report"].events["lost"] == 0
    assert [p for p in extended["report"].problems if "published no failure event" not in p] == []


def test_the_summary_json_and_exit_code(tmp_path):
    # GIVEN a one-order scenario in a file
    scenario = tmp_path / "one.yaml"
    scenario.write_text("customers: [{id: c-1, creditLimit: 100}]\norders: [{id: o-1, customerId: c-1, total: 5}]\n")
    summary = tmp_path / "summary.json"
    # WHEN the CLI runs it on the cloud stack
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sandbox",
            "--config",
            str(FIXTURES / "Pulumi.cloud.yaml"),
            "--quiet",
            "--scenario",
            str(scenario),
            "--summary-json",
            str(summary),
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    # THEN it exits 0 and writes the documented summary
    assert done.returncode == 0, done.stderr
    written = json.loads(summary.read_text())
    assert written["orders"] == {"o-1": "APPROVED"}
    assert written["customers"] == {"c-1": {"creditLimit": 100, "reserved": 5}}
    assert set(written) == {"orders", "customers", "events", "executions", "seconds", "failures", "sagas", "problems"}
    assert written["failures"] == [] and written["problems"] == []
    assert written["events"]["emitted"] == 4 and written["events"]["lost"] == 0
    assert written["executions"]["SUCCEEDED"] == 3  # reserve-credit, approve-order, confirm-credit


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("orders: [{id: o-1, customerId: c-1, total: -5}]", r"orders\.0\.total: Input should be greater than 0"),
        ("cancel: [o-9]", r"cancel: \['o-9'\] are not orders of this scenario"),
        ("customer: []", r"customer: Extra inputs are not permitted"),
        (
            "faults: [{useCase: customer.reserve_credit, when: later}]",
            r"faults\.0\.when: Input should be 'beforeCommit', 'afterCommit' or 'afterEmit'",
        ),
        ("faults: [{useCase: reserve credit, when: afterCommit}]", r"faults\.0\.useCase: String should match pattern"),
        (
            "orders: [{id: o-1, customerId: c-1, total: 5}]\n"
            "faults: [{useCase: order.approve, when: afterCommit, times: twice, orders: [o-1]}]",
            r"faults\.0\.times: Input should be 'once' or 'always'",
        ),
        (
            "faults: [{useCase: order.approve, when: afterCommit, orders: [o-9]}]",
            r"faults\.0\.orders: \['o-9'\] are not orders of this scenario",
        ),
    ],
)
def test_a_bad_scenario_names_the_key(tmp_path, text, message):
    # GIVEN a scenario with a mistake THEN loading it fails naming the key
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError, match=message):
        load_scenario(path)


def test_a_started_sandbox_keeps_its_heap_out_of_the_collectors_sight_until_it_stops():
    # GIVEN the cloud fixture
    config = load_config(read_stack_file(FIXTURES / "Pulumi.cloud.yaml"), "cloud", PROJECT_ROOT)
    before = gc.get_freeze_count()
    # WHEN a sandbox is started THEN what it deployed is frozen (the collector's passes skip it)
    with Sandbox(config, out=None, timeout_seconds=30):
        assert gc.get_freeze_count() > before
    # AND once it stopped nothing is frozen any more: its garbage can be collected
    assert gc.get_freeze_count() == 0


def test_run_reports_unsettled_orders(tmp_path):
    # GIVEN the cloud stack with the reserve-credit trigger removed: nobody answers OrderCreated
    data = yaml.safe_load((FIXTURES / "Pulumi.cloud.yaml").read_text())
    del data["config"]["event-tasks:triggers"]["reserve-credit"]
    path = tmp_path / "Pulumi.cloud.yaml"
    path.write_text(yaml.safe_dump(data))
    # WHEN the saga is played
    report = run(path, SMALL, out=None, timeout_seconds=30)
    # THEN the pending order is reported, so the demo would exit non-zero
    assert report.orders == {"o-1": "PENDING"}
    assert report.problems == ["order o-1 ended PENDING, not one of APPROVED, REJECTED, CANCELLED"]


def test_orders_placed_one_after_the_other_settle_in_that_order():
    # GIVEN two orders of one customer whose credit fits only one, placed one after the other, and
    # the first order's credit reservation crashing once (retried after its back-off), so that
    # without waiting the second order would reach the credit first
    scenario = Scenario(
        customers=[Customer(id="c-1", creditLimit=100)],
        orders=[Order(id="o-1", customerId="c-1", total=60), Order(id="o-2", customerId="c-1", total=50)],
        faults=[Fault(useCase="customer.reserve_credit", when="beforeCommit", orders=["o-1"])],
    )
    # WHEN the scenario is played
    report = run(FIXTURES / "Pulumi.cloud.yaml", scenario, out=None, timeout_seconds=90)
    # THEN the first order's saga settled before the second was placed: it won the credit
    assert report.problems == []
    assert report.orders == {"o-1": "APPROVED", "o-2": "REJECTED"}
    assert report.customers == {"c-1": {"creditLimit": 100, "reserved": 60}}


@pytest.mark.parametrize("keep_dlq", [True, False])
def test_an_undeliverable_event_is_dead_lettered_or_reported_lost(keep_dlq):
    # GIVEN the cloud stack whose reserve-credit state machine was deleted after the deploy,
    # its target keeping its dead-letter queue or not
    config = load_config(read_stack_file(FIXTURES / "Pulumi.cloud.yaml"), "cloud", PROJECT_ROOT)
    with Sandbox(config, out=None, timeout_seconds=60) as sandbox:
        sfn, events = sandbox.client("stepfunctions"), sandbox.client("events")
        rule = {"Rule": "event-tasks-cloud-reserve-credit", "EventBusName": "event-tasks-cloud-order"}
        (target,) = events.list_targets_by_rule(**rule)["Targets"]
        if not keep_dlq:
            events.put_targets(**rule, Targets=[{k: v for k, v in target.items() if k != "DeadLetterConfig"}])
        sfn.delete_state_machine(stateMachineArn=target["Arn"])
        # WHEN an order is placed
        report = sandbox.play(SMALL)
    # THEN the OrderCreated event is in the DLQ and not lost, or, without a DLQ, reported lost
    assert report.events["deadLettered"] == (1 if keep_dlq else 0)
    assert report.events["lost"] == (0 if keep_dlq else 1)
    lost = [p for p in report.problems if "neither delivered nor dead-lettered" in p]
    assert len(lost) == (0 if keep_dlq else 1)
    # AND either way the order is left PENDING, which fails the run
    assert "order o-1 ended PENDING, not one of APPROVED, REJECTED, CANCELLED" in report.problems
