"""Policies the program declares inline (a role's, a dead-letter queue's) are created in the emulator
with their resource, as the provider creates them: the sandbox runs what `pulumi up` would deploy."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from components.config import load_config
from sandbox.emulator import Emulator, start_in_process
from sandbox.provision import PROJECT_ROOT, ProvisioningMocks, Recording, evaluate_program

REGION = "us-east-1"
TRIGGERS = {
    "reserve-credit": {
        "bus": "order",
        "detailTypes": ["OrderCreated"],
        "service": "customer",
        "command": ["python", "-m", "customer.reserve_credit"],
    },
    "release-credit": {
        "bus": "order",
        "detailTypes": ["OrderCancelled"],
        "service": "customer",
        "command": ["python", "-m", "customer.release_credit"],
    },
}


@pytest.fixture(scope="module")
def deployed() -> Iterator[tuple[Emulator, Recording]]:
    """Two triggers on the order bus of a local stack, created in the in-process emulator."""
    raw = {
        "aws:region": REGION,
        "event-tasks:environment": "local",
        "event-tasks:services": json.dumps({"order": {}, "customer": {}}),
        "event-tasks:triggers": json.dumps(TRIGGERS),
    }
    emulator = start_in_process(REGION)
    try:
        config = load_config(raw, "inline", PROJECT_ROOT)
        yield emulator, evaluate_program(ProvisioningMocks(emulator.boto3_client, REGION), config)
    finally:
        emulator.stop()


def test_every_inline_role_policy_is_put_on_its_role(deployed):
    emulator, recording = deployed
    iam = emulator.boto3_client("iam")
    inline = [r for r in recording.of_type("aws:iam/role:Role") if r.inputs.get("inlinePolicies")]
    # GIVEN the roles declared with inline policies: the order bus's rules role, a state machine's each
    assert sorted(r.name for r in inline) == [
        "order-rules-role",
        "release-credit-run-task-role",
        "reserve-credit-run-task-role",
    ]
    for role in inline:
        (declared,) = role.inputs["inlinePolicies"]
        # THEN the emulator's role holds exactly that policy, under its name
        assert iam.list_role_policies(RoleName=role.state["name"])["PolicyNames"] == [declared["name"]]
        stored = iam.get_role_policy(RoleName=role.state["name"], PolicyName=declared["name"])["PolicyDocument"]
        assert stored == json.loads(declared["policy"])
    # AND the one rules role of the bus may start both of its rules' state machines
    (rules_role,) = [r for r in inline if r.name == "order-rules-role"]
    (statement,) = json.loads(rules_role.inputs["inlinePolicies"][0]["policy"])["Statement"]
    machines = sorted(m.state["arn"] for m in recording.of_type("aws:sfn/stateMachine:StateMachine"))
    assert statement["Resource"] == machines


def test_every_dead_letter_queue_is_created_with_its_policy(deployed):
    emulator, recording = deployed
    sqs = emulator.boto3_client("sqs")
    queues = recording.of_type("aws:sqs/queue:Queue")
    assert len(queues) == 2
    for queue in queues:
        # THEN the queue in the emulator carries the declared policy, naming its real ARN and its rule
        stored = sqs.get_queue_attributes(QueueUrl=queue.state["url"], AttributeNames=["Policy"])["Attributes"]
        (statement,) = json.loads(stored["Policy"])["Statement"]
        assert statement == json.loads(queue.inputs["policy"])["Statement"][0]
        assert statement["Resource"] == queue.state["arn"]
        rules = {r.state["arn"] for r in recording.of_type("aws:cloudwatch/eventRule:EventRule")}
        assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] in rules
