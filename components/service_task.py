"""`ServiceTask`: the ECS task definition that runs a service's use cases on EC2 capacity.

Produces the task definition (EC2, bridge network mode, one essential container), the CloudWatch
log group its container logs to, an execution role (pull this service's image, write this log
group) and a task role that may only emit to the service's own bus (with its own source and the
detail-types it declares) and read/write the service's own table (and use its customer-managed key
through DynamoDB, if it has one). A state machine runs the task with a command override; the
container learns where its resources are from `EVENT_BUS_NAME` and `TABLE_NAME`.

The container definition and both policies are rendered by pure functions, checked as exact dicts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.iam import AwsContext, role_with_policy, trust_policy
from components.orchestration import task_result_statements

# Every call event_tasks_common makes on the service's own table: GetItem, and TransactWriteItems,
# which has no IAM action of its own: DynamoDB authorizes each Put, Update and ConditionCheck in it
# as PutItem, UpdateItem and ConditionCheckItem; and Scan, by customer.expire_reservations (the
# nightly tick reads its own credit decisions). No DeleteItem or Query: nothing calls them.
# tests/services/test_iam_calls.py records the use cases' calls and fails when one is missing here
# (or when one granted here is never called): add the action here when the services start calling it.
TABLE_ACTIONS = (
    "dynamodb:ConditionCheckItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Scan",
    "dynamodb:UpdateItem",
)
# Bridge mode: tasks share the instance's public IP through docker's NAT. awsvpc tasks on EC2 get
# no public IP, and the VPC has no NAT, so they could not reach ECR or any AWS API; awsvpc would
# also cost one ENI per task (a t3.micro has two).
NETWORK_MODE = "bridge"
# The SSM Session Manager channels the ECS Exec agent opens from inside the task.
EXECUTE_COMMAND_ACTIONS = (
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
)


@dataclass(frozen=True)
class ServiceTaskArgs:
    """Inputs of `ServiceTask`."""

    aws: AwsContext
    """Partition, region and account the stack deploys to."""
    family: str
    """Task definition family (each update adds a revision)."""
    container_name: str
    """Name of the container (the state machine overrides this one)."""
    image_uri: pulumi.Input[str]
    """Image of the container, pinned by digest."""
    repository_arn: pulumi.Input[str]
    """ECR repository of the image (the execution role may pull from it only)."""
    bus_name: pulumi.Input[str]
    """The service's own bus (EVENT_BUS_NAME)."""
    bus_arn: pulumi.Input[str]
    """ARN of that bus (the task role may put events on it only)."""
    table_name: pulumi.Input[str]
    """The service's own table (TABLE_NAME)."""
    table_arn: pulumi.Input[str]
    """ARN of that table (the task role may read and write it only)."""
    event_source: str
    """The `source` the service's events carry (the task role may put no other)."""
    log_group_name: str
    """Name of the container's log group."""
    task_role_name: str
    """Physical name of the task role."""
    execution_role_name: str
    """Physical name of the execution role."""
    log_retention_days: int = 14
    """Retention of the log group."""
    cpu: int = 128
    """Task cpu units (1024 = one vCPU)."""
    memory: int = 512
    """Task memory in MiB (a hard limit)."""
    enable_execute_command: bool = False
    """Let the task role open ECS Exec sessions (SSM messages channels)."""
    emitted_detail_types: tuple[str, ...] | None = None
    """The detail-types the service declares it emits (the task role may put no other); None: the
    service declares none, and only the source is enforced."""
    table_key_arn: str | None = None
    """Customer-managed KMS key of the table, which the task role must be able to use through DynamoDB."""
    answers_saga_steps: bool = False
    """The service runs a result step of an orchestrated saga: it answers with its task token."""


def container_definitions(
    *,
    container_name: str,
    image_uri: Any,
    region: Any,
    bus_name: Any,
    table_name: Any,
    log_group_name: Any,
    stream_prefix: str,
) -> list[dict[str, Any]]:
    """The task's single container: the service image, its resources in env, logs to CloudWatch."""
    return [
        {
            "name": container_name,
            "image": image_uri,
            "essential": True,
            "environment": [
                # Set explicitly: tasks cannot reach IMDS (hop limit 1), where SDKs would look it up.
                {"name": "AWS_DEFAULT_REGION", "value": region},
                {"name": "AWS_REGION", "value": region},
                {"name": "EVENT_BUS_NAME", "value": bus_name},
                {"name": "TABLE_NAME", "value": table_name},
            ],
            "logConfiguration": {
                "logDriver": "awslogs",
                "options": {
                    "awslogs-group": log_group_name,
                    "awslogs-region": region,
                    "awslogs-stream-prefix": stream_prefix,
                },
            },
        }
    ]


def emit_statement(bus_arn: Any, source: str, detail_types: tuple[str, ...] | None) -> dict[str, Any]:
    """Put events on the own bus, only with the service's own source and declared detail-types.

    EventBridge authorizes each entry of a PutEvents call on its own `events:source` and
    `events:detail-type`, so a compromised task cannot speak for another service or invent a fact.
    """
    condition: dict[str, Any] = {"events:source": source}
    if detail_types:
        condition["events:detail-type"] = sorted(detail_types)
    return {
        "Sid": "EmitToOwnBus",
        "Effect": "Allow",
        "Action": "events:PutEvents",
        "Resource": bus_arn,
        "Condition": {"StringEquals": condition},
    }


def table_key_statements(key_arn: str | None, dynamodb_endpoint: Any) -> list[dict[str, Any]]:
    """Use the table's customer-managed key, only through DynamoDB (none for an AWS-managed key).

    `dynamodb_endpoint` is the region's `dynamodb.<region>.amazonaws.com`.

    DynamoDB encrypts and decrypts with the key on the caller's behalf, so the caller needs these
    (what `grantReadWriteData` grants in the CDK); `kms:ViaService` keeps them from being used directly.
    """
    if key_arn is None:
        return []
    return [
        {
            "Sid": "UseTableKeyThroughDynamoDb",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"],
            "Resource": key_arn,
            "Condition": {"StringEquals": {"kms:ViaService": dynamodb_endpoint}},
        }
    ]


def task_role_statements(
    bus_arn: Any,
    table_arn: Any,
    *,
    source: str,
    detail_types: tuple[str, ...] | None = None,
    execute_command: bool = False,
) -> list[dict[str, Any]]:
    """What the service's code may do: emit to its own bus, read and write its own table; with
    `execute_command`, also what the ECS Exec agent in the task needs (AWS documents it on `*`)."""
    statements = [
        emit_statement(bus_arn, source, detail_types),
        {
            "Sid": "ReadWriteOwnTable",
            "Effect": "Allow",
            "Action": list(TABLE_ACTIONS),
            "Resource": table_arn,
        },
    ]
    if execute_command:
        statements.append(
            {
                "Sid": "OpenExecuteCommandChannels",
                "Effect": "Allow",
                "Action": list(EXECUTE_COMMAND_ACTIONS),
                "Resource": "*",
            }
        )
    return statements


def execution_role_statements(repository_arn: Any, log_streams_arn: Any) -> list[dict[str, Any]]:
    """What ECS needs to start the container: pull its image, write its log streams.

    `log_streams_arn` is the log group's ARN followed by `:log-stream:*`.
    """
    return [
        {
            # GetAuthorizationToken has no resource-level permissions.
            "Sid": "LogInToEcr",
            "Effect": "Allow",
            "Action": "ecr:GetAuthorizationToken",
            "Resource": "*",
        },
        {
            "Sid": "PullOwnImage",
            "Effect": "Allow",
            "Action": ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            "Resource": repository_arn,
        },
        {
            "Sid": "WriteOwnLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": log_streams_arn,
        },
    ]


class ServiceTask(pulumi.ComponentResource):
    """One service's task definition with least-privilege task and execution roles.

    Its roles' physical names come from the caller (components/naming.py): their lengths are
    checked by config.py before anything is registered.
    """

    task_definition_arn: pulumi.Output[str]
    """ARN of the task definition, with its revision (RunTask's TaskDefinition)."""
    task_role_arn: pulumi.Output[str]
    """ARN of the task role (passed to ECS by whoever runs the task)."""
    execution_role_arn: pulumi.Output[str]
    """ARN of the execution role (passed to ECS by whoever runs the task)."""

    def __init__(self, name: str, args: ServiceTaskArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("event-tasks:index:ServiceTask", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ctx = args.aws
        # Only ECS tasks of this account may assume the roles (confused-deputy guard).
        trust = trust_policy(
            "ecs-tasks.amazonaws.com",
            ctx.account_id,
            pulumi.Output.format("arn:{0}:ecs:{1}:{2}:*", ctx.partition, ctx.region, ctx.account_id),
        )

        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=args.log_group_name,
            retention_in_days=args.log_retention_days,
            opts=child,
        )
        task_role, task_policy = role_with_policy(
            f"{name}-task",
            role_name=args.task_role_name,
            description=f"ECS task {args.family}: emit to its own bus, use its own table",
            trust=trust,
            statements=task_role_statements(
                args.bus_arn,
                args.table_arn,
                source=args.event_source,
                detail_types=args.emitted_detail_types,
                execute_command=args.enable_execute_command,
            )
            + table_key_statements(args.table_key_arn, pulumi.Output.format("dynamodb.{0}.amazonaws.com", ctx.region))
            + (task_result_statements() if args.answers_saga_steps else []),
            parent=self,
        )
        execution_role, execution_policy = role_with_policy(
            f"{name}-execution",
            role_name=args.execution_role_name,
            description=f"ECS task {args.family}: pull its image, write its logs",
            trust=trust,
            statements=execution_role_statements(
                args.repository_arn, pulumi.Output.concat(log_group.arn, ":log-stream:*")
            ),
            parent=self,
        )
        task_definition = aws.ecs.TaskDefinition(
            f"{name}-task-definition",
            family=args.family,
            requires_compatibilities=["EC2"],
            network_mode=NETWORK_MODE,
            cpu=str(args.cpu),
            memory=str(args.memory),
            task_role_arn=task_role.arn,
            execution_role_arn=execution_role.arn,
            container_definitions=pulumi.Output.json_dumps(
                container_definitions(
                    container_name=args.container_name,
                    image_uri=args.image_uri,
                    region=ctx.region,
                    bus_name=args.bus_name,
                    table_name=args.table_name,
                    log_group_name=log_group.name,
                    stream_prefix=name,
                )
            ),
            # A task may start as soon as the revision exists: its roles' policies come first.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[task_policy, execution_policy]),
        )
        self.task_definition_arn = task_definition.arn
        self.task_role_arn = task_role.arn
        self.execution_role_arn = execution_role.arn
        self.register_outputs(
            {
                "task_definition_arn": self.task_definition_arn,
                "task_role_arn": self.task_role_arn,
                "execution_role_arn": self.execution_role_arn,
            }
        )
