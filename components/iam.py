"""Shared IAM documents: the account context and trust policies guarded against confused deputies."""

from __future__ import annotations

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
        return AwsContext(
            partition=aws.get_partition_output().partition,
            region=aws.get_region_output().region,
            account_id=aws.get_caller_identity_output().account_id,
        )


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
