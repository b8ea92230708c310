"""Shared IAM documents: the account context and trust policies guarded against confused deputies,
ARNs of resources named by the program, and JSON serialisation that stays plain where it can."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class AwsContext:
    """Where the stack deploys; looked up once and handed to every component that builds ARNs."""

    partition: pulumi.Input[str]
    """aws, aws-cn or aws-us-gov."""
    region: pulumi.Input[str]
    """The stack's region."""
    account_id: pulumi.Input[str]
    """The deploying account."""

    @staticmethod
    def lookup() -> AwsContext:
        # Plain values, looked up once per stack: every ARN built from them is a plain string, and a
        # document made only of plain strings serialises without an Output chain (see `to_json`).
        return AwsContext(
            partition=aws.get_partition().partition,
            region=aws.get_region().region,
            account_id=aws.get_caller_identity().account_id,
        )

    def arn(self, service: str, resource: str) -> pulumi.Input[str]:
        """`arn:<partition>:<service>:<region>:<account>:<resource>` of a regional resource the program
        names itself (its ARN is known before it exists); plain when the context is."""
        if any(isinstance(p, pulumi.Output) for p in (self.partition, self.region, self.account_id)):
            return pulumi.Output.format(
                "arn:{0}:{1}:{2}:{3}:{4}", self.partition, service, self.region, self.account_id, resource
            )
        return f"arn:{self.partition}:{service}:{self.region}:{self.account_id}:{resource}"


def trust_policy(service: str, account_id: Any, source_arn: Any) -> dict[str, Any]:
    """Let `service` assume the role only on behalf of `source_arn` in this account."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account_id},
                    "ArnLike": {"aws:SourceArn": source_arn},
                },
            }
        ],
    }


def policy_document(statements: Any) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": statements}


def _outputs(value: Any, found: list[pulumi.Output[Any]]) -> list[pulumi.Output[Any]]:
    if isinstance(value, pulumi.Output):
        found.append(value)
    elif isinstance(value, dict):
        for item in value.values():
            _outputs(item, found)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _outputs(item, found)
    return found


def _substitute(value: Any, resolved: Iterator[Any]) -> Any:
    if isinstance(value, pulumi.Output):
        return next(resolved)
    if isinstance(value, dict):
        return {key: _substitute(item, resolved) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_substitute(item, resolved) for item in value]
    return value


def to_json(document: Any) -> pulumi.Input[str]:
    """`document` as JSON: what `pulumi.Output.json_dumps` gives, without its cost where it is not needed.

    A document of plain values is dumped at once. One holding Outputs waits for all of them through one
    `Output.all` (unknown if any is unknown, secret if any is secret, depending on their resources),
    where `Output.json_dumps` first lifts every nested dict and list into an Output of its own; with
    a policy, an ASL definition and a dashboard per stack growing with the triggers, that lifting
    showed among the largest entries of the evaluation's profile.
    """
    outputs = _outputs(document, [])
    if not outputs:
        return json.dumps(document)
    return pulumi.Output.all(*outputs).apply(lambda values: json.dumps(_substitute(document, iter(values))))


def role_with_policy(
    prefix: str,
    *,
    role_name: str,
    description: str,
    trust: pulumi.Input[dict[str, Any]],
    statements: pulumi.Input[list[dict[str, Any]]],
    parent: pulumi.Resource,
) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
    """A role (`<prefix>-role`) with its one inline policy (`<prefix>-policy`), children of `parent`.

    The role is named `role_name` (see components/naming.py), not auto-named: its name carries the
    project and the stack. The inline policy takes the same name (it is scoped by its role).
    Tags come from the provider's default tags.

    Consumers that act as soon as they exist (a rule target, a state machine) should depend on the
    returned policy, not only the role: the role alone grants nothing.
    """
    child = pulumi.ResourceOptions(parent=parent)
    role = aws.iam.Role(
        f"{prefix}-role",
        name=role_name,
        description=description,
        assume_role_policy=pulumi.Output.json_dumps(trust),
        opts=child,
    )
    policy = aws.iam.RolePolicy(
        f"{prefix}-policy",
        name=role_name,
        role=role.id,
        policy=pulumi.Output.json_dumps(policy_document(statements)),
        opts=child,
    )
    return role, policy


def role_with_inline_policy(
    prefix: str,
    *,
    role_name: str,
    description: str,
    trust: Any,
    statements: Any,
    parent: pulumi.Resource,
) -> aws.iam.Role:
    """A role (`<prefix>-role`) whose one policy is inline on it: one resource instead of two.

    The role is named `role_name` (see components/naming.py), and so is its inline policy (scoped by
    its role), like `role_with_policy`. Tags come from the provider's default tags.

    The provider puts `inline_policies` on the role as part of creating it, so a consumer that
    references the role (its ARN) already waits for the grant; no separate `depends_on` is needed.
    The provider also manages the role's inline policies exclusively: one added out of band is removed
    at the next `up`, so the role never holds more than this document. (The provider's documentation
    marks the argument deprecated in favour of `RolePolicy` + `RolePoliciesExclusive`, i.e. two more
    resources per role; the pinned SDK emits no deprecation for it.)
    """
    return aws.iam.Role(
        f"{prefix}-role",
        name=role_name,
        description=description,
        assume_role_policy=to_json(trust),
        inline_policies=[aws.iam.RoleInlinePolicyArgs(name=role_name, policy=to_json(policy_document(statements)))],
        opts=pulumi.ResourceOptions(parent=parent),
    )
