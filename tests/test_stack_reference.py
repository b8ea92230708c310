"""A second Pulumi program consumes the stack's outputs through a StackReference, under mocks: what
the README's outputs reference promises is what another stack can read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest
from pulumi_mocks import ACCOUNT, REGION, Mocks

PRODUCER = "org/event-tasks/local"


@dataclass
class ReferenceMocks(Mocks):
    """The test Mocks, also answering StackReferences with another program's resolved outputs."""

    stacks: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Outputs by fully qualified stack name."""

    def _state(self, typ: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
        if typ == "pulumi:pulumi:StackReference":
            return {"name": inputs["name"], "outputs": self.stacks[inputs["name"]], "secretOutputNames": []}
        return super()._state(typ, name, inputs)


@pytest.fixture
def mocks() -> ReferenceMocks:
    return ReferenceMocks()


def consumer() -> dict[str, Any]:
    """A payments stack that emits onto the order service's bus and watches a trigger's DLQ."""
    events = pulumi.StackReference(PRODUCER)
    services = events.require_output("services")
    bus_arn = services.apply(lambda s: s["order"]["busArn"])
    aws.iam.Policy(
        "payments-emit-to-order",
        policy=pulumi.Output.json_dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "events:PutEvents", "Resource": bus_arn}],
            }
        ),
    )
    triggers = events.require_output("triggers")
    return {
        "busArn": bus_arn,
        "deadLetterQueueArn": triggers.apply(lambda t: t["reserve-credit"]["deadLetterQueueArn"]),
        "stateMachineRoleArn": triggers.apply(lambda t: t["reserve-credit"]["stateMachineRoleArn"]),
        "tableArn": services.apply(lambda s: s["customer"]["tableArn"]),
        "vpcId": events.require_output("vpcId"),
        "subnetIds": events.require_output("subnetIds"),
        "securityGroupId": events.require_output("securityGroupId"),
        "capacityProviderName": events.require_output("capacityProviderName"),
    }


def test_a_second_program_reads_the_outputs_and_grants_put_events_on_the_bus(deploy, evaluate, mocks):
    # GIVEN the local stack deployed, its outputs published under org/event-tasks/local
    local = deploy("local")
    mocks.stacks[PRODUCER] = local.outputs
    # WHEN another program reads them through a StackReference
    seen = evaluate(consumer, "payments")
    # THEN it sees the bus, the trigger's DLQ and role, the table and the network as exported
    order_bus = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/event-tasks-local-order"
    assert seen == {
        "busArn": order_bus,
        "deadLetterQueueArn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:event-tasks-local-reserve-credit-dlq",
        "stateMachineRoleArn": f"arn:aws:iam::{ACCOUNT}:role/event-tasks-local-reserve-credit-states",
        "tableArn": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/event-tasks-local-customer",
        "vpcId": local.named("network-vpc").state["id"],
        "subnetIds": [local.named(f"network-public-{i}").state["id"] for i in range(2)],
        "securityGroupId": local.named("cluster-instances").state["id"],
        "capacityProviderName": "event-tasks-local-ec2",
    }
    # AND it referenced the producer stack by its fully qualified name
    (reference,) = [r for r in mocks.resources if r.typ == "pulumi:pulumi:StackReference"]
    assert reference.inputs["name"] == PRODUCER
    # AND its policy grants events:PutEvents on the bus it read, and nothing else
    (policy,) = [r for r in mocks.resources if r.name == "payments-emit-to-order"]
    assert policy.json("policy")["Statement"] == [
        {"Effect": "Allow", "Action": "events:PutEvents", "Resource": order_bus}
    ]


def test_a_consumer_asking_for_an_output_the_stack_does_not_export_fails(deploy, evaluate, mocks):
    # GIVEN the cloud stack's outputs published (cloud has no VPC of its own)
    mocks.stacks[PRODUCER] = deploy("cloud").outputs
    # WHEN the consumer requires the local-only vpcId THEN it fails naming the output, instead of
    # reading None
    with pytest.raises(Exception, match=r"'vpcId'"):
        evaluate(lambda: {"vpcId": pulumi.StackReference(PRODUCER).require_output("vpcId")}, "payments")
