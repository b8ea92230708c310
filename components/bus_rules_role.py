"""`BusRulesRole`: the one role EventBridge assumes for every rule of one bus, to start their state machines.

Produces one IAM role per bus that has rules, with its policy inline: EventBridge may assume it only
for a rule of this bus in this account (`aws:SourceAccount`, and `aws:SourceArn` like
`arn:<partition>:events:<region>:<account>:rule/<bus>/*`), and it may only call
`states:StartExecution` on the state machines those rules target, named one by one. The role and its
policy are named `<project>-<stack>-<service>-rules`; tags come from the provider's default tags.

One role per bus instead of one per rule: the same least privilege (a rule of the bus can start
nothing but the bus's own targets, a rule elsewhere cannot assume it at all), two resources fewer
per trigger. The documents are rendered by pure functions (`rules_trust_policy`,
`start_execution_statements`) and checked as exact dicts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from components.iam import AwsContext, policy_document, role_with_inline_policy, trust_policy

# IAM's limit on the aggregate size of one role's inline policies, whitespace not counted: the
# state machines of about 120 triggers on one bus.
INLINE_POLICY_LIMIT = 10_240


@dataclass(frozen=True)
class BusRulesRoleArgs:
    """Inputs of `BusRulesRole`."""

    aws: AwsContext
    """Partition, region and account the stack deploys to."""
    bus_name: str
    """Physical name of the bus whose rules assume the role."""
    role_name: str
    """Physical name of the role and of its inline policy (`naming.bus_rules_role_name`)."""
    state_machine_arns: Sequence[pulumi.Input[str]]
    """The state machines the bus's rules target (single-task and orchestrated alike): the only ones
    the role may start."""


def rule_arn_pattern(ctx: AwsContext, bus_name: str) -> pulumi.Input[str]:
    """Every rule of the custom bus `bus_name` (`arn:…:rule/<bus>/<rule>`): the bus is the stack's own,
    and a pattern keeps the trust policy's size independent of the number of rules."""
    return ctx.arn("events", f"rule/{bus_name}/*")


def rules_trust_policy(account_id: Any, rule_arns: Any) -> dict[str, Any]:
    """EventBridge may assume the role only on behalf of the bus's rules, in this account."""
    return trust_policy("events.amazonaws.com", account_id, rule_arns)


def start_execution_statements(state_machine_arns: Sequence[Any]) -> list[dict[str, Any]]:
    """What EventBridge needs to start the bus's targets: one action, on those state machines only."""
    arns = (
        sorted(set(state_machine_arns))
        if all(isinstance(a, str) for a in state_machine_arns)
        else list(state_machine_arns)
    )
    return [
        {
            "Sid": "StartTheTargetStateMachines",
            "Effect": "Allow",
            "Action": "states:StartExecution",
            "Resource": arns,
        }
    ]


def policy_size(state_machine_arns: Sequence[str]) -> int:
    """The size IAM counts for the role's policy naming these state machines."""
    return len(json.dumps(policy_document(start_execution_statements(state_machine_arns)), separators=(",", ":")))


class BusRulesRole(pulumi.ComponentResource):
    """The role every rule of one bus uses to start its state machine."""

    role_arn: pulumi.Output[str]
    """ARN of the role (every rule target of the bus names it)."""

    def __init__(self, name: str, args: BusRulesRoleArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("event-tasks:index:BusRulesRole", name, None, opts)
        if not args.state_machine_arns:
            raise ValueError(f"{name}: a bus without rules needs no rules role")
        role = role_with_inline_policy(
            name,
            description=f"EventBridge rules of {args.bus_name}: start their state machines",
            trust=rules_trust_policy(args.aws.account_id, rule_arn_pattern(args.aws, args.bus_name)),
            statements=start_execution_statements(list(args.state_machine_arns)),
            role_name=args.role_name,
            parent=self,
        )
        self.role_arn = role.arn
        self.register_outputs({"role_arn": self.role_arn})
