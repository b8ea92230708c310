"""Issue 13 in the emulator: a schedule ticked by `Sandbox.tick` (idempotent per tick), a replay of the
whole window, fan-out (several triggers on one bus and detail-type each run, none blocking another)
and a content filter that an event does not pass.

The stack file is written here (not the shipped ones): the saga's triggers, a nightly expiry with
age 0 s (so the test needs no clock), and two extra triggers on OrderCreated, one slow and one failing.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import yaml

from components.config import load_config, read_stack_file
from ops.replay import main as replay_main
from sandbox.emulator import ContainerLaunch
from sandbox.harness import Sandbox, SandboxError, Timeline, run
from sandbox.provision import PROJECT_ROOT
from sandbox.scenario import Customer, Order, Scenario

PY = ["python", "-c"]
STACK = {
    "config": {
        "aws:region": "ap-southeast-1",
        "event-tasks:environment": "local",
        "event-tasks:services": {"order": {}, "customer": {}},
        "event-tasks:triggers": {
            "reserve-credit": {
                "bus": "order",
                "detailTypes": ["OrderCreated"],
                "service": "customer",
                "command": ["python", "-m", "customer.reserve_credit"],
            },
            "approve-order": {
                "bus": "customer",
                "detailTypes": ["CreditReserved"],
                "service": "order",
                "command": ["python", "-m", "order.approve"],
            },
            "confirm-credit": {
                "bus": "order",
                "detailTypes": ["OrderApproved"],
                "service": "customer",
                "command": ["python", "-m", "customer.confirm_credit"],
            },
            "expire-reservations": {
                "schedule": "cron(0 3 * * ? *)",
                "service": "customer",
                "command": ["python", "-m", "customer.expire_reservations", "--older-than", "0s"],
            },
            # Fan-out: two more triggers on the same bus and detail-type as reserve-credit.
            "audit-created": {
                "bus": "order",
                "detailTypes": ["OrderCreated"],
                "service": "order",
                "command": [
                    *PY,
                    "import os, sys, time; time.sleep(1); "
                    "sys.exit(0 if os.environ['eventDetailType'] == 'OrderCreated' else 4)",
                ],
            },
            # A content filter no event of the scenario passes (c-1's limit is 100).
            "vip-customer": {
                "bus": "customer",
                "detailTypes": ["CustomerCreated"],
                "filter": {"creditLimit": [{"numeric": [">=", 1000]}]},
                "service": "customer",
                "command": [*PY, "raise SystemExit(0)"],
            },
            "audit-broken": {
                "bus": "order",
                "detailTypes": ["OrderCreated"],
                "service": "order",
                "command": [*PY, "raise SystemExit(3)"],
            },
        },
    }
}
SCENARIO = Scenario(
    customers=[Customer(id="c-1", creditLimit=100)], orders=[Order(id="o-1", customerId="c-1", total=60)]
)


def _executions(sandbox: Sandbox) -> dict[str, list[dict[str, Any]]]:
    sfn = sandbox.client("stepfunctions")
    found: dict[str, list[dict[str, Any]]] = {}
    for machine in sfn.list_state_machines()["stateMachines"]:
        name = machine["name"].removeprefix("event-tasks-triggers-")
        found[name] = [
            sfn.describe_execution(executionArn=e["executionArn"])
            for e in sfn.list_executions(stateMachineArn=machine["stateMachineArn"])["executions"]
        ]
    return found


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    path = tmp_path_factory.mktemp("stack") / "Pulumi.triggers.yaml"
    path.write_text(yaml.safe_dump(STACK))
    config = load_config(read_stack_file(path), "triggers", PROJECT_ROOT)
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 1))
    with Sandbox(config, out=None, timeout_seconds=120) as sandbox:
        assert sandbox.emulator is not None and sandbox.recording is not None
        report = sandbox.play(SCENARIO)
        machines = [m.state["arn"] for m in sandbox.recording.of_type("aws:sfn/stateMachine:StateMachine")]
        timeline = Timeline(sandbox.emulator, sandbox.client("stepfunctions"), machines, None)
        # GIVEN a reservation whose order never gets approved: credit reserved for o-9, an order the
        # order service does not know (order.approve exits 2, so nothing settles it)
        base = sandbox.container("customer")
        stuck = {
            "eventDetail": json.dumps({"orderId": "o-9", "customerId": "c-1", "total": 30}),
            "eventId": "stuck-1",
            "eventDetailType": "OrderCreated",
            "eventSource": "event-tasks.order",
        }
        assert sandbox.runner is not None
        sandbox.runner.run_command(
            ContainerLaunch(
                base.name, base.image, ["python", "-m", "customer.reserve_credit"], {**base.environment, **stuck}, True
            )
        )
        assert sandbox.wait_until_quiet(timeline, time.monotonic() + 120)
        before = sandbox.report([])
        time.sleep(1.1)  # the tick's scheduled time (to the second) must come after the reservation
        # WHEN the schedule ticks, and the same tick is delivered a second time
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        ticks = [sandbox.tick("expire-reservations", timeline, when) for _ in range(2)]
        assert sandbox.wait_until_quiet(timeline, time.monotonic() + 120)
        after = sandbox.report([])
        executions = _executions(sandbox)
        # AND THEN the whole window is replayed from both buses' archives with ops.replay
        outputs = tmp_path_factory.mktemp("outputs") / "outputs.json"
        outputs.write_text(json.dumps(sandbox.recording.outputs))
        time.sleep(1.1)  # every archived event is before --to (to the second)
        window = ["--from", started, "--to", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())]
        delivered = len(sandbox.emulator.events.deliveries)
        replays = [
            replay_main(
                ["--bus", bus, *window, "--stack-outputs", str(outputs), "--poll", "0.1"], sandbox.client("events")
            )
            for bus in ("order", "customer")
        ]
        assert sandbox.wait_until_quiet(timeline, time.monotonic() + 180)
        replayed = sandbox.report([])
        return {
            "replays": replays,
            "replayed": replayed,
            "replay_deliveries": sandbox.emulator.events.deliveries[delivered:],
            "report": report,
            "before": before,
            "after": after,
            "when": when,
            "ticks": ticks,
            "executions": executions,
            "emitted": sandbox.emulator.events.emitted,
            "deliveries": sandbox.emulator.events.deliveries,
        }


def test_a_tick_starts_the_task_with_the_synthetic_event(played):
    # THEN each tick started the schedule's state machine with an EventBridge-shaped event whose id
    # is the scheduled time, and the task succeeded
    runs = played["executions"]["expire-reservations"]
    assert sorted(e["executionArn"] for e in runs) == sorted(played["ticks"])
    for execution in runs:
        assert execution["status"] == "SUCCEEDED"
        given = json.loads(execution["input"])
        assert (given["id"], given["detail-type"], given["source"]) == (
            played["when"],
            "Scheduled",
            "event-tasks.scheduler",
        )
        assert given["detail"]["schedule"] == "expire-reservations"
        assert given["detail"]["scheduledTime"] == played["when"]


def test_the_tick_releases_only_the_unsettled_reservation_once(played):
    # GIVEN o-1 approved (its reservation settled) and o-9's reservation stuck: 90 reserved
    assert played["before"].customers == {"c-1": {"creditLimit": 100, "reserved": 90}}
    # THEN after two deliveries of one tick only o-9's 30 was released, once
    assert played["after"].customers == {"c-1": {"creditLimit": 100, "reserved": 60}}
    assert played["after"].orders == {"o-1": "APPROVED"}
    assert played["after"].problems == []
    # AND the expiry was announced for o-9 only, under one eventKey: the second delivery runs at
    # the same time as the first, so it either finds the expiry emitted already or (inside the
    # first's window between commit and PutEvents) emits the same detail again, which consumers
    # apply once (tests/services/test_emit_once.py, twins racing inside the crash window)
    expired = [e["detail"] for e in played["emitted"] if e["detail-type"] == "CreditReservationExpired"]
    assert [d["orderId"] for d in expired] in (["o-9"], ["o-9", "o-9"])
    assert all(d == expired[0] for d in expired)
    assert expired[0]["eventKey"] == "CreditReservationExpired:o-9"


def test_every_trigger_on_one_detail_type_runs_and_none_blocks_another(played):
    # GIVEN the OrderCreated of o-1
    (created,) = [e for e in played["emitted"] if e["detail-type"] == "OrderCreated"]
    # THEN each of the three rules on it started its own state machine with that same event
    started = {
        d.rule_arn.rsplit("/", 1)[-1].removeprefix("event-tasks-triggers-")
        for d in played["deliveries"]
        if d.event["id"] == created["id"] and d.execution_arn
    }
    assert started == {"reserve-credit", "audit-created", "audit-broken"}
    runs = played["executions"]
    for name in ("reserve-credit", "audit-created", "audit-broken"):
        assert [json.loads(e["input"])["id"] for e in runs[name]] == [created["id"]]
    # AND the slow twin succeeded, the failing twin failed alone, and the saga went on regardless
    assert runs["audit-created"][0]["status"] == "SUCCEEDED"
    # (after its retries it published its failure event and failed under that detail-type)
    assert (runs["audit-broken"][0]["status"], runs["audit-broken"][0]["error"]) == ("FAILED", "AuditBrokenFailed")
    assert runs["reserve-credit"][0]["status"] == "SUCCEEDED"
    assert played["report"].orders == {"o-1": "APPROVED"} and played["report"].problems == []


def test_ticking_a_trigger_that_is_not_scheduled_is_refused_before_anything_runs(tmp_path):
    path = tmp_path / "Pulumi.triggers.yaml"
    path.write_text(yaml.safe_dump(STACK))
    with pytest.raises(
        SandboxError,
        match=r"--tick reserve-credit: not a scheduled trigger of Pulumi\.triggers\.yaml; "
        r"scheduled triggers: expire-reservations",
    ):
        run(path, SCENARIO, out=None, ticks=("reserve-credit",))


def test_replaying_the_whole_window_changes_no_outcome(played):
    # GIVEN the settled saga, the expired reservation and the archive of both buses
    # THEN both replays completed, every flow ran again, and orders and credit are as before
    assert played["replays"] == [0, 0]
    rerun = {d.rule_arn.rsplit("/", 1)[-1].removeprefix("event-tasks-triggers-") for d in played["replay_deliveries"]}
    assert {"reserve-credit", "approve-order", "confirm-credit", "audit-created"} <= rerun
    assert (played["replayed"].orders, played["replayed"].customers) == (
        played["after"].orders,
        played["after"].customers,
    )
    assert played["replayed"].problems == []


def test_an_event_outside_the_filter_starts_nothing_and_is_counted_unmatched_not_lost(played):
    # GIVEN CustomerCreated of c-1 (limit 100) and vip-customer's filter creditLimit >= 1000
    (created,) = [e for e in played["emitted"] if e["detail-type"] == "CustomerCreated"]
    assert created["detail"]["creditLimit"] == 100
    # THEN the rule delivered nothing, its machine never ran, and the event counts as unmatched, not lost
    assert [d for d in played["deliveries"] if d.event["id"] == created["id"]] == []
    assert played["executions"]["vip-customer"] == []
    # (beside it, the failure events of the scenario are unmatched too: this test stack routes none)
    report = played["report"]
    announced = [f for f in report.failures if f["failureEventId"]]
    assert announced and report.events["unmatched"] == 1 + len(announced)
    assert report.events["lost"] == 0
