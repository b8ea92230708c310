"""`BusPolicy`: the resource policy of a service's bus, so that only the service speaks for itself.

Produces one `aws.cloudwatch.EventBusPolicy` whose document is rendered by the pure function
`bus_policy_document`:

- every `events:PutEvents` entry whose `source` is not the owner's (`event-tasks.<service>`) is
  denied, whoever puts it;
- every principal of the account except the publishers is denied: the owner's task role and the
  state machine roles that publish failure events on this bus (the triggers running the owner's
  task). The Deny is what makes the policy bite: within one account EventBridge allows a call
  that EITHER the caller's identity policy OR the bus policy allows, so an Allow for the
  publishers alone would not stop a principal whose own policy allows `events:PutEvents` on `*`;
- an account named in config (`services.<service>.producers`) may put the detail-types config
  gives it, and nothing else (another account needs the bus policy's Allow as well as its own).

The publishers get no Allow here: their grants stay in their identity policies, narrowed to the
detail-types they emit; an Allow naming them would widen those to any detail-type.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components import naming
from components.config import StackConfig
from components.iam import AwsContext, policy_document
from components.service_bus import ServiceBus

PUT_EVENTS = "events:PutEvents"


@dataclass(frozen=True)
class Producer:
    """Another account allowed to put some detail-types on the bus."""

    account: str
    """12-digit account id."""
    detail_types: tuple[str, ...]
    """The detail-types it may put."""


@dataclass(frozen=True)
class BusPolicyArgs:
    """Inputs of `BusPolicy`."""

    aws: AwsContext
    """Partition and account the stack deploys to."""
    bus_name: pulumi.Input[str]
    """The bus the policy is attached to."""
    bus_arn: pulumi.Input[str]
    """ARN of that bus (the statements' resource)."""
    source: str
    """The owner's `source`, the only one the bus admits."""
    publisher_role_arns: Sequence[pulumi.Input[str]]
    """The roles of this account that may put events on the bus."""
    producers: tuple[Producer, ...] = field(default_factory=tuple)
    """Other accounts that may put some detail-types on the bus."""


def bus_policy_document(
    *,
    partition: str,
    account_id: str,
    bus_arn: str,
    source: str,
    publisher_role_arns: Sequence[str],
    producers: Sequence[Producer] = (),
) -> dict[str, Any]:
    """The bus's resource policy: only `source`, only the publishers of the account, and the
    configured producers for their detail-types."""
    publishers = sorted({arn for arn in publisher_role_arns if arn})
    account_condition: dict[str, Any] = {"StringEquals": {"aws:PrincipalAccount": account_id}}
    if publishers:
        account_condition["ArnNotEquals"] = {"aws:PrincipalArn": publishers}
    statements: list[dict[str, Any]] = [
        {
            "Sid": "OnlyTheOwnersSource",
            "Effect": "Deny",
            "Principal": "*",
            "Action": PUT_EVENTS,
            "Resource": bus_arn,
            "Condition": {"StringNotEquals": {"events:source": source}},
        },
        {
            # With no publisher (a service whose task no one runs) nobody of the account may put.
            "Sid": "OnlyThePublishersOfTheAccount",
            "Effect": "Deny",
            "Principal": "*",
            "Action": PUT_EVENTS,
            "Resource": bus_arn,
            "Condition": account_condition,
        },
    ]
    for producer in sorted(producers, key=lambda p: p.account):
        statements.append(
            {
                "Sid": f"Account{producer.account}Produces",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:{partition}:iam::{producer.account}:root"},
                "Action": PUT_EVENTS,
                "Resource": bus_arn,
                "Condition": {"StringEquals": {"events:detail-type": sorted(producer.detail_types)}},
            }
        )
    return policy_document(statements)


class BusPolicy(pulumi.ComponentResource):
    """The resource policy of one service's bus."""

    def __init__(self, name: str, args: BusPolicyArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("event-tasks:index:BusPolicy", name, None, opts)
        ctx = args.aws
        document = pulumi.Output.all(
            ctx.partition, ctx.account_id, args.bus_arn, pulumi.Output.all(*args.publisher_role_arns)
        ).apply(
            lambda v: bus_policy_document(
                partition=v[0],
                account_id=v[1],
                bus_arn=v[2],
                source=args.source,
                publisher_role_arns=v[3],
                producers=args.producers,
            )
        )
        aws.cloudwatch.EventBusPolicy(
            f"{name}-bus-policy",
            event_bus_name=args.bus_name,
            policy=pulumi.Output.json_dumps(document),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({})


def bus_policies(
    config: StackConfig,
    ctx: AwsContext,
    buses: Mapping[str, ServiceBus],
    task_roles: Mapping[str, pulumi.Input[str]],
    machine_roles: Mapping[str, pulumi.Input[str]],
    opts: pulumi.ResourceOptions | None = None,
) -> dict[str, BusPolicy]:
    """One policy per bus. Its publishers: the owner's task role (`task_roles`, by service) and the
    role of every trigger running the owner's task (`machine_roles`, by trigger), which publishes
    the trigger's failure event on the owner's bus."""
    policies = {}
    for service, bus in sorted(buses.items()):
        runners = sorted(name for name, trigger in config.triggers.items() if trigger.failure_bus() == service)
        publishers = ([task_roles[service]] if service in task_roles else []) + [machine_roles[n] for n in runners]
        policies[service] = BusPolicy(
            service,
            BusPolicyArgs(
                aws=ctx,
                bus_name=bus.name,
                bus_arn=bus.arn,
                source=naming.event_source(service),
                publisher_role_arns=publishers,
                producers=tuple(Producer(p.account, tuple(p.detailTypes)) for p in config.services[service].producers),
            ),
            opts,
        )
    return policies
