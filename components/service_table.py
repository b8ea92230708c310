"""`ServiceTable`: the DynamoDB table a service owns (database per service, as the saga requires).

Produces one on-demand table with the key schema every service image expects (hash key `pk`,
range key `sk`, both strings), point-in-time recovery, and encryption with the AWS-managed KMS key
or, if given, a customer-managed one.
Only the owning service's task role is granted access to it (`ServiceTask`). The table is retained
when Pulumi would delete it, protected on request, and aliased to its former names.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.renames import renamed, stateful

# event_tasks_common.store addresses items by exactly these two string keys.
HASH_KEY = "pk"
RANGE_KEY = "sk"


@dataclass(frozen=True)
class ServiceTableArgs:
    """Inputs of `ServiceTable`."""

    table_name: str
    """Physical name of the table (the service's TABLE_NAME)."""
    kms_key_arn: str | None = None
    """Customer-managed KMS key to encrypt the table with; None: the AWS-managed key (aws/dynamodb)."""
    protect: bool = False
    """Protect the table (`pulumi destroy` and replacements stop at it); it is retained on delete anyway."""
    former_names: tuple[str, ...] = ()
    """Earlier names of this component: aliased, so a rename replaces nothing."""


class ServiceTable(pulumi.ComponentResource):
    """One service's own DynamoDB table."""

    arn: pulumi.Output[str]
    """ARN of the table (for the task role's grant)."""
    name: pulumi.Output[str]
    """Name of the table."""

    def __init__(self, name: str, args: ServiceTableArgs, opts: pulumi.ResourceOptions | None = None):
        opts = pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(aliases=renamed(name, name, args.former_names))
        )
        super().__init__("event-tasks:index:ServiceTable", name, None, opts)
        table = aws.dynamodb.Table(
            f"{name}-table",
            name=args.table_name,
            # On demand: an idle developer stack pays for storage only, never for provisioned capacity.
            billing_mode="PAY_PER_REQUEST",
            hash_key=HASH_KEY,
            range_key=RANGE_KEY,
            attributes=[
                aws.dynamodb.TableAttributeArgs(name=HASH_KEY, type="S"),
                aws.dynamodb.TableAttributeArgs(name=RANGE_KEY, type="S"),
            ],
            point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=True),
            server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(
                enabled=True, kms_key_arn=args.kms_key_arn
            ),
            # A developer stack must be deletable with `pulumi destroy`.
            deletion_protection_enabled=False,
            opts=pulumi.ResourceOptions.merge(
                stateful(args.protect),
                pulumi.ResourceOptions(parent=self, aliases=renamed(f"{name}-table", name, args.former_names)),
            ),
        )
        self.arn = table.arn
        self.name = table.name
        self.register_outputs({"arn": self.arn, "name": self.name})
